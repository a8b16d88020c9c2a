"""A picture's measures → lexemes, core and mode, through ``assets/vision.toml``.

The table holds ``[[lexeme]]`` rules (every matching rule gives its lexeme, in table
order), ``core_size`` (the core is the first that many lexemes joined by ``+``) and
``[[mode]]`` rules (the first match gives mode and register). A condition is
``feature = [min, max]`` over a :class:`agent.sight.Sight` field, min inclusive, max
exclusive; a feature that was not measured matches no rule.
"""

from __future__ import annotations

import math
import tomllib
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any

from agent.module import ModuleConfigError
from agent.paths import ASSETS
from agent.register import Register
from agent.scene import MAX_CORE_LEXEMES
from agent.sight import Sight

VISION_TABLE = ASSETS / "vision.toml"
#: the Sight fields a rule may test.
FEATURES = ("brightness", "contrast", "colorfulness", "warmth", "edge_density", "motion", "faces", "people")
_REGISTERS = typing.get_args(Register)


@dataclass(frozen=True)
class Rule:
    """One row of the table: ``name`` holds when every ``feature`` is in ``[lo, hi)``."""

    name: str
    when: tuple[tuple[str, float, float], ...]
    register: str | None = None

    def matches(self, sight: Sight) -> bool:
        for feature, lo, hi in self.when:
            value = getattr(sight, feature)
            if value is None or not lo <= value < hi:
                return False
        return True


@dataclass(frozen=True)
class VisionTable:
    lexemes: tuple[Rule, ...]
    modes: tuple[Rule, ...]
    core_size: int

    def describe(self, sight: Sight) -> tuple[list[str], str | None, str | None, str | None]:
        """(lexemes, core, mode, register) of ``sight``; core is None when no lexeme matched."""
        lexemes = [rule.name for rule in self.lexemes if rule.matches(sight)]
        core = "+".join(lexemes[: self.core_size]) or None
        mode = next((rule for rule in self.modes if rule.matches(sight)), None)
        return lexemes, core, mode.name if mode else None, mode.register if mode else None


def _rule(entry: Any, where: str, with_register: bool) -> Rule:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        raise ModuleConfigError(f"{where}: needs a name")
    name = entry["name"]
    if any(c.isspace() or c == "+" for c in name):
        raise ModuleConfigError(f"{where}.name = {name!r}: one word, without spaces or '+'")
    unknown = set(entry) - {"name", "when", "register"}
    if unknown:
        raise ModuleConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (keys: name, when, register)")
    when = []
    for feature, bounds in dict(entry.get("when", {})).items():
        if feature not in FEATURES:
            raise ModuleConfigError(f"{where}.when.{feature}: unknown feature (features: {', '.join(FEATURES)})")
        if (
            not isinstance(bounds, list)
            or len(bounds) != 2
            or not all(isinstance(b, int | float) and not math.isnan(b) for b in bounds)
            or not bounds[0] < bounds[1]
        ):
            raise ModuleConfigError(f"{where}.when.{feature} = {bounds!r}: give [min, max] with min < max")
        when.append((feature, float(bounds[0]), float(bounds[1])))
    register = entry.get("register")
    if with_register and register not in _REGISTERS:
        raise ModuleConfigError(f"{where}.register = {register!r}: choose {', '.join(_REGISTERS)}")
    return Rule(name, tuple(when), register if with_register else None)


def parse_table(data: dict[str, Any], where: str) -> VisionTable:
    """The table from parsed TOML. Raises :class:`ModuleConfigError` naming the bad entry."""
    core_size = data.get("core_size", 3)
    if not isinstance(core_size, int) or not 1 <= core_size <= MAX_CORE_LEXEMES:
        raise ModuleConfigError(f"{where}: core_size = {core_size!r} must be 1..{MAX_CORE_LEXEMES}")
    lexemes = tuple(_rule(e, f"{where}: lexeme[{i}]", False) for i, e in enumerate(data.get("lexeme", [])))
    modes = tuple(_rule(e, f"{where}: mode[{i}]", True) for i, e in enumerate(data.get("mode", [])))
    return VisionTable(lexemes, modes, core_size)


@cache
def vision_table(path: str = str(VISION_TABLE)) -> VisionTable:
    """The table at ``path`` (default ``assets/vision.toml``), read once.

    Raises:
        ModuleConfigError: the file is missing, not TOML, or has a bad rule (named).
    """
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ModuleConfigError(f"{path}: cannot read the vision table ({exc})", subject=path) from None
    return parse_table(data, path)

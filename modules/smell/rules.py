"""The smell rule table (``assets/smell_rules.toml``): a reading → its descriptors → a verdict.

The table's own header explains how it is read and where each threshold comes from. This
file loads and checks it (:func:`rule_table`) and applies it (:meth:`RuleTable.judge`).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from agent.module import ModuleConfigError
from agent.odor import Odor
from agent.paths import ASSETS
from agent.scene import MAX_CORE_LEXEMES

SMELL_RULES = ASSETS / "smell_rules.toml"
#: the reading fields a rule may test.
FIELDS = ("voc_index", "co2_ppm", "humidity_pct", "temperature_c", "gas_resistance_ohm")


@dataclass(frozen=True)
class Rule:
    """``descriptor`` holds when every ``(field, low, high)`` has ``low <= value < high``."""

    group: str
    descriptor: str
    ranges: tuple[tuple[str, float, float], ...]

    def matches(self, odor: Odor) -> bool:
        for name, low, high in self.ranges:
            value = getattr(odor, name)
            if value is None or not low <= value < high:
                return False
        return True


@dataclass(frozen=True)
class Descriptor:
    mode: str
    lexemes: tuple[str, ...]
    phrase: str
    unless: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Verdict:
    """What a reading smells like.

    Attributes:
        descriptors: strongest mode first (``["smoke", "damp"]``).
        core: up to ``max_core`` descriptors joined by ``+`` (``smoke+damp``).
        lexemes: the descriptors' lexemes, in order, without repeats.
        mode: the strongest mode among them (``alarm``).
        phrase: their phrases joined for a person (``smoke and damp``).
    """

    descriptors: tuple[str, ...]
    core: str
    lexemes: tuple[str, ...]
    mode: str
    phrase: str


def _join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


@dataclass(frozen=True)
class RuleTable:
    rules: tuple[Rule, ...]
    descriptors: dict[str, Descriptor]
    modes: tuple[str, ...]
    default_mode: str
    fallback: str
    max_core: int

    def describe(self, name: str) -> Descriptor:
        """The row of descriptor ``name``; a label without a row is its own lexeme and phrase."""
        return self.descriptors.get(name) or Descriptor(self.default_mode, (name,), name)

    def judge(self, odor: Odor) -> Verdict:
        """The verdict of the table on ``odor`` (see the table's header for the rules)."""
        found: dict[str, None] = {}
        decided: set[str] = set()
        for rule in self.rules:
            if rule.group not in decided and rule.matches(odor):
                decided.add(rule.group)
                found.setdefault(rule.descriptor, None)
        for label in odor.labels:
            found.setdefault(label, None)
        names = [n for n in found if not (self.describe(n).unless & found.keys())] or [self.fallback]
        order = {name: i for i, name in enumerate(self.descriptors)}
        names.sort(key=lambda n: (self.modes.index(self.describe(n).mode), order.get(n, len(order))))
        rows = [self.describe(n) for n in names]
        lexemes = dict.fromkeys(lex for row in rows for lex in row.lexemes)
        return Verdict(
            descriptors=tuple(names),
            core="+".join(names[: self.max_core]),
            lexemes=tuple(lexemes),
            mode=rows[0].mode,
            phrase=_join([row.phrase for row in rows]),
        )


def _bounds(where: str, name: str, bounds: object) -> tuple[str, float, float]:
    if name not in FIELDS:
        raise ModuleConfigError(f"{where}: {name!r} is not a reading field ({', '.join(FIELDS)})")
    ok = isinstance(bounds, list) and len(bounds) == 2 and all(isinstance(b, (int, float)) for b in bounds)
    if not ok or math.isnan(bounds[0]) or math.isnan(bounds[1]) or not bounds[0] < bounds[1]:  # type: ignore[index]
        raise ModuleConfigError(f"{where}: {name} must be [low, high) with low < high, got {bounds!r}")
    return name, float(bounds[0]), float(bounds[1])  # type: ignore[index]


@cache
def rule_table(path: str = str(SMELL_RULES)) -> RuleTable:
    """Read and check the rule table at ``path``.

    Raises:
        ModuleConfigError: the file is missing or not TOML, a rule tests an unknown field
            or has a malformed range, or a descriptor's mode is not in ``modes`` (the
            message names the rule or descriptor).
    """
    try:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ModuleConfigError(f"smell rule table {path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModuleConfigError(f"smell rule table {path}: not valid TOML ({exc})") from None
    modes = tuple(data.get("modes", ()))
    default_mode = data.get("default_mode", "")
    if not modes or default_mode not in modes:
        raise ModuleConfigError(f"{path}: needs `modes` (strongest first) and a `default_mode` among them")
    max_core = data.get("max_core", 3)
    if not isinstance(max_core, int) or not 1 <= max_core <= MAX_CORE_LEXEMES:
        raise ModuleConfigError(f"{path}: max_core must be 1..{MAX_CORE_LEXEMES}, got {max_core!r}")
    descriptors: dict[str, Descriptor] = {}
    for name, row in data.get("descriptor", {}).items():
        where = f"{path}: descriptor {name}"
        if row.get("mode") not in modes:
            raise ModuleConfigError(f"{where}: mode {row.get('mode')!r} is not one of {', '.join(modes)}")
        lexemes = row.get("lexemes") or [name]
        if not all(isinstance(lex, str) and lex and " " not in lex and "+" not in lex for lex in lexemes):
            raise ModuleConfigError(f"{where}: lexemes must be single words without '+', got {lexemes!r}")
        unless = frozenset(row.get("unless", ()))
        descriptors[name] = Descriptor(row["mode"], tuple(lexemes), str(row.get("phrase", name)), unless)
    rules = []
    for i, row in enumerate(data.get("rule", [])):
        where = f"{path}: rule {i + 1} ({row.get('descriptor', '?')})"
        if row.get("descriptor") not in descriptors:
            raise ModuleConfigError(f"{where}: its descriptor has no [descriptor.<name>] row")
        when = row.get("when") or {}
        if not when:
            raise ModuleConfigError(f"{where}: `when` must test at least one field")
        ranges = tuple(_bounds(where, name, bounds) for name, bounds in when.items())
        rules.append(Rule(str(row.get("group", f"rule{i + 1}")), row["descriptor"], ranges))
    fallback = data.get("fallback", {}).get("descriptor", "")
    if fallback not in descriptors:
        raise ModuleConfigError(f"{path}: [fallback] descriptor {fallback!r} has no [descriptor.<name>] row")
    return RuleTable(tuple(rules), descriptors, modes, default_mode, fallback, max_core)

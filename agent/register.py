"""Registers (the ways a scene is unfolded, seed 004 §11.2.3) and how a voice picks one.

:func:`voice_register` is a deterministic mapping from the measured voice (and, second,
the words) to a scene's ``register`` and ``mode``; the rules and thresholds live in
``assets/voice_modes.toml`` with their reasons, not in code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from typing import Literal

from agent.paths import ASSETS
from agent.sound import Sound

#: logical, poetic, emotional, archetypal, bodily.
Register = Literal["logical", "poetic", "emotional", "archetypal", "bodily"]
REGISTERS: tuple[str, ...] = ("logical", "poetic", "emotional", "archetypal", "bodily")


VOICE_MODES = ASSETS / "voice_modes.toml"
_WORD_ORDER = ("emotional", "bodily", "archetypal", "poetic")


@dataclass(frozen=True)
class ModeRule:
    """One row of the table: ``name``/``register`` when every range and the contour hold."""

    name: str
    register: str
    ranges: tuple[tuple[str, float, float], ...]
    contours: tuple[str, ...] | None

    def matches(self, sound: Sound) -> bool:
        if self.contours is not None and sound.contour not in self.contours:
            return False
        for feature, low, high in self.ranges:
            value = getattr(sound, feature)
            if value is None or not low <= value < high:
                return False
        return True


@dataclass(frozen=True)
class ModeTable:
    rules: tuple[ModeRule, ...]
    words: dict[str, frozenset[str]]


@cache
def mode_table(path: str = str(VOICE_MODES)) -> ModeTable:
    """Read and check the table.

    Raises:
        ValueError: a rule names an unknown register or feature, or a range is malformed.
    """
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    fields = set(Sound.__dataclass_fields__)
    rules = []
    for i, row in enumerate(data.get("mode", [])):
        where = f"{path}: mode rule {i + 1} ({row.get('name', '?')})"
        if row.get("register") not in REGISTERS:
            raise ValueError(f"{where}: register {row.get('register')!r} is not one of {', '.join(REGISTERS)}")
        ranges, contours = [], None
        for feature, bounds in row.get("when", {}).items():
            if feature == "contour":
                contours = tuple(bounds)
                continue
            if feature not in fields:
                raise ValueError(f"{where}: {feature!r} is not a measured field of Sound")
            if not (isinstance(bounds, list) and len(bounds) == 2 and bounds[0] <= bounds[1]):
                raise ValueError(f"{where}: {feature} must be [min, max], got {bounds!r}")
            ranges.append((feature, float(bounds[0]), float(bounds[1])))
        rules.append(ModeRule(row["name"], row["register"], tuple(ranges), contours))
    if not rules or rules[-1].ranges or rules[-1].contours is not None:
        raise ValueError(f"{path}: the last mode rule must have no conditions (the fallback)")
    words = {reg: frozenset(w.lower() for w in data.get("words", {}).get(reg, [])) for reg in _WORD_ORDER}
    return ModeTable(tuple(rules), words)


def voice_register(sound: Sound | None, text: str | None = None) -> tuple[str, str]:
    """(register, mode) of an utterance from its measured voice, the words second.

    The first rule of ``assets/voice_modes.toml`` that matches ``sound`` gives both; when
    it gives the neutral ``logical`` register, the register whose cue words occur most
    often in ``text`` (if any) replaces it. The same sentence spoken slowly and flat, or
    fast with a wide pitch, gets a different mode.
    """
    from agent.lexicon import tokens

    table = mode_table()
    rule = next(r for r in table.rules if sound is not None and r.matches(sound)) if sound else table.rules[-1]
    register = rule.register
    if register == "logical" and text:
        words = tokens(text)
        counts = {reg: sum(w in table.words[reg] for w in words) for reg in _WORD_ORDER}
        best = max(_WORD_ORDER, key=lambda reg: (counts[reg], -_WORD_ORDER.index(reg)))
        if counts[best] > 0:
            register = best
    return register, rule.name

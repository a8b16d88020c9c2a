"""Scene → melody: the voice plan of a reply (seed 000 §16.2.3).

The planner decides how a reply should sound before any engine renders it. Here it sets
the contour from the sentence type (a question rises, a statement falls) and applies the
same-field rule: the agent answers "in the same field in which it was heard", so its
pitch level and rate move from its own voice's natural values toward the speaker's
measured ones, by ``pull`` (0 = ignore the speaker, 1 = match them), never further than
``max_shift_st`` semitones or ``max_rate_change`` (a fraction) away from its own voice.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import cache

from agent.paths import ASSETS
from agent.scene import Scene
from agent.sound import Sound
from agent.voiceplan import VoicePlan

VOICES_TOML = ASSETS / "voices.toml"


@dataclass
class FieldRule:
    """How far the reply's voice follows the speaker's (the config's ``melody`` options)."""

    follow_speaker: bool = True
    pull: float = 0.5
    max_shift_st: float = 4.0
    max_rate_change: float = 0.25


@dataclass
class NaturalVoice:
    """What a voice sounds like left alone (``assets/voices.toml``)."""

    engine: str
    voice: str
    f0_hz: float
    rate_wps: float


@cache
def natural_voice(engine: str, voice: str) -> NaturalVoice:
    """Look a voice up in the voice table.

    Raises:
        KeyError: the table has no ``[engine.voice]``.
    """
    with open(VOICES_TOML, "rb") as handle:
        table = tomllib.load(handle)
    try:
        entry = table[engine][voice]
    except KeyError:
        raise KeyError(f"{VOICES_TOML}: no voice [{engine}.{voice}]") from None
    return NaturalVoice(engine, voice, float(entry["natural_f0_hz"]), float(entry["natural_rate_wps"]))


def follow_pitch_hz(own_hz: float, heard_hz: float | None, rule: FieldRule) -> float:
    """Own pitch moved toward the heard pitch by ``rule.pull`` on a semitone scale,
    at most ``rule.max_shift_st`` semitones away from ``own_hz``."""
    if heard_hz is None or not rule.follow_speaker:
        return own_hz
    shift = rule.pull * 12.0 * math.log2(heard_hz / own_hz)
    shift = max(-rule.max_shift_st, min(rule.max_shift_st, shift))
    return own_hz * 2.0 ** (shift / 12.0)


def follow_rate_wps(own_wps: float, heard_wps: float | None, rule: FieldRule) -> float:
    """Own rate moved toward the heard rate by ``rule.pull``, within
    ``own_wps × (1 ± rule.max_rate_change)``."""
    if heard_wps is None or not rule.follow_speaker:
        return own_wps
    target = own_wps + rule.pull * (heard_wps - own_wps)
    return max(own_wps * (1 - rule.max_rate_change), min(own_wps * (1 + rule.max_rate_change), target))


def is_question(text: str | None) -> bool:
    return bool(text) and text.rstrip().endswith("?")


def plan_voice(reply: Scene, heard: Sound | None = None, *, engine: str = "piper",
               voice: str = "joe", rule: FieldRule | None = None) -> VoicePlan:
    """The voice plan of ``reply``, following ``heard`` (the speaker's measured voice).

    Raises:
        KeyError: ``engine``/``voice`` is not in the voice table.
    """
    rule = rule or FieldRule()
    own = natural_voice(engine, voice)
    follows = heard is not None and rule.follow_speaker and (
        heard.f0_median_hz is not None or heard.rate_wps is not None)
    return VoicePlan(
        register=reply.register,
        engine=engine,
        voice=voice,
        f0_median_hz=round(follow_pitch_hz(own.f0_hz, heard.f0_median_hz if heard else None, rule), 2),
        rate_wps=round(follow_rate_wps(own.rate_wps, heard.rate_wps if heard else None, rule), 3),
        contour="rising" if is_question(reply.text) else "falling",
        follows_speaker=follows,
    )

"""Scene → melody: the voice plan of a reply (seed 000 §16.2.3).

The planner decides how a reply should sound before any engine renders it:

1. the register (logical, poetic, emotional, archetypal, bodily) and the manner of voicing
   (plain, cold, strained, light, compressed, soothing) give pitch, range, contour, rate, pauses,
   energy, brightness and cues, from the table ``assets/melody.toml``;
2. each sentence gets the register's contour, except a question, which rises;
3. the same-field rule: the agent answers "in the same field in which it was heard", so
   pitch level and rate move toward the speaker's measured ones, by ``pull`` (0 = ignore
   the speaker, 1 = match them), at most ``max_shift_st`` semitones and ``max_rate_change``
   (a fraction) away from where the table put them; the whole contour then stays inside
   the voice's usable pitch range, narrowing before it moves. The voice is the
   :class:`~agent.parts.VoiceProfile` a speaking module announced on the bus (kind
   ``voice.profile``): the core keeps no engine facts of its own;
4. a reply without words becomes a sigh, a hum, a breath or a timed silence.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from agent.parts import VoiceProfile
from agent.paths import ASSETS
from agent.register import REGISTERS
from agent.scene import Scene
from agent.sound import Contour, Sound
from agent.voiceplan import Pause, VoicePlan
from agent.words import count_words, tokens

MELODY_TOML = ASSETS / "melody.toml"
MANNERS = ("plain", "cold", "strained", "light", "compressed", "soothing")
_CLAUSE = (",", ";", ":", "—", "–")


@dataclass
class FieldRule:
    """How far the reply's voice follows the speaker's (the config's ``melody`` options)."""

    follow_speaker: bool = True
    pull: float = 0.5
    max_shift_st: float = 4.0
    max_rate_change: float = 0.25


@cache
def melody_table() -> dict[str, Any]:
    """``assets/melody.toml``, checked: every register and manner present.

    Raises:
        ValueError: a register or manner row is missing.
    """
    with open(MELODY_TOML, "rb") as handle:
        table = tomllib.load(handle)
    for name in REGISTERS:
        if name not in table.get("register", {}):
            raise ValueError(f"{MELODY_TOML}: no [register.{name}] row")
    for name in MANNERS:
        if name not in table.get("manner", {}):
            raise ValueError(f"{MELODY_TOML}: no [manner.{name}] row")
    return table


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
    return text is not None and text.rstrip().endswith("?")


def words_of(text: str) -> list[str]:
    """The written words of ``text`` in order: its whitespace-separated pieces that are
    spoken (hold a token of :func:`agent.words.tokens`: a word, a number, a spoken symbol),
    punctuation attached. Pauses are placed after these, and an engine speaks them; how
    many words they are *spoken as* is :func:`agent.words.count_words` ("12" is one,
    "1,250" five), the count every rate uses."""
    return [w for w in text.split() if tokens(w)]


@cache
def _segmenter(language: str):
    import pysbd

    try:
        return pysbd.Segmenter(language=language, clean=False)
    except ValueError:  # a language pysbd does not know: English rules
        return pysbd.Segmenter(language="en", clean=False)


def sentence_ends(text: str, language: str = "en") -> set[int]:
    """Indices (in :func:`words_of`) of the words that end a sentence. pysbd decides, so
    "Dr. Smith" and "5 p.m." do not end one."""
    ends, count = set(), 0
    for sentence in _segmenter(language).segment(text):
        count += len(words_of(sentence))
        if count:
            ends.add(count - 1)
    return ends


def sentences_of(text: str, language: str = "en") -> list[str]:
    """The sentences of ``text`` (pysbd), stripped, empty ones left out."""
    return [s.strip() for s in _segmenter(language).segment(text) if words_of(s)]


def plan_pauses(text: str, clause_s: float, sentence_s: float, language: str = "en") -> list[Pause]:
    """A pause after each word that ends a sentence, or a clause (, ; : —) inside one;
    none after the last word."""
    words = words_of(text)
    ends = sentence_ends(text, language)
    pauses = []
    for i, word in enumerate(words[:-1]):
        if i in ends and sentence_s > 0:
            pauses.append(Pause(i, round(sentence_s, 3), "sentence"))
        elif word.endswith(_CLAUSE) and clause_s > 0:
            pauses.append(Pause(i, round(clause_s, 3), "clause"))
    return pauses


def mood_manner(mood: str | None) -> str | None:
    """The manner of voicing the mind's mood calls for (``[mood_manner]``), or None."""
    return melody_table().get("mood_manner", {}).get(mood or "")


def _row(register: str, manner: str | None, mode: str | None = None) -> dict[str, Any]:
    """The register's row adjusted by the manner: the given one, else the one the scene's
    mode calls for, else the register's own."""
    table = melody_table()
    row = dict(table["register"][register])
    manner = manner or table.get("mode_manner", {}).get(mode or "") or row["manner"]
    if manner not in table["manner"]:
        raise ValueError(f"unknown manner {manner!r}; choose one of {', '.join(MANNERS)}")
    adjust = table["manner"][manner]
    row["manner"] = manner
    for key in ("f0_shift_st", "energy_db", "brightness"):
        row[key] = row[key] + adjust.get(key, 0.0)
    row["f0_range_st"] *= adjust.get("f0_range_factor", 1.0)
    row["rate_factor"] *= adjust.get("rate_factor", 1.0)
    for key in ("clause_pause_s", "sentence_pause_s"):
        row[key] *= adjust.get("pause_factor", 1.0)
    row["contour"] = adjust.get("contour", row["contour"])
    row["brightness"] = max(-1.0, min(1.0, row["brightness"]))
    return row


def plan_voice(
    reply: Scene,
    heard: Sound | None = None,
    *,
    own: VoiceProfile,
    rule: FieldRule | None = None,
    manner: str | None = None,
) -> VoicePlan:
    """The voice plan of ``reply``, following ``heard`` (the speaker's measured voice).

    Args:
        reply: its ``register`` (default logical) and ``text`` shape the plan.
        heard: the speaker's measured voice; None plans without following anyone.
        own: the voice the plan is anchored to (its natural pitch and usable range), as
            the speaking module announced it; the plan leaves the engine to that module
            unless a caller sets ``plan.engine``.
        rule: how far to follow the speaker.
        manner: the manner of voicing; by default the one ``reply.mode`` calls for
            (``[mode_manner]``), else the register's.

    Raises:
        ValueError: an unknown manner.
    """
    rule = rule or FieldRule()
    table = melody_table()
    register = reply.register or "logical"
    row = _row(register, manner, reply.mode)
    own_f0 = own.f0_hz * 2.0 ** (row["f0_shift_st"] / 12.0)
    own_rate = float(table["base_rate_wps"]) * row["rate_factor"]
    f0, f0_range = own.fit_pitch(
        follow_pitch_hz(own_f0, heard.f0_median_hz if heard else None, rule), row["f0_range_st"]
    )
    energy_db = round(float(table["base_energy_db"]) + row["energy_db"], 2)
    text = (reply.text or "").strip()
    if not text:
        kind = row["without_words"]
        return VoicePlan(
            register=register,
            manner=row["manner"],
            voice=own.voice,
            f0_median_hz=round(f0, 2),
            f0_range_st=round(f0_range, 2),
            contour=cast(Contour, row["contour"]),
            nonverbal=kind,
            duration_s=float(table["without_words"][kind]),
            energy_db=energy_db,
        )
    rate = follow_rate_wps(own_rate, heard.rate_wps if heard else None, rule)
    pauses = plan_pauses(text, row["clause_pause_s"], row["sentence_pause_s"], reply.language or "en")
    span_s = count_words(text, reply.language or "en") / rate
    pause_s = sum(p.duration_s for p in pauses)
    follows = (
        heard is not None and rule.follow_speaker and (heard.f0_median_hz is not None or heard.rate_wps is not None)
    )
    contours: list[Contour] = [
        "rising" if is_question(s) else cast(Contour, row["contour"])
        for s in sentences_of(text, reply.language or "en")
    ]
    return VoicePlan(
        register=register,
        manner=row["manner"],
        voice=own.voice,
        f0_median_hz=round(f0, 2),
        f0_range_st=round(f0_range, 2),
        contour=contours[-1] if contours else cast(Contour, row["contour"]),
        sentence_contours=contours,
        rate_wps=round(rate, 3),
        energy_db=energy_db,
        brightness=round(row["brightness"], 2),
        pauses=pauses,
        pause_ratio=round(min(0.9, pause_s / span_s), 3) if span_s > 0 else 0.0,
        cues=list(row["cues"]),
        emphasis=reply.core.split("+") if reply.core else [],
        language=reply.language,
        follows_speaker=follows,
    )

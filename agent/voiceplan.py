"""The voice plan: how a reply scene should sound, before any engine renders it.

Written by the melody planner (``agent/melody.py``), realised by a synthesiser, and
compared with the :class:`~agent.sound.Sound` the analyser measures on the result. It is
engine-independent: targets, not engine knobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agent.codec import fail
from agent.register import Register
from agent.sound import Contour

#: A plan without words renders as one of these.
NonVerbal = Literal["sigh", "hum", "breath", "silence"]
#: Non-verbal sounds spoken before the words (Bark's text cues; the fast engine renders
#: sighs and breaths itself).
Cue = Literal["sighs", "laughs", "gasps", "clears throat", "breath"]


@dataclass
class Pause:
    """A planned pause after word ``after_word`` (0-based) lasting ``duration_s`` seconds;
    ``kind`` says whether it ends a sentence (each sentence is an intonation unit) or a
    clause inside one."""

    after_word: int
    duration_s: float
    kind: Literal["clause", "sentence"] = "clause"

    def _check(self, path: str) -> None:
        if self.after_word < 0:
            fail(f"{path}.after_word", f"must not be negative, got {self.after_word}")
        if not 0.0 < self.duration_s <= 5.0:
            fail(f"{path}.duration_s", f"must lie in (0, 5] seconds, got {self.duration_s}")


@dataclass
class VoicePlan:
    """Targets for one utterance. ``None`` leaves a target to the engine's default."""

    register: Register | None = None
    #: manner of voicing from seed 000 §16.2.2: cold, strained, light, compressed, or plain.
    manner: str | None = None
    #: synthesiser engine wanted (``None``: whatever the config picks).
    engine: str | None = None
    #: the language the words are in (ISO 639-1), for engines with voices per language.
    language: str | None = None
    #: voice or preset of that engine.
    voice: str | None = None
    f0_median_hz: float | None = None
    f0_range_st: float | None = None
    #: the contour the utterance ends on (what the analyser reads for the whole).
    contour: Contour | None = None
    #: one contour per sentence, in order (a question rises; the others follow the register).
    sentence_contours: list[Contour] = field(default_factory=list)
    #: words per second over the whole utterance, pauses included (as the analyser measures).
    rate_wps: float | None = None
    #: RMS level of the speech, dBFS.
    energy_db: float | None = None
    #: -1 (dark) .. +1 (bright).
    brightness: float | None = None
    pauses: list[Pause] = field(default_factory=list)
    #: the planned pauses' share of the utterance, 0..1 (what the analyser's pause_ratio reads).
    pause_ratio: float | None = None
    cues: list[Cue] = field(default_factory=list)
    #: words to stress (the reply's core lexemes), for engines that can.
    emphasis: list[str] = field(default_factory=list)
    #: a plan with no words renders as this; ``None`` means speak the scene's text.
    nonverbal: NonVerbal | None = None
    #: seconds for a ``nonverbal`` rendering.
    duration_s: float | None = None
    #: True when pitch and rate were pulled toward the listener's measured voice.
    follows_speaker: bool = False

    def _check(self, path: str) -> None:
        if self.brightness is not None and not -1.0 <= self.brightness <= 1.0:
            fail(f"{path}.brightness", f"must lie in -1..1, got {self.brightness}")
        if self.f0_median_hz is not None and not 40.0 <= self.f0_median_hz <= 1000.0:
            fail(f"{path}.f0_median_hz", f"must lie in 40..1000 Hz, got {self.f0_median_hz}")
        if self.rate_wps is not None and not 0.5 <= self.rate_wps <= 8.0:
            fail(f"{path}.rate_wps", f"must lie in 0.5..8 words/s, got {self.rate_wps}")


#: which way an utterance's pitch ends, per contour class.
_DIRECTION = {"falling": "down", "rise-fall": "down", "rising": "up", "fall-rise": "up", "flat": "level"}


@dataclass
class Fidelity:
    """How a rendered utterance met its plan: realised minus planned.

    Attributes:
        f0_error_st: median F0, semitones.
        rate_error: realised rate ÷ planned rate − 1 (0.1 = 10 % fast).
        contour_ok: the pitch ends the planned way (down, up or level).
        pause_ratio_error: pause share of the utterance.
        energy_error_db: speech level, dB.
    """

    f0_error_st: float | None = None
    rate_error: float | None = None
    contour_ok: bool | None = None
    pause_ratio_error: float | None = None
    energy_error_db: float | None = None


def fidelity(plan: VoicePlan, realised) -> Fidelity:
    """Compare a plan with the :class:`~agent.sound.Sound` measured on its rendering; a
    target the plan leaves open, or a measure that could not be taken, gives None."""
    import math

    def diff(a, b):
        return None if a is None or b is None else a - b

    f0 = None
    if plan.f0_median_hz and realised.f0_median_hz:
        f0 = 12.0 * math.log2(realised.f0_median_hz / plan.f0_median_hz)
    rate = realised.rate_wps / plan.rate_wps - 1.0 if plan.rate_wps and realised.rate_wps else None
    contour = None
    if plan.contour and realised.contour:
        contour = _DIRECTION[plan.contour] == _DIRECTION[realised.contour]
    return Fidelity(
        f0_error_st=f0,
        rate_error=rate,
        contour_ok=contour,
        pause_ratio_error=diff(realised.pause_ratio, plan.pause_ratio),
        energy_error_db=diff(realised.energy_db, plan.energy_db),
    )

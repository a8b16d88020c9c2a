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


@dataclass
class Pause:
    """A planned pause after word ``after_word`` (0-based) lasting ``duration_s`` seconds."""

    after_word: int
    duration_s: float

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
    #: voice or preset of that engine.
    voice: str | None = None
    f0_median_hz: float | None = None
    f0_range_st: float | None = None
    contour: Contour | None = None
    rate_wps: float | None = None
    energy_db: float | None = None
    #: -1 (dark) .. +1 (bright).
    brightness: float | None = None
    pauses: list[Pause] = field(default_factory=list)
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

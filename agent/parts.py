"""Small typed parts of a scene that are not meaning: what is asked, what came of it, and
the voice a speaking module speaks with.

A scene's ``text``, ``core``, ``mode``, ``context`` and ``register`` carry meaning only.
What a request names (a file to hear, a picture to draw), what a command produced (a WAV,
a PNG, a count) and which voice speaks live here, one small dataclass each, the way the
``wyoming`` package gives each of its messages a dataclass of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from agent.codec import fail

#: what a sub-scene is to the scene it unfolds (seed 004 §11.2).
Role = Literal["figure", "background", "tension", "anchor", "memory", "archetype", "question"]
#: where it falls in the scene's rhythm: entry, saturation, decline.
Phase = Literal["onset", "peak", "decay"]
#: what it was found by: the core itself, a similar remembered scene, a Δ-code template,
#: a trusted node, or the mind's field of mood.
Via = Literal["core", "similar", "delta", "anchor", "field"]


@dataclass(frozen=True)
class Request:
    """What a request scene asks for, beyond its ``kind``.

    Attributes:
        path: the input file: audio to hear (``listen.file``, ``listen.turn``), a spoken
            scene's JSON to draw (``plot``).
        out_path: where the result goes (``plot``: the PNG; default beside the input).
    """

    path: str | None = None
    out_path: str | None = None


@dataclass(frozen=True)
class Result:
    """What came of a request or a reply.

    Attributes:
        path: the file written (a ``spoken`` scene's WAV, a ``plot``'s PNG).
        device: the sound device used (the speaker a reply played on, the microphone
            ``listening`` opened).
        count: how many scenes a request produced (``done`` after ``listen.file``).
        cut_at_s: for a reply an interrupt cut short, the seconds of it that were heard.
    """

    path: str | None = None
    device: str | None = None
    count: int | None = None
    cut_at_s: float | None = None

    def _check(self, path: str) -> None:
        if self.count is not None and self.count < 0:
            fail(f"{path}.count", f"{self.count} must not be negative")
        if self.cut_at_s is not None and self.cut_at_s < 0:
            fail(f"{path}.cut_at_s", f"{self.cut_at_s} must not be negative")


@dataclass(frozen=True)
class Heard:
    """One room's hearing of an utterance, as a room choice weighs it.

    Attributes:
        site: the room (a satellite's site name).
        scene_id: the turn that room heard.
        energy_db: the speech's level there, dBFS (None: not measured).
        snr_db: its level above that room's noise floor, dB (None: not measured).
    """

    site: str
    scene_id: str
    energy_db: float | None = None
    snr_db: float | None = None


@dataclass(frozen=True)
class RoomChoice:
    """Which room answers an utterance more than one room heard (a ``room.choice`` scene).

    Attributes:
        room: the site chosen: the one that heard it best.
        heard: every room's hearing, the chosen one first.
        rule: how it was chosen, in words (the evidence's reading).
    """

    room: str
    heard: list[Heard]
    rule: str

    def _check(self, path: str) -> None:
        if not self.heard or self.heard[0].site != self.room:
            fail(f"{path}.heard", "must list the chosen room's hearing first")


@dataclass(frozen=True)
class VoiceProfile:
    """A voice as it sounds left alone, and the pitch a plan may ask of it. A speaking
    module announces it on the bus (kind ``voice.profile``); the planner anchors every
    voice plan to it, so the core keeps no engine facts of its own.

    Attributes:
        engine: the synthesiser (``piper``, ``bark``).
        voice: its voice name (``joe``).
        f0_hz: natural median pitch (Hz).
        rate_wps: natural speaking rate (words per second).
        min_f0_hz, max_f0_hz: the lowest and highest pitch a plan's contour may reach (Hz).
    """

    engine: str
    voice: str
    f0_hz: float
    rate_wps: float
    min_f0_hz: float = 60.0
    max_f0_hz: float = 400.0

    def _check(self, path: str) -> None:
        if not 0 < self.min_f0_hz <= self.f0_hz <= self.max_f0_hz:
            fail(
                f"{path}.f0_hz",
                f"need 0 < min_f0_hz ≤ f0_hz ≤ max_f0_hz, got {self.min_f0_hz}, {self.f0_hz}, {self.max_f0_hz}",
            )
        if not self.rate_wps > 0:
            fail(f"{path}.rate_wps", f"{self.rate_wps} must be positive")

    def fit_pitch(self, median_hz: float, range_st: float, min_range_st: float = 3.0) -> tuple[float, float]:
        """(median Hz, range st) whose whole contour (median ± half the range) stays between
        ``min_f0_hz`` and ``max_f0_hz``. The median keeps the register's character: the
        range narrows first (down to ``min_range_st``), and only then the median moves."""
        least = 2.0 ** (min(range_st, min_range_st) / 24.0)
        median_hz = min(max(median_hz, self.min_f0_hz * least), self.max_f0_hz / least)
        room_st = min(12.0 * math.log2(median_hz / self.min_f0_hz), 12.0 * math.log2(self.max_f0_hz / median_hz))
        return median_hz, min(range_st, 2.0 * room_st)


@dataclass(frozen=True)
class Unfolding:
    """How a sub-scene (kind ``subscene``) unfolds its parent: its role, its rhythm phase,
    how strongly it is active, and what found it. Its register is the scene's ``register``.

    Attributes:
        role: figure, background, tension, anchor, memory, archetype or question.
        phase: onset, peak or decay.
        weight: how active it is, 0…1 (its lemma's salience against the core's first, a
            cosine, a template's overlap, the mood's strength).
        via: core, similar, delta, anchor or field.
    """

    role: Role
    phase: Phase
    weight: float
    via: Via

    def _check(self, path: str) -> None:
        if not 0.0 <= self.weight <= 1.0:
            fail(f"{path}.weight", f"{self.weight} must be within 0…1")


@dataclass(frozen=True)
class Piece:
    """A reply that streams (a language model words it sentence by sentence): the ``reply``
    scene is piece 0 and says the first sentence; each ``reply.more`` scene (parent: the
    reply) says the next; the one with ``last`` ends it (its text may be empty). A reply
    without a piece is whole.

    Attributes:
        index: 0 for the reply, 1, 2, … for what follows it.
        last: True on the piece that ends the reply.
    """

    index: int
    last: bool

    def _check(self, path: str) -> None:
        if self.index < 0:
            fail(f"{path}.index", f"{self.index} must not be negative")

"""End of turn for live listening: when has the speaker finished?

:class:`TurnDetector` takes one 32 ms frame at a time with its speech probability and
returns the whole turn's audio once the turn is over. A turn starts after
``start_frames`` consecutive speech frames (with ``preroll_s`` of audio before them
kept), and ends after ``end_silence_s`` without speech, or at ``max_turn_s``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

FRAME_S = 512 / 16000


@dataclass
class EndpointOptions:
    threshold: float = 0.5
    start_frames: int = 3
    end_silence_s: float = 0.8
    min_turn_s: float = 0.3
    max_turn_s: float = 20.0
    preroll_s: float = 0.3


@dataclass
class Turn:
    """A finished turn: 16 kHz mono float32 ``samples``, ``t_start`` on the stream's clock
    (seconds since the first frame fed), and ``speech_s`` (seconds of speech in it)."""

    samples: np.ndarray
    t_start: float
    speech_s: float


class TurnDetector:
    def __init__(self, options: EndpointOptions | None = None) -> None:
        self.o = options or EndpointOptions()
        self._preroll: deque[np.ndarray] = deque(maxlen=max(1, int(self.o.preroll_s / FRAME_S)))
        self.reset()
        self._frames_seen = 0

    def reset(self) -> None:
        """Drop any turn in progress (e.g. while the agent itself is speaking)."""
        self._turn: list[np.ndarray] | None = None
        self._run = 0
        self._silence_frames = 0
        self._speech_frames = 0
        self._turn_start_frame = 0
        self._preroll.clear()

    def feed(self, frame: np.ndarray, speech_prob: float) -> Turn | None:
        """Add one frame; returns the finished :class:`Turn` or None."""
        index = self._frames_seen
        self._frames_seen += 1
        speech = speech_prob >= self.o.threshold
        if self._turn is None:
            self._preroll.append(frame)
            self._run = self._run + 1 if speech else 0
            if self._run >= self.o.start_frames:
                self._turn = list(self._preroll)
                self._turn_start_frame = index + 1 - len(self._turn)
                self._speech_frames = self._run
                self._silence_frames = 0
                self._preroll.clear()
            return None
        self._turn.append(frame)
        if speech:
            self._speech_frames += 1
            self._silence_frames = 0
        else:
            self._silence_frames += 1
        length_s = len(self._turn) * FRAME_S
        if self._silence_frames * FRAME_S >= self.o.end_silence_s or length_s >= self.o.max_turn_s:
            frames, speech_s = self._turn, self._speech_frames * FRAME_S
            t_start = self._turn_start_frame * FRAME_S
            self.reset()
            if speech_s < self.o.min_turn_s:
                return None
            return Turn(np.concatenate(frames), t_start, speech_s)
        return None

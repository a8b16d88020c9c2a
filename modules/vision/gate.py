"""Which frames of a video or camera become scenes: on change, or at a configured rate.

Every frame is shrunk to a blurred grey thumbnail (:data:`THUMB_PX` on its longer side),
which costs well under a millisecond; only frames that pass the gate are analysed in full.
A frame passes when it is the first, or when at least ``min_interval_s`` has passed since
the last scene and its thumbnail differs from the last scene's by ``change_threshold``
(mean absolute difference, 0..1), or when ``max_interval_s`` (> 0) has passed since the
last scene whatever it shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

THUMB_PX = 96


def thumbnail(bgr: np.ndarray) -> np.ndarray:
    """A blurred grey copy, longer side :data:`THUMB_PX`, float32 0..1 (sensor noise and
    compression blocks blurred away, so they do not count as motion)."""
    h, w = bgr.shape[:2]
    scale = THUMB_PX / max(h, w)
    small = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
    return cv2.GaussianBlur(grey.astype(np.float32) * (1.0 / 255.0), (3, 3), 0)


@dataclass
class Passed:
    """A frame that gives a scene. ``motion``: mean frame-to-frame difference (0..1) over
    the frames since the last scene; None for the first scene. ``change``: its difference
    from the last scene's frame (None for the first)."""

    motion: float | None
    change: float | None


class ChangeGate:
    """Decides, frame by frame, which frames give scenes (see the module docstring).

    Args:
        change_threshold: mean absolute thumbnail difference from the last scene's frame
            that counts as a change, 0..1.
        min_interval_s: least time between two scenes, seconds.
        max_interval_s: a scene at least this often regardless of change (0 = never).
    """

    def __init__(self, change_threshold: float, min_interval_s: float, max_interval_s: float) -> None:
        self.change_threshold = change_threshold
        self.min_interval_s = min_interval_s
        self.max_interval_s = max_interval_s
        self._previous: np.ndarray | None = None
        self._last: np.ndarray | None = None
        self._last_t_s = 0.0
        self._motion_sum = 0.0
        self._motion_n = 0

    def offer(self, bgr: np.ndarray, t_s: float) -> Passed | None:
        """The frame at ``t_s`` seconds: a :class:`Passed` when it gives a scene, else None."""
        thumb = thumbnail(bgr)
        if self._previous is not None and self._previous.shape == thumb.shape:
            self._motion_sum += float(cv2.norm(thumb, self._previous, cv2.NORM_L1)) / thumb.size
            self._motion_n += 1
        self._previous = thumb
        if self._last is None or self._last.shape != thumb.shape:
            return self._pass(thumb, t_s, None)
        elapsed = t_s - self._last_t_s
        change = float(cv2.norm(thumb, self._last, cv2.NORM_L1)) / thumb.size
        if elapsed >= self.min_interval_s and change >= self.change_threshold:
            return self._pass(thumb, t_s, change)
        if self.max_interval_s > 0 and elapsed >= self.max_interval_s:
            return self._pass(thumb, t_s, change)
        return None

    def _pass(self, thumb: np.ndarray, t_s: float, change: float | None) -> Passed:
        motion = round(min(1.0, self._motion_sum / self._motion_n), 5) if self._motion_n else None
        self._last, self._last_t_s = thumb, t_s
        self._motion_sum, self._motion_n = 0.0, 0
        return Passed(motion, None if change is None else round(change, 5))

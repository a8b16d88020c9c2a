"""Touch down/move/up → tap, long press or swipe (thresholds: ``assets/tactile.toml`` [touch]).

Per finger (pointer): a touch that lifts within ``tap_max_s`` having moved less than
``slop_px`` from where it went down is a tap; one held ``long_press_min_s`` or longer
within the slop is a long press; one that ends ``swipe_min_px`` or more from where it went
down within ``swipe_max_s`` is a swipe, in the direction of its larger displacement
(screen axes: y grows downwards, so a negative dy is ``up``). Anything else (a short
press between tap and long press, a slow drag) is no gesture. Gestures are recognised when
the finger lifts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from agent.touch import Touch
from modules.tactile.events import TactileInputError, TouchEvent
from modules.tactile.recognised import Recognised
from modules.tactile.thresholds import TouchThresholds


@dataclass
class _Down:
    t_s: float
    x_px: float
    y_px: float
    moved_px: float = 0.0
    samples: int = 1


class TouchRecogniser:
    """Feed :class:`TouchEvent` s in time order; :meth:`feed` returns what they complete."""

    def __init__(self, thresholds: TouchThresholds) -> None:
        self.t = thresholds
        self._down: dict[int, _Down] = {}

    def feed(self, event: TouchEvent, where: str = "touch") -> Recognised | None:
        """The gesture ``event`` completes, if any.

        Raises:
            TactileInputError: a ``move``/``up`` without a ``down``, a second ``down`` of the
                same pointer, or a time before the pointer's ``down`` (the event is skipped;
                a repeated ``down`` restarts the touch).
        """
        down = self._down.get(event.pointer)
        if event.phase == "down":
            self._down[event.pointer] = _Down(event.t_s, event.x_px, event.y_px)
            if down is not None:
                raise TactileInputError(
                    f"{where}: pointer {event.pointer} went down again without going up; the touch restarts",
                    subject=where,
                )
            return None
        if down is None:
            raise TactileInputError(
                f"{where}: touch {event.phase} of pointer {event.pointer} without a down", subject=where
            )
        if event.t_s < down.t_s:
            raise TactileInputError(
                f"{where}.t_s: {event.t_s} s is before pointer {event.pointer} went down ({down.t_s} s)", subject=where
            )
        down.samples += 1
        down.moved_px = max(down.moved_px, math.hypot(event.x_px - down.x_px, event.y_px - down.y_px))
        if event.phase == "move":
            return None
        del self._down[event.pointer]
        return self._classify(down, event)

    def _classify(self, down: _Down, up: TouchEvent) -> Recognised | None:
        duration = up.t_s - down.t_s
        dx, dy = up.x_px - down.x_px, up.y_px - down.y_px
        distance = math.hypot(dx, dy)
        touch = Touch(
            kind="tap",
            duration_s=duration,
            distance_px=distance,
            x_px=down.x_px,
            y_px=down.y_px,
            pointer=up.pointer,
            samples=down.samples,
        )
        if down.moved_px < self.t.slop_px:
            if duration < self.t.tap_max_s:
                return Recognised("tap", touch, down.t_s, up.t_s)
            if duration >= self.t.long_press_min_s:
                touch.kind = "long-press"
                return Recognised("long press", touch, down.t_s, up.t_s)
            return None
        if distance >= self.t.swipe_min_px and duration <= self.t.swipe_max_s:
            if abs(dx) >= abs(dy):
                touch.direction = "right" if dx > 0 else "left"
            else:
                touch.direction = "down" if dy > 0 else "up"
            touch.kind = "swipe"
            return Recognised(f"swipe {touch.direction}", touch, down.t_s, up.t_s)
        return None

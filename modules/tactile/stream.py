"""One input stream of tactile events (a file, stdin, one socket connection, one device):
lines are parsed and fed, in order, to the touch and motion recognisers of that stream."""

from __future__ import annotations

from agent.touch import Touch
from modules.tactile.events import Event, GestureEvent, ImuSample, PoseEvent, TouchEvent, parse_event
from modules.tactile.motion import MotionRecogniser
from modules.tactile.recognised import Recognised
from modules.tactile.thresholds import Thresholds
from modules.tactile.touches import TouchRecogniser


class EventStream:
    """The recognisers of one stream.

    Args:
        thresholds: ``assets/tactile.toml``.
        name: the stream's name in messages (a path, ``stdin``, ``unix:/run/x.sock#2``).
    """

    def __init__(self, thresholds: Thresholds, name: str) -> None:
        self.thresholds = thresholds
        self.name = name
        self.lines = 0
        self.touches = TouchRecogniser(thresholds.touch)
        self.motion = MotionRecogniser(thresholds.motion)

    def feed_line(self, line: str) -> list[Recognised]:
        """The gestures one more line completes; a blank line is skipped.

        Raises:
            TactileInputError: the line cannot be used (it is skipped; the stream goes on).
        """
        self.lines += 1
        if not line.strip():
            return []
        where = f"{self.name}:{self.lines}"
        return self.feed(parse_event(line, self.thresholds.range, where), where)

    def feed(self, event: Event, where: str | None = None) -> list[Recognised]:
        """The gestures ``event`` completes.

        Raises:
            TactileInputError: an event out of sequence (it is skipped).
        """
        where = where or self.name
        if isinstance(event, TouchEvent):
            found = self.touches.feed(event, where)
            return [found] if found is not None else []
        if isinstance(event, ImuSample):
            return self.motion.feed(event, where)
        if isinstance(event, GestureEvent):
            touch = Touch(kind="gesture", duration_s=event.duration_s)
            return [Recognised(event.name.strip(), touch, event.t_s, event.t_s + (event.duration_s or 0.0))]
        if isinstance(event, PoseEvent):
            touch = Touch(kind="pose", pitch_deg=event.pitch_deg, roll_deg=event.roll_deg, yaw_deg=event.yaw_deg)
            return [Recognised(event.name.strip(), touch, event.t_s, event.t_s)]
        raise TypeError(f"not a tactile event: {event!r}")

    def finish(self) -> list[Recognised]:
        """The gestures still open at the end of the stream (a shake under way)."""
        return self.motion.finish()

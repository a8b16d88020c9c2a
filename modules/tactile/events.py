"""One JSON line → one typed event: a touch, an IMU sample, a named gesture or a pose.

The line formats (one JSON object a line; ``t_s`` is seconds on the sender's clock, rising):

``{"type": "touch", "phase": "down"|"move"|"up", "t_s": 0.0, "x_px": 10, "y_px": 20, "pointer": 0}``
    a finger on a screen or pad (``pointer`` optional, default 0; y grows downwards).
``{"type": "imu", "t_s": 0.01, "accel_ms2": [ax, ay, az], "gyro_rads": [gx, gy, gz]}``
    an accelerometer sample in m/s² (specific force: +9.81 on z lying still) and, optional,
    a gyroscope sample in rad/s.
``{"type": "gesture", "t_s": 1.0, "name": "wave", "duration_s": 0.8}``
    a gesture a sensor already recognised (``duration_s`` optional).
``{"type": "pose", "t_s": 1.0, "name": "lean forward", "pitch_deg": 20, "roll_deg": 0, "yaw_deg": 0}``
    a body or device pose (angles optional).

A line that is not JSON, names an unknown type or field, lacks a field, carries NaN or a
value beyond ``assets/tactile.toml``'s ``[range]`` raises :class:`TactileInputError`
naming the line and the field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Literal

from agent.codec import SchemaError, fail, from_dict
from agent.errors import InputError
from modules.tactile.thresholds import Ranges


class TactileInputError(InputError):
    """A tactile event line that cannot be used (malformed, NaN, out of range)."""

    reason = "input.malformed"


@dataclass(frozen=True)
class TouchEvent:
    """A finger going down, moving or lifting at ``(x_px, y_px)`` at ``t_s``."""

    type: Literal["touch"]
    phase: Literal["down", "move", "up"]
    t_s: float
    x_px: float
    y_px: float
    pointer: int = 0

    def _check(self, path: str) -> None:
        if self.pointer < 0:
            fail(f"{path}.pointer", f"{self.pointer} must not be negative")


@dataclass(frozen=True)
class ImuSample:
    """Accelerometer (m/s², 3 axes) and optional gyroscope (rad/s, 3 axes) at ``t_s``."""

    type: Literal["imu"]
    t_s: float
    accel_ms2: list[float]
    gyro_rads: list[float] | None = None

    def _check(self, path: str) -> None:
        if len(self.accel_ms2) != 3:
            fail(f"{path}.accel_ms2", f"expected 3 axes [x, y, z], got {len(self.accel_ms2)}")
        if self.gyro_rads is not None and len(self.gyro_rads) != 3:
            fail(f"{path}.gyro_rads", f"expected 3 axes [x, y, z], got {len(self.gyro_rads)}")


@dataclass(frozen=True)
class GestureEvent:
    """A gesture its sensor named (``wave``, ``nod``)."""

    type: Literal["gesture"]
    t_s: float
    name: str
    duration_s: float | None = None

    def _check(self, path: str) -> None:
        if not self.name.strip():
            fail(f"{path}.name", "must not be empty")
        if self.duration_s is not None and self.duration_s < 0:
            fail(f"{path}.duration_s", f"{self.duration_s} must not be negative")


@dataclass(frozen=True)
class PoseEvent:
    """A pose its sensor named, with its angles (°) where reported."""

    type: Literal["pose"]
    t_s: float
    name: str
    pitch_deg: float | None = None
    roll_deg: float | None = None
    yaw_deg: float | None = None

    def _check(self, path: str) -> None:
        if not self.name.strip():
            fail(f"{path}.name", "must not be empty")
        for axis in ("pitch_deg", "roll_deg", "yaw_deg"):
            value = getattr(self, axis)
            if value is not None and not -360 <= value <= 360:
                fail(f"{path}.{axis}", f"{value} is outside -360..360")


Event = TouchEvent | ImuSample | GestureEvent | PoseEvent

_TYPES: dict[str, type] = {"touch": TouchEvent, "imu": ImuSample, "gesture": GestureEvent, "pose": PoseEvent}


def parse_event(line: str, ranges: Ranges, where: str = "line") -> Event:
    """The event on one JSON line.

    Args:
        line: the text of the line (without its newline).
        ranges: the physical limits (``assets/tactile.toml`` ``[range]``).
        where: how messages name the line (``events.jsonl:3``).

    Raises:
        TactileInputError: not JSON, not an object, an unknown ``type``, a wrong, missing,
            non-finite or out-of-range field (the message names it).
    """
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TactileInputError(f"{where}: not valid JSON ({exc})", subject=where) from None
    if not isinstance(data, dict):
        raise TactileInputError(f"{where}: expected a JSON object, got {type(data).__name__}", subject=where)
    kind = data.get("type")
    cls = _TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise TactileInputError(f"{where}.type: {kind!r} is not one of {', '.join(_TYPES)}", subject=where)
    try:
        event: Event = from_dict(cls, data, where)
    except SchemaError as exc:
        raise TactileInputError(str(exc), subject=where) from None
    _check_range(event, ranges, where)
    return event


def _check_range(event: Event, ranges: Ranges, where: str) -> None:
    def refuse(field: str, value: float, limit: float, unit: str) -> None:
        raise TactileInputError(f"{where}.{field}: {value} is out of range (±{limit} {unit})", subject=where)

    if event.t_s < 0 or not math.isfinite(event.t_s):
        raise TactileInputError(f"{where}.t_s: {event.t_s} must be a time ≥ 0 s", subject=where)
    if isinstance(event, TouchEvent):
        for name in ("x_px", "y_px"):
            value = getattr(event, name)
            if abs(value) > ranges.max_coordinate_px:
                refuse(name, value, ranges.max_coordinate_px, "px")
    elif isinstance(event, ImuSample):
        for i, value in enumerate(event.accel_ms2):
            if abs(value) > ranges.max_accel_ms2:
                refuse(f"accel_ms2[{i}]", value, ranges.max_accel_ms2, "m/s²")
        for i, value in enumerate(event.gyro_rads or []):
            if abs(value) > ranges.max_gyro_rads:
                refuse(f"gyro_rads[{i}]", value, ranges.max_gyro_rads, "rad/s")

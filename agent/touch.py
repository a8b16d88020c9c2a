"""The touch part of a scene: a touch, a gesture, a pose or a motion, as sensed (Tactile).

Every field is optional but ``kind``: a scene carries what was measured, and an absent
measure is ``None``, never a made-up number. Units are in the names: seconds, pixels of
the screen or pad touched, m/s² of linear acceleration (gravity removed), rad/s, degrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.codec import fail

#: what was sensed: a gesture recognised from touch (tap, long-press, swipe) or motion
#: (shake, tilt), a gesture named by its sensor (``gesture``), or a body pose (``pose``).
TouchKind = Literal["tap", "long-press", "swipe", "shake", "tilt", "gesture", "pose"]

#: which way a swipe went on the screen (y grows downwards), or which way a device tilted
#: (the edge that went down, in Android's device axes: x right, y up the screen).
Direction = Literal["left", "right", "up", "down", "forward", "back"]


@dataclass
class Touch:
    """A touch, a gesture, a pose or a motion, as sensed.

    Attributes:
        kind: what was sensed (:data:`TouchKind`).
        duration_s: from the first to the last sample of the gesture (s).
        distance_px: straight-line distance from touch down to touch up (px).
        direction: a swipe's or a tilt's direction (:data:`Direction`).
        x_px, y_px: where the touch went down (px).
        pointer: the finger (pointer id) of a touch.
        peak_accel_ms2: the largest linear acceleration along one axis (m/s², gravity removed).
        peak_gyro_rads: the largest rotation rate about one axis (rad/s), when a gyroscope reported.
        reversals: how many times the acceleration reversed beyond the shake threshold.
        tilt_deg: the angle the gravity vector turned from the resting orientation (0–180°).
        pitch_deg, roll_deg, yaw_deg: a pose's angles, as its sensor reported them (°).
        samples: how many samples the gesture was recognised from.
    """

    kind: TouchKind
    duration_s: float | None = None
    distance_px: float | None = None
    direction: Direction | None = None
    x_px: float | None = None
    y_px: float | None = None
    pointer: int | None = None
    peak_accel_ms2: float | None = None
    peak_gyro_rads: float | None = None
    reversals: int | None = None
    tilt_deg: float | None = None
    pitch_deg: float | None = None
    roll_deg: float | None = None
    yaw_deg: float | None = None
    samples: int | None = None

    def _check(self, path: str) -> None:
        for name in ("duration_s", "distance_px", "peak_accel_ms2", "peak_gyro_rads"):
            value = getattr(self, name)
            if value is not None and value < 0:
                fail(f"{path}.{name}", f"{value} must not be negative")
        for name in ("reversals", "samples", "pointer"):
            value = getattr(self, name)
            if value is not None and value < 0:
                fail(f"{path}.{name}", f"{value} must not be negative")
        if self.tilt_deg is not None and not 0.0 <= self.tilt_deg <= 180.0:
            fail(f"{path}.tilt_deg", f"{self.tilt_deg} must be between 0 and 180")
        for name in ("pitch_deg", "roll_deg", "yaw_deg"):
            value = getattr(self, name)
            if value is not None and not -360.0 <= value <= 360.0:
                fail(f"{path}.{name}", f"{value} must be between -360 and 360")
        if self.direction is not None and self.kind not in ("swipe", "tilt", "gesture", "pose"):
            fail(f"{path}.direction", f"a {self.kind} has no direction")

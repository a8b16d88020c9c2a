"""IMU samples → shake and tilt (thresholds: ``assets/tactile.toml`` [motion]).

Gravity is the accelerometer reading through a first-order low-pass filter (time constant
``gravity_tau_s``; ``alpha = tau / (tau + dt)``, as in Android's ``SensorEvent``
documentation); linear acceleration is the reading minus gravity.

Shake
    An excursion is a sample whose linear acceleration along one axis is beyond
    ±``shake_accel_ms2``; a reversal is an excursion of the opposite sign to that axis's
    previous one. A shake episode runs from the first excursion until ``shake_quiet_s``
    passes without one; it is a shake when one axis reversed ``shake_reversals`` times
    within ``shake_window_s``. It is published when it ends (or at the end of the input),
    with its duration, total reversals (on the busiest axis) and peak linear acceleration.
Tilt
    The resting orientation is the gravity direction once it has turned less than
    ``settle_deg`` for ``tilt_hold_s``. A tilt is the gravity direction turned
    ``tilt_min_deg`` or more from rest and held so for ``tilt_hold_s``; after it, the next
    settled orientation becomes the rest. Its direction is the device edge that went down,
    in Android's device axes (x to the right, y up the screen, z out of it): gravity's
    reading gaining −x is ``right``, +x ``left``, −y ``forward`` (top edge down), +y
    ``back``. No tilt is recognised during a shake.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from agent.touch import Touch
from modules.tactile.events import ImuSample, TactileInputError
from modules.tactile.recognised import Recognised
from modules.tactile.thresholds import MotionThresholds

Vector = tuple[float, float, float]


def _angle_deg(a: Vector, b: Vector) -> float:
    """The angle between unit vectors ``a`` and ``b`` (°)."""
    dot = max(-1.0, min(1.0, a[0] * b[0] + a[1] * b[1] + a[2] * b[2]))
    return math.degrees(math.acos(dot))


def _unit(v: Vector) -> Vector | None:
    norm = math.sqrt(v[0] ** 2 + v[1] ** 2 + v[2] ** 2)
    return None if norm < 1e-6 else (v[0] / norm, v[1] / norm, v[2] / norm)


@dataclass
class _Episode:
    """A run of excursions that may be a shake."""

    t_start: float
    t_last: float
    peak_ms2: float = 0.0
    peak_gyro_rads: float | None = None
    samples: int = 0
    signs: list[int] = field(default_factory=lambda: [0, 0, 0])
    reversal_times: list[list[float]] = field(default_factory=lambda: [[], [], []])
    confirmed: bool = False


class MotionRecogniser:
    """Feed :class:`ImuSample` s in time order; :meth:`feed` returns the gestures they end,
    :meth:`finish` those still open at the end of the input."""

    def __init__(self, thresholds: MotionThresholds) -> None:
        self.t = thresholds
        self._last_t: float | None = None
        self._gravity: Vector = (0.0, 0.0, 0.0)
        self._episode: _Episode | None = None
        self._rest: Vector | None = None
        self._anchor: tuple[Vector, float] | None = None
        self._tilt_since: float | None = None
        self._peak_gyro_rads: float | None = None

    def feed(self, sample: ImuSample, where: str = "imu") -> list[Recognised]:
        """The gestures that ``sample`` ends (usually none).

        Raises:
            TactileInputError: the sample's time is before the previous sample's (skipped).
        """
        t = sample.t_s
        a: Vector = (sample.accel_ms2[0], sample.accel_ms2[1], sample.accel_ms2[2])
        out: list[Recognised] = []
        if self._last_t is not None and t < self._last_t:
            raise TactileInputError(
                f"{where}.t_s: {t} s is before the previous sample ({self._last_t} s)", subject=where
            )
        if self._last_t is None or t - self._last_t > self.t.max_gap_s:
            out += self.finish()
            self._gravity, self._anchor, self._tilt_since = a, None, None
        else:
            dt = t - self._last_t
            alpha = self.t.gravity_tau_s / (self.t.gravity_tau_s + dt)
            g = self._gravity
            self._gravity = tuple(alpha * g[i] + (1.0 - alpha) * a[i] for i in range(3))  # type: ignore[assignment]
        self._last_t = t
        gyro = max((abs(w) for w in sample.gyro_rads), default=0.0) if sample.gyro_rads is not None else None
        if gyro is not None:
            self._peak_gyro_rads = max(self._peak_gyro_rads or 0.0, gyro)
        linear = tuple(a[i] - self._gravity[i] for i in range(3))
        out += self._shake(t, linear, gyro)
        out += self._tilt(t)
        return out

    def finish(self) -> list[Recognised]:
        """The shake still under way, if it is one (the end of the input ends it)."""
        episode, self._episode = self._episode, None
        if episode is None or not episode.confirmed:
            return []
        reversals = max(len(times) for times in episode.reversal_times)
        touch = Touch(
            kind="shake",
            duration_s=episode.t_last - episode.t_start,
            peak_accel_ms2=episode.peak_ms2,
            peak_gyro_rads=episode.peak_gyro_rads,
            reversals=reversals,
            samples=episode.samples,
        )
        return [Recognised("shake", touch, episode.t_start, episode.t_last)]

    # --- shake --------------------------------------------------------------------------

    def _shake(self, t: float, linear: tuple[float, ...], gyro: float | None) -> list[Recognised]:
        limit = self.t.shake_accel_ms2
        episode = self._episode
        if episode is not None and t - episode.t_last > self.t.shake_quiet_s:
            done = self.finish()
            episode = None
        else:
            done = []
        signs = [1 if v > limit else -1 if v < -limit else 0 for v in linear]
        if not any(signs):
            if episode is not None:
                episode.samples += 1
                self._note_gyro(episode, gyro)
            return done
        if episode is None:
            episode = self._episode = _Episode(t_start=t, t_last=t)
        episode.t_last = t
        episode.samples += 1
        self._note_gyro(episode, gyro)
        episode.peak_ms2 = max(episode.peak_ms2, max(abs(v) for v in linear))
        for axis, sign in enumerate(signs):
            if sign == 0:
                continue
            if episode.signs[axis] not in (0, sign):
                times = episode.reversal_times[axis]
                times.append(t)
                recent = [x for x in times if t - x <= self.t.shake_window_s]
                if len(recent) >= self.t.shake_reversals:
                    episode.confirmed = True
            episode.signs[axis] = sign
        return done

    @staticmethod
    def _note_gyro(episode: _Episode, gyro: float | None) -> None:
        if gyro is not None:
            episode.peak_gyro_rads = max(episode.peak_gyro_rads or 0.0, gyro)

    # --- tilt ---------------------------------------------------------------------------

    def _tilt(self, t: float) -> list[Recognised]:
        u = _unit(self._gravity)
        if u is None:
            return []
        if self._anchor is None or _angle_deg(u, self._anchor[0]) > self.t.settle_deg:
            self._anchor = (u, t)
        settled = t - self._anchor[1] >= self.t.tilt_hold_s
        if self._rest is None:
            if settled:
                self._rest, self._tilt_since, self._peak_gyro_rads = u, None, None
            return []
        if self._episode is not None:
            self._tilt_since = None
            return []
        angle = _angle_deg(u, self._rest)
        if angle < self.t.tilt_min_deg:
            self._tilt_since = None
            return []
        if self._tilt_since is None:
            self._tilt_since = t
        if t - self._tilt_since < self.t.tilt_hold_s:
            return []
        dx, dy = u[0] - self._rest[0], u[1] - self._rest[1]
        if abs(dx) >= abs(dy):
            direction = "right" if dx < 0 else "left"
        else:
            direction = "forward" if dy < 0 else "back"
        touch = Touch(
            kind="tilt",
            duration_s=t - self._tilt_since,
            direction=direction,  # type: ignore[arg-type]
            tilt_deg=angle,
            peak_gyro_rads=self._peak_gyro_rads,
        )
        found = Recognised(f"tilt {direction}", touch, self._tilt_since, t)
        self._rest, self._tilt_since = None, None
        return [found]

"""``assets/tactile.toml``: the thresholds gestures are recognised with, and what each
gesture means (lexemes, mode). Parsed once with :func:`agent.codec.from_dict`, so a wrong
key is refused by name."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from agent.codec import SchemaError, fail, from_dict
from agent.errors import InputError
from agent.paths import ASSETS

TACTILE_TOML = ASSETS / "tactile.toml"


class ThresholdsError(InputError):
    """``assets/tactile.toml`` (or the file configured instead) is missing or wrong."""

    reason = "config.invalid"


@dataclass(frozen=True)
class TouchThresholds:
    """Touch gestures (s, px); see ``assets/tactile.toml`` for each and its source."""

    tap_max_s: float
    slop_px: float
    long_press_min_s: float
    swipe_min_px: float
    swipe_max_s: float

    def _check(self, path: str) -> None:
        if not 0 < self.tap_max_s <= self.long_press_min_s:
            fail(f"{path}.tap_max_s", "need 0 < tap_max_s ≤ long_press_min_s")
        if not 0 < self.slop_px < self.swipe_min_px:
            fail(f"{path}.slop_px", "need 0 < slop_px < swipe_min_px")
        if not self.swipe_max_s > 0:
            fail(f"{path}.swipe_max_s", "must be positive")


@dataclass(frozen=True)
class MotionThresholds:
    """IMU gestures (s, m/s², degrees); see ``assets/tactile.toml``."""

    gravity_tau_s: float
    shake_accel_ms2: float
    shake_reversals: int
    shake_window_s: float
    shake_quiet_s: float
    tilt_min_deg: float
    tilt_hold_s: float
    settle_deg: float
    max_gap_s: float

    def _check(self, path: str) -> None:
        for name in ("gravity_tau_s", "shake_accel_ms2", "shake_window_s", "shake_quiet_s", "tilt_hold_s", "max_gap_s"):
            if not getattr(self, name) > 0:
                fail(f"{path}.{name}", "must be positive")
        if self.shake_reversals < 1:
            fail(f"{path}.shake_reversals", "must be at least 1")
        if not 0 < self.settle_deg < self.tilt_min_deg < 180:
            fail(f"{path}.tilt_min_deg", "need 0 < settle_deg < tilt_min_deg < 180")


@dataclass(frozen=True)
class Ranges:
    """Physical limits of a reading; beyond them a sample is refused."""

    max_accel_ms2: float
    max_gyro_rads: float
    max_coordinate_px: float


@dataclass(frozen=True)
class Meaning:
    """What a gesture means: lexemes (``{direction}`` is replaced) and a mode."""

    lexemes: list[str]
    mode: str | None = None

    def _check(self, path: str) -> None:
        if not 1 <= len(self.lexemes) <= 4:
            fail(f"{path}.lexemes", "give 1–4 lexemes (the core joins them with '+')")


@dataclass(frozen=True)
class Thresholds:
    """The whole of ``assets/tactile.toml``."""

    touch: TouchThresholds
    motion: MotionThresholds
    range: Ranges
    gesture: dict[str, Meaning] = field(default_factory=dict)


def load_thresholds(path: str | Path | None = None) -> Thresholds:
    """``assets/tactile.toml`` (or ``path``), checked.

    Raises:
        ThresholdsError: the file is missing, not TOML, or has a wrong or missing key
            (the message names it).
    """
    where = Path(path) if path else TACTILE_TOML
    try:
        with where.open("rb") as handle:
            table = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ThresholdsError(f"{where}: cannot read the tactile thresholds ({exc})", subject=str(where)) from None
    meanings = table.pop("gesture", {})
    try:
        parsed = from_dict(_Tables, table, "tactile")
        gestures = {name: from_dict(Meaning, row, f"tactile.gesture.{name}") for name, row in meanings.items()}
    except SchemaError as exc:
        raise ThresholdsError(f"{where}: {exc}", subject=str(where)) from None
    return Thresholds(parsed.touch, parsed.motion, parsed.range, gestures)


@dataclass(frozen=True)
class _Tables:
    touch: TouchThresholds
    motion: MotionThresholds
    range: Ranges

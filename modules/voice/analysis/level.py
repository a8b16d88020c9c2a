"""Level: the RMS level track (dBFS), its summary, and which frames are audible.

Tracks are on the analyser's grid (:mod:`.frames`, one frame every ``HOP_S`` s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frames import HOP_S, centred_frames, hop_samples, slope_per_s

#: frames quieter than the loudest by more than this (dB) are silence for the analyser.
SILENCE_BELOW_PEAK_DB = 40.0
#: frames at or below this level (dBFS) are never audible.
AUDIBLE_ABOVE_DBFS = -70.0


def level_track_db(y: np.ndarray, sr_hz: int, win_s: float = 0.03) -> np.ndarray:
    """RMS level of ``win_s`` frames every ``HOP_S`` s of mono samples ``y`` (shape (n,)),
    dBFS, shape (1 + n // hop,); -120 for digital silence."""
    frames = centred_frames(y, round(win_s * sr_hz), hop_samples(sr_hz))
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-6))


@dataclass
class EnergySummary:
    """The level of a stretch: ``energy_db`` (dBFS of its mean power), ``energy_range_db``
    (dB) and ``energy_slope_db_per_s``; None where it has no frames."""

    energy_db: float | None
    energy_range_db: float | None
    energy_slope_db_per_s: float | None


def energy_summary(level_db: np.ndarray, mask: np.ndarray | None = None) -> EnergySummary:
    """Over the frames in ``mask`` (bool, shape (n_frames,)) of a level track ``level_db``
    (dBFS, shape (n_frames,)): the level of their mean power (dBFS, the RMS level of that
    audio), dynamics (95th − 5th percentile of frame levels, dB) and trend (dB/s)."""
    times = np.arange(len(level_db)) * HOP_S
    keep = np.ones(len(level_db), bool) if mask is None else mask[: len(level_db)]
    if keep.sum() == 0:
        return EnergySummary(None, None, None)
    levels = level_db[keep]
    mean_power = float(np.mean(10.0 ** (levels / 10.0)))
    lo, hi = np.percentile(levels, [5, 95])
    return EnergySummary(10.0 * np.log10(max(mean_power, 1e-12)), float(hi - lo), slope_per_s(times[keep], levels))


def activity_mask(level_db: np.ndarray) -> np.ndarray:
    """Audible frames of a level track (dBFS, shape (n_frames,)), bool shape (n_frames,):
    within ``SILENCE_BELOW_PEAK_DB`` of the loudest frame and above ``AUDIBLE_ABOVE_DBFS``."""
    if level_db.size == 0:
        return np.zeros(0, bool)
    return (level_db > level_db.max() - SILENCE_BELOW_PEAK_DB) & (level_db > AUDIBLE_ABOVE_DBFS)

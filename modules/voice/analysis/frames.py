"""The analyser's time grid: one frame every ``HOP_S`` seconds, centred at ``k * HOP_S``.

Every track of the analyser (pitch, level, spectrum) lives on this grid, so a frame index
means the same instant in all of them; here are the grid, the framing of samples onto it,
frame masks from stretches in seconds, and a track's trend per second.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: the analyser's frame step (seconds): frame k is centred at ``k * HOP_S``.
HOP_S = 0.01


def hop_samples(sr_hz: int) -> int:
    """The frame step in samples at ``sr_hz`` (at least 1)."""
    return max(1, round(HOP_S * sr_hz))


def centred_frames(y: np.ndarray, win_samples: int, hop: int) -> np.ndarray:
    """Frames of ``win_samples`` centred at ``k * hop`` samples, float64, shape
    (1 + len(y) // hop, win_samples), zero-padded at the edges (a view, not a copy)."""
    n_frames = 1 + len(y) // hop
    padded = np.pad(y.astype(np.float64), (win_samples // 2, win_samples // 2 + hop))
    return sliding_window_view(padded, win_samples)[::hop][:n_frames]


def segments_mask(n_frames: int, segments_s: Sequence[tuple[float, float]]) -> np.ndarray:
    """A frame mask (every ``HOP_S`` s), bool shape (n_frames,), True inside any
    (start_s, end_s)."""
    times = np.arange(n_frames) * HOP_S
    mask = np.zeros(n_frames, bool)
    for start, end in segments_s:
        mask |= (times >= start) & (times < end)
    return mask


def slope_per_s(times_s: np.ndarray, values: np.ndarray) -> float | None:
    """The least-squares trend of ``values`` against ``times_s`` (both shape (n,)), in
    the values' unit per second; None with fewer than 3 points or no time span."""
    if len(values) < 3 or np.ptp(times_s) <= 0:
        return None
    return float(np.polyfit(times_s, values, 1)[0])

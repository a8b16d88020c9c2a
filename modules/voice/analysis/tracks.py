"""Tracks: every frame-level measurement of a recording, taken once, read for any stretch.

:func:`measure` takes the pitch, level and spectrum tracks of a signal on the analyser's
grid (:mod:`.frames`, one frame every ``HOP_S`` s); the summaries of its utterances
(:mod:`.summary`) then read slices of them, so the utterances of a file share one analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frames import HOP_S
from .level import level_track_db
from .pitch import PitchTrack, pitch_track_hz
from .spectrum import power_spectrogram


@dataclass
class Tracks:
    """Every frame-level measurement of a signal, one frame every ``HOP_S`` seconds.

    Measured once per recording (:func:`measure`), then read for any stretch of it
    (:meth:`slice`, :func:`summarise`): the utterances of a file share one analysis.

    Attributes:
        pitch: F0 (Hz) and periodicity, shape (n_frames,).
        level_db: RMS level of 30 ms frames, dBFS, shape (n_frames,).
        spec: Hann-windowed power spectra, shape (n_frames, 257).
        freqs_hz: the spectra's bin frequencies, Hz, shape (257,).
        sr_hz: the signal's sample rate (Hz).
    """

    pitch: PitchTrack
    level_db: np.ndarray
    spec: np.ndarray
    freqs_hz: np.ndarray
    sr_hz: int

    @property
    def n_frames(self) -> int:
        """Frames every track has."""
        return min(len(self.pitch.f0_hz), len(self.level_db), self.spec.shape[0])

    @property
    def duration_s(self) -> float:
        """The tracks' span, seconds."""
        return self.n_frames * HOP_S

    def slice(self, t0_s: float, t1_s: float) -> Tracks:
        """The frames from ``t0_s`` to ``t1_s``, with times relative to ``t0_s``."""
        a = max(0, round(t0_s / HOP_S))
        b = max(a, min(self.n_frames, round(t1_s / HOP_S)))
        pitch = PitchTrack(self.pitch.times_s[a:b] - a * HOP_S, self.pitch.f0_hz[a:b], self.pitch.strength[a:b])
        return Tracks(pitch, self.level_db[a:b], self.spec[a:b], self.freqs_hz, self.sr_hz)

    def noise_floor_db(self) -> float:
        """The level of the quietest 5 % of frames, dBFS."""
        return float(np.percentile(self.level_db, 5)) if len(self.level_db) else -120.0


def measure(y: np.ndarray, sr_hz: int) -> Tracks:
    """Pitch, level and spectrum tracks of mono samples ``y`` (shape (n,)). Costs under
    1 % of the audio's duration here (``bench/pitch_tracker.py``); numpy and Praat release
    the GIL, so it can run beside Whisper on another thread."""
    y = np.asarray(y, dtype=np.float32)
    spec, freqs = power_spectrogram(y, sr_hz)
    tracks = Tracks(pitch_track_hz(y, sr_hz), level_track_db(y, sr_hz), spec, freqs, sr_hz)
    n = tracks.n_frames
    return Tracks(
        PitchTrack(tracks.pitch.times_s[:n], tracks.pitch.f0_hz[:n], tracks.pitch.strength[:n]),
        tracks.level_db[:n],
        spec[:n],
        freqs,
        sr_hz,
    )

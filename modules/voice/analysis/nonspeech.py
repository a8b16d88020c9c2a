"""Sounds without words (a dog, thunder, a door): the summary of any stretch plus the two
measures that describe such a sound, its rhythm (onsets per second) and its roughness.

Samples are mono float32 of shape (n,) at ``sr_hz``.
"""

from __future__ import annotations

import numpy as np

from agent.sound import Sound

from .summary import summarise
from .tracks import Tracks, measure


def onset_rate_hz(y: np.ndarray, sr_hz: int) -> float:
    """Onsets per second (librosa's spectral-flux onset detector): a sound's rhythm."""
    import librosa

    hop = 256
    onsets = librosa.onset.onset_detect(y=y.astype(np.float32), sr=sr_hz, hop_length=hop, units="time")
    return float(len(onsets) / max(len(y) / sr_hz, 1e-6))


def roughness(y: np.ndarray, sr_hz: int) -> float:
    """Share of the amplitude envelope's modulation energy between 30 and 150 Hz (the
    band heard as roughness) among all modulation from 2 to 150 Hz; 0..1."""
    envelope = np.abs(y.astype(np.float64))
    step = max(1, sr_hz // 1000)  # the envelope at ~1 kHz is enough for 150 Hz modulation
    env = envelope[: len(envelope) // step * step].reshape(-1, step).mean(axis=1)
    if len(env) < 64 or not np.any(env):
        return 0.0
    env = env - env.mean()
    spec = np.abs(np.fft.rfft(env * np.hanning(len(env)))) ** 2
    freqs = np.fft.rfftfreq(len(env), step / sr_hz)
    total = spec[(freqs >= 2) & (freqs <= 150)].sum()
    return float(spec[(freqs >= 30) & (freqs <= 150)].sum() / total) if total > 0 else 0.0


def analyse_non_speech(y: np.ndarray, sr_hz: int, tracks: Tracks | None = None) -> Sound:
    """The measures of a sound without words: :func:`summarise` (from ``tracks`` when
    given, else measured here) plus its rhythm (onsets per second) and roughness."""
    sound = summarise(tracks if tracks is not None else measure(y, sr_hz))
    sound.onset_rate_hz = onset_rate_hz(y, sr_hz)
    sound.roughness = roughness(y, sr_hz)
    return sound

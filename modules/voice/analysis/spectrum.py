"""Spectrum: the power spectrogram and what is read from it — brightness (centroid and
tilt), perceived loudness, and a compact timbre profile of the voice.

Spectra are on the analyser's grid (:mod:`.frames`, one frame every ``HOP_S`` s):
shape (n_frames, n_fft // 2 + 1), with the bins' frequencies in Hz beside them.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .frames import centred_frames, hop_samples
from .pitch import PitchTrack


def power_spectrogram(y: np.ndarray, sr_hz: int, n_fft: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Hann-windowed power spectra of ``n_fft``-sample frames every ``HOP_S`` s of mono
    samples ``y`` (shape (n,)): (power, shape (n_frames, n_fft // 2 + 1); the bins'
    frequencies in Hz, shape (n_fft // 2 + 1,))."""
    frames = centred_frames(y, n_fft, hop_samples(sr_hz))
    return np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2, np.fft.rfftfreq(n_fft, 1.0 / sr_hz)


def spectral_shape(
    spec: np.ndarray, freqs_hz: np.ndarray, mask: np.ndarray | None = None
) -> tuple[float | None, float | None]:
    """Brightness: (mean spectral centroid in Hz, spectral tilt in dB/octave) over the
    frames of a :func:`power_spectrogram` in ``mask`` (bool, shape (n_frames,)). The tilt
    is the slope of the long-term power spectrum (dB) against log2 frequency from 100 Hz to
    5 kHz (or Nyquist)."""
    keep = np.ones(spec.shape[0], bool) if mask is None else np.resize(mask, spec.shape[0])
    if keep.sum() == 0:
        return None, None
    spec = spec[keep]
    power = spec.sum(axis=1)
    loud = power > 1e-10
    if not loud.any():
        return None, None
    centroid = float(np.mean((spec[loud] @ freqs_hz) / power[loud]))
    long_term = spec[loud].mean(axis=0)
    band = (freqs_hz >= 100.0) & (freqs_hz <= min(5000.0, freqs_hz[-1] - 1))
    tilt = float(np.polyfit(np.log2(freqs_hz[band]), 10.0 * np.log10(long_term[band] + 1e-20), 1)[0])
    return centroid, tilt


@cache
def _mel_bank(sr_hz: int, n_fft: int, n_mels: int, fmin_hz: float, fmax_hz: float, normed: bool) -> np.ndarray:
    """A mel filter bank (librosa, HTK scale), shape (n_mels, n_fft // 2 + 1), built once
    per shape."""
    import librosa

    return librosa.filters.mel(
        sr=sr_hz, n_fft=n_fft, n_mels=n_mels, fmin=fmin_hz, fmax=fmax_hz, htk=True, norm="slaney" if normed else None
    )


def loudness_au(spec: np.ndarray, sr_hz: int) -> float:
    """Perceived loudness of a stretch from its power spectra ``spec`` (shape (n_frames,
    n_bins)): per frame, the intensities of 26 mel bands (20 Hz to 8 kHz or Nyquist) raised
    to 0.3 (Stevens' power law) and summed; then the mean over all frames, pauses included.
    Arbitrary units; on this project's speech recordings it correlates r = 0.99 with
    openSMILE eGeMAPSv02's ``loudness_sma3_amean``."""
    bank = _mel_bank(sr_hz, 2 * (spec.shape[1] - 1), 26, 20.0, min(8000.0, sr_hz / 2), False)
    return float(np.mean(np.sum((spec @ bank.T) ** 0.3, axis=1))) if spec.size else 0.0


#: weight of the two envelope coefficients against pitch register (in octaves).
TIMBRE_ENVELOPE_WEIGHT = 0.02


def timbre_vector(spec: np.ndarray, sr_hz: int, track: PitchTrack) -> list[float] | None:
    """A compact voice profile that tells speakers apart; compare with Euclidean distance.

    ``[log2(median F0 / 100 Hz), w·c1, w·c2]``: pitch register in octaves, and the two
    coarsest cepstral coefficients (DCT of the 24-band mel long-term spectrum in dB) of
    the voiced frames of a :func:`power_spectrogram`: its overall slope and broad shape,
    weighted by ``TIMBRE_ENVELOPE_WEIGHT``. Why so few numbers: on utterances of a few
    seconds, finer spectral statistics (MFCC means, the full spectrum) follow the words
    said more than the speaker (on spk1's five sentences they vary more than between two
    different speakers), while pitch register and the coarse envelope hold. None when
    fewer than 10 frames are voiced.
    """
    import scipy.fft

    n = min(spec.shape[0], len(track.f0_hz))
    voiced = track.voiced[:n]
    if voiced.sum() < 10:
        return None
    bank = _mel_bank(sr_hz, 2 * (spec.shape[1] - 1), 24, 100.0, min(7600.0, sr_hz / 2 - 200), True)
    ltas_db = 10.0 * np.log10((spec[:n][voiced] @ bank.T).mean(axis=0) + 1e-12)
    cepstrum = scipy.fft.dct(ltas_db - ltas_db.mean(), norm="ortho")
    register = float(np.log2(np.median(track.f0_hz[:n][voiced]) / 100.0))
    return [register, *(float(c) * TIMBRE_ENVELOPE_WEIGHT for c in cepstrum[1:3])]

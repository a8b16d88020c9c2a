"""The timbre and prosody analyser: one function per feature family, numpy and librosa.

The same analyser reads the user's voice and measures the agent's own rendered voice, so
a voice plan and its result compare field by field (``agent.sound.Sound``). All
functions take mono float32 samples ``y`` of shape (n,) at ``sr_hz``; time tracks are
sampled every ``HOP_S`` seconds with frame centres at ``k * HOP_S``.

Pitch follows Boersma (1993), the method behind Praat's "To Pitch (ac)": windowed
autocorrelation divided by the window's own autocorrelation, candidate peaks with
parabolic interpolation and an octave cost, and Praat's voicing and silence thresholds;
a light path correction then removes octave jumps and one-frame blips.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from agent.sound import Sound

HOP_S = 0.01
PITCH_FLOOR_HZ = 75.0
PITCH_CEILING_HZ = 600.0
#: a gap between words longer than this is a pause.
MIN_PAUSE_S = 0.15
#: frames quieter than the loudest by more than this are silence for the analyser.
SILENCE_BELOW_PEAK_DB = 40.0


@dataclass
class PitchTrack:
    """F0 every ``HOP_S`` seconds.

    Attributes:
        times_s: frame centres, shape (n_frames,).
        f0_hz: F0 of voiced frames, NaN where unvoiced, shape (n_frames,).
        strength: normalised autocorrelation at the chosen period, 0..1, shape (n_frames,);
            the periodicity that also gives the harmonics-to-noise ratio.
    """

    times_s: np.ndarray
    f0_hz: np.ndarray
    strength: np.ndarray

    @property
    def voiced(self) -> np.ndarray:
        return ~np.isnan(self.f0_hz)


def _frames(y: np.ndarray, win: int, hop: int) -> np.ndarray:
    """Frames centred at k*hop, shape (n_frames, win), zero-padded at the edges."""
    n_frames = 1 + len(y) // hop
    padded = np.pad(y.astype(np.float64), (win // 2, win // 2 + hop))
    return sliding_window_view(padded, win)[::hop][:n_frames]


def pitch_track_hz(y: np.ndarray, sr_hz: int, floor_hz: float = PITCH_FLOOR_HZ,
                   ceiling_hz: float = PITCH_CEILING_HZ, voicing_threshold: float = 0.45,
                   silence_threshold: float = 0.03, octave_cost: float = 0.01) -> PitchTrack:
    """F0 track by windowed autocorrelation (Praat's defaults for the thresholds).

    Args:
        y: mono samples, shape (n,).
        sr_hz: sample rate.
        floor_hz, ceiling_hz: the pitch search range.
        voicing_threshold: normalised autocorrelation a voiced frame must exceed.
        silence_threshold: frames whose peak is below this share of the signal's peak
            count as silent.
        octave_cost: per octave below the ceiling, favouring the higher of two
            candidates an octave apart.

    Returns:
        a :class:`PitchTrack` with frames every ``HOP_S`` s.
    """
    hop = max(1, int(round(HOP_S * sr_hz)))
    win = int(round(3.0 / floor_hz * sr_hz))
    min_lag = max(2, int(np.floor(sr_hz / ceiling_hz)))
    max_lag = int(np.ceil(sr_hz / floor_hz))
    frames = _frames(y, win, hop)
    n = frames.shape[0]
    times = np.arange(n) * HOP_S
    if n == 0 or not np.any(y):
        return PitchTrack(times, np.full(n, np.nan), np.zeros(n))
    frames = frames - frames.mean(axis=1, keepdims=True)
    local_peak = np.abs(frames).max(axis=1)
    global_peak = float(np.abs(y).max())
    window = np.hanning(win)
    n_fft = 1 << int(np.ceil(np.log2(win + max_lag + 2)))
    acf = np.fft.irfft(np.abs(np.fft.rfft(frames * window, n_fft)) ** 2, n_fft)[:, : max_lag + 2]
    acf_window = np.fft.irfft(np.abs(np.fft.rfft(window, n_fft)) ** 2, n_fft)[: max_lag + 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (acf / np.maximum(acf[:, :1], 1e-20)) / (acf_window / acf_window[0])
    seg = r[:, min_lag - 1 : max_lag + 2]
    left, mid, right = seg[:, :-2], seg[:, 1:-1], seg[:, 2:]
    is_peak = (mid > left) & (mid >= right)
    denom = left - 2.0 * mid + right
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(denom) > 1e-12, 0.5 * (left - right) / denom, 0.0)
    shift = np.clip(np.nan_to_num(shift), -0.5, 0.5)
    height = np.clip(mid - 0.25 * (left - right) * shift, 0.0, 1.0)
    lag_s = (np.arange(min_lag, max_lag + 1)[None, :] + shift) / sr_hz
    score = np.where(is_peak, height - octave_cost * np.log2(floor_hz * np.maximum(lag_s, 1e-9)), -np.inf)
    best = score.argmax(axis=1)
    rows = np.arange(n)
    best_score = score[rows, best]
    unvoiced_score = voicing_threshold + np.maximum(
        0.0, 2.0 - (local_peak / global_peak) / (silence_threshold / (1.0 + voicing_threshold)))
    voiced = np.isfinite(best_score) & (best_score > unvoiced_score)
    f0 = np.where(voiced, 1.0 / lag_s[rows, best], np.nan)
    strength = np.where(voiced, height[rows, best], 0.0)
    f0 = _correct_path(f0)
    strength = np.where(np.isnan(f0), 0.0, strength)
    return PitchTrack(times, f0, strength)


def _correct_path(f0_hz: np.ndarray, min_run: int = 3) -> np.ndarray:
    """Remove voiced runs shorter than ``min_run`` frames, then fold octave jumps: a frame
    an octave (±3 semitones) away from the median of its run is moved by that octave."""
    f0 = f0_hz.copy()
    voiced = ~np.isnan(f0)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], voiced.astype(np.int8), [0]])))
    for start, end in zip(edges[::2], edges[1::2]):
        if end - start < min_run:
            f0[start:end] = np.nan
            continue
        run = f0[start:end]
        ref = np.median(run)
        st = 12.0 * np.log2(run / ref)
        run[np.abs(st - 12.0) < 3.0] /= 2.0
        run[np.abs(st + 12.0) < 3.0] *= 2.0
    return f0


def _semitones(f0_hz: np.ndarray, ref_hz: float) -> np.ndarray:
    return 12.0 * np.log2(f0_hz / ref_hz)


def _slope_per_s(times_s: np.ndarray, values: np.ndarray) -> float | None:
    if len(values) < 3 or np.ptp(times_s) <= 0:
        return None
    return float(np.polyfit(times_s, values, 1)[0])


def classify_contour(times_s: np.ndarray, f0_hz: np.ndarray, threshold_st: float = 1.0) -> str | None:
    """Classify the pitch movement of voiced frames as rising, falling, flat, rise-fall or
    fall-rise, from the median pitch (semitones) of the first, middle and last third of the
    voiced span; a move counts when it exceeds ``threshold_st``. None with < 10 voiced frames."""
    ok = ~np.isnan(f0_hz)
    if ok.sum() < 10:
        return None
    t, st = times_s[ok], _semitones(f0_hz[ok], float(np.median(f0_hz[ok])))
    edges = np.linspace(t[0], t[-1], 4)
    thirds = [st[(t >= a) & (t <= b)] for a, b in zip(edges[:-1], edges[1:])]
    if any(len(part) == 0 for part in thirds):
        return None
    first, middle, last = (float(np.median(part)) for part in thirds)
    up, down = middle - first, last - middle
    if up > threshold_st and down < -threshold_st:
        return "rise-fall"
    if up < -threshold_st and down > threshold_st:
        return "fall-rise"
    if last - first > threshold_st:
        return "rising"
    if last - first < -threshold_st:
        return "falling"
    return "flat"


@dataclass
class PitchSummary:
    f0_median_hz: float | None
    f0_range_st: float | None
    contour: str | None
    f0_final_slope_st_per_s: float | None
    voiced_ratio: float


def pitch_summary(track: PitchTrack, mask: np.ndarray | None = None) -> PitchSummary:
    """Median F0 (Hz), 5th–95th percentile range (semitones), contour and final slope
    (semitones/s over the last 0.5 s of voicing) of a track, within ``mask`` (frames)."""
    keep = track.voiced if mask is None else track.voiced & mask
    span = np.ones_like(keep) if mask is None else mask
    voiced_ratio = float(keep.sum() / max(1, span.sum()))
    if keep.sum() < 3:
        return PitchSummary(None, None, None, None, voiced_ratio)
    f0, t = track.f0_hz[keep], track.times_s[keep]
    median = float(np.median(f0))
    lo, hi = np.percentile(f0, [5, 95])
    final = t >= t[-1] - 0.5
    slope = _slope_per_s(t[final], _semitones(f0[final], median))
    f0_masked = np.where(keep, track.f0_hz, np.nan)
    return PitchSummary(median, float(12.0 * np.log2(hi / lo)),
                        classify_contour(track.times_s, f0_masked), slope, voiced_ratio)


def level_track_db(y: np.ndarray, sr_hz: int, win_s: float = 0.03) -> np.ndarray:
    """RMS level of ``win_s`` frames every ``HOP_S`` s, dBFS, shape (n_frames,); -120 for
    digital silence."""
    hop = max(1, int(round(HOP_S * sr_hz)))
    frames = _frames(y, int(round(win_s * sr_hz)), hop)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-6))


@dataclass
class EnergySummary:
    energy_db: float | None
    energy_range_db: float | None
    energy_slope_db_per_s: float | None


def energy_summary(y: np.ndarray, sr_hz: int, level_db: np.ndarray,
                   mask: np.ndarray | None = None) -> EnergySummary:
    """Overall RMS level (dBFS) of the samples in ``mask``, dynamics (95th − 5th percentile
    of frame levels, dB) and trend (dB/s) of the frames in ``mask``."""
    times = np.arange(len(level_db)) * HOP_S
    keep = np.ones(len(level_db), bool) if mask is None else mask
    if keep.sum() == 0:
        return EnergySummary(None, None, None)
    hop = max(1, int(round(HOP_S * sr_hz)))
    sample_mask = np.repeat(keep, hop)[: len(y)]
    selected = y[: len(sample_mask)][sample_mask]
    rms = float(np.sqrt(np.mean(selected.astype(np.float64) ** 2))) if selected.size else 0.0
    levels = level_db[keep]
    lo, hi = np.percentile(levels, [5, 95])
    return EnergySummary(20.0 * np.log10(max(rms, 1e-6)), float(hi - lo),
                         _slope_per_s(times[keep], levels))


def spectral_shape(y: np.ndarray, sr_hz: int, mask: np.ndarray | None = None,
                   n_fft: int = 512) -> tuple[float | None, float | None]:
    """Brightness: (mean spectral centroid in Hz, spectral tilt in dB/octave) over the
    frames in ``mask``. The tilt is the slope of the long-term power spectrum (dB) against
    log2 frequency between 100 Hz and 5 kHz (or Nyquist)."""
    hop = max(1, int(round(HOP_S * sr_hz)))
    frames = _frames(y, n_fft, hop)
    keep = np.ones(frames.shape[0], bool) if mask is None else mask[: frames.shape[0]]
    if keep.sum() == 0:
        return None, None
    spec = np.abs(np.fft.rfft(frames[keep] * np.hanning(n_fft), axis=1)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr_hz)
    power = spec.sum(axis=1)
    loud = power > 1e-10
    if not loud.any():
        return None, None
    centroid = float(np.mean((spec[loud] @ freqs) / power[loud]))
    long_term = spec[loud].mean(axis=0)
    band = (freqs >= 100.0) & (freqs <= min(5000.0, sr_hz / 2 - 1))
    tilt = float(np.polyfit(np.log2(freqs[band]), 10.0 * np.log10(long_term[band] + 1e-20), 1)[0])
    return centroid, tilt


def hnr_db(track: PitchTrack, mask: np.ndarray | None = None) -> float | None:
    """Harmonics-to-noise ratio (dB), mean over voiced frames of 10·log10(r / (1 − r)), r
    the normalised autocorrelation at the period (Boersma 1993; Praat's Harmonicity)."""
    keep = track.voiced if mask is None else track.voiced & mask
    if keep.sum() < 3:
        return None
    r = np.clip(track.strength[keep], 1e-4, 0.9999)
    return float(np.mean(10.0 * np.log10(r / (1.0 - r))))


def timbre_vector(y: np.ndarray, sr_hz: int, mask: np.ndarray | None = None,
                  n_mfcc: int = 13) -> list[float] | None:
    """Compact timbre: mean and standard deviation of MFCC 1..12 over the frames in
    ``mask`` (24 numbers), L2-normalised so vectors compare by cosine."""
    import librosa

    hop = max(1, int(round(HOP_S * sr_hz)))
    mfcc = librosa.feature.mfcc(y=y.astype(np.float32), sr=sr_hz, n_mfcc=n_mfcc,
                                n_fft=512 if sr_hz <= 16000 else 1024, hop_length=hop, n_mels=40)
    keep = np.ones(mfcc.shape[1], bool) if mask is None else np.resize(mask, mfcc.shape[1])
    if keep.sum() < 5:
        return None
    coeffs = mfcc[1:, keep]
    vec = np.concatenate([coeffs.mean(axis=1), coeffs.std(axis=1)])
    norm = np.linalg.norm(vec)
    return [float(v) for v in (vec / norm if norm > 0 else vec)]


_VOWEL_GROUPS = re.compile(r"[aeiouy]+")


def count_syllables(word: str) -> int:
    """English syllables by vowel groups, minus a silent final -e; at least 1 for a word
    with letters, 0 for none."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 0
    count = len(_VOWEL_GROUPS.findall(w))
    if w.endswith("e") and not w.endswith(("le", "ee")) and count > 1:
        count -= 1
    return max(1, count)


@dataclass
class RhythmSummary:
    rate_wps: float | None
    rate_sps: float | None
    pause_ratio: float | None
    pause_positions_s: list[float] | None


def rhythm(words: Sequence[tuple[str, float, float]], offset_s: float = 0.0) -> RhythmSummary:
    """Speaking rate and pauses from word timings ``(text, start_s, end_s)``.

    ``rate_wps`` and ``rate_sps`` count words and syllables per second between the first
    word's start and the last word's end; a gap between words longer than ``MIN_PAUSE_S``
    is a pause; ``pause_positions_s`` are their starts minus ``offset_s``.
    """
    if not words:
        return RhythmSummary(None, None, None, None)
    span = words[-1][2] - words[0][1]
    if span <= 0:
        return RhythmSummary(None, None, None, None)
    syllables = sum(count_syllables(w[0]) for w in words)
    gaps = [(a[2], b[1] - a[2]) for a, b in zip(words, words[1:]) if b[1] - a[2] > MIN_PAUSE_S]
    return RhythmSummary(len(words) / span, syllables / span,
                         min(1.0, sum(g for _, g in gaps) / span),
                         [round(start - offset_s, 3) for start, _ in gaps])


def rhythm_from_text(text: str, speech_s: Sequence[tuple[float, float]]) -> RhythmSummary:
    """Rate and pauses of audio whose words are known but not their timings (the agent's
    own rendered voice): the words and syllables of ``text`` over the span from the first
    VAD speech onset to the last offset; the gaps between VAD segments are the pauses."""
    words = [w for w in text.split() if re.search(r"[A-Za-z]", w)]
    if not words or not speech_s:
        return RhythmSummary(None, None, None, None)
    span = speech_s[-1][1] - speech_s[0][0]
    if span <= 0:
        return RhythmSummary(None, None, None, None)
    gaps = [(a[1], b[0] - a[1]) for a, b in zip(speech_s, speech_s[1:]) if b[0] - a[1] > MIN_PAUSE_S]
    return RhythmSummary(len(words) / span, sum(count_syllables(w) for w in words) / span,
                         min(1.0, sum(g for _, g in gaps) / span),
                         [round(start - speech_s[0][0], 3) for start, _ in gaps])


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


def activity_mask(level_db: np.ndarray) -> np.ndarray:
    """Frames within ``SILENCE_BELOW_PEAK_DB`` of the loudest frame (and above -70 dBFS)."""
    if level_db.size == 0:
        return np.zeros(0, bool)
    return (level_db > level_db.max() - SILENCE_BELOW_PEAK_DB) & (level_db > -70.0)


def segments_mask(n_frames: int, segments_s: Sequence[tuple[float, float]]) -> np.ndarray:
    """A frame mask (every ``HOP_S`` s) that is True inside any (start_s, end_s)."""
    times = np.arange(n_frames) * HOP_S
    mask = np.zeros(n_frames, bool)
    for start, end in segments_s:
        mask |= (times >= start) & (times < end)
    return mask


def analyse(y: np.ndarray, sr_hz: int, words: Sequence[tuple[str, float, float]] = (),
            speech_s: Sequence[tuple[float, float]] | None = None) -> Sound:
    """Every feature family for one stretch of audio.

    Args:
        y: mono float32 samples, shape (n,).
        sr_hz: sample rate (16 kHz is what the rest of the pipeline uses).
        words: word timings ``(text, start_s, end_s)`` relative to ``y``'s start, for rate
            and pauses; empty for a sound without words.
        speech_s: VAD speech segments relative to ``y``'s start; level, timbre and
            brightness are measured inside them (inside the audible frames when None).

    Returns:
        a :class:`~agent.sound.Sound`; measures that cannot be taken are None.
    """
    y = np.asarray(y, dtype=np.float32)
    level = level_track_db(y, sr_hz)
    audible = activity_mask(level)
    if speech_s:
        mask = segments_mask(len(level), speech_s) & audible
        if not mask.any():
            mask = audible
    else:
        mask = audible
    track = pitch_track_hz(y, sr_hz)
    n = min(len(track.f0_hz), len(mask))
    track = PitchTrack(track.times_s[:n], track.f0_hz[:n], track.strength[:n])
    pitch = pitch_summary(track, mask[:n])
    energy = energy_summary(y, sr_hz, level, mask)
    centroid, tilt = spectral_shape(y, sr_hz, mask)
    pace = rhythm(list(words))
    return Sound(
        duration_s=len(y) / sr_hz,
        speech_s=float(sum(e - s for s, e in speech_s)) if speech_s else None,
        voiced_ratio=pitch.voiced_ratio,
        f0_median_hz=pitch.f0_median_hz,
        f0_range_st=pitch.f0_range_st,
        contour=pitch.contour,
        f0_final_slope_st_per_s=pitch.f0_final_slope_st_per_s,
        energy_db=energy.energy_db,
        energy_range_db=energy.energy_range_db,
        energy_slope_db_per_s=energy.energy_slope_db_per_s,
        centroid_hz=centroid,
        tilt_db_per_oct=tilt,
        hnr_db=hnr_db(track, mask[:n]),
        timbre=timbre_vector(y, sr_hz, mask),
        rate_wps=pace.rate_wps,
        rate_sps=pace.rate_sps,
        pause_ratio=pace.pause_ratio,
        pause_positions_s=pace.pause_positions_s,
    )


def analyse_non_speech(y: np.ndarray, sr_hz: int) -> Sound:
    """:func:`analyse` plus the descriptors of a sound without words (rhythm, roughness)."""
    sound = analyse(y, sr_hz)
    sound.onset_rate_hz = onset_rate_hz(y, sr_hz)
    sound.roughness = roughness(y, sr_hz)
    return sound

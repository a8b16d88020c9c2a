"""Pitch: the F0 track (Praat's own tracker with a floor that adapts to the voice), its
contour, its summary, and the harmonics-to-noise ratio read from its periodicity.

Pitch is Praat's "To Pitch (ac)" (Boersma 1993, through parselmouth) with a floor that
adapts to the voice, so a deep voice (65–90 Hz) reads as Praat reads it with a floor
suited to it (:func:`pitch_track_hz`). Tracks are on the analyser's grid (:mod:`.frames`,
one frame every ``HOP_S`` s, centres at ``k * HOP_S``); F0 in Hz, intervals in semitones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frames import HOP_S, hop_samples, slope_per_s
from .level import level_track_db

#: the pitch tracker's first-pass floor (Praat's default) and its ceiling (Hz).
PITCH_FLOOR_HZ = 75.0
PITCH_CEILING_HZ = 600.0
#: the adaptive floor (:func:`pitch_track_hz`): a first pass from ``FIRST_FLOOR_HZ``, then
#: the floor at this share of the lower quartile of the loud voiced frames (De Looze &
#: Hirst 2008), between ``FIRST_FLOOR_HZ`` and ``PITCH_FLOOR_HZ``. Loud: within
#: ``LOUD_BELOW_DB`` of the 90th percentile level, so hum in the pauses does not count.
FIRST_FLOOR_HZ = 50.0
FLOOR_PER_Q1 = 0.75
LOUD_BELOW_DB = 15.0
#: mains hum: with a floor under 65 Hz, quiet frames (not loud, as above) voiced within
#: ``MAINS_TOLERANCE_ST`` of a mains frequency are hum in the pauses, not voice (Praat
#: reads the 60 Hz hum of stereo_diarization.wav at 58–66 Hz, pulled towards the floor).
MAINS_HZ = (50.0, 60.0)
MAINS_TOLERANCE_ST = 1.5
#: Praat's voicing threshold: the normalised autocorrelation a voiced frame must exceed.
VOICING_THRESHOLD = 0.45


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
        """True where a frame is voiced, bool shape (n_frames,)."""
        return ~np.isnan(self.f0_hz)


def _praat_pitch(
    y: np.ndarray,
    sr_hz: int,
    n_frames: int,
    floor_hz: float,
    ceiling_hz: float,
    voicing_threshold: float,
    silence_threshold: float,
    octave_cost: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Praat's "To Pitch (ac)" on ``y``, read at the analyser's frames ``k * HOP_S``
    (k < ``n_frames``): (F0 in Hz with NaN where unvoiced, strength 0..1), each shape
    (n_frames,). Half a window of zeros on each side lets Praat reach the first and last
    frames, as the numpy frames do; each analyser frame takes Praat's nearest (≤ 5 ms away)."""
    import parselmouth

    pad = int(np.ceil(1.5 / floor_hz * sr_hz)) + round(HOP_S * sr_hz)
    padded = np.pad(np.asarray(y, np.float64), pad)
    sound = parselmouth.Sound(padded, sampling_frequency=sr_hz, start_time=-pad / sr_hz)
    pitch = sound.to_pitch_ac(
        time_step=HOP_S,
        pitch_floor=floor_hz,
        pitch_ceiling=ceiling_hz,
        silence_threshold=silence_threshold,
        voicing_threshold=voicing_threshold,
        octave_cost=octave_cost,
    )
    chosen = pitch.selected_array
    centres = pitch.xs()
    f0 = np.full(n_frames, np.nan)
    strength = np.zeros(n_frames)
    if len(centres) == 0:
        return f0, strength
    index = np.rint((np.arange(n_frames) * HOP_S - centres[0]) / HOP_S).astype(int)
    ok = (index >= 0) & (index < len(centres))
    hz = chosen["frequency"][index[ok]]
    f0[ok] = np.where(hz > 0, hz, np.nan)
    strength[ok] = np.where(hz > 0, np.clip(chosen["strength"][index[ok]], 0.0, 1.0), 0.0)
    return f0, strength


def pitch_track_hz(
    y: np.ndarray,
    sr_hz: int,
    floor_hz: float | None = None,
    ceiling_hz: float = PITCH_CEILING_HZ,
    voicing_threshold: float = VOICING_THRESHOLD,
    silence_threshold: float = 0.03,
    octave_cost: float = 0.01,
) -> PitchTrack:
    """F0 track by Praat's own autocorrelation tracker ("To Pitch (ac)", Boersma 1993,
    through parselmouth), with Praat's thresholds and path costs, on the analyser's frames.

    The floor adapts to the voice unless ``floor_hz`` is given (the two-pass rule of
    De Looze & Hirst 2008): a first pass from ``FIRST_FLOOR_HZ`` (50 Hz), then the final
    one from ``FLOOR_PER_Q1`` × the lower quartile of the loud voiced frames, kept between
    50 Hz and ``PITCH_FLOOR_HZ`` (Praat's default, 75 Hz; every voice from 100 Hz up gets
    exactly Praat's default analysis). A fixed 75 Hz floor cannot see the low half of a
    deep voice (median 70–90 Hz) and read it 3–8 st high; a fixed 50 Hz floor hears the
    mains hum (60 Hz) in the pauses of ``stereo_diarization.wav`` as voice and reads that
    speaker 2–3 st low. Only loud frames set the floor, so the hum cannot pull it down;
    with fewer than 10 of them the floor is 75 Hz. With a floor under 65 Hz, quiet frames
    within 1.5 st of a mains frequency (50 or 60 Hz) are hum and unvoiced.

    Why Praat and not the numpy tracker that was here: on the deep-voice and speech sets it
    is closer to Praat's reference (its path finder replaces hand-made octave and spike
    corrections) and costs less (``bench/pitch_tracker.py``).

    Args:
        y: mono samples, shape (n,).
        sr_hz: sample rate.
        floor_hz: a fixed pitch floor (Hz), or None to adapt it as above.
        ceiling_hz: the highest pitch searched (Hz).
        voicing_threshold: normalised autocorrelation a voiced frame must exceed.
        silence_threshold: frames whose peak is below this share of the signal's peak
            count as silent.
        octave_cost: per octave below the ceiling, favouring the higher of two
            candidates an octave apart.

    Returns:
        a :class:`PitchTrack` with frames every ``HOP_S`` s, centres at ``k * HOP_S``.
    """
    hop = hop_samples(sr_hz)
    n = 1 + len(y) // hop
    times = np.arange(n) * HOP_S
    if len(y) == 0 or not np.any(y):
        return PitchTrack(times, np.full(n, np.nan), np.zeros(n))
    args = (ceiling_hz, voicing_threshold, silence_threshold, octave_cost)
    if floor_hz is not None:
        return PitchTrack(times, *_praat_pitch(y, sr_hz, n, floor_hz, *args))
    f0, strength = _praat_pitch(y, sr_hz, n, FIRST_FLOOR_HZ, *args)
    level = level_track_db(np.asarray(y, np.float32), sr_hz)  # the same frames, shape (n,)
    quiet = level <= np.percentile(level, 90) - LOUD_BELOW_DB
    loud_voiced = f0[~quiet & ~np.isnan(f0)]
    floor = PITCH_FLOOR_HZ  # too little loud voicing to judge the voice by: Praat's default
    if len(loud_voiced) >= 10:
        floor = float(np.clip(FLOOR_PER_Q1 * np.percentile(loud_voiced, 25), FIRST_FLOOR_HZ, PITCH_FLOOR_HZ))
    if floor > FIRST_FLOOR_HZ:
        f0, strength = _praat_pitch(y, sr_hz, n, floor, *args)
    if floor < max(MAINS_HZ) * 2.0 ** (MAINS_TOLERANCE_ST / 12.0):
        with np.errstate(invalid="ignore"):
            near_mains = [np.abs(12.0 * np.log2(f0 / hz)) < MAINS_TOLERANCE_ST for hz in MAINS_HZ]
        hum = quiet & np.any(near_mains, axis=0)
        f0[hum], strength[hum] = np.nan, 0.0
    return PitchTrack(times, f0, strength)


def _semitones(f0_hz: np.ndarray, ref_hz: float) -> np.ndarray:
    return 12.0 * np.log2(f0_hz / ref_hz)


def classify_contour(times_s: np.ndarray, f0_hz: np.ndarray, threshold_st: float = 1.0) -> str | None:
    """Classify the pitch movement of voiced frames: rising, falling, flat, rise-fall or
    fall-rise.

    Reads the median pitch (semitones) of the first and middle third of the voiced span
    and of its end (the last 10 % of voiced frames, at least 5), and the slope of the last
    0.5 s: the end decides, since that is where intonation says statement or question. A
    high end still falling faster than 3 st/s is a final accent, not a rise. A move counts
    when it exceeds ``threshold_st``. None with fewer than 10 voiced frames.
    """
    ok = ~np.isnan(f0_hz)
    if ok.sum() < 10:
        return None
    t, st = times_s[ok], _semitones(f0_hz[ok], float(np.median(f0_hz[ok])))
    edges = np.linspace(t[0], t[-1], 4)
    first = st[(t >= edges[0]) & (t <= edges[1])]
    middle = st[(t >= edges[1]) & (t <= edges[2])]
    if len(first) == 0 or len(middle) == 0:
        return None
    first_st, middle_st = float(np.median(first)), float(np.median(middle))
    final_st = float(np.median(st[-max(5, len(st) // 10) :]))
    last = t >= t[-1] - 0.5
    final_slope = slope_per_s(t[last], st[last]) or 0.0
    if middle_st - first_st > threshold_st and final_st - middle_st < -threshold_st:
        return "rise-fall"
    # A high end that is already falling away (a final accent) is not a rise.
    if final_st - min(first_st, middle_st) > threshold_st and final_slope > -3.0:
        return "fall-rise" if first_st - middle_st > threshold_st else "rising"
    if final_st - max(first_st, middle_st) < -threshold_st or final_slope < -5.0:
        return "falling"
    return "flat"


@dataclass
class PitchSummary:
    """The pitch of a stretch: median F0 (Hz), 5th–95th percentile range (semitones),
    contour, final slope (semitones/s) and the share of its frames that are voiced."""

    f0_median_hz: float | None
    f0_range_st: float | None
    contour: str | None
    f0_final_slope_st_per_s: float | None
    voiced_ratio: float


def pitch_summary(track: PitchTrack, mask: np.ndarray | None = None) -> PitchSummary:
    """Median F0 (Hz), 5th–95th percentile range (semitones), contour and final slope
    (semitones/s over the last 0.5 s of voicing) of a track, within ``mask`` (bool, shape (n_frames,))."""
    keep = track.voiced if mask is None else track.voiced & mask[: len(track.voiced)]
    span = np.ones_like(keep) if mask is None else mask[: len(track.voiced)]
    voiced_ratio = float(keep.sum() / max(1, span.sum()))
    if keep.sum() < 3:
        return PitchSummary(None, None, None, None, voiced_ratio)
    f0, t = track.f0_hz[keep], track.times_s[keep]
    median = float(np.median(f0))
    lo, hi = np.percentile(f0, [5, 95])
    final = t >= t[-1] - 0.5
    slope = slope_per_s(t[final], _semitones(f0[final], median))
    f0_masked = np.where(keep, track.f0_hz, np.nan)
    return PitchSummary(
        median, float(12.0 * np.log2(hi / lo)), classify_contour(track.times_s, f0_masked), slope, voiced_ratio
    )


def hnr_db(track: PitchTrack, mask: np.ndarray | None = None) -> float | None:
    """Harmonics-to-noise ratio (dB), mean over voiced frames of 10·log10(r / (1 − r)), r
    the normalised autocorrelation at the period (Boersma 1993; Praat's Harmonicity)."""
    keep = track.voiced if mask is None else track.voiced & mask[: len(track.voiced)]
    if keep.sum() < 3:
        return None
    r = np.clip(track.strength[keep], 1e-4, 0.9999)
    return float(np.mean(10.0 * np.log10(r / (1.0 - r))))

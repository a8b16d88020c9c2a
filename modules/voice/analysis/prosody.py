"""The timbre and prosody analyser: one function per feature family, numpy and librosa.

The same analyser reads the user's voice and measures the agent's own rendered voice, so
a voice plan and its result compare field by field (``agent.sound.Sound``). All
functions take mono float32 samples ``y`` of shape (n,) at ``sr_hz``; time tracks are
sampled every ``HOP_S`` seconds with frame centres at ``k * HOP_S``.

Pitch is Praat's own "To Pitch (ac)" (Boersma 1993, through parselmouth) with a floor that
adapts to the voice, so a deep voice (65–90 Hz) reads as Praat reads it with a floor
suited to it (:func:`pitch_track_hz`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from agent.sound import Phrase, Sound
from agent.words import count_syllables, spoken_words

HOP_S = 0.01
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
#: a gap between words longer than this is a pause.
MIN_PAUSE_S = 0.15
#: a pause this long, or clause punctuation, ends a phrase.
PHRASE_PAUSE_S = 0.25
_CLAUSE_END = (".", ",", ";", ":", "?", "!", "…")
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


def _praat_pitch(y: np.ndarray, sr_hz: int, n_frames: int, floor_hz: float, ceiling_hz: float,
                 voicing_threshold: float, silence_threshold: float,
                 octave_cost: float) -> tuple[np.ndarray, np.ndarray]:
    """Praat's "To Pitch (ac)" on ``y``, read at the analyser's frames ``k * HOP_S``
    (k < ``n_frames``): (F0 in Hz with NaN where unvoiced, strength 0..1), each shape
    (n_frames,). Half a window of zeros on each side lets Praat reach the first and last
    frames, as the numpy frames do; each analyser frame takes Praat's nearest (≤ 5 ms away)."""
    import parselmouth

    pad = int(np.ceil(1.5 / floor_hz * sr_hz)) + int(round(HOP_S * sr_hz))
    padded = np.pad(np.asarray(y, np.float64), pad)
    sound = parselmouth.Sound(padded, sampling_frequency=sr_hz, start_time=-pad / sr_hz)
    pitch = sound.to_pitch_ac(time_step=HOP_S, pitch_floor=floor_hz, pitch_ceiling=ceiling_hz,
                              silence_threshold=silence_threshold, voicing_threshold=voicing_threshold,
                              octave_cost=octave_cost)
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


def pitch_track_hz(y: np.ndarray, sr_hz: int, floor_hz: float | None = None,
                   ceiling_hz: float = PITCH_CEILING_HZ, voicing_threshold: float = VOICING_THRESHOLD,
                   silence_threshold: float = 0.03, octave_cost: float = 0.01) -> PitchTrack:
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

    Why Praat and not the numpy tracker that was here: on the deep-voice and speech sets it is closer to Praat's reference
    (its path finder replaces hand-made octave and spike corrections) and costs less
    (``bench/pitch_tracker.py``).

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
    hop = max(1, int(round(HOP_S * sr_hz)))
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


def _slope_per_s(times_s: np.ndarray, values: np.ndarray) -> float | None:
    if len(values) < 3 or np.ptp(times_s) <= 0:
        return None
    return float(np.polyfit(times_s, values, 1)[0])


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
    final_st = float(np.median(st[-max(5, len(st) // 10):]))
    last = t >= t[-1] - 0.5
    final_slope = _slope_per_s(t[last], st[last]) or 0.0
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
    f0_median_hz: float | None
    f0_range_st: float | None
    contour: str | None
    f0_final_slope_st_per_s: float | None
    voiced_ratio: float


def pitch_summary(track: PitchTrack, mask: np.ndarray | None = None) -> PitchSummary:
    """Median F0 (Hz), 5th–95th percentile range (semitones), contour and final slope
    (semitones/s over the last 0.5 s of voicing) of a track, within ``mask`` (frames)."""
    keep = track.voiced if mask is None else track.voiced & mask[: len(track.voiced)]
    span = np.ones_like(keep) if mask is None else mask[: len(track.voiced)]
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


def energy_summary(level_db: np.ndarray, mask: np.ndarray | None = None) -> EnergySummary:
    """Over the frames in ``mask``: the level of their mean power (dBFS, the RMS level of
    that audio), dynamics (95th − 5th percentile of frame levels, dB) and trend (dB/s)."""
    times = np.arange(len(level_db)) * HOP_S
    keep = np.ones(len(level_db), bool) if mask is None else mask[: len(level_db)]
    if keep.sum() == 0:
        return EnergySummary(None, None, None)
    levels = level_db[keep]
    mean_power = float(np.mean(10.0 ** (levels / 10.0)))
    lo, hi = np.percentile(levels, [5, 95])
    return EnergySummary(10.0 * np.log10(max(mean_power, 1e-12)), float(hi - lo),
                         _slope_per_s(times[keep], levels))


def power_spectrogram(y: np.ndarray, sr_hz: int, n_fft: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Hann-windowed power spectra of frames every ``HOP_S`` s: (shape (n_frames, n_fft//2+1),
    the bin frequencies in Hz)."""
    frames = _frames(y, n_fft, max(1, int(round(HOP_S * sr_hz))))
    return np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2, np.fft.rfftfreq(n_fft, 1.0 / sr_hz)


def spectral_shape(spec: np.ndarray, freqs_hz: np.ndarray,
                   mask: np.ndarray | None = None) -> tuple[float | None, float | None]:
    """Brightness: (mean spectral centroid in Hz, spectral tilt in dB/octave) over the
    frames of a :func:`power_spectrogram` in ``mask``. The tilt is the slope of the
    long-term power spectrum (dB) against log2 frequency from 100 Hz to 5 kHz (or Nyquist)."""
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
    """A mel filter bank (librosa, HTK scale), built once per shape."""
    import librosa

    return librosa.filters.mel(sr=sr_hz, n_fft=n_fft, n_mels=n_mels, fmin=fmin_hz, fmax=fmax_hz, htk=True,
                               norm="slaney" if normed else None)


def loudness_au(spec: np.ndarray, sr_hz: int) -> float:
    """Perceived loudness of a stretch: per frame, the intensities of 26 mel bands (20 Hz to
    8 kHz or Nyquist) raised to 0.3 (Stevens' power law) and summed; then the mean over all
    frames, pauses included. Arbitrary units; on this project's speech recordings it
    correlates r = 0.99 with openSMILE eGeMAPSv02's ``loudness_sma3_amean``."""
    bank = _mel_bank(sr_hz, 2 * (spec.shape[1] - 1), 26, 20.0, min(8000.0, sr_hz / 2), False)
    return float(np.mean(np.sum((spec @ bank.T) ** 0.3, axis=1))) if spec.size else 0.0


def hnr_db(track: PitchTrack, mask: np.ndarray | None = None) -> float | None:
    """Harmonics-to-noise ratio (dB), mean over voiced frames of 10·log10(r / (1 − r)), r
    the normalised autocorrelation at the period (Boersma 1993; Praat's Harmonicity)."""
    keep = track.voiced if mask is None else track.voiced & mask[: len(track.voiced)]
    if keep.sum() < 3:
        return None
    r = np.clip(track.strength[keep], 1e-4, 0.9999)
    return float(np.mean(10.0 * np.log10(r / (1.0 - r))))


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


@dataclass
class RhythmSummary:
    rate_wps: float | None
    rate_sps: float | None
    pause_ratio: float | None
    pause_positions_s: list[float] | None


def pauses_s(level_db: np.ndarray, t0_s: float, t1_s: float,
             floor_db: float | None = None) -> list[tuple[float, float]]:
    """Pauses inside ``[t0_s, t1_s]`` from the level track: runs of frames quieter than
    ``max(loud − 25 dB, floor + 0.4 × (loud − floor))`` lasting ``MIN_PAUSE_S`` or more,
    not touching either end. ``loud`` is the 90th percentile level inside the span,
    ``floor`` the recording's noise floor (default: the 5th percentile of ``level_db``), so
    the rule holds from clean studio speech to a noisy street. Returns (start_s, duration_s).

    The level decides, not Whisper's word timestamps (they stretch words over short
    silences) nor the VAD's segments (padded): the same rule then measures the user's
    voice and the agent's rendered one.
    """
    i0 = max(0, int(round(t0_s / HOP_S)))
    i1 = min(len(level_db), int(round(t1_s / HOP_S)) + 1)
    if i1 - i0 < 3:
        return []
    span = level_db[i0:i1]
    loud = float(np.percentile(span, 90))
    floor = float(np.percentile(level_db, 5)) if floor_db is None else floor_db
    silent = span < max(loud - 25.0, floor + 0.4 * (loud - floor))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], silent.astype(np.int8), [0]])))
    out = []
    for start, end in zip(edges[::2], edges[1::2]):
        if start == 0 or end == len(span):  # touching an end: not a pause between words
            continue
        if (end - start) * HOP_S >= MIN_PAUSE_S:
            out.append((round((i0 + start) * HOP_S, 3), round((end - start) * HOP_S, 3)))
    return out


def _spoken_counts(texts: Sequence[str], language: str) -> tuple[int, int]:
    """(spoken words, syllables) of ``texts`` by the agent's one rule (``agent.words``):
    ``"12"`` is one word, "twelve", of two syllables; punctuation is no word."""
    spoken = [w for text in texts for w in spoken_words(text, language)]
    return len(spoken), sum(count_syllables(w) for w in spoken)


def rhythm(words: Sequence[tuple[str, float, float]], level_db: np.ndarray,
           floor_db: float | None = None, language: str = "en") -> RhythmSummary:
    """Speaking rate and pauses from word timings ``(text, start_s, end_s)`` and the level
    track.

    ``rate_wps`` and ``rate_sps`` count spoken words and syllables (``agent.words``, numbers
    spelled out in ``language``) per second between the first word's start and the last
    word's end; the pauses inside that span (:func:`pauses_s`) give ``pause_ratio`` (their
    share of it) and ``pause_positions_s`` (their starts).
    """
    if not words:
        return RhythmSummary(None, None, None, None)
    t0, t1 = words[0][1], words[-1][2]
    n_words, syllables = _spoken_counts([w[0] for w in words], language)
    if t1 <= t0 or n_words == 0:
        return RhythmSummary(None, None, None, None)
    gaps = pauses_s(level_db, t0, t1, floor_db)
    return RhythmSummary(n_words / (t1 - t0), syllables / (t1 - t0),
                         min(1.0, sum(d for _, d in gaps) / (t1 - t0)), [start for start, _ in gaps])


def rhythm_from_text(text: str, level_db: np.ndarray, span_s: tuple[float, float] | None,
                     floor_db: float | None = None, language: str = "en") -> RhythmSummary:
    """Rate and pauses of audio whose words are known but not their timings (the agent's
    own rendered voice): the spoken words and syllables of ``text`` (``agent.words``, the
    planner's count: "room 12" is two words) over ``span_s`` (first speech onset, last
    offset), pauses as in :func:`pauses_s`."""
    n_words, syllables = _spoken_counts([text], language)
    if n_words == 0 or span_s is None or span_s[1] <= span_s[0]:
        return RhythmSummary(None, None, None, None)
    t0, t1 = span_s
    gaps = pauses_s(level_db, t0, t1, floor_db)
    return RhythmSummary(n_words / (t1 - t0), syllables / (t1 - t0),
                         min(1.0, sum(d for _, d in gaps) / (t1 - t0)), [start - t0 for start, _ in gaps])


def phrase_spans(words: Sequence[tuple[str, float, float]],
                 pauses: Sequence[tuple[float, float]] = ()) -> list[tuple[int, int]]:
    """Split words ``(text, start_s, end_s)`` into phrases: a phrase ends after a word
    ending in clause punctuation, or where a pause (start_s, duration_s) of
    ``PHRASE_PAUSE_S`` or more has its middle between this word's middle and the next's.
    A one-word phrase joins the neighbour across the shorter pause. Returns (first, last+1)
    index pairs."""
    long_pauses = [(s + d / 2, d) for s, d in pauses if d >= PHRASE_PAUSE_S]
    spans: list[tuple[int, int]] = []
    gaps: list[float] = []  # the pause after each span (0 for punctuation)
    start = 0
    for i, (text, t_start, end) in enumerate(words):
        if i == len(words) - 1:
            spans.append((start, i + 1))
            break
        here, after = (t_start + end) / 2, (words[i + 1][1] + words[i + 1][2]) / 2
        pause = max((d for mid, d in long_pauses if here <= mid <= after), default=None)
        if pause is not None or text.rstrip().endswith(_CLAUSE_END):
            spans.append((start, i + 1))
            gaps.append(pause or 0.0)
            start = i + 1
    i = 0
    while len(spans) > 1 and i < len(spans):
        if spans[i][1] - spans[i][0] > 1:
            i += 1
            continue
        before = gaps[i - 1] if i > 0 else float("inf")
        after = gaps[i] if i < len(gaps) else float("inf")
        j = i - 1 if before < after else i  # merge spans j and j+1
        spans[j:j + 2] = [(spans[j][0], spans[j + 1][1])]
        del gaps[j]
        i = max(0, j)
    return spans


def phrases(tracks: Tracks, words: Sequence[tuple[str, float, float]],
            pauses: Sequence[tuple[float, float]] = (), language: str = "en") -> list[Phrase]:
    """Pitch, contour, level and rate (spoken words per second) of each phrase (see
    :func:`phrase_spans`), read from the stretch's tracks; times relative to the stretch's
    start."""
    out: list[Phrase] = []
    n = tracks.n_frames
    for first, last in phrase_spans(words, pauses):
        t0, t1 = words[first][1], words[last - 1][2]
        mask = segments_mask(n, [(t0, t1)])
        pitch = pitch_summary(tracks.pitch, mask)
        energy = energy_summary(tracks.level_db, mask)
        out.append(Phrase(t_start=round(t0, 3), t_end=round(t1, 3),
                          text=" ".join(w[0] for w in words[first:last]),
                          f0_median_hz=pitch.f0_median_hz, f0_range_st=pitch.f0_range_st,
                          contour=pitch.contour, energy_db=energy.energy_db,
                          rate_wps=_spoken_counts([w[0] for w in words[first:last]], language)[0] / (t1 - t0)
                          if t1 > t0 else None))
    return out


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


@dataclass
class Tracks:
    """Every frame-level measurement of a signal, one frame every ``HOP_S`` seconds.

    Measured once per recording (:func:`measure`), then read for any stretch of it
    (:meth:`slice`, :func:`summarise`): the utterances of a file share one analysis.

    Attributes:
        pitch: F0 and periodicity, shape (n_frames,).
        level_db: RMS level of 30 ms frames, dBFS, shape (n_frames,).
        spec: Hann-windowed power spectra, shape (n_frames, 257); ``freqs_hz`` its bins.
        sr_hz: the signal's sample rate.
    """

    pitch: PitchTrack
    level_db: np.ndarray
    spec: np.ndarray
    freqs_hz: np.ndarray
    sr_hz: int

    @property
    def n_frames(self) -> int:
        return min(len(self.pitch.f0_hz), len(self.level_db), self.spec.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_frames * HOP_S

    def slice(self, t0_s: float, t1_s: float) -> Tracks:
        """The frames from ``t0_s`` to ``t1_s``, with times relative to ``t0_s``."""
        a = max(0, int(round(t0_s / HOP_S)))
        b = max(a, min(self.n_frames, int(round(t1_s / HOP_S))))
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
    return Tracks(PitchTrack(tracks.pitch.times_s[:n], tracks.pitch.f0_hz[:n], tracks.pitch.strength[:n]),
                  tracks.level_db[:n], spec[:n], freqs, sr_hz)


def summarise(tracks: Tracks, words: Sequence[tuple[str, float, float]] = (),
              speech_s: Sequence[tuple[float, float]] | None = None,
              floor_db: float | None = None, language: str = "en") -> Sound:
    """Every feature family of a stretch, from its tracks.

    Args:
        tracks: the stretch's tracks (:func:`measure`, or a :meth:`Tracks.slice`).
        words: word timings ``(text, start_s, end_s)`` relative to the stretch's start, for
            rate, pauses and phrases; empty for a sound without words.
        speech_s: VAD speech segments relative to the stretch's start; level, timbre and
            brightness are measured inside them (inside the audible frames when None).
        floor_db: the recording's noise floor (dBFS) for pause detection; by default the
            quietest 5 % of the stretch's frames.
        language: the words' language (two letters), to count numbers as spoken.

    Returns:
        a :class:`~agent.sound.Sound`; measures that cannot be taken are None.
    """
    n = tracks.n_frames
    level = tracks.level_db[:n]
    audible = activity_mask(level)
    mask = audible
    if speech_s:
        mask = segments_mask(n, speech_s) & audible
        if not mask.any():
            mask = audible
    pitch = pitch_summary(tracks.pitch, mask)
    energy = energy_summary(level, mask)
    centroid, tilt = spectral_shape(tracks.spec, tracks.freqs_hz, mask)
    words = list(words)
    pace = rhythm(words, level, floor_db, language)
    pause_list = pauses_s(level, words[0][1], words[-1][2], floor_db) if words else []
    return Sound(
        duration_s=n * HOP_S,
        speech_s=float(sum(e - s for s, e in speech_s)) if speech_s else None,
        voiced_ratio=pitch.voiced_ratio,
        f0_median_hz=pitch.f0_median_hz,
        f0_range_st=pitch.f0_range_st,
        contour=pitch.contour,
        f0_final_slope_st_per_s=pitch.f0_final_slope_st_per_s,
        energy_db=energy.energy_db,
        loudness_au=loudness_au(tracks.spec, tracks.sr_hz),
        energy_range_db=energy.energy_range_db,
        energy_slope_db_per_s=energy.energy_slope_db_per_s,
        centroid_hz=centroid,
        tilt_db_per_oct=tilt,
        hnr_db=hnr_db(tracks.pitch, mask),
        timbre=timbre_vector(tracks.spec, tracks.sr_hz, tracks.pitch),
        rate_wps=pace.rate_wps,
        rate_sps=pace.rate_sps,
        pause_ratio=pace.pause_ratio,
        pause_positions_s=pace.pause_positions_s,
        phrases=phrases(tracks, words, pause_list, language) if words else None,
    )


def analyse(y: np.ndarray, sr_hz: int, words: Sequence[tuple[str, float, float]] = (),
            speech_s: Sequence[tuple[float, float]] | None = None,
            floor_db: float | None = None, language: str = "en") -> Sound:
    """Every feature family of mono samples ``y`` (shape (n,)) at ``sr_hz``:
    :func:`summarise` of :func:`measure`. Arguments as for :func:`summarise`."""
    return summarise(measure(y, sr_hz), words, speech_s, floor_db, language)


def analyse_non_speech(y: np.ndarray, sr_hz: int, tracks: Tracks | None = None) -> Sound:
    """The measures of a sound without words: :func:`summarise` (from ``tracks`` when
    given, else measured here) plus its rhythm (onsets per second) and roughness."""
    sound = summarise(tracks if tracks is not None else measure(y, sr_hz))
    sound.onset_rate_hz = onset_rate_hz(y, sr_hz)
    sound.roughness = roughness(y, sr_hz)
    return sound

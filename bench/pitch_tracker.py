"""The pitch tracker: numpy re-implementation against Praat's own, on normal and deep voices.

Run:  .venv/bin/python bench/pitch_tracker.py            # about 1 minute

For every voice of tests/data/speech and the deep-voice set (bench/deep_voices.py: real
recordings and the Piper voice "joe" lowered by the realiser to 70, 80 and 90 Hz), prints
the analyser's median F0 error against Praat's (semitones; normal voices: Praat's default
75–600 Hz; deep voices: a floor suited to the voice, De Looze & Hirst's two passes) and
the analyser's cost (``analysis.analyse`` seconds / audio seconds, all feature families),
with each tracker in turn, interleaved in this one process:

- ``numpy75``: the numpy tracker the analyser had until issue 9 (Boersma 1993 in numpy,
  hand-made path corrections, fixed 75 Hz floor), kept here as the baseline;
- ``numpy50``: the same with a 50 Hz floor (what lowering the floor alone would do);
- ``praat``: Praat's tracker with the adaptive floor (``analysis.pitch_track_hz``, now).

Each tracker is swapped in where ``analysis.measure`` looks it up (``analysis.tracks``).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import deep_voices as dv  # bench/deep_voices.py: this script's folder is on its path
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from modules.voice.analysis import analyse, pitch_track_hz, tracks
from modules.voice.analysis.frames import HOP_S, centred_frames, hop_samples
from modules.voice.analysis.pitch import PitchTrack
from modules.voice.io.audio import load_audio, resample, voices

ROOT = Path(__file__).resolve().parent.parent

REPEATS = 3


def numpy_pitch_track_hz(
    y: np.ndarray,
    sr_hz: int,
    floor_hz: float | None = 75.0,
    ceiling_hz: float = 600.0,
    voicing_threshold: float = 0.45,
    silence_threshold: float = 0.03,
    octave_cost: float = 0.01,
) -> PitchTrack:
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
    floor_hz = 75.0 if floor_hz is None else floor_hz
    hop = hop_samples(sr_hz)
    win = round(3.0 / floor_hz * sr_hz)
    min_lag = max(2, int(np.floor(sr_hz / ceiling_hz)))
    max_lag = int(np.ceil(sr_hz / floor_hz))
    frames = centred_frames(y, win, hop)
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
        0.0, 2.0 - (local_peak / global_peak) / (silence_threshold / (1.0 + voicing_threshold))
    )
    voiced = np.isfinite(best_score) & (best_score > unvoiced_score)
    f0 = np.where(voiced, 1.0 / lag_s[rows, best], np.nan)
    strength = np.where(voiced, height[rows, best], 0.0)
    f0 = _correct_path(f0)
    strength = np.where(np.isnan(f0), 0.0, strength)
    return PitchTrack(times, f0, strength)


def _correct_path(
    f0_hz: np.ndarray,
    min_run: int = 5,
    spike_st: float = 4.0,
    leap_st: float = 9.0,
    short_run: int = 10,
    neighbour: int = 20,
) -> np.ndarray:
    """Praat's path costs, approximated: voiced runs shorter than ``min_run`` frames are
    dropped (with it the median F0 of every speech voice here is within 0.21 st of Praat's,
    against 0.91 st with 3 frames); a frame within ±3 st of a whole number of octaves from
    its run's median is folded back by those octaves; a frame still more than ``leap_st``
    from the run's median, or ``spike_st`` from the median of its 9 neighbours, is an
    artefact (a decaying tail, a click, a burst of harmonics) and becomes unvoiced; last, a
    run shorter than ``short_run`` frames that leaps more than ``leap_st`` from the voiced
    frames around it is folded by octaves, or dropped."""
    f0 = f0_hz.copy()
    voiced = ~np.isnan(f0)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], voiced.astype(np.int8), [0]])))
    for start, end in zip(edges[::2], edges[1::2]):
        if end - start < min_run:
            f0[start:end] = np.nan
            continue
        run = f0[start:end]
        st = 12.0 * np.log2(run / np.median(run))
        octaves = np.round(st / 12.0)
        fold = (octaves != 0) & (np.abs(st - 12.0 * octaves) < 3.0)
        run[fold] /= 2.0 ** octaves[fold]
        run[np.abs(12.0 * np.log2(run / np.median(run))) > leap_st] = np.nan
        padded = np.pad(12.0 * np.log2(run), 4, mode="edge")
        local = np.nanmedian(sliding_window_view(padded, 9), axis=1)
        run[np.abs(12.0 * np.log2(run) - local) > spike_st] = np.nan
    # Between runs: a short run (under ``short_run`` frames) that leaps more than
    # ``leap_st`` from the voiced frames just before or after it (within ``neighbour``
    # frames) is an octave error or a burst of harmonics, as Praat's octave-jump cost judges:
    # folded by whole octaves when it sits near one, else dropped. A run with no voiced
    # neighbour near it is left alone.
    voiced = ~np.isnan(f0)
    for start, end in zip(edges[::2], edges[1::2]):
        run = f0[start:end]
        if end - start >= short_run or np.all(np.isnan(run)):
            continue
        before = np.flatnonzero(voiced[max(0, start - neighbour) : start])
        after = np.flatnonzero(voiced[end : end + neighbour])
        near = [f0[max(0, start - neighbour) + before[-1]]] if len(before) else []
        near += [f0[end + after[0]]] if len(after) else []
        if not near:
            continue
        st = 12.0 * np.log2(np.nanmedian(run) / np.median(near))
        if abs(st) <= leap_st:
            continue
        octaves = np.round(st / 12.0)
        if octaves != 0 and abs(st - 12.0 * octaves) < 3.0:
            run /= 2.0**octaves
        else:
            run[:] = np.nan
    return f0


TRACKERS = {
    "numpy75": lambda y, sr, **kw: numpy_pitch_track_hz(y, sr, 75.0),
    "numpy50": lambda y, sr, **kw: numpy_pitch_track_hz(y, sr, 50.0),
    "praat": pitch_track_hz,
}


def normal_voices() -> list[tuple[str, np.ndarray]]:
    out = []
    for path in sorted((ROOT / "tests" / "data" / "speech").glob("*")):
        audio = load_audio(path)
        for label, mono in voices(audio):
            out.append((path.name + (f"/{label}" if label else ""), resample(mono, audio.rate_hz, 16000)))
    return out


def main() -> None:
    from modules.voice.tts.piper import PiperTTS, piper_voices

    normal = normal_voices()
    deep = dv.deep_voice_set(dv.real_sources() + dv.piper_sources(PiperTTS(piper_voices()["joe"])))
    ref = {n: dv.praat_median_hz(y, floor_hz=75.0) for n, y in normal}
    ref.update({n: dv.praat_median_hz(y) for n, y in deep})
    errors: dict[str, dict[str, float]] = {name: {} for name in TRACKERS}
    seconds = {name: 0.0 for name in TRACKERS}
    audio_s = sum(len(y) for _, y in normal + deep) / 16000 * REPEATS
    real = tracks.pitch_track_hz
    try:
        for _ in range(REPEATS):
            for item, y in normal + deep:
                for name, tracker in TRACKERS.items():  # interleaved: the same load for each
                    tracks.pitch_track_hz = tracker
                    t0 = time.perf_counter()
                    median = analyse(y, 16000).f0_median_hz
                    seconds[name] += time.perf_counter() - t0
                    errors[name][item] = 12 * np.log2(median / ref[item]) if median else float("nan")
    finally:
        tracks.pitch_track_hz = real
    print(f"{'voice':38s} {'Praat Hz':>8s} " + " ".join(f"{n:>8s}" for n in TRACKERS) + "   (error, st)")
    for item, _ in normal + deep:
        print(f"{item:38s} {ref[item]:8.1f} " + " ".join(f"{errors[n][item]:+8.2f}" for n in TRACKERS))
    for label, items in (("normal", normal), ("deep", deep)):
        for name in TRACKERS:
            e = [abs(errors[name][i]) for i, _ in items]
            print(f"{label:6s} {name:8s} worst {max(e):.2f} st, mean {statistics.mean(e):.2f} st")
    for name in TRACKERS:
        print(
            f"cost {name:8s} {seconds[name] / audio_s:.4f} of the audio's duration "
            f"({seconds[name] / seconds['numpy75']:.2f}x numpy75)"
        )


if __name__ == "__main__":
    main()

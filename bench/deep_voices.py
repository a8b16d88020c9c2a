"""A deep-voice test set for the pitch tracker, built when used (nothing committed).

Used by ``bench/pitch_tracker.py`` (a sibling module: a script's own folder is on its
path) and by ``tests/test_deep_voices.py`` (as ``bench.deep_voices``, from the checkout's
root). Evaluation data, not a feature of the agent, so it lives with the benchmarks
rather than in ``modules/``; it reads the recordings of ``tests/data/speech``.

No recording in ``tests/data`` or any installed package holds a real voice below 95 Hz, so
the set is made from real and synthetic speech lowered by the project's own prosody
realiser (``modules.voice.speak.realiser.impose``, Praat PSOLA): each voice's median is moved to
70, 80 or 90 Hz with its own pitch range kept and a falling (statement) contour, the way a
deep male voice speaks. Every item is a stand-in for a real deep voice, named so.

Reference: Praat's own autocorrelation tracker with a floor suited to the voice (the
two-pass rule of De Looze & Hirst 2008: a first pass over 40–600 Hz, then floor
0.75 × its first quartile and ceiling 1.5 × its third quartile).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: the speech recordings of the test data, in the checkout.
SPEECH = Path(__file__).resolve().parent.parent / "tests" / "data" / "speech"

#: the medians the voices are lowered to (Hz): the deep male range of the issue (78–82 Hz)
#: and either side of it, down to where the goal (65 Hz) begins.
DEEP_MEDIANS_HZ = (70.0, 80.0, 90.0)
#: real recordings lowered (file in tests/data/speech, or file/channel).
REAL_SOURCES = ("jfk.flac", "multilingual.mp3", "spk1_snt1.wav", "stereo_diarization.wav/right")
#: sentences the Piper voice "joe" (natural median ≈ 96 Hz) says before it is lowered.
PIPER_SENTENCES = (
    "The river was cold and quiet this morning.",
    "We walked home along the old road, and nobody said a word.",
)
RATE_HZ = 16000
#: the widest pitch range (semitones) a lowered voice keeps: wider, the low end of a 70 Hz
#: voice would fall below the realiser's 60 Hz limit and pile up there, flat.
MAX_RANGE_ST = 6.0


def praat_median_hz(
    samples: np.ndarray, rate_hz: int = RATE_HZ, floor_hz: float | None = None, ceiling_hz: float = 600.0
) -> float:
    """Praat's median F0 (Hz) of voiced frames ("To Pitch (ac)", 10 ms steps). With
    ``floor_hz`` None the floor and ceiling come from the two-pass rule of De Looze & Hirst
    (first pass 40–600 Hz; then 0.75 × Q1 to 1.5 × Q3)."""
    import parselmouth

    sound = parselmouth.Sound(np.asarray(samples, np.float64), rate_hz)

    def voiced(lo: float, hi: float) -> np.ndarray:
        f0 = sound.to_pitch_ac(time_step=0.01, pitch_floor=lo, pitch_ceiling=hi).selected_array["frequency"]
        return f0[f0 > 0]

    if floor_hz is None:
        q1, q3 = np.percentile(voiced(40.0, ceiling_hz), [25, 75])
        floor_hz, ceiling_hz = 0.75 * q1, 1.5 * q3
    return float(np.median(voiced(floor_hz, ceiling_hz)))


def _lowered(samples: np.ndarray, rate_hz: int, median_hz: float) -> np.ndarray:
    """``samples`` with its median F0 moved to ``median_hz`` by the realiser, its own
    5–95 % pitch range kept up to ``MAX_RANGE_ST``, a falling contour; at ``RATE_HZ``."""
    import parselmouth

    from modules.voice.io.audio import resample
    from modules.voice.speak.realiser import Stretch, impose

    f0 = (
        parselmouth.Sound(samples.astype(np.float64), rate_hz)
        .to_pitch_ac(time_step=0.01, pitch_floor=75.0, pitch_ceiling=600.0)
        .selected_array["frequency"]
    )
    lo, hi = np.percentile(f0[f0 > 0], [5, 95])
    range_st = min(MAX_RANGE_ST, float(12.0 * np.log2(hi / lo)))
    out = impose(samples, rate_hz, median_hz, range_st, "falling", Stretch([], 1.0))
    return resample(out, rate_hz, RATE_HZ).astype(np.float32)


def real_sources() -> list[tuple[str, np.ndarray, int]]:
    """The real recordings to lower: (name, mono samples, rate)."""
    from modules.voice.io.audio import load_audio, voices

    out = []
    for source in REAL_SOURCES:
        file, _, channel = source.partition("/")
        audio = load_audio(SPEECH / file)
        mono = dict(voices(audio))[channel] if channel else audio.mono()
        out.append((source, np.asarray(mono, np.float32), audio.rate_hz))
    return out


def piper_sources(tts) -> list[tuple[str, np.ndarray, int]]:
    """The Piper voice ``tts`` (a loaded ``PiperTTS``) saying ``PIPER_SENTENCES``."""
    return [
        (f"piper.{tts.info.name}#{i + 1}", np.concatenate(list(tts.sentences(text))), tts.rate_hz)
        for i, text in enumerate(PIPER_SENTENCES)
    ]


def deep_voice_set(
    sources: list[tuple[str, np.ndarray, int]], medians_hz: tuple[float, ...] = DEEP_MEDIANS_HZ
) -> list[tuple[str, np.ndarray]]:
    """Each source lowered to each median: (``"name@70Hz"``, samples at ``RATE_HZ``)."""
    return [
        (f"{name}@{median:.0f}Hz", _lowered(samples, rate, median))
        for name, samples, rate in sources
        for median in medians_hz
    ]

"""PSOLA (Praat) or WORLD for the prosody realiser: measured quality and speed.

Run:  .venv/bin/pip install pyworld "setuptools<81"   # WORLD; needed only here
      .venv/bin/python bench/realiser_choice.py

The Piper voice says 12 sentences; each is given one target (pitch shifted −2, 0 or +4
semitones from the voice's own, kept inside the voice's usable range as the planner keeps
it, a falling, rising or rise-fall contour over 6 semitones, and a stretch of 0.8 or
1.25), then realised by each method. Measured with the project's
analyser and faster-whisper tiny.en: median F0 error against the target (semitones),
contour direction right, duration error against the stretch, word error rate of the
result (intelligibility), and seconds of processing per second of audio.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from agent.paths import cache_dir
from modules.voice import analysis
from modules.voice.asr.engines import AsrOptions, make_engine
from modules.voice.asr.wer import word_errors
from modules.voice.io.audio import resample
from modules.voice.speak import realiser
from modules.voice.tts.piper import PiperTTS, piper_voices

SENTENCES = [
    "The child almost hurt the small dog.",
    "A thin stripe runs down the middle.",
    "Sunday is the best part of the week.",
    "At that high level the air is pure.",
    "The river was cold and quiet this morning.",
    "We walked home along the old road.",
    "Please close the window before you leave.",
    "The lamp is warm and the room is still.",
    "Tell me more about the garden you planted.",
    "Her voice was low and very calm.",
    "The train leaves at seven in the evening.",
    "Nobody knew where the letter came from.",
]
DIRECTION = {"falling": "down", "rise-fall": "down", "rising": "up", "fall-rise": "up", "flat": "level"}


def world_impose(
    samples: np.ndarray, rate_hz: int, f0_hz: float, range_st: float, contour: str, factor: float
) -> np.ndarray:
    """The same target through the WORLD vocoder (harvest F0, CheapTrick, D4C)."""
    import pyworld

    x = samples.astype(np.float64)
    f0, times = pyworld.harvest(x, rate_hz, f0_floor=60.0, f0_ceil=500.0, frame_period=5.0)
    spectrum = pyworld.cheaptrick(x, f0, times, rate_hz)
    aperiodicity = pyworld.d4c(x, f0, times, rate_hz)
    voiced = f0 > 0
    new_f0 = np.zeros_like(f0)
    if voiced.sum() >= 3:
        t = times[voiced]
        own_st = 12 * np.log2(f0[voiced] / np.median(f0[voiced]))
        pos = (t - t[0]) / max(t[-1] - t[0], 1e-6)
        new_f0[voiced] = f0_hz * 2 ** (
            (realiser.KEEP_DETAIL * own_st + range_st * realiser.contour_shape(contour, pos)) / 12
        )
    index = np.clip(np.round(np.arange(0, len(f0), 1 / factor)).astype(int), 0, len(f0) - 1)
    out = pyworld.synthesize(
        new_f0[index],
        np.ascontiguousarray(spectrum[index]),
        np.ascontiguousarray(aperiodicity[index]),
        rate_hz,
        frame_period=5.0,
    )
    return out.astype(np.float32)


def psola_impose(samples, rate_hz, f0_hz, range_st, contour, factor):
    return realiser.impose(
        samples, rate_hz, f0_hz, range_st, contour, realiser.Stretch([(0.0, len(samples) / rate_hz)], factor)
    )


def main() -> None:
    voice = PiperTTS(piper_voices()["joe"])
    asr = make_engine("faster-whisper", AsrOptions(), cache_dir())
    results = {"PSOLA (Praat)": [], "WORLD": []}
    methods = {"PSOLA (Praat)": psola_impose, "WORLD": world_impose}
    for i, text in enumerate(SENTENCES):
        natural = realiser.trim(np.concatenate(list(voice.sentences(text))), voice.rate_hz)
        own_f0 = analysis.analyse(resample(natural, voice.rate_hz, 16000), 16000).f0_median_hz
        shift = (-2, 0, 4)[i % 3]
        contour = ("falling", "rising", "rise-fall")[(i // 3) % 3]
        factor = (0.8, 1.25)[i % 2]
        target, _ = piper_voices()["joe"].profile().fit_pitch(own_f0 * 2 ** (shift / 12), 6.0, min_range_st=6.0)
        for name, method in methods.items():
            t0 = time.perf_counter()
            out = method(natural, voice.rate_hz, target, 6.0, contour, factor)
            took = time.perf_counter() - t0
            y16 = resample(out, voice.rate_hz, 16000)
            sound = analysis.analyse(y16, 16000)
            edits, n = word_errors(text, asr.transcribe(y16).text)
            results[name].append(
                {
                    "f0_err": abs(12 * np.log2(sound.f0_median_hz / target)),
                    "contour_ok": DIRECTION.get(sound.contour) == DIRECTION[contour],
                    "dur_err": abs(len(out) / (len(natural) * factor) - 1),
                    "edits": edits,
                    "words": n,
                    "rtf": took / (len(out) / voice.rate_hz),
                }
            )
    print(
        f"{len(SENTENCES)} Piper sentences; targets: shift −2/0/+4 st, contour falling/rising/rise-fall "
        "over 6 st, stretch 0.8/1.25\n"
    )
    print(
        f"{'method':14} {'F0 err median':>13} {'max':>6} {'contour right':>14} {'dur err':>8} {'WER':>6} {'s per s':>8}"
    )
    for name, rows in results.items():
        f0 = [r["f0_err"] for r in rows]
        print(
            f"{name:14} {statistics.median(f0):10.2f} st {max(f0):5.2f} "
            f"{np.mean([r['contour_ok'] for r in rows]):13.0%} {np.mean([r['dur_err'] for r in rows]):7.1%} "
            f"{sum(r['edits'] for r in rows) / sum(r['words'] for r in rows):6.1%} "
            f"{statistics.median(r['rtf'] for r in rows):8.3f}"
        )


if __name__ == "__main__":
    main()

"""Hearing a closed turn: the VAD run over it again, against the live VAD's probabilities.

Run: ``.venv/bin/python bench/turn_hearing.py``

Each real recording of ``tests/data/speech`` (spk1 ×5, LJ Speech, JFK, the two voices of
the stereo file) becomes a turn as the live loop closes it (0.3 s of silence before, the
speech, 0.35 s after, in whole 32 ms frames); its frames go through the stream VAD once, as
live. Then :func:`modules.voice.listen.live.hear_live` hears it with its quick transcript
given, as after a sure pause: once running silero over the turn again (the way before),
once from the frames' probabilities; median of 15 each, in this process, and the ratio.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modules.voice.asr.engines import Transcript
from modules.voice.engines import VoiceEngines
from modules.voice.io.audio import load_audio, resample
from modules.voice.listen.live import hear_live
from modules.voice.options import VoiceOptions
from modules.voice.rates import FRAME_SAMPLES, RATE_HZ

SPEECH = Path(__file__).resolve().parents[1] / "tests" / "data" / "speech"


def turns() -> list[tuple[str, np.ndarray]]:
    out = []
    for path in sorted(SPEECH.glob("*.*")):
        if path.suffix not in (".wav", ".flac"):
            continue
        audio = load_audio(path)
        samples = audio.samples.reshape(len(audio.samples), -1)
        channels = [samples[:, c] for c in range(samples.shape[1])]
        if len(channels) > 1 and all(np.array_equal(channels[0], other) for other in channels[1:]):
            channels = channels[:1]  # one voice on every channel
        for c, channel in enumerate(channels):
            speech = resample(np.ascontiguousarray(channel), audio.rate_hz, RATE_HZ).astype(np.float32)
            turn = np.concatenate([np.zeros(int(0.3 * RATE_HZ), np.float32), speech, np.zeros(int(0.35 * RATE_HZ))])
            name = path.name if len(channels) == 1 else f"{path.name}/{'left right'.split()[c]}"
            out.append((name, turn[: len(turn) // FRAME_SAMPLES * FRAME_SAMPLES].astype(np.float32)))
    return out


def main() -> None:
    engines = VoiceEngines(VoiceOptions.parse({}))
    vad = engines.vad()
    ratios = []
    print(f"{'turn':28s} {'s':>5s} {'VAD again':>10s} {'live probs':>11s} {'ratio':>6s}")
    for name, turn in turns():
        vad.reset()
        probs = np.array(
            [vad.frame_probability(turn[k : k + FRAME_SAMPLES]) for k in range(0, len(turn), FRAME_SAMPLES)]
        )
        transcript = Transcript("words as the quick decoder gave them.", language="en")
        timed = {}
        for label, given in (("again", None), ("live", probs)):
            hear_live(turn, engines, transcript, speech_probs=given)  # warm
            times = []
            for _ in range(15):
                started = time.perf_counter()
                hear_live(turn, engines, transcript, speech_probs=given)
                times.append(time.perf_counter() - started)
            timed[label] = statistics.median(times)
        ratios.append(timed["live"] / timed["again"])
        print(
            f"{name:28s} {len(turn) / RATE_HZ:5.2f} {1000 * timed['again']:8.1f} ms {1000 * timed['live']:9.1f} ms"
            f" {ratios[-1]:6.2f}"
        )
    print(f"median ratio (live probabilities / VAD again): {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()

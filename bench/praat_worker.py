"""What the realiser's Praat calls cost the event loop beside them, in this process or in
the worker (``modules/voice/speak/praat_worker.py``).

Run:  .venv/bin/python bench/praat_worker.py [--sentences 12]    # ~30 s

A thread realises real speech sentence by sentence (``realiser.impose``: PSOLA with a planned
pitch and a stretch, as a reply's sentences are) while an asyncio loop on the main thread
wakes every 5 ms, as the live loop wakes for each block of the microphone; printed, for
the realiser in this process and in the worker, one after the other in the same process:
how late the loop's wake-ups came (median, p99, max) and how long each sentence took.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from modules.voice.speak import praat_worker, realiser

SPEECH = Path(__file__).resolve().parent.parent / "tests" / "data" / "speech"
TICK_S = 0.005


def sentences() -> list[tuple[np.ndarray, int]]:
    """Real recordings, each standing for one sentence of a reply."""
    out = []
    for name in ("spk1_snt1.wav", "spk1_snt3.wav", "spk1_snt4.wav", "LJ050-0131.wav"):
        samples, rate = sf.read(SPEECH / name, dtype="float32")
        out.append((samples if samples.ndim == 1 else samples.mean(axis=1), rate))
    return out


async def measure(work: list[tuple[np.ndarray, int]], n: int) -> tuple[list[float], list[float]]:
    """(the loop's lateness per wake-up, s; each sentence's time, s) while a thread realises ``n`` sentences."""
    took: list[float] = []
    done = threading.Event()

    def realise() -> None:
        for k in range(n):
            samples, rate = work[k % len(work)]
            stretch = realiser.Stretch([(0.0, len(samples) / rate)], 1.1)
            t0 = time.perf_counter()
            praat_worker.call(realiser.impose, samples, rate, 180.0, 6.0, "falling", stretch)
            took.append(time.perf_counter() - t0)
        done.set()

    late: list[float] = []
    threading.Thread(target=realise, daemon=True).start()
    while not done.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(TICK_S)
        late.append(time.perf_counter() - t0 - TICK_S)
    return late, took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=12)
    args = ap.parse_args()
    work = sentences()
    realiser.impose(*work[0], 180.0, 6.0, "falling", realiser.Stretch([], 1.0))  # Praat's first call
    for where in ("this process", "the worker"):
        if where == "the worker" and not praat_worker.start():
            sys.exit("the worker could not start")
        late, took = asyncio.run(measure(work, args.sentences))
        ms = sorted(1000 * x for x in late)
        print(
            f"realiser in {where:12s}: loop wake-ups late median {statistics.median(ms):5.1f} ms, "
            f"p99 {ms[int(0.99 * (len(ms) - 1))]:5.1f} ms, max {ms[-1]:5.1f} ms ({len(ms)} wake-ups); "
            f"a sentence {1000 * statistics.median(took):.0f} ms (median of {len(took)})"
        )
    praat_worker.stop()


if __name__ == "__main__":
    main()

"""What the audio stream costs and whether it keeps time, on the virtual devices: one
PortAudio duplex stream (as the live loop had) against a capture and a playback stream
paired (``modules/voice/io/stream_pair.py``), same rate, blocks and buffers.

Each trial runs in a fresh process for ``--seconds`` after a 1 s start: its CPU time as a
share of one core, and the samples the capture side delivered per second of wall clock
(1.00x keeps time; less is a microphone falling behind, its latency growing).

    .venv/bin/python bench/stream_cpu.py            # ~2 min
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TRIAL = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[3])
from modules.voice.io.audio_process import BLOCK_S, LATENCY_S
from modules.voice.io.devices import _sounddevice
from modules.voice.io.stream_pair import StreamPair
sd = _sounddevice()
kind, seconds, rate = sys.argv[1], float(sys.argv[2]), 16000
block = round(BLOCK_S * rate)
heard = [0]
if kind == "duplex":
    def callback(indata, outdata, frames, t, status):
        outdata[:] = 0
        heard[0] += frames
    stream = sd.Stream(samplerate=rate, blocksize=block, channels=(1, 1), dtype="float32",
                       latency=LATENCY_S, callback=callback)
else:
    def on_block(h, p, xrun):
        heard[0] += len(h)
    stream = StreamPair(sd, None, None, rate, block, LATENCY_S, lambda n: np.zeros(n, np.float32),
                        on_block, lambda: None)
stream.start()
time.sleep(1.0)
cpu0, wall0, n0 = time.process_time(), time.monotonic(), heard[0]
time.sleep(seconds)
wall = time.monotonic() - wall0
print(json.dumps({"cpu": (time.process_time() - cpu0) / wall, "rate": (heard[0] - n0) / rate / wall}))
stream.stop()
stream.close()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    from modules.voice.io.virtual_devices import audio_rig

    with audio_rig() as rig:
        print(f"{'stream':<8} {'trial':>5} {'CPU (one core)':>15} {'delivered':>10}")
        results: dict[str, list[dict]] = {"duplex": [], "paired": []}
        for trial in range(args.trials):
            for kind in results:
                run = subprocess.run(
                    [sys.executable, "-c", TRIAL, kind, str(args.seconds), str(ROOT)],
                    env=rig.env,
                    capture_output=True,
                    text=True,
                    timeout=args.seconds + 60,
                )
                if run.returncode != 0:
                    raise SystemExit(f"{kind} trial failed:\n{run.stderr[-2000:]}")
                got = json.loads(run.stdout.strip().splitlines()[-1])
                results[kind].append(got)
                print(f"{kind:<8} {trial + 1:>5} {got['cpu']:>14.0%} {got['rate']:>9.2f}x", flush=True)
        for kind, rows in results.items():
            print(
                f"{kind}: median CPU {statistics.median(r['cpu'] for r in rows):.0%} of a core, "
                f"median delivered {statistics.median(r['rate'] for r in rows):.2f}x real time"
            )


if __name__ == "__main__":
    main()

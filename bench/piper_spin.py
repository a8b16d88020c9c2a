"""Piper's synthesis of a first clause with the machine idle and with another core busy:
ONNX Runtime's default session (intra-op threads that spin while they wait) against the
voice module's (``tts/piper.py``: they sleep).

Run:  .venv/bin/python bench/piper_spin.py [--runs 15]    # ~30 s

"Busy" is one process spinning in Python, as one of the agent's threads (the turn's
analysis, the memory's embedding) keeps a core while the reply's first clause is voiced.
Each session synthesises "Nice to meet you, Anna." ``--runs`` times after one warm-up;
median and p90 per session, both sessions in this process, one after the other.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from modules.voice.tts.piper import PiperTTS, piper_voice

TEXT = "Nice to meet you, Anna."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    from piper import PiperVoice

    info = piper_voice("joe")
    sessions = {
        "default (spinning)": PiperVoice.load(str(info.model_path())),
        "the module's (sleeping)": PiperTTS(info)._voice,
    }
    for busy in (0, 1):
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        try:
            time.sleep(0.3)
            for name, voice in sessions.items():
                list(voice.synthesize(TEXT))
                took = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    list(voice.synthesize(TEXT))
                    took.append(1000 * (time.perf_counter() - t0))
                took.sort()
                p90 = took[int(0.9 * (len(took) - 1))]
                print(
                    f"{'another core busy' if busy else 'idle':17s} {name:24s}: "
                    f"median {statistics.median(took):5.0f} ms, p90 {p90:5.0f} ms"
                )
        finally:
            for spinner in spinners:
                spinner.kill()


if __name__ == "__main__":
    main()

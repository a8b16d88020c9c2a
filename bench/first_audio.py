"""First audio of a reply: how long after the reply's text exists its first piece is
realised and ready for the speaker, rendering the whole reply first (the closed loop on
every sentence, as before) against streaming (the first clause or sentence alone).

Run:  .venv/bin/python bench/first_audio.py

Piper joe, the planner's plan for each text, five runs each after a warm-up; medians. Each
run renders afresh (the voice's cache of rendered clauses emptied before it: a reply never
said before); the last column streams clauses said before, from that cache. numpy's BLAS on
the calling thread, as in the agent (``agent/cores.py``).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.cores import share_cores
from agent.melody import plan_voice
from agent.scene import Scene
from modules.voice.speak.voicing import Voicing
from modules.voice.tts.piper import PiperTTS, piper_voice

TEXTS = (
    "I heard you say: The child almost hurt the small dog. Tell me more about child.",
    "Nice to meet you, Anna. I will remember your name.",
    "Your name is Anna.",
)


def main() -> None:
    share_cores()
    info = piper_voice("joe")
    tts = PiperTTS(info)
    voicing = Voicing(tts)
    plans = {t: plan_voice(Scene(channel="voice", kind="reply", text=t), None, own=info.profile()) for t in TEXTS}
    for text, plan in plans.items():  # warm up both paths
        list(voicing.sentences(text, plan))
        list(voicing.sentences(text, plan, first_fast=True))
    print(f"{'reply':52} {'whole reply first':>18} {'streaming':>10} {'said before':>12}")
    for text, plan in plans.items():
        medians = []
        for first_fast, cached in ((False, False), (True, False), (True, True)):
            times = []
            for _ in range(5):
                if not cached:
                    tts.forget_rendered()
                t0 = time.perf_counter()
                next(voicing.sentences(text, plan, first_fast=first_fast))
                times.append(time.perf_counter() - t0)
            medians.append(statistics.median(times) * 1000)
        print(f"{text[:50]!r:52} {medians[0]:16.0f}ms {medians[1]:8.0f}ms {medians[2]:10.0f}ms")


if __name__ == "__main__":
    main()

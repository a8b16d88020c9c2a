"""A pause's judgement and a reply's first clause, as the cores are shared.

Run: ``.venv/bin/python bench/pause_judgement.py [--rounds 15]``

What a sure turn waits for after the user stops: the judgement of the pause (the quick
decode of the speech so far beside Smart Turn, ``listen/live.py`` ``judge_pause``) and the
first clause of the reply (Piper, then the realiser). Each is timed here in one process
under two settings, alternated round by round:

* numpy's BLAS with its own worker threads (the library's default) against BLAS on the
  calling thread (``agent/cores.py``): the workers spin after each call on the core the
  engines want next;
* Smart Turn on ONNX Runtime's exact int8 path against its fast kernels (the same numbers
  on a CPU with VNNI, ``listen/turn_model.py``) — only where this CPU has VNNI;
* the reply's first clause rendered, and taken from the voice's cache of rendered clauses
  (``tts/piper.py``).

Speech: the first 40, 70 and 100 % of each real recording of ``tests/data/speech`` (the
speech before a pause, as the detector hands it over). Each call comes after 0.2 s idle,
as at a pause. Medians in ms, and the ratio to the first setting.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from threadpoolctl import threadpool_limits

from agent.scene import Scene
from bench.turn_hearing import turns
from modules.voice.engines import VoiceEngines
from modules.voice.listen import turn_model
from modules.voice.listen.live import judge_pause
from modules.voice.options import VoiceOptions
from modules.voice.rates import RATE_HZ
from modules.voice.speak import praat_worker
from modules.voice.speak.reply import spoken_plan
from modules.voice.speak.voicing import Voicing
from modules.voice.tts.piper import piper_voice

#: idle before each timed call (s): a pause's judgement starts after frames of silence.
IDLE_S = 0.2
#: replies as the rule mind opens them (the first clause is what is timed).
REPLIES = (
    "Mm, I follow. Tell me more about the story.",
    "Right. What happened next?",
    "I see. What does the kitchen stand for, for you?",
    "That sounds heavy. What is the hardest part of it?",
)


def timed_ms(call) -> float:
    time.sleep(IDLE_S)
    started = time.perf_counter()
    call()
    return 1000 * (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    o = VoiceOptions.parse({"end_of_turn": "model"})
    engines = VoiceEngines(o)
    quick, smart = engines.quick(), engines.turn_model()
    assert quick is not None
    recordings = turns()
    prefixes = [t[: int(len(t) * share)] for _, t in recordings for share in (0.4, 0.7, 1.0)]
    prefixes = [p for p in prefixes if len(p) > RATE_HZ // 2]
    # a VNNI CPU: the exact path too, for the comparison
    exact = None if smart.exact_kernels else turn_model.SmartTurn(exact_kernels=True)
    for p in prefixes[:3]:
        judge_pause(p, engines, o)
    times: dict[str, list[float]] = {}

    def add(name: str, ms: float) -> None:
        times.setdefault(name, []).append(ms)

    rng = np.random.default_rng(0)
    print(f"{len(prefixes)} prefixes of {len(recordings)} recordings, {args.rounds} rounds; BLAS threads alternated")
    for _ in range(args.rounds):
        p = prefixes[rng.integers(len(prefixes))]
        for blas in (2, 1):
            with threadpool_limits(limits=blas, user_api="blas"):
                add(f"quick decode, BLAS {blas} threads", timed_ms(lambda p=p: quick.text(p)))
                add(f"Smart Turn, BLAS {blas} threads", timed_ms(lambda p=p: smart.finished(p)))
                add(f"judgement (both), BLAS {blas} threads", timed_ms(lambda p=p: judge_pause(p, engines, o)))
                if exact is not None:
                    add(f"Smart Turn exact path, BLAS {blas} threads", timed_ms(lambda p=p: exact.finished(p)))
    praat_worker.start()
    own = piper_voice(o.voice).profile()
    tts = engines.tts(o.voice)
    for text in REPLIES:
        plan = spoken_plan(Scene(channel="voice", kind="reply", text=text), own, engines)
        first = lambda text=text, plan=plan: next(Voicing(tts).sentences(text, plan, first_fast=True))  # noqa: E731
        for _ in range(max(3, args.rounds // 3)):
            with threadpool_limits(limits=1, user_api="blas"):
                tts.forget_rendered()
                add("first clause rendered", timed_ms(first))
                add("first clause from the cache", timed_ms(first))
    print(f"{'':44s} {'median':>7s} {'p90':>7s}")
    for name, ms in times.items():
        print(f"{name:44s} {statistics.median(ms):7.1f} {np.percentile(ms, 90):7.1f}")
    for a in ("quick decode", "Smart Turn", "judgement (both)"):
        two, one = times[f"{a}, BLAS 2 threads"], times[f"{a}, BLAS 1 threads"]
        ratios = [y / x for x, y in zip(two, one)]
        print(f"{a}: BLAS on the calling thread / its own threads, median ratio {statistics.median(ratios):.2f}")
    if exact is not None:
        ratios = [
            y / x for x, y in zip(times["Smart Turn exact path, BLAS 1 threads"], times["Smart Turn, BLAS 1 threads"])
        ]
        print(f"Smart Turn: fast kernels / exact path (VNNI CPU), median ratio {statistics.median(ratios):.2f}")
    rendered, cached = times["first clause rendered"], times["first clause from the cache"]
    ratio = statistics.median(cached) / statistics.median(rendered)
    print(f"first clause: from the cache / rendered, median ratio {ratio:.2f}")
    praat_worker.stop()


if __name__ == "__main__":
    main()

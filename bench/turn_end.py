"""End of turn on the labelled set of ``bench/turn_set.py``: median close delay after a
finished sentence, and the share of broken sentences cut mid-sentence, for a fixed
silence timer and the detector's policies.

Run:  .venv/bin/python bench/turn_end.py [--details]

Each stream goes frame by frame (32 ms) through silero-vad and the detector, as in the
live loop (``modules.voice.listen.endpoint.replay``); a transcript of the speech so far is
made at every pause onset and reaches the detector after the time it really took on this
machine. A close before the end of the speech is a cut mid-sentence (the labelled pauses
are where that happens); the delay runs from the end of the speech (silero's unpadded
offset) to the close.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.cores import share_cores
from agent.paths import cache_dir
from bench import turn_set
from modules.voice.asr.engines import AsrOptions, make_engine
from modules.voice.asr.quick import QuickDecoder
from modules.voice.listen.endpoint import FRAME_SAMPLES, EndpointOptions, replay
from modules.voice.listen.turn_model import SmartTurn
from modules.voice.listen.vad import SileroVAD, VadOptions


@dataclasses.dataclass
class Outcome:
    stream: turn_set.Stream
    closes_s: list[float]

    @property
    def cut(self) -> bool:
        """Closed while the speaker had more to say."""
        return any(c < self.stream.end_s - 0.05 for c in self.closes_s)

    @property
    def delay_s(self) -> float | None:
        after = [c - self.stream.end_s for c in self.closes_s if c >= self.stream.end_s - 0.05]
        return after[0] if after else None


def probabilities(vad: SileroVAD, samples: np.ndarray) -> list[float]:
    vad.reset()
    return [
        vad.frame_probability(samples[k : k + FRAME_SAMPLES])
        for k in range(0, len(samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES)
    ]


def run(
    streams: list[turn_set.Stream],
    probs: list[list[float]],
    options: EndpointOptions,
    transcribe: Callable[[np.ndarray], str] | None,
    turn_model: Callable[[np.ndarray], float] | None = None,
) -> list[Outcome]:
    return [
        Outcome(s, replay(s.samples, p, options, transcribe, turn_model=turn_model)) for s, p in zip(streams, probs)
    ]


def summary(outcomes: list[Outcome]) -> dict[str, float]:
    fin = [o for o in outcomes if o.stream.label == "finished"]
    broken = [o for o in outcomes if o.stream.label == "paused"]
    delays = [o.delay_s for o in fin if o.delay_s is not None and not o.cut]
    return {
        "finished_median_s": statistics.median(delays) if delays else float("nan"),
        "finished_p90_s": float(np.percentile(delays, 90)) if delays else float("nan"),
        "finished_cut": sum(o.cut for o in fin),
        "finished_n": len(fin),
        "paused_cut_share": sum(o.cut for o in broken) / len(broken),
        "paused_n": len(broken),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--details", action="store_true", help="print every stream's closes")
    ap.add_argument("--sure-silence", type=float, default=0.2, help="the turn model's close when sure, s")
    ap.add_argument("--max-silence", type=float, default=1.2, help="the longest wait, s")
    args = ap.parse_args()
    share_cores()  # as the agent runs its engines
    full = make_engine("faster-whisper", AsrOptions(model="tiny.en", threads=2), cache_dir())
    quick = QuickDecoder(full.model)
    streams = turn_set.build(full)
    vad = SileroVAD(VadOptions())
    probs = [probabilities(vad, s.samples) for s in streams]
    quick.text(streams[0].samples[:16000])  # warm up
    smart = SmartTurn()
    model_options = EndpointOptions(sure_silence_s=args.sure_silence, max_silence_s=args.max_silence)
    smart.finished(streams[0].samples[:16000])
    modes: dict[str, tuple[EndpointOptions, Callable[[np.ndarray], str] | None, Callable | None]] = {
        "fixed timer 0.8 s": (EndpointOptions(prosodic=False, end_silence_s=0.8), None, None),
        "fixed timer 0.3 s": (EndpointOptions(prosodic=False, end_silence_s=0.3), None, None),
        "prosody (pitch + level)": (EndpointOptions(), None, None),
        "words, full 30 s decode": (EndpointOptions(), lambda y: full.transcribe(y).text, None),
        "words, quick decode": (EndpointOptions(), lambda y: quick.text(y).text, None),
        "smart turn": (model_options, None, smart.finished),
        "smart turn, quick words veto": (model_options, lambda y: quick.text(y).text, smart.finished),
    }
    voices = sorted({s.voice for s in streams})
    n_fin = sum(s.label == "finished" for s in streams)
    print(
        f"{len(streams)} streams: {n_fin} finished sentences, {len(streams) - n_fin} broken by mid-sentence "
        f"pauses; voices: {', '.join(voices)}"
    )
    print(f"{'policy':28} {'finished: median close':>22} {'p90':>6} {'cut mid-sentence':>17}")
    for name, (options, transcribe, model) in modes.items():
        outcomes = run(streams, probs, options, transcribe, model)
        s = summary(outcomes)
        print(
            f"{name:28} {s['finished_median_s']:21.3f}s {s['finished_p90_s']:5.2f}s "
            f"{s['paused_cut_share']:16.1%}  (finished cut early: {s['finished_cut']}/{s['finished_n']})"
        )
        if args.details:
            for o in outcomes:
                mark = "CUT" if o.cut else ""
                print(f"    {o.stream.name:32} {o.stream.label:8} end {o.stream.end_s:5.2f} closes {o.closes_s} {mark}")


if __name__ == "__main__":
    main()

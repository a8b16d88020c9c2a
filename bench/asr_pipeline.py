"""Word error rate and real-time factor per Whisper engine, the listening pipeline's
overhead over each bare engine, and the analyser's cost.

Run:  .venv/bin/python bench/asr_pipeline.py [--repeats 3]

Per speech recording (each voice of the two-speaker file on its own): the bare engine
transcribes the whole file; the pipeline is what ``run.py analyze`` does with it (silero
VAD, Whisper over the speech, words into utterances, the analyser). Times are the median
of --repeats warm runs in this process, bare and pipeline alternating. WER uses openai-whisper's English text normaliser
against the published transcripts (tests/data/MANIFEST.json); multilingual.mp3 has none
in full and counts for time only. A second table gives the word errors per voice, bare
engine vs pipeline (the bounds in tests/test_asr.py come from it). The analyser's cost is
``analysis.analyse`` on the whole file divided by its duration.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from agent.paths import cache_dir
from modules.voice.analysis import analyse
from modules.voice.asr.engines import AsrOptions, make_engine
from modules.voice.asr.wer import heard_text, word_errors
from modules.voice.io.audio import load_audio, resample, voices
from modules.voice.listen.hearing import hear
from modules.voice.listen.vad import SileroVAD

ROOT = Path(__file__).resolve().parent.parent
SPEECH = ROOT / "tests" / "data" / "speech"
MANIFEST = json.loads((ROOT / "tests" / "data" / "MANIFEST.json").read_text())


def reference(name: str, label: str | None) -> str | None:
    entry = MANIFEST["speech"][f"speech/{name}"]
    if label:
        return entry.get(f"text_{label}")
    return entry.get("text")


def timed(fn, repeats: int) -> tuple[float, object]:
    result, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def timed_pair(a, b, repeats: int) -> tuple[float, float, object]:
    """Median seconds of ``a`` and ``b`` run alternately (so load drifts hit both alike),
    and ``a``'s result."""
    times_a, times_b, result = [], [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = a()
        t1 = time.perf_counter()
        b()
        times_a.append(t1 - t0)
        times_b.append(time.perf_counter() - t1)
    return statistics.median(times_a), statistics.median(times_b), result


def main(repeats: int, models: list[str]) -> None:
    vad = SileroVAD()
    items = []
    for path in sorted(SPEECH.glob("*")):
        audio = load_audio(path)
        for label, mono in voices(audio):
            items.append(
                (
                    path.name + (f"/{label}" if label else ""),
                    reference(path.name, label),
                    resample(mono, audio.rate_hz, 16000),
                )
            )
    total_s = sum(len(y) / 16000 for _, _, y in items)
    print(f"{len(items)} voices, {total_s:.1f} s of audio, median of {repeats} warm runs\n")
    analysis = [timed(lambda y=y: analyse(y, 16000), repeats)[0] / (len(y) / 16000) for _, _, y in items]
    print(
        f"analyser cost: {100 * statistics.mean(analysis):.2f} % of duration on average, "
        f"{100 * max(analysis):.2f} % at most\n"
    )
    per_file: dict[tuple[str, int], dict[tuple[str, str], tuple[int, int]]] = {}
    print(f"{'engine':15} {'model':8} {'WER':>6} {'RTF':>6} {'pipeline ÷ bare':>16} {'worst file':>11}")
    for model in models:
        for engine in ("openai-whisper", "faster-whisper"):
            asr = make_engine(engine, AsrOptions(model=model), cache_dir())
            asr.transcribe(items[0][2])  # warm up (openai-whisper compiles word timing)
            edits = words = 0
            bare_s = pipe_s = 0.0
            ratios = []
            for name, ref, y in items:
                t_bare, t_pipe, transcript = timed_pair(
                    lambda y=y, asr=asr: asr.transcribe(y),
                    lambda y=y, asr=asr: hear(y, vad.segments(y), asr, False),
                    repeats,
                )
                bare_s, pipe_s = bare_s + t_bare, pipe_s + t_pipe
                ratios.append((t_pipe / t_bare, name))
                if ref:
                    e, n = word_errors(ref, transcript.text)
                    edits, words = edits + e, words + n
                    piped = word_errors(ref, heard_text(y, vad, asr))[0]
                    per_file.setdefault((name, n), {})[(engine, model)] = (e, piped)
            worst = max(ratios)
            print(
                f"{engine:15} {model:8} {edits / words:6.1%} {bare_s / total_s:6.3f} "
                f"{pipe_s / bare_s:15.3f}x {worst[0]:6.2f}x {worst[1]}"
            )
    columns = [(engine, model) for model in models for engine in ("openai-whisper", "faster-whisper")]
    print("\nword errors per voice, bare engine / pipeline (Whisper's English normaliser)")
    print(f"{'voice':30} {'words':>5} " + " ".join(f"{e[:6] + ' ' + m:>16}" for e, m in columns))
    totals = {c: [0, 0] for c in columns}
    for (name, n), row in per_file.items():
        for c in columns:
            totals[c][0] += row[c][0]
            totals[c][1] += row[c][1]
        print(f"{name:30} {n:5d} " + " ".join(f"{f'{row[c][0]} / {row[c][1]}':>16}" for c in columns))
    n_all = sum(n for _, n in per_file)
    print(
        f"{'WER, all voices':30} {n_all:5d} "
        + " ".join(f"{f'{100 * totals[c][0] / n_all:.1f} / {100 * totals[c][1] / n_all:.1f} %':>16}" for c in columns)
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    args = parser.parse_args()
    main(args.repeats, args.models)

"""Bark generation, stock bark 0.1.5 against scenevoice's exact path, stage by stage.

Run:  .venv/bin/python bench/bark_speed.py [--seconds 2] [--rounds 3] [--lossy]

Both run the same randomly initialised models of Bark's real *small* architecture (12
layers, 12 heads, 768 wide, no bias, block 1024, the real vocabularies: no weights exist
here), greedy (stock: ``top_k=1``; ours: argmax), a fixed budget of ``--seconds`` of
semantic tokens (early stop off), stock with its KV cache on (as ``bark.api`` runs it).
A first round of each, untimed, warms up and records every step's logits (recording slows
a step); then ``--rounds`` timed rounds (at least 3) alternate stock and ours so the
machine's drifting speed hits both alike, and each stage reports the median of the timed
rounds. The tokens of every stage must be equal in every round and every step's logits
within 1e-4, or the script says so and exits non-zero.

``--lossy`` adds the opt-in lower precisions of ``modules.voice.tts.bark.fast.lower_precision`` (bf16
weights, int8 dynamic quantisation), timed against ours in float32, with the share of
tokens that still agree (each stage fed the float32 path's input).

Last it prints the ceiling of any exact float32 path on this machine: every decoding step
at the weight-streaming floor (measured here, see ``step_floor_s``), the compute-bound fine
stage as ours, and the best ratio to stock that would give.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch

from modules.voice.tts.bark import fast
from modules.voice.tts.bark.models import lowered, random_models

TEXT = "Hello there, friend. How are you today? The lamp is warm and the room is quiet."
STAGES = ("semantic", "coarse", "fine")


def stock_run(gen, models, seconds: float, logits: dict | None) -> dict:
    """Stock bark's three stages; returns {stage: (seconds, tokens)}."""
    gen.models.update(
        text={"model": models.text, "tokenizer": models.tokenizer}, coarse=models.coarse, fine=models.fine
    )
    recorders = []
    if logits is not None:

        def record(model, stage, pick):
            original = model.forward

            def forward(*a, **k):
                out = original(*a, **k)
                logits[stage].append(pick(out[0] if isinstance(out, tuple) else out).float().clone())
                return out

            model.forward = forward
            recorders.append((model, original))

        record(models.text, "semantic", lambda lg: lg[0, 0, :10_000])
        record(models.coarse, "coarse", lambda lg: lg[0, 0])
        record(models.fine, "fine", lambda lg: lg[0, :, :1024])
    out = {}
    try:
        t = time.perf_counter()
        sem = gen.generate_text_semantic(
            TEXT, top_k=1, silent=True, use_kv_caching=True, max_gen_duration_s=seconds, allow_early_stop=False
        )
        out["semantic"] = (time.perf_counter() - t, sem)
        t = time.perf_counter()
        coarse = gen.generate_coarse(sem, top_k=1, silent=True, use_kv_caching=True)
        out["coarse"] = (time.perf_counter() - t, coarse)
        t = time.perf_counter()
        fine = gen.generate_fine(coarse, temp=None, silent=True)
        out["fine"] = (time.perf_counter() - t, fine)
    finally:
        for model, original in recorders:
            model.forward = original
    return out


def fast_run(models, seconds: float, logits: dict | None, inputs: dict | None = None) -> dict:
    """Ours; ``inputs`` feeds each stage a given input (to compare lossy stages fairly)."""
    greedy = fast.Sampling(greedy=True)
    hook = (lambda stage, i, lg: logits[stage].append(lg.clone())) if logits is not None else None
    out = {}
    t = time.perf_counter()
    sem = fast.generate_semantic(
        models.text,
        models.tokenizer,
        TEXT,
        sampling=greedy,
        max_gen_duration_s=seconds,
        allow_early_stop=False,
        on_logits=hook,
    )
    out["semantic"] = (time.perf_counter() - t, sem)
    sem = inputs["semantic"] if inputs else sem
    t = time.perf_counter()
    coarse = fast.generate_coarse(models.coarse, sem, sampling=greedy, on_logits=hook)
    out["coarse"] = (time.perf_counter() - t, coarse)
    coarse = inputs["coarse"] if inputs else coarse
    t = time.perf_counter()
    fine = fast.generate_fine(models.fine, coarse, temp=None, on_logits=hook)
    out["fine"] = (time.perf_counter() - t, fine)
    return out


def max_logit_diff(stock: dict, ours: dict) -> dict[str, float]:
    diffs = {}
    diffs["semantic"] = max(float((a - b[:10_000]).abs().max()) for a, b in zip(stock["semantic"], ours["semantic"]))
    coarse = []
    for i, (a, b) in enumerate(zip(stock["coarse"], ours["coarse"])):
        first = 10_000 + (0 if i % 2 == 0 else 1024)
        coarse.append(float((a[first : first + 1024] - b).abs().max()))
    diffs["coarse"] = max(coarse)
    diffs["fine"] = max(float((a - b).abs().max()) for a, b in zip(stock["fine"], ours["fine"]))
    return diffs


def step_floor_s(model, head_rows: int, repeats: int = 30) -> float:
    """The least time one exact float32 decoding step can take here: one matrix-vector
    product over every weight a step must read (each layer's linears, ``head_rows`` rows of
    the output layer) and nothing else, median of ``repeats``. Batch-1 decoding streams
    these weights from memory once per token; no exact method reads fewer bytes."""
    weights = [m.weight for block in model.transformer.h for m in block.modules() if isinstance(m, torch.nn.Linear)]
    weights.append(model.lm_head.weight[:head_rows])
    x = torch.randn(1, model.config.n_embd)
    wide = torch.randn(1, 4 * model.config.n_embd)
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            t = time.perf_counter()
            for w in weights:
                torch.nn.functional.linear(x if w.shape[1] == x.shape[1] else wide, w)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def ceiling(models, stock_total_s: float, ours: dict, fine_s: float) -> None:
    """What an exact path could reach on this machine at best: decoding at the weight-streaming
    floor (prefills free), the fine stage as ours (dense and compute-bound)."""
    n_sem = len(ours["semantic"][1])
    n_coarse = ours["coarse"][1].size
    sem_floor = step_floor_s(models.text, 10_001) * n_sem
    coarse_floor = step_floor_s(models.coarse, 1024) * n_coarse
    best = sem_floor + coarse_floor + fine_s
    layers = models.fine.config.n_layer
    width = models.fine.config.n_embd
    flops = 6 * 2 * 1024 * layers * (12 * width * width + 2 * 1024 * width)  # 6 passes of 1024 positions
    print(
        f"\nceiling of an exact float32 path here: semantic {n_sem} steps >= {sem_floor:.2f} s, "
        f"coarse {n_coarse} steps >= {coarse_floor:.2f} s (weight streaming alone), fine {fine_s:.2f} s "
        f"({flops / fine_s / 1e9:.0f} GFLOP/s); total >= {best:.2f} s: at most "
        f"{stock_total_s / best:.2f}x stock"
    )


def main(seconds: float, rounds: int, lossy: bool) -> int:
    torch.manual_seed(0)
    gen = fast.bark_generation()
    models = random_models("small")
    print(
        f"Bark small architecture, random weights; {seconds:g} s of semantic tokens; greedy; "
        f"{torch.get_num_threads()} threads; a warm-up round that records logits, then {rounds} "
        "timed rounds alternating (medians)\n"
    )
    logs_stock = {s: [] for s in STAGES}
    logs_ours = {s: [] for s in STAGES}
    stock = stock_run(gen, models, seconds, logs_stock)  # warm-up and logits: not timed
    ours = fast_run(models, seconds, logs_ours)
    equal = {s: np.array_equal(stock[s][1], ours[s][1]) for s in STAGES}
    diffs = max_logit_diff(logs_stock, logs_ours)
    times = {"stock": {s: [] for s in STAGES}, "ours": {s: [] for s in STAGES}}
    for _ in range(rounds):
        stock = stock_run(gen, models, seconds, None)
        ours = fast_run(models, seconds, None)
        for s in STAGES:
            times["stock"][s].append(stock[s][0])
            times["ours"][s].append(ours[s][0])
            equal[s] = equal[s] and np.array_equal(stock[s][1], ours[s][1])
    print(f"{'stage':9} {'stock s':>8} {'ours s':>8} {'speed-up':>9}  tokens equal  max |logit diff|")
    total = {"stock": 0.0, "ours": 0.0}
    for s in STAGES:
        a, b = statistics.median(times["stock"][s]), statistics.median(times["ours"][s])
        total["stock"] += a
        total["ours"] += b
        print(f"{s:9} {a:8.2f} {b:8.2f} {a / b:8.2f}x  {equal[s]!s:12}  {diffs[s]:.1e}")
    print(f"{'total':9} {total['stock']:8.2f} {total['ours']:8.2f} {total['stock'] / total['ours']:8.2f}x")
    shapes = {s: tuple(ours[s][1].shape) for s in STAGES}
    print(f"\ntokens: semantic {shapes['semantic']}, coarse {shapes['coarse']}, fine {shapes['fine']}")
    ceiling(models, total["stock"], ours, statistics.median(times["ours"]["fine"]))
    ok = all(equal.values()) and max(diffs.values()) < 1e-4
    if lossy:
        reference = {s: ours[s][1] for s in STAGES}
        print("\nopt-in lossy precision (each stage fed the float32 path's input), against ours in float32:")
        print(f"{'precision':9} {'stage':9} {'s':>6} {'vs fp32':>8} {'tokens agree':>13}")
        for precision in ("bfloat16", "int8"):
            run = fast_run(lowered(models, precision), seconds, None, reference)
            base = fast_run(models, seconds, None, reference)
            for s in STAGES:
                agree = float(np.mean(run[s][1] == reference[s]))
                print(f"{precision:9} {s:9} {run[s][0]:6.2f} {base[s][0] / run[s][0]:7.2f}x {agree:12.0%}")
    if not ok:
        print("\nFAIL: ours differs from stock", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds after the warm-up (at least 3)")
    parser.add_argument("--lossy", action="store_true")
    args = parser.parse_args()
    if args.rounds < 3:
        parser.error("--rounds must be at least 3: a median of fewer is a mean or a pick")
    sys.exit(main(args.seconds, args.rounds, args.lossy))

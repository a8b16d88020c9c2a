"""Memory store: insert rate and recall latency over 10 000 kept scenes.

Run: ``.venv/bin/python bench/memory_store.py [--scenes 10000] [--queries 200]``

Insert: each heard scene in its own transaction (as the module writes them: JSON, indexed
columns, lexemes), WAL with synchronous=NORMAL (and FULL for comparison).
Recall: the module's :func:`modules.memory.recall.recall` (facts by rule, lexeme and
cosine; scenes by brute-force cosine in numpy and by shared lexemes) over 10 000 scenes
with 384-d embeddings — measured on the store side (query vector given) and end to end
(the query sentence embedded by all-MiniLM-L6-v2 first), on one and on two torch threads,
on an idle machine and with one busy process beside it. The stored embeddings are the
model's own vectors of 1 000 distinct sentences, repeated with small noise to reach the
count (search time does not depend on their content).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from agent.facts import extract_facts, sentence
from agent.scene import Scene
from modules.memory.embedding import Embedder
from modules.memory.recall import recall
from modules.memory.store import MemoryStore

SUBJECTS = "I|my sister|my friend Tom|the neighbour|my dog|we|my boss|the teacher".split("|")
VERBS = "like|saw|cooked|visited|forgot|painted|read about|talked about|dreamed of|bought".split("|")
OBJECTS = (
    "green tea|the old harbour|a red bicycle|Lisbon|the winter market|a violin|the mountains|"
    "fresh bread|the river|a strange bird|the library|chess|the sea|a letter|the garden"
).split("|")
WHEN = "yesterday|last summer|every morning|on Sunday|at night|long ago|today|".split("|")


def sentences(n: int, rng: random.Random) -> list[str]:
    """``n`` short English sentences of varied content."""
    return [
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(WHEN)}".strip() + "."
        for _ in range(n)
    ]


def busy_process() -> subprocess.Popen:
    """Another process that keeps one core busy (what a voice appliance shares its cores with)."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def p(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def bench_insert(db: Path, texts: list[str], synchronous: str) -> tuple[MemoryStore, list[Scene], float]:
    store = MemoryStore(db, synchronous=synchronous)
    store.start_session("bench")
    scenes = [Scene(channel="voice", kind="turn", text=t, speaker="user") for t in texts]
    t0 = time.perf_counter()
    for scene in scenes:
        store.add_scene(scene, "bench")
        store.add_facts(extract_facts(scene.text, scene.speaker), scene)
    rate = len(scenes) / (time.perf_counter() - t0)
    return store, scenes, rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    rng = random.Random(7)
    texts = ["My name is Anna.", *sentences(args.scenes - 1, rng)]
    with tempfile.TemporaryDirectory() as tmp:
        _, _, full_rate = bench_insert(Path(tmp) / "full.sqlite3", texts[:2000], "full")
        store, scenes, rate = bench_insert(Path(tmp) / "normal.sqlite3", texts, "normal")
        print(
            f"insert (one transaction per scene + facts): NORMAL {rate:,.0f} scenes/s over {len(scenes)}; "
            f"FULL {full_rate:,.0f} scenes/s over 2000"
        )

        embedder = Embedder()
        t0 = time.perf_counter()
        embedder.encode(["warm up"])
        load_s = time.perf_counter() - t0
        distinct = sorted(set(texts))[:1000]
        t0 = time.perf_counter()
        real = embedder.encode(distinct)
        encode_rate = len(distinct) / (time.perf_counter() - t0)
        print(f"model load {load_s:.1f} s; batch embedding {encode_rate:,.0f} sentences/s")
        by_text = dict(zip(distinct, real))
        noise = np.random.default_rng(7)
        t0 = time.perf_counter()
        for scene in scenes:
            v = by_text.get(scene.text)
            if v is None:
                v = real[noise.integers(len(real))] + noise.normal(0, 0.02, real.shape[1]).astype(np.float32)
                v = v / np.linalg.norm(v)
            store.set_embedding(scene.id, v)
        print(f"embeddings stored: {len(scenes) / (time.perf_counter() - t0):,.0f} scenes/s")

        facts = store.facts()
        fact_vectors = embedder.encode([sentence(f.kind, f.relation, f.value) for f in facts]) if facts else None
        queries = [*sentences(args.queries, rng), "What is my name?", "what do I like"]
        store.search_vectors(real[0], 3)  # the first search reads the vectors from the database
        for busy in (False, True):
            hog = busy_process() if busy else None
            try:
                for threads in (1, 2):
                    embedder.threads = threads
                    side, whole = [], []
                    for q in queries:
                        t0 = time.perf_counter()
                        qv = embedder.encode([q])[0]
                        t1 = time.perf_counter()
                        found = recall(
                            store,
                            q,
                            query=qv,
                            fact_vectors=fact_vectors,
                            facts=facts,
                            max_facts=3,
                            max_scenes=3,
                            min_score=0.35,
                        )
                        t2 = time.perf_counter()
                        assert found, q
                        side.append(t2 - t1)
                        whole.append(t2 - t0)
                    print(
                        f"recall over {len(scenes)} scenes, {len(facts)} facts, {len(queries)} queries, "
                        f"{'one busy process beside it' if busy else 'idle'}, embedding on {threads} torch "
                        f"thread(s): store side p50 {p(side, 50):.1f} ms p95 {p(side, 95):.1f} ms; "
                        f"with query embedding p50 {p(whole, 50):.1f} ms p95 {p(whole, 95):.1f} ms"
                    )
            finally:
                if hog is not None:
                    hog.kill()
                    hog.wait()
        store.close()


if __name__ == "__main__":
    main()

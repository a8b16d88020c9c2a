"""What the agent does on every turn besides answering, as its memory grows.

Run: ``.venv/bin/python bench/turn_upkeep.py [--scenes 2000 17000 50000] [--turns 100 1000 2000]``

Two steps that read what was kept and so grow with it, timed in this process on real
SQLite files in a temporary folder (median of 20 calls each):

* the memory's search for heard scenes still without an embedding
  (:meth:`~modules.memory.store.MemoryStore.unembedded`, asked after every turn's embedding),
  through its partial index and, for comparison, the same query made to read every scene
  (``NOT INDEXED``) as it did before the index; 20 % of the scenes are heard turns, 1 % of
  them without an embedding;
* the mind's remembering of a turn (:meth:`agent.mind.Mind._remember`: the turn's lemmas and
  nodes, then the Δ-code mining over every turn kept, up to ``MAX_TURNS``), which runs on a
  background thread since it held the event loop; against what the mining cost when it read
  and counted every kept turn afresh on each turn (before its counts were kept);
* the mind's search for similar turns (:meth:`agent.mindstore.MindStore.similar`, on the
  event loop as a turn is answered), from the turns kept in memory against reading them
  from the file each time (before).

Sentences are 6–14 words drawn from the 3 000 most frequent English words.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from wordfreq import top_n_list

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.deltas import mine
from agent.lexicon import content_lemmas
from agent.mind import Mind
from agent.mindstore import MindStore, cosine
from agent.scene import Scene
from modules.memory.store import UNEMBEDDED, MemoryStore

#: the 3 000 most frequent English words (wordfreq): sentences as sparse in shared words as
#: conversation (a small vocabulary makes every pair co-occur, and the mining far slower).
WORDS = top_n_list("en", 3000)
KINDS = ("partial", "thought", "subscene", "reply", "spoken")


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "."


def median_ms(call, repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def memory_search(folder: Path, scenes: int, rng: random.Random) -> tuple[float, float]:
    store = MemoryStore(folder / f"memory-{scenes}.sqlite3")
    store.start_session("bench")
    batch = []
    for i in range(scenes):
        heard = i % 5 == 0
        batch.append(Scene(channel="voice", kind="turn" if heard else KINDS[i % 5], text=sentence(rng)))
    store.add_scenes(batch, "bench")
    unit = np.ones(384, np.float32) / np.sqrt(384)
    turns = [s for s in batch if s.kind == "turn"]
    for s in turns[: int(len(turns) * 0.99)]:
        store.set_embedding(s.id, unit)
    scan = (
        f"SELECT id, text FROM scenes NOT INDEXED WHERE {UNEMBEDDED} AND text IS NOT NULL AND text != ''"
        " ORDER BY wall_start DESC LIMIT 32"
    )
    indexed_ms = median_ms(lambda: store.unembedded(32))
    scan_ms = median_ms(lambda: store.conn.execute(scan).fetchall())
    store.close()
    return indexed_ms, scan_ms


def mind_remembering(folder: Path, turns: int, rng: random.Random) -> dict[str, float]:
    mind = Mind({"store": str(folder / f"mind-{turns}.sqlite3")})
    store = mind.store = MindStore(mind.store_path)

    def remember() -> None:
        text = sentence(rng)
        lemmas = content_lemmas(text)
        weights = {w: 1.0 for w in lemmas}
        turn = Scene(channel="voice", kind="turn", text=text)
        mind._remember(turn, Scene(channel="mind", kind="thought"), weights, lemmas)

    for _ in range(turns):
        remember()
    heard = {w: 1.0 for w in content_lemmas(sentence(rng))}

    def mining_afresh() -> None:  # each turn's mining before: every kept turn read and counted
        kept = [list(t.weights) for t in store._read_turns("", ())]
        mine(kept, store.codes(), min_count=mind.delta_min_count, min_pmi=mind.delta_min_pmi)

    def similar_afresh() -> None:  # the search before: every kept turn read from the file
        sorted((cosine(heard, t.weights) for t in store._read_turns("", ())), reverse=True)

    took = {
        "remember": median_ms(remember),
        "mining afresh": median_ms(mining_afresh),
        "similar": median_ms(lambda: store.similar(heard)),
        "similar afresh": median_ms(similar_afresh),
    }
    store.close()
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, nargs="+", default=[2000, 17000, 50000])
    ap.add_argument("--turns", type=int, nargs="+", default=[100, 1000, 2000])
    args = ap.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("memory: heard scenes without an embedding, per turn")
        for n in args.scenes:
            indexed_ms, scan_ms = memory_search(folder, n, rng)
            print(
                f"  {n:6d} scenes kept: {indexed_ms:6.2f} ms through the index, {scan_ms:6.2f} ms reading every scene"
            )
        print("mind: remembering one turn (lemmas, nodes, Δ-code mining), and the search for similar turns")
        for n in args.turns:
            t = mind_remembering(folder, n, rng)
            print(
                f"  {n:6d} turns kept: remembering {t['remember']:6.2f} ms (the mining alone, counting every turn "
                f"afresh: {t['mining afresh']:6.1f} ms); similar turns {t['similar']:5.2f} ms "
                f"(reading every turn: {t['similar afresh']:5.2f} ms)"
            )


if __name__ == "__main__":
    main()

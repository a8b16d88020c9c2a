"""Scene-bus throughput and hop latency with five subscribed modules, against bare
``asyncio.Queue`` hops measured in the same process.

Run:  .venv/bin/python bench/bus_throughput.py [--scenes 20000] [--rounds 5]

Throughput: a burst of N scenes published as fast as possible; time until every
subscriber has handled all of them. Latency: one scene in flight at a time (publish, wait
until all five subscribers have it), so the number is the hop itself, not queueing behind
a burst. Baselines carry the same ``Scene`` objects: (1) one ``asyncio.Queue`` with one
consumer (a bare hop), (2) five queues with five consumers (hand-rolled fan-out, the work
the bus replaces). Rounds alternate bus and baselines to spread machine noise evenly;
the medians of the rounds are reported, then the ratios.

One clock for every path: ``time.perf_counter`` read by the producer just before it hands
the scene over (``put`` / ``publish``) and by each consumer when it has the scene (the
queue consumer after ``get``, the bus subscriber on entering its handler). The bus is used
through its public API only (``subscribe``, ``start``, ``publish``, ``stop``): its own hop
stamps (unix time) are not read.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from agent.bus import SceneBus
from agent.scene import Scene

N_MODULES = 5


class Tally:
    """Counts deliveries: ``acked`` is set when every delivery of the scene in flight is in,
    ``done`` when every delivery of the run is."""

    def __init__(self, total: int) -> None:
        self.remaining, self.pending = total, 0
        self.sent_at_s = 0.0  # perf_counter when the scene in flight was handed over
        self.latencies: list[float] = []
        self.acked, self.done = asyncio.Event(), asyncio.Event()

    def expect(self, n: int) -> None:
        self.pending += n
        self.acked.clear()
        self.sent_at_s = time.perf_counter()

    def got(self) -> None:
        """A consumer has a scene; its latency counts from the latest ``expect``."""
        self.latencies.append(time.perf_counter() - self.sent_at_s)
        self.remaining -= 1
        self.pending -= 1
        if self.pending == 0:
            self.acked.set()
        if self.remaining == 0:
            self.done.set()


def _scenes(n: int) -> list[Scene]:
    return [Scene(channel="voice", kind="utterance", text=f"scene {i}", core="bench+scene") for i in range(n)]


async def queue_fanout(n_consumers: int, scenes: list[Scene], paced: bool) -> tuple[float, list[float]]:
    """(seconds for the burst, per-delivery latencies in seconds) over plain queues."""
    queues = [asyncio.Queue(maxsize=1024) for _ in range(n_consumers)]
    tally = Tally(len(scenes) * n_consumers)

    async def consume(q: asyncio.Queue) -> None:
        while True:
            await q.get()
            tally.got()

    tasks = [asyncio.create_task(consume(q)) for q in queues]
    t0 = time.perf_counter()
    for scene in scenes:
        tally.expect(n_consumers)
        for q in queues:
            await q.put(scene)
        if paced:
            await tally.acked.wait()
    await tally.done.wait()
    elapsed = time.perf_counter() - t0
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return elapsed, tally.latencies


async def scene_bus(n_modules: int, scenes: list[Scene], paced: bool) -> tuple[float, list[float]]:
    """The same over the scene bus: latency from ``publish`` to each handler's entry."""
    bus = SceneBus()
    tally = Tally(len(scenes) * n_modules)

    async def handle(scene: Scene) -> None:
        tally.got()

    for i in range(n_modules):
        bus.subscribe(f"m{i}", handle, lambda s: s.kind == "utterance", inbox_size=1024)
    await bus.start()
    t0 = time.perf_counter()
    for scene in scenes:
        tally.expect(n_modules)
        await bus.publish(scene, source="bench")
        if paced:
            await tally.acked.wait()
    await tally.done.wait()
    elapsed = time.perf_counter() - t0
    await bus.stop(drain_timeout_s=0)
    return elapsed, tally.latencies


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


async def main(n: int, rounds: int, paced_n: int) -> None:
    burst = _scenes(n)
    paced = _scenes(paced_n)
    results: dict[str, dict[str, list[float]]] = {
        k: {"rate": [], "p50": [], "p99": []} for k in ("queue x1", "queue x5", "bus x5")
    }
    for _ in range(rounds):
        for name, run in (
            ("queue x1", lambda s, p: queue_fanout(1, s, p)),
            ("queue x5", lambda s, p: queue_fanout(N_MODULES, s, p)),
            ("bus x5", lambda s, p: scene_bus(N_MODULES, s, p)),
        ):
            elapsed, _ = await run(burst, False)
            results[name]["rate"].append(len(burst) / elapsed)
            _, lat = await run(paced, True)
            results[name]["p50"].append(statistics.median(lat))
            results[name]["p99"].append(p99(lat))
    med = {k: {m: statistics.median(v) for m, v in r.items()} for k, r in results.items()}
    print(f"{n} scenes per burst, {paced_n} paced scenes, {rounds} rounds (medians)")
    print(f"{'path':10} {'scenes/s':>10} {'p50 hop µs':>11} {'p99 hop µs':>11}   (perf_counter throughout)")
    for name, m in med.items():
        print(f"{name:10} {m['rate']:10.0f} {m['p50'] * 1e6:11.1f} {m['p99'] * 1e6:11.1f}")
    bus, one, five = med["bus x5"], med["queue x1"], med["queue x5"]
    print(
        f"bus x5 / queue x1: throughput {bus['rate'] / one['rate']:.3f}x, "
        f"p99 hop latency {bus['p99'] / one['p99']:.2f}x"
    )
    print(
        f"bus x5 / queue x5: throughput {bus['rate'] / five['rate']:.3f}x, "
        f"p99 hop latency {bus['p99'] / five['p99']:.2f}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=20000)
    parser.add_argument("--paced", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.scenes, args.rounds, args.paced))

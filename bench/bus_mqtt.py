"""The scene bus across processes: ``modules/bridge`` through a real mosquitto on loopback,
against the in-process scene bus measured in the same process.

Run:  .venv/bin/python -m bench.bus_mqtt [--scenes 5000] [--paced 300] [--rounds 3]
                                         [--satellites 10] [--seconds 20]

Everything as it ships: the broker is ``bench.mosquitto.Broker`` (passwords, ACL,
persistence with ``autosave_on_changes``), each peer is a ``Session`` with
``only={"bridge"}`` and the bridge's default options from ``assets/config.toml``; only the
connection (port, site, account, kinds sent and received) is set — and on the hub
``one_room_s = 0`` (``HUB_CHANGED``, said in the output): with more than one room online,
the shipped hub holds each turn up to 0.5 s for another room's hearing of it, a wait by
design that would hide the transport. The satellites are plain peers (no ``hub`` set: they
wait for no reply). Every peer and subscriber runs in this one Python process, so a burst's
rate is bounded by one core doing both ends' work (the JSON out and in); mosquitto runs
beside it. The scenes are ``turn``
and ``partial`` scenes copied from the recorded sessions in ``tests/data/recorded`` (a
turn's JSON is about 2 kB, its sound measures included), each with a fresh id.

1. Throughput: a burst of N turns published on the ``kitchen`` Session's bus, timed from
   the first ``publish`` until every id has reached a subscriber on the ``hub`` Session's
   bus; the in-process path is the same burst on one Session's bus to the same subscriber.
2. Latency, one scene in flight at a time (the next is published once the previous has
   arrived and, through the broker, been confirmed to the kitchen): ``perf_counter`` read
   just before ``publish`` on the kitchen bus and on entering the hub subscriber's
   handler, one clock in one process; the in-process path is measured the same way, and
   the difference of the percentiles is what the broker adds per hop. The bridge's own
   hops (``bridge.kitchen.out`` → ``bridge.hub.in``, unix times) give the part between
   the two bridges.
3. Satellites: ten Sessions (sites ``sat0``…``sat9``, each its own broker account) speak
   at once to one hub for a while — a turn every 0.3–0.5 s, half of them preceded by a
   partial — and every scene's latency is measured as in 2; each id must arrive exactly
   once.

Connecting and a warm-up are outside every measurement. Rounds alternate the in-process
bus and the broker to spread machine noise evenly; medians of the rounds are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import random
import re
import secrets
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from agent.config import DEFAULT_CONFIG, Config, load_config
from agent.scene import Scene, new_scene_id, now_iso
from agent.session import Session
from bench.mosquitto import Broker, bridge_overrides

RECORDED = Path(__file__).resolve().parent.parent / "tests" / "data" / "recorded"
SATELLITE = "sat{}"
#: the goals the bench is held to.
GOAL_RATE = 1000.0
GOAL_P95_ADDED_MS = 5.0
#: how long a burst or a scene may take to arrive before it counts as lost (s).
ARRIVE_S = 60.0
SPEAK_GAP_S = (0.3, 0.5)
#: the one option changed from what ships, on the hub only: its one-room hold keeps each
#: turn from a room up to ``one_room_s`` (0.5 s) while another room is online, waiting for
#: that room's hearing of the same utterance, and lets one of two alike turns through.
#: That is a deliberate wait and a merge, not the transport this bench measures.
HUB_CHANGED = ("one_room_s=0",)


def _env(site: str) -> str:
    return f"SV_BENCH_MQTT_{site.upper()}"


def peer_config(broker: Broker, site: str, send: list[str], receive: list[str], *changed: str) -> Config:
    """The shipped config with the bridge on; only the connection and the kinds are set,
    and the options in ``changed`` (``name=value``, said in the output)."""
    return load_config(
        None,
        [*(f"modules.bridge.{c}" for c in changed), *bridge_overrides(broker, site, send, receive, _env(site))],
    )


def recorded_scenes() -> tuple[list[Scene], list[Scene]]:
    """(turns, partials) of the recorded sessions: real text, real sound measures."""
    turns: list[Scene] = []
    partials: list[Scene] = []
    for path in sorted(RECORDED.glob("*/scenes.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            scene = Scene.from_dict(json.loads(line)["scene"])
            if scene.kind == "turn":
                turns.append(scene)
            elif scene.kind == "partial":
                partials.append(scene)
    if not turns or not partials:
        raise SystemExit(f"no turn or partial scenes in {RECORDED}/*/scenes.jsonl")
    return turns, partials


def fresh(template: Scene, source: str) -> Scene:
    """A new scene with ``template``'s content: its own id, made now, no hops yet."""
    return dataclasses.replace(template, id=new_scene_id(), wall_start=now_iso(), source=source, parents=[], hops=[])


def _bridge_hop(stage: str, way: str) -> bool:
    parts = stage.split(".")
    return len(parts) == 3 and parts[0] == "bridge" and parts[2] == way


class Arrivals:
    """The hub's subscriber: when (``perf_counter``) and how often each id arrived, and
    the time between the bridge's hops ``bridge.<sender>.out`` and ``bridge.<hub>.in``."""

    def __init__(self, session: Session, kinds: set[str]) -> None:
        self.at_s: dict[str, float] = {}
        self.count: Counter[str] = Counter()
        self.bridge_s: dict[str, float] = {}
        self._expected: set[str] = set()
        self._all_in = asyncio.Event()
        session.bus.subscribe("bench.arrivals", self.take, lambda s: s.kind in kinds, inbox_size=20_000)

    async def take(self, scene: Scene) -> None:
        now = time.perf_counter()
        self.count[scene.id] += 1
        if scene.id in self.at_s:
            return
        self.at_s[scene.id] = now
        # ``bridge.<site>.out`` / ``.in`` (a site has no dot); ``bridge.in``/``bridge.out``
        # are the bus's own hops of the bridge module as a subscriber and a publisher.
        out = [h.t_unix_s for h in scene.hops if h.stage.startswith("bridge.") and _bridge_hop(h.stage, "out")]
        into = [h.t_unix_s for h in scene.hops if h.stage.startswith("bridge.") and _bridge_hop(h.stage, "in")]
        if out and into:
            self.bridge_s[scene.id] = into[-1] - out[-1]
        if scene.id in self._expected:
            self._expected.discard(scene.id)
            if not self._expected:
                self._all_in.set()

    async def until(self, ids: list[str], timeout_s: float = ARRIVE_S) -> bool:
        """Wait until every one of ``ids`` has arrived; False after ``timeout_s``."""
        self._expected = {i for i in ids if i not in self.at_s}
        self._all_in.clear()
        if not self._expected:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_in.wait(), timeout_s)
        return not self._expected

    def reset(self) -> None:
        self.at_s.clear()
        self.count.clear()
        self.bridge_s.clear()


async def _until(check, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.01)
    return check()


def pct(values: list[float], q: int) -> float:
    """The ``q``-th percentile (1…99) of ``values``."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) used so far by this process, or by process ``pid``."""
    if pid is None:
        return time.process_time()
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return float("nan")


@dataclasses.dataclass
class Way:
    """One way from the kitchen's publisher to the hub's subscriber."""

    name: str
    session: Session
    arrivals: Arrivals
    bridge: Any = None  # the kitchen's BridgeModule, when the way crosses the broker
    broker_pid: int | None = None

    async def drained(self, timeout_s: float = ARRIVE_S) -> bool:
        """True once every scene sent is confirmed by the hub (at once, in-process)."""
        if self.bridge is None:
            return True
        return await _until(lambda: len(self.bridge.outbox) == 0, timeout_s)


async def burst(way: Way, scenes: list[Scene]) -> dict[str, float]:
    """Publish ``scenes`` as fast as the bus takes them: scenes/s until all arrived, and
    the CPU seconds this process and the broker used meanwhile."""
    ids = [s.id for s in scenes]
    sent_before = way.bridge.counts["sent"] if way.bridge is not None else 0
    cpu0, broker0 = cpu_s(), cpu_s(way.broker_pid) if way.broker_pid else 0.0
    t0 = time.perf_counter()
    for scene in scenes:
        await way.session.bus.publish(scene, source="kitchen-mic")
    arrived = await way.arrivals.until(ids)
    elapsed = time.perf_counter() - t0
    cpu1, broker1 = cpu_s(), cpu_s(way.broker_pid) if way.broker_pid else 0.0
    drained = await way.drained()
    confirmed_s = time.perf_counter() - t0
    return {
        "rate": len(scenes) / elapsed if arrived else float("nan"),
        "confirmed_s": confirmed_s if drained else float("nan"),
        "lost": sum(1 for i in ids if i not in way.arrivals.at_s),
        "doubled": sum(way.arrivals.count[i] > 1 for i in ids),
        "publishes": (way.bridge.counts["sent"] - sent_before) if way.bridge is not None else float("nan"),
        "cpu_us": (cpu1 - cpu0) / len(scenes) * 1e6,
        "broker_cpu_us": (broker1 - broker0) / len(scenes) * 1e6,
        "busy": (cpu1 - cpu0) / elapsed,
    }


async def paced(way: Way, scenes: list[Scene]) -> dict[str, list[float]]:
    """One scene in flight at a time: seconds from ``publish`` to the hub's subscriber."""
    latencies: list[float] = []
    bridge: list[float] = []
    for scene in scenes:
        t0 = time.perf_counter()
        await way.session.bus.publish(scene, source="kitchen-mic")
        if not await way.arrivals.until([scene.id], 10.0):
            continue
        latencies.append(way.arrivals.at_s[scene.id] - t0)
        if scene.id in way.arrivals.bridge_s:
            bridge.append(way.arrivals.bridge_s[scene.id])
        await way.drained(10.0)  # its confirmation back too: nothing else in flight
    return {"lat": latencies, "bridge": bridge, "lost": [float(len(scenes) - len(latencies))]}


async def satellites(
    broker: Broker, hub: Session, arrivals: Arrivals, turns: list[Scene], partials: list[Scene], n: int, seconds: float
) -> dict[str, object]:
    """``n`` satellites speaking to the hub at once for ``seconds``."""
    sites = [SATELLITE.format(i) for i in range(n)]
    sent_at: dict[str, float] = {}
    async with contextlib.AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(
                Session(peer_config(broker, site, ["turn", "partial"], []), only={"bridge"})
            )
            for site in sites
        ]
        connected = await _until(lambda: all(s.modules["bridge"].connected.is_set() for s in sessions), 20)
        if not connected:
            raise SystemExit("the satellites did not all connect to the broker in 20 s")
        # A warm-up scene each, outside the measurement.
        warm = [fresh(turns[0], f"{site}-mic") for site in sites]
        for session, scene in zip(sessions, warm, strict=True):
            await session.bus.publish(scene, source=f"{session.modules['bridge'].o.site}-mic")
        await arrivals.until([s.id for s in warm], 20)
        await _until(lambda: all(len(s.modules["bridge"].outbox) == 0 for s in sessions), 20)
        arrivals.reset()
        sent_before = sum(s.modules["bridge"].counts["sent"] for s in sessions)

        end = time.perf_counter() + seconds

        async def publish(session: Session, site: str, template: Scene) -> None:
            scene = fresh(template, f"{site}-mic")
            sent_at[scene.id] = time.perf_counter()
            await session.bus.publish(scene, source=f"{site}-mic")

        async def speak(i: int, session: Session) -> None:
            rng = random.Random(i)
            site = sites[i]
            await asyncio.sleep(rng.uniform(0, SPEAK_GAP_S[1]))
            while time.perf_counter() < end:
                gap_s = rng.uniform(*SPEAK_GAP_S)
                if rng.random() < 0.5:
                    await asyncio.sleep(gap_s / 2)
                    await publish(session, site, rng.choice(partials))
                    await asyncio.sleep(gap_s / 2)
                else:
                    await asyncio.sleep(gap_s)
                await publish(session, site, rng.choice(turns))

        t0 = time.perf_counter()
        await asyncio.gather(*(speak(i, s) for i, s in enumerate(sessions)))
        spoke_s = time.perf_counter() - t0
        await arrivals.until(list(sent_at), 30)
        drained = await _until(lambda: all(len(s.modules["bridge"].outbox) == 0 for s in sessions), 30)
        await asyncio.sleep(1.0)  # a late duplicate would come now
        publishes = sum(s.modules["bridge"].counts["sent"] for s in sessions) - sent_before
    latencies = [arrivals.at_s[i] - t for i, t in sent_at.items() if i in arrivals.at_s]
    return {
        "sent": len(sent_at),
        "spoke_s": spoke_s,
        "arrived": sum(1 for i in sent_at if i in arrivals.at_s),
        "once": sum(1 for i in sent_at if arrivals.count[i] == 1),
        "doubled": sum(1 for i in sent_at if arrivals.count[i] > 1),
        "strangers": sum(1 for i in arrivals.count if i not in sent_at),
        "lat": latencies,
        "bridge": [arrivals.bridge_s[i] for i in sent_at if i in arrivals.bridge_s],
        "publishes": publishes,
        "confirmed": drained,
    }


class WarningTally(logging.Handler):
    """Counts warnings by logger and message, numbers blanked (a flood of one warning is
    one line)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.seen[f"{record.name}: {re.sub(r'[0-9]+', 'N', record.getMessage())[:100]}"] += 1


def codec_cost_us(template: Scene, n: int = 2000) -> tuple[float, float, float]:
    """µs per scene for ``to_json``, ``from_json`` and ``copy`` (the bridge's and the bus's
    per-scene work), measured here to say where a burst's time goes."""
    text = template.to_json()
    t0 = time.perf_counter()
    for _ in range(n):
        template.to_json()
    t1 = time.perf_counter()
    for _ in range(n):
        Scene.from_json(text)
    t2 = time.perf_counter()
    for _ in range(n):
        template.copy()
    t3 = time.perf_counter()
    return (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6, (t3 - t2) / n * 1e6


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.2f}"


async def main(n: int, paced_n: int, rounds: int, n_sats: int, seconds: float) -> None:
    tally = WarningTally()
    logging.getLogger().addHandler(tally)
    turns, partials = recorded_scenes()
    sites = ["kitchen", "hub", *(SATELLITE.format(i) for i in range(n_sats))]
    passwords = {site: secrets.token_hex(12) for site in sites}
    for site, password in passwords.items():
        os.environ[_env(site)] = password
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bus_mqtt-") as tmp, Broker(Path(tmp) / "broker", passwords) as broker:
        version = subprocess.run([broker.binary, "-h"], capture_output=True, text=True).stdout.splitlines()[0]
        kitchen = Session(peer_config(broker, "kitchen", ["turn"], []), only={"bridge"})
        hub = Session(peer_config(broker, "hub", [], ["turn", "partial"], *HUB_CHANGED), only={"bridge"})
        alone = Session(load_config(None, []), only=set())  # kitchen and hub as one process
        sources = kitchen.config.sources
        hub_arrivals = Arrivals(hub, {"turn", "partial"})
        alone_arrivals = Arrivals(alone, {"turn", "partial"})
        async with hub:
            async with kitchen, alone:
                k_bridge = kitchen.modules["bridge"]
                ok = await _until(lambda: k_bridge.connected.is_set() and hub.modules["bridge"].connected.is_set(), 20)
                if not ok:
                    raise SystemExit("kitchen and hub did not connect to the broker in 20 s")
                o = k_bridge.o
                pid = broker.process.pid if broker.process is not None else None
                broker_way = Way("through mosquitto", kitchen, hub_arrivals, k_bridge, pid)
                alone_way = Way("in-process bus", alone, alone_arrivals)
                for way in (alone_way, broker_way):  # warm-up: connections, caches, first JIT-free paths
                    await burst(way, [fresh(turns[i % len(turns)], "kitchen-mic") for i in range(200)])
                    await paced(way, [fresh(turns[i % len(turns)], "kitchen-mic") for i in range(20)])
                results: dict[str, dict[str, list[float]]] = {w.name: {} for w in (alone_way, broker_way)}
                for _ in range(rounds):
                    for way in (alone_way, broker_way):
                        way.arrivals.reset()
                        got = await burst(way, [fresh(turns[i % len(turns)], "kitchen-mic") for i in range(n)])
                        for key, value in got.items():
                            results[way.name].setdefault(key, []).append(value)
                        way.arrivals.reset()
                        lat = await paced(way, [fresh(turns[i % len(turns)], "kitchen-mic") for i in range(paced_n)])
                        for key in ("p50", "p95", "b50", "b95"):
                            values = lat["lat"] if key[0] == "p" else lat["bridge"]
                            results[way.name].setdefault(key, []).append(pct(values, int(key[1:])) if values else 0.0)
                        results[way.name].setdefault("paced_lost", []).append(lat["lost"][0])
                kitchen_counts = dict(k_bridge.counts)
            # The kitchen is gone; the hub stays for the satellites.
            await _until(lambda: hub.modules["bridge"].connected.is_set(), 20)
            hub_arrivals.reset()
            sats = await satellites(broker, hub, hub_arrivals, turns, partials, n_sats, seconds)
            hub_counts = dict(hub.modules["bridge"].counts)
    report(
        med={w: {k: statistics.median(v) for k, v in r.items()} for w, r in results.items()},
        rates=results["through mosquitto"]["rate"],
        header=[
            f"{version}, 127.0.0.1: passwords, ACL, persistence with autosave_on_changes (bench/mosquitto.py)",
            f"bridge options as shipped ({', '.join(str(s) for s in sources)}): in_flight={o.in_flight}, "
            f"resend_s={o.resend_s}, keepalive_s={o.keepalive_s}, outbox_max={o.outbox_max}",
            f"changed on the hub only: {', '.join(HUB_CHANGED)} (its one-room hold waits up to 0.5 s for another "
            "room's hearing of each turn, by design: not transport)",
            *(
                ["NOTE: a user config was merged ($SCENEVOICE_CONFIG or ./scenevoice.toml): not the shipped defaults"]
                if sources != [DEFAULT_CONFIG]
                else []
            ),
            f"kitchen, hub, satellites and subscribers in this one Python process; mosquitto beside it; "
            f"{os.cpu_count()} cores, load average {load:.2f} at the start",
            f"scenes: recorded turns of {len(turns[0].to_json().encode())} B of JSON; {rounds} rounds alternating "
            "the paths, medians",
        ],
        n=n,
        paced_n=paced_n,
        sats=sats,
        n_sats=n_sats,
        counts={"kitchen": kitchen_counts, "hub": hub_counts},
        codec_us=codec_cost_us(turns[0]),
        warnings=tally.seen,
    )


def report(
    med: dict[str, dict[str, float]],
    rates: list[float],
    header: list[str],
    n: int,
    paced_n: int,
    sats: dict[str, Any],
    n_sats: int,
    counts: dict[str, dict[str, int]],
    codec_us: tuple[float, float, float],
    warnings: Counter[str],
) -> None:
    inproc, mqtt = med["in-process bus"], med["through mosquitto"]
    print("\n".join(header))
    print()
    print(f"1. Throughput: a burst of {n} turns, kitchen bus → hub bus")
    print(f"{'path':18} {'scenes/s':>9} {'all confirmed':>14} {'publishes':>10} {'lost':>5} {'doubled':>8}")
    for name, m in med.items():
        confirmed = f"{m['confirmed_s']:.2f} s" if name == "through mosquitto" else "—"
        publishes = f"{m['publishes']:.0f}" if name == "through mosquitto" else "—"
        print(f"{name:18} {m['rate']:9.0f} {confirmed:>14} {publishes:>10} {m['lost']:5.0f} {m['doubled']:8.0f}")
    met = "met" if mqtt["rate"] >= GOAL_RATE else "NOT met"
    print(
        f"through mosquitto / in-process: {mqtt['rate'] / inproc['rate']:.3f}×; "
        f"goal ≥ {GOAL_RATE:.0f} scenes/s through the broker: {met} (rounds: {', '.join(f'{r:.0f}' for r in rates)})"
    )
    print(
        f"CPU per scene in the burst: this process {mqtt['cpu_us']:.0f} µs through mosquitto "
        f"(busy {mqtt['busy']:.0%} of the burst), {inproc['cpu_us']:.0f} µs in-process; "
        f"mosquitto {mqtt['broker_cpu_us']:.0f} µs"
    )
    to_us, from_us, copy_us = codec_us
    print(
        f"  of which the codec: to_json {to_us:.0f} µs (kitchen), from_json {from_us:.0f} µs (hub); "
        f"Scene.copy {copy_us:.1f} µs"
    )
    print()
    print(f"2. Latency, one scene in flight, {paced_n} turns a round (perf_counter: kitchen publish → hub subscriber)")
    print(f"{'path':18} {'p50 ms':>8} {'p95 ms':>8}")
    print(f"{'in-process bus':18} {ms(inproc['p50'])} {ms(inproc['p95'])}")
    print(f"{'through mosquitto':18} {ms(mqtt['p50'])} {ms(mqtt['p95'])}")
    added50, added95 = mqtt["p50"] - inproc["p50"], mqtt["p95"] - inproc["p95"]
    print(f"{'added per hop':18} {ms(added50)} {ms(added95)}")
    print(f"{'bridge hops':18} {ms(mqtt['b50'])} {ms(mqtt['b95'])}   (bridge.kitchen.out → bridge.hub.in, unix time)")
    met = "met" if added95 <= GOAL_P95_ADDED_MS / 1e3 else "NOT met"
    print(
        f"through / in-process: p50 {mqtt['p50'] / inproc['p50']:.0f}×, p95 {mqtt['p95'] / inproc['p95']:.0f}×; "
        f"goal ≤ {GOAL_P95_ADDED_MS:.0f} ms p95 added per hop: {met}"
    )
    print()
    lat, hops = sats["lat"], sats["bridge"]
    print(
        f"3. {n_sats} satellites speaking for {sats['spoke_s']:.1f} s to one hub (each a turn every "
        f"{SPEAK_GAP_S[0]}–{SPEAK_GAP_S[1]} s, half of them after a partial): "
        f"{sats['sent']} scenes, {sats['sent'] / sats['spoke_s']:.1f}/s in all"
    )
    print(f"{'measure':34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    if lat:
        print(f"{'publish → hub subscriber':34} {ms(pct(lat, 50))} {ms(pct(lat, 95))} {ms(max(lat))}")
        added = f"{ms(pct(lat, 50) - inproc['p50'])} {ms(pct(lat, 95) - inproc['p95'])}"
        print(f"{'added against in-process':34} {added}")
    if hops:
        print(f"{'bridge hops (satN.out → hub.in)':34} {ms(pct(hops, 50))} {ms(pct(hops, 95))} {ms(max(hops))}")
    once = sats["once"] == sats["sent"] and sats["strangers"] == 0
    print(
        f"arrived {sats['arrived']}/{sats['sent']}, exactly once {sats['once']}, more than once {sats['doubled']}, "
        f"unknown ids {sats['strangers']}: {'every scene exactly once' if once else 'NOT exactly once'}; "
        f"all confirmed to the satellites: {sats['confirmed']} ({sats['publishes']} publishes)"
    )
    print()
    print("bridge counts (a publish beyond one a scene would be a resend after resend_s):")
    for site, c in counts.items():
        print(f"  {site}: {c}")
    if warnings:
        print(f"warnings logged during the run ({sum(warnings.values())}):")
        for message, count in warnings.most_common(6):
            print(f"  {count:6d} × {message}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=5000, help="turns per throughput burst")
    parser.add_argument("--paced", type=int, default=300, help="turns per round, one in flight at a time")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--satellites", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the satellites speak")
    args = parser.parse_args()
    asyncio.run(main(args.scenes, args.paced, args.rounds, args.satellites, args.seconds))

"""The scene bus: isolation, clean shutdown, backpressure, tracing."""

from __future__ import annotations

import asyncio

import pytest

from agent.bus import BusError, SceneBus
from agent.scene import Scene


def scene(kind: str = "utterance", **kw) -> Scene:
    return Scene(channel="voice", kind=kind, **kw)


def run(coro):
    return asyncio.run(coro)


class Stuck:
    """A subscriber that takes its first scene and then waits until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.handled: list[str] = []

    async def __call__(self, s: Scene) -> None:
        await self.release.wait()
        self.handled.append(s.text)


def test_a_module_that_raises_does_not_stop_the_others_and_is_reported() -> None:
    async def main():
        got_a, got_b, errors = [], [], []

        async def good_a(s):
            got_a.append(s.text)

        async def faulty(s):
            raise RuntimeError(f"boom on {s.text}")

        async def good_b(s):
            got_b.append(s.text)

        async def watch_errors(s):
            errors.append(s)

        bus = SceneBus()
        bus.subscribe("a", good_a, lambda s: s.kind == "utterance")
        bus.subscribe("faulty", faulty, lambda s: s.kind == "utterance")
        bus.subscribe("b", good_b, lambda s: s.kind == "utterance")
        bus.subscribe("errors", watch_errors, lambda s: s.kind == "error")
        async with bus:
            sent = [scene(text=str(i)) for i in range(20)]
            for s in sent:
                await bus.publish(s, source="test")
        return got_a, got_b, errors, bus.stats(), sent

    got_a, got_b, errors, stats, sent = run(main())
    assert got_a == got_b == [str(i) for i in range(20)]
    assert stats["faulty"].failed == 20 and stats["faulty"].handled == 0
    assert len(errors) == 20
    assert errors[0].parents == [sent[0].id]
    assert "faulty failed on utterance scene: RuntimeError: boom on 0" == errors[0].text
    assert errors[0].context == "module.failed"


def test_shutdown_leaves_no_task_running() -> None:
    async def main():
        async def slow(s):
            await asyncio.sleep(10)  # still busy when stop() comes

        async def quick(s):
            pass

        before = asyncio.all_tasks()
        bus = SceneBus()
        bus.subscribe("slow", slow)
        bus.subscribe("quick", quick)
        await bus.start()
        for _ in range(5):
            await bus.publish(scene(), source="test")
        await asyncio.sleep(0.01)
        await bus.stop(drain_timeout_s=0.2)
        await asyncio.sleep(0)
        return asyncio.all_tasks() - before

    assert run(main()) == set()


def test_stop_drains_inboxes_before_cancelling() -> None:
    async def main():
        seen = []

        async def slowish(s):
            await asyncio.sleep(0.01)
            seen.append(s.id)

        bus = SceneBus()
        bus.subscribe("m", slowish)
        await bus.start()
        for _ in range(10):
            await bus.publish(scene(), source="test")
        await bus.stop(drain_timeout_s=5)
        return len(seen)

    assert run(main()) == 10


def test_block_policy_waits_for_room_then_drops_and_counts() -> None:
    async def main():
        stuck = Stuck()
        bus = SceneBus(block_timeout_s=0.2)
        bus.subscribe("stuck", stuck, inbox_size=2, policy="block")
        await bus.start()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        reached = [await bus.publish(scene(text=str(i)), source="t") for i in range(4)]
        waited = loop.time() - t0
        stuck.release.set()
        await bus.stop(drain_timeout_s=2)
        return reached, waited, bus.stats()["stuck"], stuck.handled

    reached, waited, stats, handled = run(main())
    # 0 is taken by the handler, 1 and 2 fill the inbox, 3 waits 0.2 s and is dropped.
    assert reached == [1, 1, 1, 0]
    assert 0.15 <= waited < 1.0
    assert stats.dropped == 1 and stats.delivered == 3
    assert handled == ["0", "1", "2"]


def test_drop_oldest_policy_never_waits_and_keeps_the_newest() -> None:
    async def main():
        stuck = Stuck()
        bus = SceneBus(block_timeout_s=5)
        bus.subscribe("meter", stuck, inbox_size=3, policy="drop_oldest")
        await bus.start()
        await bus.publish(scene(text="first"), source="t")
        await asyncio.sleep(0)  # the handler takes "first" and waits
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for i in range(10):
            await bus.publish(scene(text=str(i)), source="t")
        waited = loop.time() - t0
        stuck.release.set()
        await bus.stop(drain_timeout_s=2)
        return stuck.handled, waited, bus.stats()["meter"]

    handled, waited, stats = run(main())
    assert handled == ["first", "7", "8", "9"]
    assert waited < 0.1
    assert stats.dropped == 7


def test_every_delivery_is_traced_with_publish_and_receive_hops() -> None:
    async def main():
        got = []

        async def relay(s):
            await bus.publish(s.derive(kind="reply"), source="relay")

        async def sink(s):
            got.append(s)

        bus = SceneBus()
        bus.subscribe("relay", relay, lambda s: s.kind == "utterance")
        bus.subscribe("sink", sink, lambda s: s.kind == "reply")
        async with bus:
            await bus.publish(scene(), source="mic")
            await asyncio.sleep(0.05)
        return got

    (reply,) = run(main())
    assert [h.stage for h in reply.hops] == ["mic.out", "relay.in", "relay.out", "sink.in"]
    times = [h.t_unix_s for h in reply.hops]
    assert times == sorted(times)
    assert all(0 <= dt < 1.0 for _, dt in reply.hop_latencies_s())


def test_a_publisher_never_receives_its_own_scene_and_predicate_errors_are_isolated() -> None:
    async def main():
        got = {"self": 0, "other": 0}

        async def me(s):
            got["self"] += 1

        async def other(s):
            got["other"] += 1

        def broken(s):
            raise KeyError("predicate bug")

        async def never(s):
            raise AssertionError("must not be called")

        bus = SceneBus()
        bus.subscribe("me", me)
        bus.subscribe("other", other)
        bus.subscribe("broken", never, broken)
        async with bus:
            await bus.publish(scene(), source="me")
        return got

    assert run(main()) == {"self": 0, "other": 1}


def test_misuse_is_refused_with_a_message() -> None:
    async def main():
        async def h(s):
            pass

        bus = SceneBus()
        bus.subscribe("x", h)
        with pytest.raises(BusError, match="already"):
            bus.subscribe("x", h)
        with pytest.raises(BusError, match="policy"):
            bus.subscribe("y", h, policy="lossy")
        with pytest.raises(BusError, match="inbox_size"):
            bus.subscribe("z", h, inbox_size=0)

    run(main())

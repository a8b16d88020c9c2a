"""The scene bus: isolation, clean shutdown, backpressure, tracing."""

from __future__ import annotations

import asyncio

import pytest

from agent.bus import BusError, SceneBus
from agent.scene import Scene
from agent.sound import Phrase, Sound
from agent.voiceplan import Pause, VoicePlan


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
    assert errors[0].error.message == "faulty failed on utterance scene: RuntimeError: boom on 0"
    assert errors[0].error.reason == "module.failed" and errors[0].error.exit_code == 1
    assert errors[0].text is None and errors[0].context is None, "an error is not meaning"


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
            # Recorded, not asserted here: the bus isolates a handler's exceptions, so an
            # assertion raised in a handler would be caught and the test would pass.
            got["broken"] += 1

        got["broken"] = 0
        bus = SceneBus()
        bus.subscribe("me", me)
        bus.subscribe("other", other)
        bus.subscribe("broken", never, broken)
        async with bus:
            await bus.publish(scene(), source="me")
        return got, bus.stats()

    got, stats = run(main())
    assert got == {"self": 0, "other": 1, "broken": 0}
    assert stats["broken"].delivered == 0 and stats["other"].delivered == 1


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


def test_a_stuck_subscriber_does_not_delay_the_others() -> None:
    """One subscriber sleeps 0.5 s on every scene; another's delivery latency (publish to
    handler, on the loop's clock) stays in the milliseconds. Were the bus to deliver in
    turn, the second subscriber would wait ≥ 0.5 s per scene behind the first."""
    stuck_s = 0.5

    async def main():
        loop = asyncio.get_running_loop()
        sent_at: dict[str, float] = {}
        latency_s: list[float] = []

        async def sleeper(s):
            await asyncio.sleep(stuck_s)

        async def quick(s):
            latency_s.append(loop.time() - sent_at[s.text])

        bus = SceneBus()
        bus.subscribe("sleeper", sleeper)  # first: a sequential bus would serve it first
        bus.subscribe("quick", quick)
        await bus.start()
        for i in range(10):
            sent_at[str(i)] = loop.time()
            await bus.publish(scene(text=str(i)), source="t")
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.02)
        stats = bus.stats()
        handled = stats["sleeper"].handled, stats["quick"].handled
        await bus.stop(drain_timeout_s=0)
        return latency_s, handled

    latency_s, (sleeper_handled, quick_handled) = run(main())
    # Every delivery took under a tenth of the stuck subscriber's sleep (typically < 1 ms).
    assert max(latency_s) < 0.1 * stuck_s, latency_s
    assert quick_handled == len(latency_s) == 10
    assert sleeper_handled == 0, "the sleeper was still on its first scene"


def test_a_handler_that_fails_on_an_error_scene_publishes_no_further_error() -> None:
    """Two modules that fail on every scene, errors included: each failure on the
    utterance is reported once; their failures on each other's error scenes are counted
    but not reported, so they do not answer each other for ever."""

    async def main():
        errors = []

        async def faulty(s):
            raise RuntimeError(f"fails on {s.kind}")

        async def watch(s):
            errors.append(s)

        bus = SceneBus()
        bus.subscribe("a", faulty)
        bus.subscribe("b", faulty)
        bus.subscribe("watch", watch, lambda s: s.kind == "error")
        async with bus:
            await bus.publish(scene(), source="mic")
            for _ in range(20):  # let any chain of errors run its course
                await asyncio.sleep(0.005)
        return errors, bus.stats()

    errors, stats = run(main())
    assert sorted(e.error.message.split()[0] for e in errors) == ["a", "b"]
    assert stats["a"].failed == stats["b"].failed == 2  # the utterance and the other's error
    assert stats["a"].handled == stats["b"].handled == 0


def test_unsubscribe_stops_delivery_and_discards_the_inbox() -> None:
    async def main():
        stuck = Stuck()
        other = []

        async def keep(s):
            other.append(s.text)

        bus = SceneBus()
        bus.subscribe("stuck", stuck)
        bus.subscribe("other", keep)
        await bus.start()
        before = asyncio.all_tasks()
        for i in range(3):
            await bus.publish(scene(text=str(i)), source="t")
        await asyncio.sleep(0.01)
        await bus.unsubscribe("stuck")
        stuck.release.set()
        reached = await bus.publish(scene(text="after"), source="t")
        await bus.unsubscribe("nobody")  # unknown names are a no-op
        await asyncio.sleep(0.01)
        left = {t.get_name() for t in before - asyncio.all_tasks()}
        await bus.stop()
        return reached, stuck.handled, other, bus.subscribers, left

    reached, stuck_handled, other, subscribers, ended = run(main())
    assert reached == 1 and subscribers == ["other"]
    assert stuck_handled == []  # its scene in hand and the two queued were discarded
    assert other == ["0", "1", "2", "after"]
    assert ended == {"bus:stuck"}


def test_a_subscriber_added_after_start_receives_what_is_published_next() -> None:
    async def main():
        got = []

        async def late(s):
            got.append(s.text)

        bus = SceneBus()
        await bus.start()
        assert await bus.publish(scene(text="before"), source="t") == 0
        bus.subscribe("late", late)
        reached = await bus.publish(scene(text="after"), source="t")
        await bus.stop()
        return reached, got

    assert run(main()) == (1, ["after"])


def _rich_scene() -> Scene:
    return Scene(
        channel="voice",
        kind="reply",
        text="Is it warm?",
        lexemes=["warm"],
        vector=[0.5, 0.25],
        sound=Sound(
            f0_median_hz=120.0,
            timbre=[1.0, 2.0],
            pause_positions_s=[0.4],
            phrases=[Phrase(0.0, 1.0, "Is it warm?", f0_median_hz=118.0)],
        ),
        plan=VoicePlan(
            engine=None,
            f0_median_hz=110.0,
            sentence_contours=["rising"],
            pauses=[Pause(after_word=1, duration_s=0.2)],
            emphasis=["warm"],
        ),
    )


async def _vandal(s: Scene) -> None:
    """A subscriber that changes every part of the scene it was given."""
    s.plan.engine = "bark"
    s.plan.f0_median_hz = 300.0
    s.plan.pauses[0].duration_s = 3.0
    s.plan.sentence_contours.append("falling")
    s.plan.emphasis.clear()
    s.sound.f0_median_hz = 50.0
    s.sound.timbre[0] = -1.0
    s.sound.phrases[0].text = "changed"
    s.sound.pause_positions_s.append(9.0)
    s.lexemes.append("cold")
    s.vector[0] = 0.0
    s.parents.append("x")
    s.hops.clear()
    s.text = "changed"


def test_a_subscriber_that_changes_its_scene_changes_nothing_another_reader_or_the_publisher_holds() -> None:
    async def main():
        seen = []

        async def reader(s):
            await asyncio.sleep(0.01)  # reads after the vandal has done its work
            seen.append(s)

        bus = SceneBus()
        bus.subscribe("vandal", _vandal)
        bus.subscribe("reader", reader)
        published = _rich_scene()
        before = published.to_dict()
        async with bus:
            await bus.publish(published, source="mind")
            await asyncio.sleep(0.05)
        return before, published, seen, bus.stats()

    before, published, (seen,), stats = run(main())
    assert stats["vandal"].handled == 1 and stats["vandal"].failed == 0
    assert published.to_dict() == before, "the publisher's scene changed"
    read = seen.to_dict()
    assert [h["stage"] for h in read.pop("hops")] == ["mind.out", "reader.in"]
    assert read == {k: v for k, v in before.items() if k != "hops"}
    assert seen.plan.engine is None and seen.plan.pauses[0].duration_s == 0.2
    assert seen.sound.phrases[0].text == "Is it warm?" and seen.lexemes == ["warm"]


def test_a_publisher_that_changes_its_scene_after_publishing_changes_nothing_sent() -> None:
    async def main():
        seen = []

        async def reader(s):
            seen.append(s)

        bus = SceneBus()
        bus.subscribe("reader", reader)
        published = _rich_scene()
        before = published.to_dict()
        async with bus:
            await bus.publish(published, source="mind")
            await _vandal(published)  # before the reader has run
            await asyncio.sleep(0.02)
        return before, seen

    before, (seen,) = run(main())
    read = seen.to_dict()
    read.pop("hops")
    assert read == {k: v for k, v in before.items() if k != "hops"}


def test_a_stop_goes_on_when_a_task_swallows_its_cancellation(caplog) -> None:
    """A library that swallows a cancellation must not hang a stop (a session's, the
    daemon's): ``settle`` waits its time, names the task, and goes on."""
    import time

    from agent.bus import settle

    async def run() -> float:
        swallowed = []

        async def stubborn() -> None:
            while True:
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    if swallowed:  # the second cancellation (asyncio.run's clean-up) ends it
                        raise
                    swallowed.append(True)

        task = asyncio.create_task(stubborn(), name="stubborn-task")
        await asyncio.sleep(0)
        task.cancel()
        t0 = time.monotonic()
        await settle([task], "test", timeout_s=0.3)
        return time.monotonic() - t0

    took_s = asyncio.run(run())
    assert 0.25 <= took_s < 2.0, took_s
    assert "stubborn-task" in caplog.text

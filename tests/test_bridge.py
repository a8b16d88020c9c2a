"""The scene bus across machines (``modules/bridge``) through a real mosquitto broker that
the tests start on a free loopback port, with passwords and an ACL: every scene arrives
exactly once by id across a broker stopped (SIGTERM) and killed (SIGKILL) mid-stream; a
wrong password and a publish under another site's name are refused; garbage on a subscribed
topic is an error scene, and the bridge goes on."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import pytest

from agent.config import load_config
from agent.scene import Scene
from agent.session import Session

PASSWORDS = {"kitchen": "kitchen-secret", "hub": "hub-secret", "hall": "hall-secret"}


@pytest.fixture
def broker(tmp_path):
    from bench.mosquitto import Broker

    for site, password in PASSWORDS.items():
        os.environ[f"SV_TEST_MQTT_{site.upper()}"] = password
    with Broker(tmp_path / "broker", PASSWORDS) as running:
        yield running


def _config(
    broker, site: str, send: list[str], receive: list[str], password_env: str | None = None, more: tuple[str, ...] = ()
):
    """A bridge-only peer's config: ``site`` with its own account, sending and receiving
    these kinds; ``more``: further ``--set`` overrides."""
    from bench.mosquitto import bridge_overrides

    account = bridge_overrides(broker, site, send, receive, password_env or f"SV_TEST_MQTT_{site.upper()}")
    return load_config(None, [*account, "modules.bridge.resend_s=0.5", "modules.bridge.retry_max_s=0.5", *more])


class Collector:
    def __init__(self, session: Session, name: str = "test.collect") -> None:
        self.scenes: list[Scene] = []
        session.bus.subscribe(name, self.take, inbox_size=10_000)

    async def take(self, scene: Scene) -> None:
        self.scenes.append(scene)

    def of(self, kind: str) -> list[Scene]:
        return [s for s in self.scenes if s.kind == kind]


async def _until(check, timeout_s: float) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


def test_every_scene_arrives_exactly_once_across_a_broker_stopped_and_killed(broker, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="modules.bridge")

    async def run() -> tuple[list[str], list[Scene], int, dict]:
        kitchen = Session(_config(broker, "kitchen", ["turn"], ["reply"]), only={"bridge"})
        hub = Session(_config(broker, "hub", ["reply"], ["turn"]), only={"bridge"})
        got = Collector(hub)
        async with kitchen, hub:
            bridge = kitchen.modules["bridge"]
            assert await _until(lambda: bridge.connected.is_set() and hub.modules["bridge"].connected.is_set(), 10)
            sent: list[str] = []
            for n in range(300):
                scene = Scene(channel="voice", kind="turn", text=f"sentence {n}", source="kitchen-mic")
                sent.append(scene.id)
                await kitchen.bus.publish(scene, source="test")
                await asyncio.sleep(0.002)
                if n == 100:
                    await asyncio.to_thread(broker.stop, signal.SIGTERM)
                    await asyncio.to_thread(broker.start)
                if n == 200:
                    await asyncio.to_thread(broker.kill)
                    await asyncio.to_thread(broker.start)
            arrived = await _until(lambda: {s.id for s in got.of("turn")} >= set(sent), 30)
            assert arrived, (
                len(set(sent) - {s.id for s in got.of("turn")}),
                len(bridge.outbox),
                bridge.counts,
                bridge.connected.is_set(),
                hub.modules["bridge"].connected.is_set(),
            )
            await _until(lambda: len(bridge.outbox) == 0, 10)
            return sent, got.of("turn"), len(bridge.outbox), dict(hub.modules["bridge"].counts)

    sent, turns, pending, counts = asyncio.run(run())
    ids = [s.id for s in turns]
    assert sorted(ids) == sorted(sent), f"{len(set(sent) - set(ids))} lost, {len(ids) - len(set(ids))} doubled"
    assert pending == 0, "every scene was confirmed by its receiver"
    hops = [h.stage for h in turns[0].hops]
    assert "bridge.kitchen.out" in hops and "bridge.hub.in" in hops
    assert counts["received"] == 300


def test_a_wrong_password_and_another_sites_topic_are_refused_and_garbage_is_an_error_scene(broker) -> None:
    import aiomqtt

    from modules.bridge import topics

    async def run() -> tuple[list[Scene], list[Scene], bool]:
        os.environ["SV_TEST_MQTT_WRONG"] = "not-the-password"
        intruder = Session(_config(broker, "kitchen", ["turn"], [], password_env="SV_TEST_MQTT_WRONG"), only={"bridge"})
        hub = Session(_config(broker, "hub", [], ["turn"]), only={"bridge"})
        got = Collector(hub)
        async with intruder, hub:
            assert await _until(lambda: hub.modules["bridge"].connected.is_set(), 10)
            await asyncio.sleep(1.0)
            refused = not intruder.modules["bridge"].connected.is_set()
            await intruder.bus.publish(Scene(channel="voice", kind="turn", text="let me in"), source="test")
            # The kitchen's own account, writing as the hall: the ACL drops it (acknowledged).
            async with aiomqtt.Client("127.0.0.1", broker.port, username="kitchen", password=PASSWORDS["kitchen"]) as c:
                forged = Scene(channel="voice", kind="turn", text="I am the hall")
                await c.publish(topics.scene_topic("hall", "turn"), forged.to_json(), qos=1)
            async with aiomqtt.Client("127.0.0.1", broker.port, username="hall", password=PASSWORDS["hall"]) as c:
                await c.publish(topics.scene_topic("hall", "turn"), b"\x00\xffnot json", qos=1)
                await c.publish(topics.scene_topic("hall", "turn"), b"x" * 300_000, qos=1)
                # Numbers no float holds, nesting no parser follows: each drops its message only.
                huge = (
                    Scene(channel="voice", kind="turn", text="huge")
                    .to_json()
                    .replace('"hops":[]', '"hops":[{"stage":"x","t_unix_s":1' + "0" * 400 + "}]")
                )
                await c.publish(topics.scene_topic("hall", "turn"), huge, qos=1)
                await c.publish(topics.scene_topic("hall", "turn"), b"[" * 100_000, qos=1)
                await c.publish(topics.ping_topic("hall"), b'{"t": 1' + b"0" * 400 + b"}", qos=0)
                await c.publish(topics.ack_topic("hall", "hub"), b'{"pong": 1' + b"0" * 400 + b"}", qos=0)
                await c.publish(topics.status_topic("hall"), b"x" * 100_000, qos=0)
                good = Scene(channel="voice", kind="turn", text="the hall is fine")
                await c.publish(topics.scene_topic("hall", "turn"), good.to_json(), qos=1)
            assert await _until(lambda: len(got.of("turn")) >= 1, 10)
            await asyncio.sleep(0.5)
            assert hub.modules["bridge"].connected.is_set(), "the bridge goes on"
            return got.of("turn"), got.of("error"), refused

    turns, errors, refused = asyncio.run(run())
    assert refused, "a wrong password never connects"
    assert [t.text for t in turns] == ["the hall is fine"]
    reasons = [e.error.reason for e in errors if e.error]
    assert reasons == ["input.malformed"] * 4, [e.error for e in errors]
    assert any("max_payload_bytes" in (e.error.message if e.error else "") for e in errors)


def test_what_the_broker_drops_for_an_offline_peer_and_what_its_acl_refuses_are_not_lost_silently(tmp_path) -> None:
    """The broker holds 20 messages for an offline hub and drops the rest without a word;
    the kitchen's outbox sends them again once the hub is back, and all 120 arrive once.
    An account writing under another site's name is refused without a word too (the broker
    acknowledges the publish): the bridge names such scenes in its log."""
    from bench.mosquitto import Broker

    async def run(broker) -> tuple[list[str], list[str], dict]:
        kitchen = Session(_config(broker, "kitchen", ["turn"], ["reply"]), only={"bridge"})
        hub_config = _config(broker, "hub", ["reply"], ["turn"])
        sent: list[str] = []
        async with kitchen:
            async with Session(hub_config, only={"bridge"}) as hub:  # subscribes once: its session persists
                assert await _until(lambda: hub.modules["bridge"].connected.is_set(), 10)
            for n in range(120):  # the hub is away
                scene = Scene(channel="voice", kind="turn", text=f"sentence {n}")
                sent.append(scene.id)
                await kitchen.bus.publish(scene, source="test")
            bridge = kitchen.modules["bridge"]
            assert await _until(lambda: bridge.counts["sent"] >= 120, 10)
            hub = Session(hub_config, only={"bridge"})
            got = Collector(hub)
            async with hub:
                assert await _until(lambda: len(got.of("turn")) >= 120, 20), (len(got.of("turn")), bridge.counts)
                await asyncio.sleep(0.5)
                return sent, [s.id for s in got.of("turn")], dict(bridge.counts)

    def refused(broker) -> None:
        async def run_refused() -> None:
            # The kitchen's account, calling itself the hall: every topic it writes is refused.
            forger = Session(
                _config(
                    broker,
                    "hall",
                    ["turn"],
                    [],
                    password_env="SV_TEST_MQTT_KITCHEN",
                    more=("modules.bridge.username=kitchen",),
                ),
                only={"bridge"},
            )
            hub = Session(_config(broker, "hub", [], ["turn"]), only={"bridge"})
            got = Collector(hub)
            async with hub, forger:
                assert await _until(lambda: forger.modules["bridge"].connected.is_set(), 10)
                await forger.bus.publish(Scene(channel="voice", kind="turn", text="I am the hall"), source="test")
                assert await _until(lambda: forger.modules["bridge"].counts["sent"] >= 3, 10)
                await asyncio.sleep(0.3)
                assert got.of("turn") == [] and len(forger.modules["bridge"].outbox) == 1

        asyncio.run(run_refused())

    for site, password in PASSWORDS.items():
        os.environ[f"SV_TEST_MQTT_{site.upper()}"] = password
    with Broker(tmp_path / "broker", PASSWORDS, max_queued_messages=20) as broker:
        sent, got, counts = asyncio.run(run(broker))
        assert sorted(got) == sorted(sent), f"{len(set(sent) - set(got))} lost, {len(got) - len(set(got))} doubled"
        assert counts["sent"] > 120, "what the broker dropped was sent again"
        logged = []
        handler = logging.Handler()
        handler.emit = lambda record: logged.append(record.getMessage())  # type: ignore[method-assign]
        logging.getLogger("modules.bridge").addHandler(handler)
        try:
            refused(broker)
        finally:
            logging.getLogger("modules.bridge").removeHandler(handler)
    assert any("sent 3 times and not confirmed" in m and "account 'kitchen'" in m for m in logged), logged

"""The bridge (``modules/bridge``) over TLS to a real mosquitto broker that the tests start
with a self-signed CA they make (``bench.mosquitto.Broker(..., tls=True)``): two bridges
trusting that CA connect and a scene crosses each way; a bridge trusting another CA never
connects, says why in its log, and nothing it sends crosses; a bridge speaking plain MQTT
to the TLS port never connects either."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re

import pytest
from test_bridge import Collector, _until
from test_bridge import _config as bridge_config

from agent.scene import Scene
from agent.session import Session

PASSWORDS = {"kitchen": "kitchen-secret", "hub": "hub-secret"}
#: how long a bridge that must not connect is watched, trying again all the while (s).
REFUSED_S = 1.5


@pytest.fixture
def broker(tmp_path):
    from bench.mosquitto import Broker

    for site, password in PASSWORDS.items():
        os.environ[f"SV_TEST_MQTT_{site.upper()}"] = password
    with Broker(tmp_path / "broker", PASSWORDS, tls=True) as running:
        yield running


def _config(broker, site: str, send: list[str], receive: list[str], ca_file: object | None):
    return bridge_config(
        broker, site, send, receive, more=(f"modules.bridge.ca_file={json.dumps(str(ca_file or ''))}",)
    )


async def _refused(kitchen_ca: object | None, broker) -> tuple[bool, list[Scene], int]:
    """A kitchen bridge with ``kitchen_ca`` beside a hub that trusts the broker's CA: whether
    the kitchen stayed unconnected, what of the kitchen's reached the hub, and how many
    scenes the kitchen still holds unconfirmed."""
    kitchen = Session(_config(broker, "kitchen", ["turn"], [], kitchen_ca), only={"bridge"})
    hub = Session(_config(broker, "hub", [], ["turn"], broker.ca_file), only={"bridge"})
    got = Collector(hub)
    async with kitchen, hub:
        bridge = kitchen.modules["bridge"]
        assert await _until(hub.modules["bridge"].connected.is_set, 5), "the hub, trusting the right CA, connects"
        await kitchen.bus.publish(Scene(channel="voice", kind="turn", text="over TLS?"), source="test")
        connected = await _until(bridge.connected.is_set, REFUSED_S)
        return not connected, got.of("turn"), len(bridge.outbox)


def test_two_bridges_trusting_the_brokers_ca_connect_over_tls_and_scenes_cross(broker) -> None:
    assert broker.ca_file is not None and broker.ca_file.is_file()

    async def run() -> tuple[str, str, list[Scene], list[Scene]]:
        kitchen = Session(_config(broker, "kitchen", ["turn"], ["reply"], broker.ca_file), only={"bridge"})
        hub = Session(_config(broker, "hub", ["reply"], ["turn"], broker.ca_file), only={"bridge"})
        at_hub, at_kitchen = Collector(hub), Collector(kitchen)
        async with kitchen, hub:
            both = (kitchen.modules["bridge"], hub.modules["bridge"])
            assert await _until(lambda: all(b.connected.is_set() for b in both), 5), [b.counts for b in both]
            turn = Scene(channel="voice", kind="turn", text="lights on", source="kitchen-mic")
            await kitchen.bus.publish(turn, source="test")
            reply = Scene(channel="voice", kind="reply", text="done", source="hub")
            await hub.bus.publish(reply, source="test")
            await _until(lambda: at_hub.of("turn") and at_kitchen.of("reply"), 5)
            return turn.id, reply.id, at_hub.of("turn"), at_kitchen.of("reply")

    turn_id, reply_id, turns, replies = asyncio.run(run())
    assert [t.id for t in turns] == [turn_id], "the kitchen's turn crossed to the hub once"
    assert [r.id for r in replies] == [reply_id], "the hub's reply crossed to the kitchen once"
    hops = [h.stage for h in turns[0].hops]
    assert "bridge.kitchen.out" in hops and "bridge.hub.in" in hops


def test_a_bridge_trusting_another_ca_never_connects_and_logs_why(broker, tmp_path, caplog) -> None:
    from bench.mosquitto import make_ca

    caplog.set_level(logging.DEBUG, logger="modules.bridge")
    other_ca, _ = make_ca(tmp_path / "other", "other-ca")
    refused, crossed, pending = asyncio.run(_refused(other_ca, broker))
    assert refused, "a server certificate the bridge's CA did not sign is refused"
    assert crossed == [], "nothing the refused bridge sends crosses"
    assert pending == 1, "the refused bridge keeps its scene until it is confirmed"
    said = [r.getMessage() for r in caplog.records if r.name.startswith("modules.bridge")]
    assert any(re.search(r"certificate|ssl", line, re.IGNORECASE) for line in said), said


def test_a_bridge_speaking_plain_mqtt_to_the_tls_port_never_connects(broker) -> None:
    refused, crossed, pending = asyncio.run(_refused(None, broker))
    assert refused, "plain MQTT to a TLS-only listener never connects"
    assert crossed == [], "nothing the plain bridge sends crosses"
    assert pending == 1


def test_a_ca_file_that_is_not_a_certificate_is_said_at_start_by_its_option(tmp_path) -> None:
    from agent.module import ModuleConfigError
    from modules.bridge.options import BridgeOptions

    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate")
    for path in (garbage, tmp_path / "missing.pem"):
        with pytest.raises(ModuleConfigError, match="modules.bridge.ca_file"):
            BridgeOptions.parse({"ca_file": str(path)})

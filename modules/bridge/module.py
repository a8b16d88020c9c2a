"""BridgeModule: the scene bus across machines through an MQTT broker.

Scenes of the kinds in ``send`` leave this peer's bus for the broker, as their versioned
JSON under ``scenevoice/<site>/scene/<kind>`` (``topics.py``), QoS 1, from a persistent
session; scenes of the kinds in ``receive`` from the other sites come onto this bus. Nothing
is lost or doubled across a broker that stops or dies: each sent scene stays in the
:class:`~modules.bridge.outbox.Outbox` until its receiver confirms its id (an ``ack``
message), is sent again after every reconnect and every ``resend_s`` meanwhile, and a
receiver takes each id once (:class:`~modules.bridge.seen.SeenIds`) — confirming it again
each time it comes. Each scene that crosses gets the hops ``bridge.<site>.out`` and
``bridge.<site>.in``, so the broker's latency is in the scene.

Presence: a retained ``online`` on ``scenevoice/<site>/status``, and ``offline`` as the
connection's last will (the broker publishes it when the peer vanishes, within 1.5 ×
``keepalive_s``). A scene from the broker that is too large, not JSON or not a valid scene
becomes an ``error`` scene (``input.malformed``) on this bus and is dropped; the bridge
goes on. The broker away: attempts every 0.1 s, doubling to ``retry_max_s``, one log line
when it goes and one when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import aiomqtt

from agent.bus import SceneBus, error_scene
from agent.module import Module
from agent.scene import Hop, Scene, SceneError
from modules.bridge import topics
from modules.bridge.options import BridgeOptions
from modules.bridge.outbox import Outbox
from modules.bridge.seen import SeenIds

log = logging.getLogger(__name__)

#: incoming messages queued inside the client before the bridge takes them; beyond it the
#: client drops the newest (bounded memory under a flood; QoS 1 and the outbox resend).
MAX_QUEUED_INCOMING = 1000
#: how long to wait for the broker's answer to one publish before counting the link down (s).
PUBLISH_TIMEOUT_S = 5.0


class BridgeModule(Module):
    """BridgeModule: chosen scene kinds to and from an MQTT broker (other rooms, one mind)."""

    name = "bridge"
    inbox_size = 256

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.o = BridgeOptions.parse(self.options)
        self.outbox = Outbox(self.o.outbox_max)
        self.seen = SeenIds()
        self.client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.counts = {"sent": 0, "received": 0, "duplicates": 0, "malformed": 0, "confirmed": 0}

    # --- the bus side ------------------------------------------------------------------------

    def wants(self, scene: Scene) -> bool:
        return scene.kind in self.o.send and scene.id not in self.seen  # never send back what came in

    async def start(self, bus: SceneBus) -> None:
        await super().start(bus)
        self.o.password()  # a missing secret is said at start, not at the first attempt
        self._task = asyncio.create_task(self._run(), name="bridge:link")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def handle(self, scene: Scene) -> None:
        out = dataclasses.replace(scene, hops=[*scene.hops, Hop(f"bridge.{self.o.site}.out", time.time())])
        topic = topics.scene_topic(self.o.site, scene.kind)
        payload = out.to_json().encode("utf-8")
        self.outbox.put(scene.id, topic, payload)
        self._wake.set()  # the sender publishes it: the bus never waits on the network

    # --- the broker side ---------------------------------------------------------------------

    async def _publish(self, client: aiomqtt.Client, topic: str, payload: bytes) -> None:
        """One QoS 1 publish.

        Raises:
            aiomqtt.MqttError: the link failed (the scene stays in the outbox). The client
                may not have noticed yet that its connection is gone (a killed broker): the
                caller then reconnects.
        """
        try:
            await asyncio.wait_for(client.publish(topic, payload, qos=1), PUBLISH_TIMEOUT_S)
        except (aiomqtt.MqttError, TimeoutError, OSError, RuntimeError, ValueError) as exc:
            raise aiomqtt.MqttError(f"publish to {topic} failed: {type(exc).__name__}: {exc}") from exc
        self.counts["sent"] += 1

    def _client(self) -> aiomqtt.Client:
        o = self.o
        return aiomqtt.Client(
            o.host,
            o.port,
            username=o.username or None,
            password=o.password(),
            identifier=f"scenevoice-{o.site}",
            clean_session=False,
            keepalive=o.keepalive_s,
            will=aiomqtt.Will(topics.status_topic(o.site), b"offline", qos=1, retain=True),
            tls_params=aiomqtt.TLSParameters(ca_certs=o.ca_file) if o.ca_file else None,
            max_queued_incoming_messages=MAX_QUEUED_INCOMING,
            timeout=PUBLISH_TIMEOUT_S,
        )

    async def _run(self) -> None:
        """Connect, subscribe, take messages; after any failure, back off and again."""
        wait_s, down_since = 0.1, None
        while True:
            try:
                async with self._client() as client:
                    self.client = client
                    for kind in self.o.receive:
                        await client.subscribe(topics.scenes_of_kind(kind), qos=1)
                    await client.subscribe(topics.acks_to(self.o.site), qos=1)
                    await client.publish(topics.status_topic(self.o.site), b"online", qos=1, retain=True)
                    self.connected.set()
                    if down_since is not None:
                        log.warning("bridge: the broker is back after %.1f s", time.monotonic() - down_since)
                    else:
                        log.info("bridge: connected to %s:%d as site %s", self.o.host, self.o.port, self.o.site)
                    wait_s, down_since = 0.1, None
                    sender = asyncio.create_task(self._send(client), name="bridge:send")
                    receiver = asyncio.create_task(self._receive(client), name="bridge:receive")
                    try:  # the first of the two to end ends the connection (its error re-raised)
                        done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
                        for task in done:
                            task.result()
                        raise aiomqtt.MqttError("the connection's sender or receiver ended")
                    finally:
                        for task in (sender, receiver):
                            task.cancel()
                        await asyncio.gather(sender, receiver, return_exceptions=True)
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                self.client = None
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning("bridge: no broker at %s:%d (%s); trying again", self.o.host, self.o.port, exc)
                await asyncio.sleep(wait_s)
                wait_s = min(self.o.retry_max_s, wait_s * 2)

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            await self._take(client, message)

    async def _send(self, client: aiomqtt.Client) -> None:
        """The one sender of a connection: everything unconfirmed at once (after a
        reconnect), then each new scene as it comes and what stays unconfirmed every
        ``resend_s``."""
        older_than_s = 0.0
        while True:
            self._wake.clear()
            for _, topic, payload in self.outbox.due(older_than_s):
                await self._publish(client, topic, payload)  # raises when the link is down
            older_than_s = self.o.resend_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.o.resend_s / 2)

    async def _take(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        sender = topics.site_of(topic)
        if sender is None or sender == self.o.site:
            return
        payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        if topic.endswith(f"/ack/{self.o.site}"):
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                self.counts["confirmed"] += self.outbox.confirm([str(i) for i in json.loads(payload)["ids"]])
            return
        scene = await self._scene_of(topic, payload)
        if scene is None:
            return
        new = self.seen.add(scene.id)
        with contextlib.suppress(aiomqtt.MqttError):  # a lost confirmation: the scene comes again
            await client.publish(topics.ack_topic(self.o.site, sender), json.dumps({"ids": [scene.id]}), qos=1)
        if not new:
            self.counts["duplicates"] += 1
            return
        self.counts["received"] += 1
        scene.hops.append(Hop(f"bridge.{self.o.site}.in", time.time()))
        await self.publish(scene)

    async def _scene_of(self, topic: str, payload: bytes) -> Scene | None:
        """The scene a message carries, or None after publishing an error scene for it."""
        problem = None
        if len(payload) > self.o.max_payload_bytes:
            problem = f"{len(payload)} bytes, over modules.bridge.max_payload_bytes ({self.o.max_payload_bytes})"
        else:
            try:
                scene = Scene.from_json(payload.decode("utf-8"))
                if scene.kind in self.o.receive:
                    return scene
                problem = f"a {scene.kind} scene on a topic for {topic.rsplit('/', 1)[-1]}"
            except (UnicodeDecodeError, SceneError, ValueError) as exc:
                problem = f"not a scene: {exc}"
        self.counts["malformed"] += 1
        log.warning("bridge: dropped a message on %s: %s", topic, problem)
        cause = Scene(channel="bridge", kind="received", source=topic)
        await self.publish(error_scene(cause, f"from the broker, on {topic}: {problem}", "input.malformed"))
        return None

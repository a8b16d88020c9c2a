"""BridgeModule: the scene bus across machines through an MQTT broker.

Scenes of the kinds in ``send`` leave this peer's bus for the broker, as their versioned
JSON under ``scenevoice/<site>/scene/<kind>`` (``topics.py``), QoS 1, from a persistent
session; scenes of the kinds in ``receive`` from the other sites come onto this bus. A
scene made from one that came from a room — a reply to the kitchen's turn — goes to that
room only (``scenevoice/<site>/to/<room>/<kind>``): the room is the last site its hops
say it left (``bridge.<room>.out``), so the reply is spoken where it was heard.

Roles (``assets/roles/``): a *satellite* (``hub`` set) sends its turns to the hub and
speaks the replies that come back; with the hub offline, the broker away, or no answer
within ``reply_wait_s``, it answers the turn itself with ``away_text`` (a ``reply`` its
voice speaks) and withdraws it. A *hub* takes the turns of every room and, when two rooms
heard one utterance, lets the best heard through (``rooms.py``; the ``room.choice`` scene
carries the evidence and goes to each room that heard it). Nothing
is lost or doubled across a broker that stops or dies: each sent scene stays in the
:class:`~modules.bridge.outbox.Outbox` until its receiver confirms its id (an ``ack``
message), is sent again after every reconnect and every ``resend_s`` meanwhile, and a
receiver takes each id once (:class:`~modules.bridge.seen.SeenIds`) — confirming it again
each time it comes. Each scene that crosses gets the hops ``bridge.<site>.out`` and
``bridge.<site>.in``, so the broker's latency is in the scene.

Presence: a retained ``online`` on ``scenevoice/<site>/status``, and ``offline`` as the
connection's last will (the broker publishes it when the peer vanishes: at once for a
process that dies, its socket closed; for a machine that goes silent, 1.5 × ``keepalive_s``
after its last packet, at the broker's next look: 13.6–17.8 s measured at 10 s); every
half ``keepalive_s`` a ping, answered by each peer, measures the round trip to it.
:meth:`BridgeModule.status` lists the sites for ``/health``.

A scene from the broker that is too large, not JSON or not a valid scene becomes an
``error`` scene (``input.malformed``) on this bus and is dropped; the bridge goes on.
Memory is bounded everywhere: the outbox (``outbox_max``, oldest dropped with a log line),
the ids seen (the last 100,000), the client's queue of incoming messages (10,000; beyond it
the client drops the newest, and their senders send them again until confirmed) and this
module's inbox (256; the bus holds the publisher up).

The broker away: attempts every 0.1 s, doubling to ``retry_max_s``, one log line when it
goes and one when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import socket
import time
from collections.abc import Mapping
from typing import Any

import aiomqtt

from agent.bus import SceneBus, error_scene, settle
from agent.module import Module
from agent.scene import Hop, Scene, SceneError
from modules.bridge import topics
from modules.bridge.options import BridgeOptions
from modules.bridge.outbox import Outbox, Outgoing
from modules.bridge.peers import Peers
from modules.bridge.rooms import Decision, OneRoom
from modules.bridge.seen import SeenIds

log = logging.getLogger(__name__)

#: incoming messages queued inside the client before the bridge takes them; beyond it the
#: client drops the newest, already acknowledged to the broker, and their senders' outboxes
#: send them again after ``resend_s`` (bounded memory under a flood: ~20 MB of scenes).
MAX_QUEUED_INCOMING = 10_000
#: how long to wait for the broker's answer to one publish before counting the link down (s).
PUBLISH_TIMEOUT_S = 5.0
#: a room whose last ``speech.start`` or ``partial`` is older than this (s), or closed by its
#: turn, hears nothing now (a sound that never became a turn stops counting after it).
HEARING_S = 10.0
#: what a message from the network may raise while it is read (huge numbers overflow a
#: float; deep nesting recurses): each is that message's fault, and only drops it.
MALFORMED = (SceneError, ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError)
#: the largest presence, ping or confirmation message taken (bytes).
SMALL_MESSAGE_BYTES = 65_536
#: a scene sent this many times without a confirmation is named in the log.
UNCONFIRMED_SENDS = 3
#: how often held turns and unanswered turns are looked at (s).
TICK_S = 0.05


def room_of(scene: Scene, own_site: str) -> str:
    """The site whose scene this one was made from: the last ``bridge.<site>.out`` hop of
    another site ("" when it came from no other site)."""
    for hop in reversed(scene.hops):
        parts = hop.stage.split(".")
        if len(parts) == 3 and parts[0] == "bridge" and parts[2] == "out" and parts[1] != own_site:
            return parts[1]
    return ""


class BridgeModule(Module):
    """BridgeModule: chosen scene kinds to and from an MQTT broker (other rooms, one mind)."""

    name = "bridge"
    inbox_size = 256

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.o = BridgeOptions.parse(self.options)
        self.outbox = Outbox(self.o.outbox_max)
        self.seen = SeenIds()
        self.peers = Peers(self.o.site)
        self.rooms = OneRoom(self.o.one_room_s, remember_s=HEARING_S)
        self.client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self._wake = asyncio.Event()
        #: ids taken and not yet confirmed to their senders, by sending site (batched).
        self._unacked: dict[str, list[str]] = {}
        self._ack_wake = asyncio.Event()
        #: a satellite's turns sent to the hub and not yet answered: id → (monotonic s sent, turn).
        self.waiting: dict[str, tuple[float, Scene]] = {}
        #: turns a satellite answered itself (the hub away): a late answer is not spoken.
        self.given_up = SeenIds(10_000)
        #: sites that are rooms (they announced a voice or sent a turn): a hub waits for them.
        self.rooms_seen: set[str] = set()
        self._tasks: list[asyncio.Task] = []
        self.counts = {
            "sent": 0,
            "received": 0,
            "duplicates": 0,
            "malformed": 0,
            "confirmed": 0,
            "answered_here": 0,
            "room_choices": 0,
        }

    # --- the bus side ------------------------------------------------------------------------

    def wants(self, scene: Scene) -> bool:
        return scene.kind in self.o.send and scene.id not in self.seen  # never send back what came in

    async def start(self, bus: SceneBus) -> None:
        await super().start(bus)
        self.o.password()  # a missing secret is said at start, not at the first attempt
        self._tasks = [
            asyncio.create_task(self._run(), name="bridge:link"),
            asyncio.create_task(self._tick(), name="bridge:tick"),
        ]

    async def stop(self) -> None:
        client = self.client
        if client is not None and self.connected.is_set():  # a clean stop says so (a will is for vanishing)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await client.publish(topics.status_topic(self.o.site), b"offline", qos=1, retain=True)
        for task in self._tasks:
            task.cancel()
        await settle(self._tasks, "bridge")

    def status(self) -> dict[str, Any]:
        """For ``/health``: this site, whether the broker is reached, the scenes waiting for
        a confirmation, the counts, and every other site (status, last scene, round trip)."""
        return {
            "ok": self.connected.is_set(),  # a peer without its broker is degraded
            "site": self.o.site,
            "broker": f"{self.o.host}:{self.o.port}",
            "connected": self.connected.is_set(),
            "unconfirmed": len(self.outbox),
            "counts": dict(self.counts),
            "sites": self.peers.snapshot(),
        }

    async def handle(self, scene: Scene) -> None:
        if scene.kind == "turn" and self.o.hub and (scene.text or "").strip():  # a satellite's turn
            if not (self.connected.is_set() and self.peers.online(self.o.hub)):
                why = "the hub is not online" if self.connected.is_set() else "the broker is out of reach"
                await self._answer_here(scene, why)
                return
            self.waiting[scene.id] = (time.monotonic(), scene)
        self._enqueue(scene, room_of(scene, self.o.site))

    def _enqueue(self, scene: Scene, room: str) -> None:
        """Into the outbox, for ``room`` ("" = every site that takes the kind); the sender
        publishes it: the bus never waits on the network."""
        out = dataclasses.replace(scene, hops=[*scene.hops, Hop(f"bridge.{self.o.site}.out", time.time())])
        kind = scene.kind
        topic = topics.room_topic(self.o.site, room, kind) if room else topics.scene_topic(self.o.site, kind)
        self.outbox.put(Outgoing(scene.id, room, topic, out.to_json().encode("utf-8"), kind in self.o.retain))
        self._wake.set()

    async def _give_up(self, turn_id: str, why: str) -> None:
        """The hub has not answered the turn ``turn_id`` it was sent, and will not: answered
        here, once (nothing when it was answered or given up meanwhile)."""
        waited = self.waiting.pop(turn_id, None)
        if waited is not None:
            await self._answer_here(waited[1], why)

    async def _answer_here(self, turn: Scene, why: str) -> None:
        """The hub cannot answer ``turn``: say so in this room's voice, and take the turn back."""
        log.warning("bridge: %s; the turn %r is answered here: %r", why, turn.text, self.o.away_text)
        self.waiting.pop(turn.id, None)
        self.given_up.add(turn.id)
        self.outbox.withdraw(turn.id)
        self.counts["answered_here"] += 1
        reply = turn.derive(
            channel="voice",
            kind="reply",
            text=self.o.away_text,
            language=turn.language,
            act="notice",
            source=f"bridge.{self.o.site}",
        )
        await self.publish(reply)

    async def _tick(self) -> None:
        """Held turns whose time is up are decided (a hub); turns the hub has not answered
        within ``reply_wait_s`` are answered here (a satellite)."""
        while True:
            await asyncio.sleep(TICK_S)
            try:
                for decision in self.rooms.due():
                    await self._let_through(decision)
                late = [i for i, (at, _) in self.waiting.items() if time.monotonic() - at > self.o.reply_wait_s]
                for turn_id in late:
                    await self._give_up(turn_id, f"no answer from the hub in {self.o.reply_wait_s:g} s")
            except Exception:  # a bug here must not stop the next tick
                log.exception("bridge: the tick failed; it goes on")

    async def _let_through(self, decision: Decision) -> None:
        """The turn chosen to be answered goes onto this bus; a choice between rooms is said
        first, on this bus and to each room that heard the utterance."""
        choice = decision.choice
        if choice is not None:
            self.counts["room_choices"] += 1
            log.info("bridge: one room answers: %s", choice.rule)
            said = Scene(
                channel="bridge",
                kind="room.choice",
                parents=[h.scene_id for h in choice.heard],
                text=decision.turn.text if decision.turn is not None else None,
                room=choice,
                source=f"bridge.{self.o.site}",
            )
            await self.publish(said)
            for heard in choice.heard:
                self._enqueue(said, heard.site)
        if decision.turn is not None:
            await self.publish(decision.turn)

    # --- the broker side ---------------------------------------------------------------------

    async def _publish(self, client: aiomqtt.Client, out: Outgoing) -> None:
        """One QoS 1 publish.

        Raises:
            aiomqtt.MqttError: the link failed (the scene stays in the outbox). The client
                may not have noticed yet that its connection is gone (a killed broker): the
                caller then reconnects.
        """
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                await client.publish(out.topic, out.payload, qos=1, retain=out.retain)
        except (aiomqtt.MqttError, TimeoutError, OSError, RuntimeError, ValueError) as exc:
            raise aiomqtt.MqttError(f"publish to {out.topic} failed: {type(exc).__name__}: {exc}") from exc
        self.counts["sent"] += 1

    def _client(self) -> aiomqtt.Client:
        o = self.o
        client = aiomqtt.Client(
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
            max_inflight_messages=o.in_flight,
            # Small packets at once: with Nagle's algorithm a scene written just after a
            # confirmation waits for the peer's delayed ACK, ~35 ms a hop (bench/bus_mqtt.py).
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        client.pending_calls_threshold = o.in_flight  # a pipelined window is not a backlog to warn of
        return client

    async def _run(self) -> None:
        """Connect, subscribe, take messages; after any failure, back off and again."""
        wait_s, down_since = 0.1, None
        while True:
            try:
                async with self._client() as client:
                    self.client = client
                    for kind in self.o.receive:
                        await client.subscribe(topics.scenes_of_kind(kind), qos=1)
                        await client.subscribe(topics.scenes_for_room(self.o.site, kind), qos=1)
                    await client.subscribe(topics.acks_to(self.o.site), qos=1)
                    await client.subscribe(topics.statuses(), qos=1)
                    await client.subscribe(topics.pings(), qos=0)
                    await client.publish(topics.status_topic(self.o.site), b"online", qos=1, retain=True)
                    self.connected.set()
                    if down_since is not None:
                        log.warning("bridge: the broker is back after %.1f s", time.monotonic() - down_since)
                    else:
                        log.info("bridge: connected to %s:%d as site %s", self.o.host, self.o.port, self.o.site)
                    wait_s, down_since = 0.1, None
                    tasks = {
                        asyncio.create_task(self._send(client), name="bridge:send"),
                        asyncio.create_task(self._receive(client), name="bridge:receive"),
                        asyncio.create_task(self._confirm(client), name="bridge:confirm"),
                        asyncio.create_task(self._ping(client), name="bridge:ping"),
                    }
                    try:  # the first of them to end ends the connection (its error re-raised)
                        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                        for task in done:
                            task.result()
                        raise aiomqtt.MqttError("the connection's sender, receiver, confirmer or pinger ended")
                    finally:
                        for task in tasks:
                            task.cancel()
                        await asyncio.gather(*tasks, return_exceptions=True)
            except Exception as exc:  # the link is down (MqttError), or a bug: either way, again
                self.connected.clear()
                self.client = None
                if not isinstance(exc, aiomqtt.MqttError):
                    log.exception("bridge: the link failed unexpectedly; connecting again")
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning("bridge: no broker at %s:%d (%s); trying again", self.o.host, self.o.port, exc)
                await asyncio.sleep(wait_s)
                wait_s = min(self.o.retry_max_s, wait_s * 2)

    async def _receive(self, client: aiomqtt.Client) -> None:
        """Every message in turn; one that cannot be taken (a bug, input no check foresaw)
        is dropped with a log line and an error scene, and the next is taken."""
        async for message in client.messages:
            try:
                await self._take(client, message)
            except aiomqtt.MqttError:
                raise
            except Exception as exc:
                self.counts["malformed"] += 1
                log.exception("bridge: a message on %s could not be taken; dropped", message.topic.value)
                cause = Scene(channel="bridge", kind="received", source=message.topic.value)
                await self.publish(
                    error_scene(cause, f"from the broker: {type(exc).__name__}: {exc}", "input.malformed")
                )

    async def _send(self, client: aiomqtt.Client) -> None:
        """The one sender of a connection: everything unconfirmed at once (after a
        reconnect), then each new scene as it comes and what stays unconfirmed every
        ``resend_s``."""
        older_than_s = 0.0
        while True:
            self._wake.clear()
            due = self.outbox.due(older_than_s)
            for first in range(0, len(due), self.o.in_flight):  # pipelined: QoS 1 one at a time is ~750/s
                window = [
                    asyncio.ensure_future(self._publish(client, out)) for out in due[first : first + self.o.in_flight]
                ]
                try:
                    await asyncio.gather(*window)  # raises when the link is down
                except BaseException:
                    for task in window:  # none goes on alone on a dead client
                        task.cancel()
                    await asyncio.gather(*window, return_exceptions=True)
                    raise
            if due and (silent := self.outbox.unconfirmed(UNCONFIRMED_SENDS)):
                self._say_unconfirmed(silent)
            older_than_s = self.o.resend_s
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.o.resend_s / 2):
                    await self._wake.wait()

    def _say_unconfirmed(self, silent: list[Outgoing]) -> None:
        """One line for the scenes sent ``UNCONFIRMED_SENDS`` times without a confirmation:
        the broker took them (it acknowledges even what its ACL refuses) but no receiver
        confirmed them. They stay in the outbox, sent again every ``resend_s``."""
        topics_ = sorted({o.topic for o in silent})
        log.warning(
            "bridge: %d scene(s) sent %d times and not confirmed by any receiver (%s%s): the broker may refuse"
            " them (its ACL lets account %r write only where it allows, typically scenevoice/%s/), or no peer"
            " that takes them is online; they are sent again every %g s",
            len(silent),
            UNCONFIRMED_SENDS,
            ", ".join(topics_[:3]),
            ", …" if len(topics_) > 3 else "",
            self.o.username,
            self.o.username or self.o.site,
            self.o.resend_s,
        )

    async def _ping(self, client: aiomqtt.Client) -> None:
        """A ping every half ``keepalive_s`` (QoS 0); each peer's answer gives the round
        trip. It is also this peer's sign of life: the broker counts 1.5 × ``keepalive_s``
        from the last packet it got."""
        while True:
            await client.publish(topics.ping_topic(self.o.site), json.dumps({"t": time.monotonic()}), qos=0)
            await asyncio.sleep(self.o.keepalive_s / 2)

    async def _confirm(self, client: aiomqtt.Client) -> None:
        """Confirm the ids taken to their senders, one message per sender for all taken
        since the last (the receiver never waits on a confirmation). A confirmation lost
        with the link: the scene comes again, is taken as a duplicate and confirmed then."""
        while True:
            await self._ack_wake.wait()
            self._ack_wake.clear()
            batch, self._unacked = self._unacked, {}
            for sender, ids in batch.items():
                await self._publish_ack(client, sender, {"ids": ids}, qos=1)

    async def _publish_ack(self, client: aiomqtt.Client, to: str, body: dict[str, Any], qos: int) -> None:
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                await client.publish(topics.ack_topic(self.o.site, to), json.dumps(body), qos=qos)
        except (aiomqtt.MqttError, TimeoutError, OSError, RuntimeError, ValueError) as exc:
            raise aiomqtt.MqttError(f"confirmation to {to} failed: {type(exc).__name__}: {exc}") from exc

    async def _take(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        sender = topics.site_of(topic)
        if sender is None or sender == self.o.site:
            return
        payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        what = topics.what(topic)
        if what != "scene" and what != "to" and len(payload) > SMALL_MESSAGE_BYTES:
            log.warning(
                "bridge: dropped a %d-byte %s message from %s (at most %d)",
                len(payload),
                what,
                sender,
                SMALL_MESSAGE_BYTES,
            )
            return
        if what == "status":
            await self._presence(sender, payload.decode("utf-8", "replace"))
        elif what == "ping":
            try:
                sent_at = float(json.loads(payload)["t"])
            except MALFORMED:
                log.warning("bridge: a malformed ping from %s dropped", sender)
                return
            await self._publish_ack(client, sender, {"pong": sent_at}, qos=0)
        elif what == "ack":
            self._acknowledged(sender, payload)
        elif what in ("scene", "to"):
            scene = await self._scene_of(topic, payload)
            if scene is not None:
                await self._arrived(sender, scene)

    async def _presence(self, site: str, status: str) -> None:
        if status not in ("online", "offline") or not self.peers.status(site, status):
            return
        (log.info if status == "online" else log.warning)("bridge: site %s is %s", site, status)
        if status == "offline" and site == self.o.hub:
            for turn_id in list(self.waiting):
                await self._give_up(turn_id, "the hub went offline")

    def _acknowledged(self, sender: str, payload: bytes) -> None:
        try:
            body = json.loads(payload)
            if "pong" in body:
                self.peers.round_trip(sender, 1000.0 * (time.monotonic() - float(body["pong"])))
            else:
                self.counts["confirmed"] += self.outbox.confirm([str(i) for i in body["ids"]], sender)
        except MALFORMED:
            log.warning("bridge: a malformed confirmation from %s dropped", sender)

    async def _arrived(self, sender: str, scene: Scene) -> None:
        """A scene from ``sender``: taken once (confirmed every time it comes)."""
        new = self.seen.add(scene.id)
        self._unacked.setdefault(sender, []).append(scene.id)
        self._ack_wake.set()
        if not new:
            self.counts["duplicates"] += 1
            return
        self.counts["received"] += 1
        self.peers.heard(sender, scene.kind)
        if scene.kind in ("turn", "voice.profile"):
            self.rooms_seen.add(sender)
        scene.hops.append(Hop(f"bridge.{self.o.site}.in", time.time()))
        if any(p in self.given_up for p in scene.parents):
            log.info("bridge: a late %s from %s to a turn answered here is not taken", scene.kind, sender)
            return
        # An answer has come; or a choice of rooms, whose first parent is the turn it answers
        # (awaited still) and the rest the hearings another room answers.
        answered = scene.parents[1:] if scene.kind == "room.choice" else scene.parents
        for parent in answered:
            self.waiting.pop(parent, None)
        if scene.kind == "turn" and (scene.text or "").strip():
            others = {
                room
                for room in (set(self.peers.online_sites()) & self.rooms_seen) - {sender}
                if self.peers.may_be_hearing(room, HEARING_S)
            }
            for decision in self.rooms.hold(sender, scene, others):
                await self._let_through(decision)
            return
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
            except MALFORMED as exc:
                problem = f"not a scene: {type(exc).__name__}: {exc}"
        self.counts["malformed"] += 1
        log.warning("bridge: dropped a message on %s: %s", topic, problem)
        cause = Scene(channel="bridge", kind="received", source=topic)
        await self.publish(error_scene(cause, f"from the broker, on {topic}: {problem}", "input.malformed"))
        return None

"""TactileModule: touch, gestures, poses and motion as scenes; gestures out to an actuator.

This file only routes; the rooms do the work: ``events`` (JSON line → event), ``touches``
and ``motion`` (events → gestures, thresholds in ``assets/tactile.toml``), ``scenes``
(gesture → scene), ``sources`` and ``evdev_input`` (where events come from), ``floor``
(whether the agent speaks), ``actuator`` (gestures out).

Scenes it publishes:

``tactile/gesture``
    one per recognised gesture: ``gesture`` names it (``tap``, ``long press``,
    ``swipe left``, ``shake``, ``tilt forward``, or the sensor's own name), ``touch``
    carries the measure, with lexemes, core (``touch+short``) and mode.
``tactile/interrupt``
    after a tap or long press that comes while the agent speaks: its parents are the
    gesture scene and the replies being spoken, ``gesture`` and ``touch`` are the gesture's.
    (The voice module stops speaking those replies.)
``system/error``
    for each line that cannot be used (``input.malformed``; the line is skipped), a
    missing file (``input.missing``), a device, socket or actuator that is not there
    (``device.missing``).

Scenes it handles:

``touch.file`` (``request.path`` = a JSON-lines file, see ``events``)
    publishes its gestures, then ``done`` with ``result.count`` = the gestures published.
``reply``
    the agent speaks from now on; a reply whose ``gesture`` is set goes to the actuator.
``spoken`` / ``error`` after a reply
    the agent has stopped speaking it; a ``spoken`` scene's gesture goes to the actuator
    unless its reply already sent the same one.

Configured sources (``input``, ``device``) are opened on start and read in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterable, Iterable, Mapping
from pathlib import Path
from typing import Any

from agent.bus import SceneBus, error_scene
from agent.errors import ScenevoiceError
from agent.module import Module
from agent.parts import Result
from agent.scene import Scene
from modules.tactile.actuator import Actuator
from modules.tactile.evdev_input import device_touches, open_device
from modules.tactile.events import TactileInputError
from modules.tactile.floor import Speaking
from modules.tactile.options import SOCKET_PREFIX, TactileOptions
from modules.tactile.recognised import Recognised
from modules.tactile.scenes import gesture_scene
from modules.tactile.sources import prepare_socket_path, read_lines, reader_lines, stdin_lines
from modules.tactile.stream import EventStream
from modules.tactile.thresholds import Thresholds, load_thresholds

log = logging.getLogger(__name__)

#: the request kinds this module serves, whatever their channel.
REQUESTS = ("touch.file",)
#: gestures that interrupt the agent while it speaks.
INTERRUPTING = ("tap", "long-press")
#: how many replies' gestures are remembered (so a spoken scene does not repeat its reply's).
_SENT_MEMORY = 256


class TactileModule(Module):
    """TactileModule: touch, gesture, pose and IMU events → gesture scenes; reply gestures → an actuator."""

    name = "tactile"
    requests = REQUESTS

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.o = TactileOptions.parse(self.options)
        self.thresholds: Thresholds = load_thresholds(self.o.thresholds or None)
        self.speaking = Speaking(self.o.speaking_timeout_s)
        self.actuator = Actuator(self.o.actuator) if self.o.actuator else None
        self._sent: OrderedDict[str, str] = OrderedDict()
        self._tasks: list[asyncio.Task] = []
        self._server: asyncio.AbstractServer | None = None
        self._socket_path: str | None = None
        self._connections = 0

    # --- bus ----------------------------------------------------------------------------------

    def wants(self, scene: Scene) -> bool:
        if scene.kind in REQUESTS or scene.kind in ("reply", "spoken"):
            return True
        return scene.kind == "error" and self.speaking.follows(scene.parents)

    async def handle(self, scene: Scene) -> None:
        if scene.kind == "touch.file":
            await self._file_request(scene)
        elif scene.kind == "reply":
            self.speaking.started(scene.id)
            await self._actuate(scene)
        elif scene.kind == "spoken":
            ended = self.speaking.ended(scene.parents)
            if not any(self._sent.get(reply_id) == scene.gesture for reply_id in [*ended, *scene.parents]):
                await self._actuate(scene)
        elif scene.kind == "error":
            self.speaking.ended(scene.parents)

    async def start(self, bus: SceneBus) -> None:
        await super().start(bus)
        source = self.o.input
        if source == "-":
            self._background(self._consume(EventStream(self.thresholds, "stdin"), stdin_lines(), "stdin", None))
        elif source.startswith(SOCKET_PREFIX):
            await self._listen(source[len(SOCKET_PREFIX) :])
        elif source:
            self._background(self._configured_file(source))
        if self.o.device:
            self._background(self._device(self.o.device))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._socket_path is not None:
            with contextlib.suppress(OSError):
                Path(self._socket_path).unlink()
        if self.actuator is not None:
            await self.actuator.close()

    def _background(self, work: Any) -> None:
        self._tasks.append(asyncio.create_task(work, name=f"tactile:{len(self._tasks)}"))

    # --- input --------------------------------------------------------------------------------

    async def _file_request(self, request: Scene) -> None:
        path = request.request.path if request.request is not None else None
        if not path:
            await self.publish(
                error_scene(request, "touch.file needs a JSON-lines file in 'request.path'", "input.bad-request")
            )
            return
        try:
            lines = await asyncio.to_thread(read_lines, path)
        except ScenevoiceError as exc:
            await self.publish(error_scene(request, exc))
            return
        count = await self._consume(EventStream(self.thresholds, path), _aiter(lines), path, request)
        await self.publish(request.derive(kind="done", channel="tactile", result=Result(count=count)))

    async def _configured_file(self, path: str) -> None:
        try:
            lines = await asyncio.to_thread(read_lines, path)
        except ScenevoiceError as exc:
            await self.publish(error_scene(None, exc))
            return
        await self._consume(EventStream(self.thresholds, path), _aiter(lines), path, None)

    async def _listen(self, path: str) -> None:
        try:
            prepare_socket_path(path)
            self._server = await asyncio.start_unix_server(self._connection, path=path)
        except ScenevoiceError as exc:
            await self.publish(error_scene(None, exc))
            return
        except OSError as exc:
            await self.publish(error_scene(None, f"unix:{path}: cannot listen: {exc}", "device.missing", subject=path))
            return
        self._socket_path = path
        log.info("tactile: listening on unix:%s", path)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections += 1
        name = f"unix:{self._socket_path}#{self._connections}"
        try:
            await self._consume(EventStream(self.thresholds, name), reader_lines(reader, name), name, None)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _device(self, path: str) -> None:
        try:
            device = await asyncio.to_thread(open_device, path)
        except ScenevoiceError as exc:
            await self.publish(error_scene(None, exc))
            return
        stream = EventStream(self.thresholds, path)
        try:
            async for event in device_touches(device):
                await self._recognised(stream, lambda event=event: stream.feed(event), path, None)
        except OSError as exc:  # unplugged
            await self.publish(
                error_scene(None, f"tactile device {path} vanished: {exc}", "device.missing", subject=path)
            )
        finally:
            with contextlib.suppress(Exception):
                device.close()

    async def _consume(
        self, stream: EventStream, lines: AsyncIterable[str | TactileInputError], source: str, cause: Scene | None
    ) -> int:
        """Feed ``lines`` to ``stream``; publish its gestures and an error per bad line.
        Returns how many gesture scenes were published."""
        count = 0
        async for line in lines:
            if isinstance(line, TactileInputError):
                stream.lines += 1
                await self.publish(error_scene(cause, line))
                continue
            count += await self._recognised(stream, lambda line=line: stream.feed_line(line), source, cause)
        for found in stream.finish():
            count += await self._gesture(found, source, cause)
        return count

    async def _recognised(self, stream: EventStream, feed: Any, source: str, cause: Scene | None) -> int:
        try:
            found: list[Recognised] = feed()
        except TactileInputError as exc:
            await self.publish(error_scene(cause, exc))
            return 0
        count = 0
        for one in found:
            count += await self._gesture(one, source, cause)
        return count

    async def _gesture(self, found: Recognised, source: str, cause: Scene | None) -> int:
        scene = gesture_scene(found, self.thresholds, source, [cause.id] if cause is not None else [])
        if cause is not None:
            scene.hops = list(cause.hops)
        await self.publish(scene)
        replies = self.speaking.replies
        if found.touch.kind in INTERRUPTING and replies:
            await self.publish(
                Scene(
                    channel="tactile",
                    kind="interrupt",
                    source=source,
                    t_start=scene.t_start,
                    t_end=scene.t_end,
                    gesture=scene.gesture,
                    touch=scene.touch,
                    lexemes=list(scene.lexemes),
                    core=scene.core,
                    mode=scene.mode,
                    parents=[scene.id, *replies],
                    hops=list(scene.hops),
                )
            )
        return 1

    # --- output -------------------------------------------------------------------------------

    async def _actuate(self, scene: Scene) -> None:
        if self.actuator is None or not scene.gesture:
            return
        try:
            await self.actuator.send(scene)
        except ScenevoiceError as exc:
            await self.publish(error_scene(scene, exc))
            return
        if scene.kind == "reply":
            self._sent[scene.id] = scene.gesture
            while len(self._sent) > _SENT_MEMORY:
                self._sent.popitem(last=False)


async def _aiter(items: Iterable[str]) -> AsyncIterable[str]:
    for item in items:
        yield item

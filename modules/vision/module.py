"""VisionModule: the vision channel on the bus — pictures, videos and a camera as scenes.

This file only routes: the work is in ``look.py`` (files), ``camera.py`` and ``gate.py``
(which frames give scenes), ``frame.py`` (one frame → :class:`agent.sight.Sight`) and
``lexemes.py`` (measures → lexemes, core, mode via ``assets/vision.toml``). Whatever they
raise becomes an ``error`` scene with the exception's own reason; the module keeps running.

Scenes it handles:

``look.file`` (``request.path`` = a picture or a video file)
    publishes one ``vision/sight`` scene for a picture, or one per changed frame of a video
    (``change_threshold``, ``min_interval_s``, ``max_interval_s``), then ``done`` with
    ``result.count``. A missing file gives ``input.missing``, an undecodable one
    ``input.unreadable``.

With ``camera`` configured, ``start`` opens it and publishes ``vision/watching``
(``result.device``), then ``sight`` scenes on change or at the configured rate; a camera
that is not there gives an ``error`` scene with reason ``device.missing`` (exit 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from agent.bus import SceneBus, error_scene
from agent.errors import ScenevoiceError
from agent.module import EngineStatus, Module
from agent.parts import Result
from agent.scene import Scene
from modules.vision.camera import Camera
from modules.vision.detect import FACE_CASCADE, detectors_ready
from modules.vision.frame import analyse_frame
from modules.vision.gate import ChangeGate
from modules.vision.lexemes import vision_table
from modules.vision.look import look_file, sight_scene
from modules.vision.options import VisionOptions

log = logging.getLogger(__name__)

#: the request kinds this module serves, whatever their channel.
REQUESTS = ("look.file",)


class VisionModule(Module):
    """VisionModule: pictures, videos and a camera → sight scenes (colour, light, edges, motion, faces)."""

    name = "vision"
    requests = REQUESTS

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.o = VisionOptions.parse(self.options)
        self._camera_task: asyncio.Task | None = None

    def wants(self, scene: Scene) -> bool:
        return scene.kind in REQUESTS

    async def start(self, bus: SceneBus) -> None:
        await super().start(bus)
        vision_table()  # a broken table is refused at start, by name
        if self.o.camera:
            self._camera_task = asyncio.create_task(self._watch(), name="vision:camera")

    async def stop(self) -> None:
        if self._camera_task is not None:
            self._camera_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._camera_task

    async def handle(self, scene: Scene) -> None:
        if scene.kind == "look.file":
            await self._look_file(scene)

    async def _look_file(self, request: Scene) -> None:
        path = request.request.path if request.request is not None else None
        if not path:
            await self.publish(
                error_scene(request, "look.file needs a picture or video in 'request.path'", "input.bad-request")
            )
            return
        assert self.bus is not None, "started"
        try:
            scenes = await asyncio.to_thread(look_file, path, self.o, self.bus.trace(request, self.name))
        except ScenevoiceError as exc:
            await self.publish(error_scene(request, exc))
            return
        for scene in scenes:
            await self.publish(scene)
        await self.publish(request.derive(kind="done", channel="vision", result=Result(count=len(scenes))))

    async def _watch(self) -> None:
        """Open the camera and publish its changed frames until stopped or it vanishes."""
        assert self.bus is not None, "started"
        camera: Camera | None = None
        try:
            camera = await asyncio.to_thread(Camera, self.o.camera, self.o.camera_fps)
            watching = Scene(channel="vision", kind="watching", source=self.name, result=Result(device=self.o.camera))
            await self.publish(watching)
            gate = ChangeGate(self.o.change_threshold, self.o.min_interval_s, self.o.max_interval_s)
            t0 = time.monotonic()
            while True:
                frame = await asyncio.to_thread(camera.read)
                t_s = time.monotonic() - t0
                passed = gate.offer(frame, t_s)
                if passed is None:
                    continue
                sight = await asyncio.to_thread(analyse_frame, frame, self.o, round(t_s, 3), passed.motion)
                await self.publish(sight_scene(self.bus.trace(watching, self.name), sight, f"camera:{self.o.camera}"))
        except ScenevoiceError as exc:
            await self.publish(error_scene(None, exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a background task must not die in silence
            log.exception("vision: camera failed")
            await self.publish(error_scene(None, f"camera failed: {type(exc).__name__}: {exc}", "module.failed"))
        finally:
            if camera is not None:
                camera.close()

    @classmethod
    def engines(cls, options: Mapping[str, Any]) -> list[EngineStatus]:
        o = VisionOptions.parse(options)
        ready = detectors_ready()
        fix = "install opencv-python-headless 4.x (OpenCV 5 no longer bundles it)"
        return [
            EngineStatus(
                role="faces",
                engine="opencv-haar",
                model=FACE_CASCADE,
                default=o.faces,
                ready=ready["faces"] is not None,
                where=ready["faces"] or "cv2.data.haarcascades",
                detail="" if ready["faces"] else f"no Haar cascade in this OpenCV: {fix}",
            ),
            EngineStatus(
                role="people",
                engine="opencv-hog",
                model="default people detector",
                default=o.people,
                ready=ready["people"] is not None,
                where="bundled in cv2",
                detail="" if ready["people"] else f"no HOG descriptor in this OpenCV: {fix}",
            ),
        ]

"""A session recorded into a folder: what ``record``, ``talk``/``serve --record`` and
``analyze --out`` share (the format: ``agent/record/__init__.py``).

The recorder writes ``session.json`` and, as a bus observer, ``scenes.jsonl``; the audio is
written by the modules that hear and speak, asked by a ``record.start`` scene whose
``request.path`` is the folder (the voice module writes ``audio/mic-*.wav`` and
``audio/voice-*.wav`` and announces each with a ``recorded.mic``/``recorded.voice`` scene).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from agent.bus import SceneBus, everything
from agent.config import Config
from agent.parts import Request
from agent.record.folder import FolderError, SessionFile, new_session_folder
from agent.record.options import RecordOptions
from agent.record.scenelog import SceneLog
from agent.scene import Scene

log = logging.getLogger(__name__)

OBSERVER = "record"
#: the scenes that name a device, and which side it is.
DEVICE_SIDES = {"listening": "input", "recorded.mic": "input", "recorded.voice": "output", "spoken": "output"}


class Recorder:
    """Begin a session folder under ``root`` (made if need be).

    Args:
        root: the folder that holds session folders.
        command: what is recording (noted in ``session.json``).
        config: the merged config (its ``[record]`` table; all of it is noted).

    Raises:
        ConfigError: ``[record]`` is wrong.
        FolderError: the folder or its first files cannot be written.
    """

    def __init__(self, root: str | Path, command: str, config: Config) -> None:
        self.options = RecordOptions.parse(config.section("record"))
        self.started_unix_s, self.started_monotonic_s = time.time(), time.monotonic()
        self.folder = new_session_folder(root, self.started_unix_s)
        self.session_file = SessionFile(self.folder, command, config.data, self.options, self.started_unix_s)
        try:
            self.session_file.write()
            self.scenes = SceneLog(self.folder, self.started_monotonic_s)
        except OSError as exc:
            raise FolderError(f"cannot write in {self.folder}: {exc}", subject=str(self.folder)) from None

    def attach(self, bus: SceneBus) -> None:
        """Log every scene on ``bus`` (subscribe before the session starts, so that the
        modules' first scenes are kept too)."""
        bus.subscribe(OBSERVER, self._observe, everything, inbox_size=4096)

    def start_scene(self) -> Scene:
        """The scene that asks the modules to record their audio into the folder."""
        return Scene(channel="record", kind="record.start", request=Request(path=str(self.folder)), source=OBSERVER)

    async def _observe(self, scene: Scene) -> None:
        await self.scenes.write(scene)
        device = scene.result.device if scene.result is not None else None
        side = DEVICE_SIDES.get(scene.kind)
        if device and side:
            if self.session_file.note_device(side, device):
                try:
                    self.session_file.write()
                except OSError as exc:
                    log.error("recording: cannot note the %s device in %s: %s", side, self.session_file.path, exc)

    def close(self) -> None:
        """Close ``scenes.jsonl`` (the modules close their audio when the session stops)."""
        self.scenes.close()

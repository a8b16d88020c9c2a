"""``scenes.jsonl``: every scene on the bus, one line each, written and flushed as it comes
(the format: ``agent/record/__init__.py``)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TextIO

from agent.record import SCENES_FILE
from agent.scene import Scene

log = logging.getLogger(__name__)


class SceneLog:
    """A bus observer that appends each scene to ``<folder>/scenes.jsonl``.

    Args:
        folder: the session folder.
        started_monotonic_s: the session clock's zero on ``time.monotonic``.

    A write that fails (a full disk) stops the log with one log line; the agent goes on.

    Raises:
        OSError: on construction, when the file cannot be opened.
    """

    def __init__(self, folder: Path, started_monotonic_s: float) -> None:
        self.path = folder / SCENES_FILE
        self.started_monotonic_s = started_monotonic_s
        self._file: TextIO | None = self.path.open("a", encoding="utf-8")
        self.written = 0
        self.failed: str | None = None

    async def write(self, scene: Scene) -> None:
        """Append ``scene`` with its session time (a bus handler)."""
        if self._file is None:
            return
        line = json.dumps(
            {"t_s": round(time.monotonic() - self.started_monotonic_s, 4), "scene": scene.to_dict()},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        try:
            self._file.write(line + "\n")
            self._file.flush()
            self.written += 1
        except OSError as exc:
            self.failed = str(exc)
            log.error(
                "recording of scenes stopped: %s: %s (%d written); the agent goes on", self.path, exc, self.written
            )
            self.close()

    def close(self) -> None:
        """Close the file (idempotent); a close that fails (a full disk) is logged."""
        if self._file is not None:
            handle, self._file = self._file, None
            try:
                handle.close()
            except OSError as exc:
                log.warning("recording of scenes: closing %s: %s", self.path, exc)

"""A scene's gesture for an actuator: one JSON line appended to a file or sent to a UNIX
socket (a robot's or an avatar's controller listening there).

The line: ``{"gesture": "nod", "scene": "<id>", "kind": "reply", "text": "...",
"wall_start": "2026-...Z", "parents": [...]}``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from agent.errors import MachineError
from agent.scene import Scene

SOCKET_PREFIX = "unix:"


class ActuatorError(MachineError):
    """The actuator cannot be reached (no socket listening) or its file cannot be written."""

    reason = "device.missing"


def actuator_line(scene: Scene) -> str:
    """The JSON line an actuator receives for ``scene`` (with its newline)."""
    body = {
        "gesture": scene.gesture,
        "scene": scene.id,
        "kind": scene.kind,
        "text": scene.text,
        "wall_start": scene.wall_start,
        "parents": list(scene.parents),
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n"


class Actuator:
    """Where gestures go: ``unix:/path`` (a listening UNIX socket) or a file path.

    The socket connection is opened on the first gesture and kept; a broken one is
    reopened once per gesture.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self._writer: asyncio.StreamWriter | None = None

    @property
    def is_socket(self) -> bool:
        return self.target.startswith(SOCKET_PREFIX)

    async def send(self, scene: Scene) -> None:
        """Write ``scene``'s gesture line.

        Raises:
            ActuatorError: ``device.missing`` when no socket listens at the path;
                ``output.unwritable`` when the file cannot be written.
        """
        line = actuator_line(scene)
        if not self.is_socket:
            try:
                await asyncio.to_thread(_append, Path(self.target), line)
            except OSError as exc:
                raise ActuatorError(
                    f"cannot write the actuator file {self.target}: {exc}",
                    reason="output.unwritable",
                    subject=self.target,
                ) from None
            return
        for attempt in range(2):
            try:
                if self._writer is None:
                    _, self._writer = await asyncio.open_unix_connection(self.target[len(SOCKET_PREFIX) :])
                self._writer.write(line.encode())
                await self._writer.drain()
                return
            except OSError as exc:
                await self.close()
                if attempt == 1:
                    raise ActuatorError(f"no actuator listens at {self.target}: {exc}", subject=self.target) from None

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)

"""The terminal view of ``run.py talk``: what the agent is doing, as it happens.

On a terminal (stdout is a TTY) one status line is redrawn in place — the state
(listening, hearing, thinking, speaking), the partial transcript while the user speaks —
and each finished exchange is printed above it: what was heard, what was said, and the
turn's latency (end of speech → first audio handed to the speaker, from the spoken scene's
hops). Elsewhere (a pipe, a file, a log) every scene is one JSON line on stdout, as before.
"""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

from agent.cli.common import emit
from agent.scene import Scene

#: the state each scene kind puts the agent in.
STATES = {"listening": "listening", "partial": "hearing", "turn": "thinking", "reply": "speaking"}


def latency_s(spoken: Scene) -> float | None:
    """Seconds from the end of the user's speech to the reply's first audio, from the
    hops ``voice.speech_end`` and ``voice.audio.first``; None when either is missing."""
    stamps = {h.stage: h.t_unix_s for h in spoken.hops}
    if "voice.speech_end" in stamps and "voice.audio.first" in stamps:
        return stamps["voice.audio.first"] - stamps["voice.speech_end"]
    return None


class TalkView:
    """Shows the scenes of a live session (:meth:`show`); ``stream`` defaults to stdout.

    Args:
        live: draw the status line in place (a TTY); False: JSON lines.
    """

    def __init__(self, live: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.state = "starting"
        self.partial = ""
        self.heard = ""
        self._drawn = False

    def show(self, scene: Scene) -> None:
        """Take one scene of the session."""
        if not self.live:
            if scene.kind != "listening":
                emit(scene)
            return
        self.state = STATES.get(scene.kind, self.state)
        if scene.kind == "partial":
            self.partial = scene.text or ""
        elif scene.kind == "turn":
            self.heard, self.partial = scene.text or "", ""
            self._print(f"you:   {self.heard}")
        elif scene.kind == "spoken":
            took = latency_s(scene)
            cut = scene.result.cut_at_s if scene.result is not None else None
            tail = f"  ({took:.2f} s)" if took is not None else ""
            tail += f"  [cut at {cut:.1f} s]" if cut is not None else ""
            self._print(f"agent: {scene.text or ''}{tail}")
            self.state = "listening"
        self._status()

    def close(self) -> None:
        """End the status line (before the program's last words)."""
        if self.live and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def _print(self, line: str) -> None:
        self.stream.write(("\r\x1b[K" if self._drawn else "") + line + "\n")
        self._drawn = False

    def _status(self) -> None:
        width = shutil.get_terminal_size((100, 20)).columns
        line = f"[{self.state}] {self.partial}"[: max(10, width - 1)]
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()
        self._drawn = True

"""Fusion: what the other channels perceived around a heard turn, in one multimodal scene.

Seed 002's hyper-scene is one record in several channels at once: words and voice, a
colour, a gesture, a smell. The channel modules publish their scenes independently (a
``sight`` from vision, a ``smell`` from SmellNet, a ``gesture`` from tactile); the mind
keeps the recent ones and, when a ``turn`` is heard, fuses the turn with every channel
scene that arrived within ``window_s`` before it: a ``fused`` scene that carries the
turn's text and sound, the latest colour and sight, smell phrase and odor, gesture and
touch, the lexemes of all, a core of up to four lexemes (the turn's first), and every
source scene as a parent. The mind then answers the fused scene.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from agent.scene import MAX_CORE_LEXEMES, Scene

#: the channel scenes that fuse with a turn: (channel, kind).
FUSIBLE = {("vision", "sight"), ("smell", "smell"), ("tactile", "gesture")}


@dataclass
class _Kept:
    scene: Scene
    at_s: float  # monotonic seconds when it arrived


class Fusion:
    """The recent channel scenes, and the fusing of a turn with them.

    Args:
        window_s: how long (seconds) a channel scene stays fusible after it arrived;
            0 fuses nothing.
        max_kept: the most channel scenes kept (the oldest go first).
    """

    def __init__(self, window_s: float = 10.0, max_kept: int = 64) -> None:
        if window_s < 0:
            raise ValueError(f"fusion window {window_s} s must not be negative")
        self.window_s = window_s
        self._kept: deque[_Kept] = deque(maxlen=max_kept)

    @staticmethod
    def wants(scene: Scene) -> bool:
        """True for a scene of another channel that fuses with turns."""
        return (scene.channel, scene.kind) in FUSIBLE

    def keep(self, scene: Scene, now_s: float | None = None) -> None:
        """Remember a fusible channel scene that arrived at ``now_s`` (monotonic; default now)."""
        self._kept.append(_Kept(scene, time.monotonic() if now_s is None else now_s))

    def recent(self, now_s: float | None = None) -> list[Scene]:
        """The kept scenes that arrived within the window before ``now_s``, oldest first."""
        now_s = time.monotonic() if now_s is None else now_s
        return [k.scene for k in self._kept if 0.0 <= now_s - k.at_s <= self.window_s and self.window_s > 0]

    def fuse(self, turn: Scene, now_s: float | None = None) -> Scene | None:
        """The ``fused`` scene of ``turn`` and the recent channel scenes; None when there
        are none (the turn is answered as it is)."""
        others = self.recent(now_s)
        if not others:
            return None
        latest = {s.channel: s for s in others}  # the newest of each channel
        sight, smell, touch = latest.get("vision"), latest.get("smell"), latest.get("tactile")
        lexemes = list(dict.fromkeys([*turn.lexemes, *(x for s in others for x in s.lexemes)]))
        core_parts = turn.core.split("+") if turn.core else []
        for other in (smell, sight, touch):  # what is noticed first: smell, then sight, then touch
            if other is not None and other.core:
                core_parts += [p for p in other.core.split("+") if p not in core_parts][:1]
        core = "+".join(core_parts[:MAX_CORE_LEXEMES]) or None
        return turn.derive(
            channel="fused",
            kind="fused",
            text=turn.text,
            language=turn.language,
            speaker=turn.speaker,
            core=core,
            lexemes=lexemes,
            mode=turn.mode,
            register=turn.register,
            sound=turn.sound,
            color=sight.color if sight else None,
            sight=sight.sight if sight else None,
            smell=smell.smell if smell else None,
            odor=smell.odor if smell else None,
            gesture=touch.gesture if touch else None,
            touch=touch.touch if touch else None,
            parents=[turn.id, *(s.id for s in others)],
            t_start=turn.t_start,
            t_end=turn.t_end,
        )


def noticed(fused: Scene) -> str:
    """A sentence on what the other channels perceived (``""`` if nothing): "I also notice
    smoke and damp, and I see dark and cold; you made a shake."."""
    parts = []
    if fused.smell:
        parts.append(f"notice {fused.smell}")
    if fused.sight is not None and fused.color:
        seen = [x for x in fused.lexemes if x in ("dark", "bright", "warm", "cold", "vivid", "muted", "grey")]
        parts.append("see " + (" and ".join(seen[:2]) if seen else f"the colour {fused.color}"))
    if fused.gesture:
        parts.append(f"feel a {fused.gesture}")
    if not parts:
        return ""
    return "I also " + ", and ".join(parts) + "."

"""A recognised gesture → a ``tactile``/``gesture`` scene: its ``gesture`` field names it,
``touch`` carries the measure, and lexemes, core and mode come from ``assets/tactile.toml``
[gesture.*] (a gesture a sensor named itself gets its name's words as lexemes)."""

from __future__ import annotations

import re

from agent.scene import MAX_CORE_LEXEMES, Scene
from modules.tactile.recognised import Recognised
from modules.tactile.thresholds import Thresholds

_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")


def gesture_scene(found: Recognised, thresholds: Thresholds, source: str, parents: list[str] | None = None) -> Scene:
    """The scene of ``found``, heard from ``source`` (a path, ``stdin``, a socket, a device)."""
    meaning = thresholds.gesture.get(found.touch.kind)
    if meaning is not None:
        direction = found.touch.direction or ""
        lexemes = [w.replace("{direction}", direction) for w in meaning.lexemes]
        lexemes = [w for w in lexemes if w]
        mode = meaning.mode
    else:
        lexemes = [w.lower() for w in _WORD.findall(found.name)]
        mode = None
    return Scene(
        channel="tactile",
        kind="gesture",
        source=source,
        t_start=found.t_start,
        t_end=found.t_end,
        gesture=found.name,
        touch=found.touch,
        lexemes=lexemes,
        core="+".join(lexemes[:MAX_CORE_LEXEMES]) or None,
        mode=mode,
        parents=list(parents or []),
    )

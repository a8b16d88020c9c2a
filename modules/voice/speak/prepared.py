"""A reply's first sound, realised before the reply is asked for (speculatively).

While the user pauses and the turn model doubts that they have finished, the turn waits up
to ``max_silence_s`` (1.08 s) — and the reply's first sentence would only start rendering
once it closes. So the live loop publishes the turn as it stands (a ``turn.draft``); a mind
may answer it with a ``reply.draft`` (the reply it would give, committing nothing); the
voice module realises that reply's first piece here, during the wait. When the turn closes
with nothing said since, the mind's real ``reply`` has the same text and plan, and
:func:`~modules.voice.speak.reply.render` plays the prepared piece at once and goes on
with the same :class:`~modules.voice.speak.voicing.Voicing`. When the user goes on
speaking, the preparation is dropped unheard. (LiveKit's agents call the same idea
"preemptive generation".)
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator

import numpy as np

from agent.voiceplan import VoicePlan
from modules.voice.speak.voicing import Voicing

log = logging.getLogger(__name__)


class PreparedReply:
    """The first piece of a reply realised ahead (see the module docstring).

    Args:
        text: the reply's words.
        plan: the plan it will be spoken with (engine named).
        voicing: a :class:`Voicing` for the plan's engine; it renders the pieces.

    Call :meth:`run` once on a worker thread; :meth:`pieces` (after it) yields what it
    realised, then the rest of the reply as :meth:`Voicing.sentences` would have.
    """

    def __init__(self, text: str, plan: VoicePlan, voicing: Voicing) -> None:
        self.text = text
        self.plan = plan
        self.voicing = voicing
        self._sentences: Iterator[np.ndarray] = voicing.sentences(text, plan, first_fast=True)
        self._ready: list[np.ndarray] = []
        self._done = threading.Event()
        self._failed: BaseException | None = None
        self._taken = False

    def matches(self, text: str, plan: VoicePlan) -> bool:
        """True when this is the reply ``text`` spoken on ``plan`` (and not used yet)."""
        return not self._taken and text == self.text and plan == self.plan

    def difference(self, text: str, plan: VoicePlan) -> str:
        """What keeps this preparation from being the reply ``text`` on ``plan`` (for the log)."""
        if self._taken:
            return "already used"
        if text != self.text:
            return f"the text: {self.text!r} prepared, {text!r} asked"
        fields = [f.name for f in dataclasses.fields(plan) if getattr(plan, f.name) != getattr(self.plan, f.name)]
        return f"the plan's {', '.join(fields)}" if fields else "nothing"

    def run(self) -> None:
        """Realise the first piece with words (a cue sounded before the words comes with
        it). Never raises: a failure is kept, and the reply is then rendered afresh."""
        try:
            for piece in self._sentences:
                self._ready.append(piece)
                if len(self._ready) > (1 if self.voicing.sounds_cue(self.plan) else 0):
                    break
        except Exception as exc:  # the real reply renders again and reports it
            log.info("voice: preparing a reply failed (%s); it will be rendered when asked", exc)
            self._failed = exc
        finally:
            self._done.set()

    def take(self, timeout_s: float) -> Iterator[np.ndarray] | None:
        """The reply's pieces (the prepared ones first), once the preparation has ended
        (waiting at most ``timeout_s``); None when it failed or is still running."""
        if not self._done.wait(timeout_s) or self._failed is not None or self._taken:
            return None
        self._taken = True
        return self._pieces()

    def _pieces(self) -> Iterator[np.ndarray]:
        yield from self._ready
        yield from self._sentences

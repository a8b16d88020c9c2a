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

A prepared piece may also start *ahead* of its reply (:meth:`PreparedReply.start`): the
live loop starts it as the doubted pause closes the turn (``prepared_lead_s`` before, so
that its first sample sounds as the turn closes: the speaker's own way out takes ~45 ms),
rather than when the mind's ``reply`` has come back over the bus and reached the speaker
(another 40–80 ms after the close). The reply, when it comes with the same words, takes
over that track (``speak/reply.py``); if the user speaks on before the close, the track
fades out at once (``listen/floor.py``).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterator

import numpy as np

from agent.voiceplan import VoicePlan
from modules.voice.io.duplex import RemotePlayback, RemoteTrack
from modules.voice.io.playback import Playback, Track
from modules.voice.speak.voicing import Voicing

log = logging.getLogger(__name__)


class PreparedReply:
    """The first piece of a reply realised ahead (see the module docstring).

    Args:
        text: the reply's words.
        plan: the plan it will be spoken with (engine named).
        voicing: a :class:`Voicing` for the plan's engine; it renders the pieces.
        draft_id: the ``reply.draft`` scene it realises (the key of its stop on the floor
            once it has started ahead).

    Call :meth:`run` once on a worker thread; :meth:`take` (after it) yields what it
    realised, then the rest of the reply as :meth:`Voicing.sentences` would have.
    """

    def __init__(self, text: str, plan: VoicePlan, voicing: Voicing, draft_id: str = "") -> None:
        self.text = text
        self.plan = plan
        self.voicing = voicing
        self.draft_id = draft_id
        #: the track it plays on since :meth:`start` (None until started ahead of its reply).
        self.track: Track | RemoteTrack | None = None
        #: when it started ahead (unix s), and how many of its pieces were queued then.
        self.started_unix_s: float | None = None
        self.played_ahead = 0
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

    @property
    def ready(self) -> bool:
        """True once its first piece is realised (and not failed, taken or started)."""
        done = self._done.is_set() and self._failed is None
        return done and not self._taken and self.track is None and bool(self._ready)

    def start(self, playback: Playback | RemotePlayback, stop: threading.Event) -> None:
        """Play what is realised now, ahead of the reply: on a new track of ``playback``
        that ``stop`` cuts (the reply that takes it over goes on on the same track, see
        :func:`~modules.voice.speak.reply.render`). Call once, when :attr:`ready`."""
        track = playback.track(self.voicing.engine.rate_hz, stop)
        self.started_unix_s = time.time()
        for piece in self._ready:
            track.play(piece)
        self.played_ahead = len(self._ready)
        self.track = track

    def cut_ahead(self) -> None:
        """Its track started ahead is not the reply's after all (another plan came): it fades
        out, without setting the stop the reply may share with it."""
        if self.track is not None:
            cut = threading.Event()
            cut.set()
            self.track.stop = cut
            self.track.playback.forward_stops()

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

"""Who has the floor: the state live listening and speaking share (full duplex).

The microphone is never deaf. The user may speak while the agent thinks or talks; what
the agent says is known here, so that live listening can hold the speaker when the user
starts (a barge-in, or only a backchannel), cut the replies the user talked over, and
drop a "turn" that is only the agent's own words coming back (``listen/echo_guard.py``).

A reply is *awaited* from the moment its turn is published until it has been spoken (or
an error says none will come); a reply is *speaking* from the moment the voice module
takes it until it has been heard or cut. A turn the user has since spoken over is
*superseded*: its reply, when it comes, is not spoken.

While a pause is doubted, the turn as it stands is the *draft* (a ``turn.draft`` scene):
the reply a mind drafts for it is realised ahead (``speak/prepared.py``) and started as the
turn closes as drafted (*ahead* of its reply: the reply, when it comes with those words,
takes over the track); the user's next word voids the draft and its preparation, and fades
out a start ahead.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable

from modules.voice.io.duplex import RemotePlayback
from modules.voice.io.playback import Playback
from modules.voice.speak.prepared import PreparedReply
from modules.voice.speak.stream import ReplyStream

#: how long the words of a spoken reply are kept for the echo guard (s).
ECHO_MEMORY_S = 30.0
#: how long a turn waits for its reply before it is no longer awaited (s).
REPLY_WAIT_S = 60.0
#: a reply started ahead that no reply has taken over this long after (s) is closed: its
#: first piece ends and nothing follows (the mind answered otherwise, or not at all).
AHEAD_WAIT_S = 3.0


class Floor:
    """The replies awaited and being spoken, and the live session's running speaker."""

    def __init__(self) -> None:
        #: awaited turn id → monotonic time it was published.
        self.awaiting: dict[str, float] = {}
        #: reply id → the event that cuts it short, for replies queued or playing.
        self.stops: dict[str, threading.Event] = {}
        #: turns the user spoke over: their replies are not spoken.
        self.superseded: set[str] = set()
        #: the live session's speaker (None outside a live session: replies open their own).
        self.playback: Playback | RemotePlayback | None = None
        #: (monotonic time the words stopped being heard, the words) of recent replies.
        self._said: deque[tuple[float, str]] = deque()
        #: the id of the current ``turn.draft`` (None when there is none).
        self.draft: str | None = None
        #: the drafted reply realised ahead for it, once a mind has drafted one.
        self.prepared: PreparedReply | None = None
        #: reply id → its later pieces, for a reply that streams (``speak/stream.py``).
        self.streams: dict[str, ReplyStream] = {}
        #: the prepared reply started ahead of its reply, until a reply takes it over.
        self.ahead: PreparedReply | None = None
        #: the turn the reply started ahead answers, once that turn is out (None before).
        self.ahead_turn: str | None = None
        self._ahead_at_s = 0.0

    # --- drafts ---------------------------------------------------------------------------------

    def drafted(self, draft_id: str) -> None:
        """The turn as it stands went out as the draft ``draft_id`` (replacing any other)."""
        self.cancel_ahead()
        self.draft, self.prepared = draft_id, None

    def void_draft(self) -> None:
        """The user went on (or the turn closed otherwise): the draft and its preparation go
        (a start ahead fades out)."""
        self.cancel_ahead()
        self.draft, self.prepared = None, None

    def drafts_for(self, parents: Iterable[str]) -> bool:
        """True when a ``reply.draft`` with these parents answers the current draft."""
        return self.draft is not None and self.draft in parents

    def start_ahead(self) -> bool:
        """Start the current draft's prepared reply now, before its reply comes (see
        ``speak/prepared.py``), when it is realised and nothing else is said, queued or
        awaited. Its stop is among :attr:`stops` (keyed by the ``reply.draft``'s id: a cut
        cuts it) until a reply takes it over. Returns True when it started."""
        prepared = self.prepared
        if (
            prepared is None
            or self.ahead is not None
            or self.playback is None
            or not prepared.ready
            or self.stops
            or self.awaiting
            or self.audible
        ):
            return False
        stop = threading.Event()
        prepared.start(self.playback, stop)
        self.stops[prepared.draft_id] = stop
        # Its words are told to the echo guard once its turn is out (``live.py``), not here:
        # a reply that quotes the turn would make the turn "the agent's own words".
        self.ahead, self.ahead_turn, self._ahead_at_s = prepared, None, time.monotonic()
        return True

    def cancel_ahead(self) -> None:
        """The user went on before the turn closed: the reply started ahead fades out now."""
        ahead, self.ahead = self.ahead, None
        if ahead is None:
            return
        stop = self.stops.pop(ahead.draft_id, None)
        if stop is not None:
            stop.set()
        if self.playback is not None:
            self.playback.forward_stops()

    def adopt_ahead(self, text: str, parents: Iterable[str]) -> threading.Event | None:
        """The reply ``text`` to ``parents`` has come: the stop of the reply started ahead
        with these words for that turn (:attr:`ahead_turn`), which becomes the reply's own
        (None when none was started, or for another turn; with other words for that turn,
        None too, and what started ahead fades out: the mind answered otherwise)."""
        ahead = self.ahead
        if ahead is None or self.ahead_turn not in parents:
            return None
        if ahead.text != text:
            self.cancel_ahead()
            return None
        self.ahead = None
        return self.stops.pop(ahead.draft_id, None)

    def expire_ahead(self) -> bool:
        """Close a reply started ahead that no reply has taken over in ``AHEAD_WAIT_S`` (its
        first piece ends; the reply, if it comes late, is rendered afresh). True if closed."""
        ahead = self.ahead
        if ahead is None or time.monotonic() - self._ahead_at_s < AHEAD_WAIT_S:
            return False
        self.ahead = None
        self.stops.pop(ahead.draft_id, None)
        if self.prepared is ahead:
            self.prepared = None
        if ahead.track is not None:
            ahead.track.close()
        return True

    def take_prepared(self) -> PreparedReply | None:
        """The reply realised ahead (handed out once), or None."""
        prepared, self.prepared = self.prepared, None
        return prepared

    # --- replies awaited ----------------------------------------------------------------------

    def await_reply(self, turn_id: str) -> None:
        """The turn ``turn_id`` was published: its reply is awaited (turns whose reply never
        came are forgotten here too, so that a session without a mind does not grow)."""
        self._expire()
        self.awaiting[turn_id] = time.monotonic()

    def awaited_by(self, parents: Iterable[str]) -> set[str]:
        """The awaited turns among ``parents`` (a reply's or an error's)."""
        self._expire()
        return set(self.awaiting).intersection(parents)

    def answered(self, turns: Iterable[str]) -> None:
        """The reply to ``turns`` was spoken, failed or was dropped: no longer awaited."""
        for turn in turns:
            self.awaiting.pop(turn, None)
            self.superseded.discard(turn)

    def is_stale(self, parents: Iterable[str]) -> bool:
        """True for a reply to turns the user has all spoken over since (not to be spoken)."""
        turns = [p for p in parents if p in self.awaiting or p in self.superseded]
        return bool(turns) and all(t in self.superseded for t in turns)

    def _expire(self) -> None:
        old = [t for t, at in self.awaiting.items() if time.monotonic() - at > REPLY_WAIT_S]
        for turn in old:
            del self.awaiting[turn]

    # --- replies spoken -----------------------------------------------------------------------

    def speaking(self, reply_id: str, stop: threading.Event) -> None:
        """The reply ``reply_id`` is queued to be spoken; ``stop`` cuts it (the voice module
        removes it from :attr:`stops` once the reply has been heard or cut)."""
        self.stops[reply_id] = stop

    def says(self, words: str) -> None:
        """Words the agent is about to say, remembered for ``ECHO_MEMORY_S`` (the echo
        guard compares turns with them)."""
        if words:
            self._said.append((time.monotonic(), words))
        while self._said and time.monotonic() - self._said[0][0] > ECHO_MEMORY_S:
            self._said.popleft()

    def recent_words(self) -> list[str]:
        """The words of the replies spoken in the last ``ECHO_MEMORY_S``, oldest first."""
        self.says("")
        return [words for _, words in self._said]

    @property
    def audible(self) -> bool:
        """True while a reply is queued or playing on the live speaker."""
        return self.playback is not None and self.playback.sounding

    def cut(self) -> list[str]:
        """The user spoke over the agent: every reply queued or playing is cut and every
        awaited turn superseded. Returns the ids of the replies cut."""
        cut = list(self.stops)
        for stop in self.stops.values():
            stop.set()
        self.superseded.update(self.awaiting)
        return cut

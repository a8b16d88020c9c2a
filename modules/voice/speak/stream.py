"""A reply that streams: its later sentences, handed from the bus to the thread that speaks.

A ``reply`` with a :class:`~agent.parts.Piece` that is not the last is followed on the bus by
``reply.more`` scenes (a language model's next sentences, each with its voice plan) and ends
with the one marked ``last``. The module puts each into the reply's :class:`ReplyStream` as
it arrives; the speaking thread, once the reply's own sentences are played, takes them in
order (:meth:`ReplyStream.pieces`) and plays them on the same track.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from agent.scene import Scene
from agent.voiceplan import VoicePlan

#: how long the speaker waits for the next piece (s): the mind ends a stream within its own
#: limit (``modules.mind.llm.sentence_s``); this only guards against a mind that is gone.
PIECE_WAIT_S = 10.0
#: how often a waiting speaker looks whether it was interrupted (s).
_POLL_S = 0.05


class ReplyStream:
    """The pieces after a streaming reply's first, in order, until the last."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Scene] = queue.Queue()
        #: the texts taken so far (the reply's own first), in order.
        self.texts: list[str] = []
        self.ended = False

    def put(self, more: Scene) -> None:
        """A ``reply.more`` scene arrived (called on the event loop)."""
        self._queue.put(more)

    def pieces(
        self, stop: threading.Event | None = None, wait_s: float = PIECE_WAIT_S
    ) -> Iterator[tuple[str, VoicePlan | None]]:
        """(text, plan) of each further piece with words, in order, until the last piece,
        an interrupt (``stop``), or ``wait_s`` without a piece. Blocks: call on the
        speaking thread."""
        while not self.ended:
            waited = 0.0
            while True:
                if stop is not None and stop.is_set():
                    return
                try:
                    more = self._queue.get(timeout=_POLL_S)
                    break
                except queue.Empty:
                    waited += _POLL_S
                    if waited >= wait_s:
                        self.ended = True
                        return
            if more.piece is None or more.piece.last:
                self.ended = True
            text = (more.text or "").strip()
            if text:
                self.texts.append(text)
                yield text, more.plan

"""Who has the floor: the half-duplex rule of live listening.

From the moment a turn is heard until its reply has been spoken (plus an echo tail) the
microphone is deaf, so the agent neither hears itself nor lets the user talk over a reply
it has not yet given. An error about the awaited turn (no reply will come) or
``REPLY_WAIT_S`` without a reply gives the floor back.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

#: how long the microphone stays deaf waiting for the reply to a turn before listening again (s).
REPLY_WAIT_S = 60.0


class Floor:
    """The turns awaiting a reply, and until when the microphone is deaf (monotonic s)."""

    def __init__(self) -> None:
        self.awaiting: set[str] = set()
        self._deaf_until_s = 0.0

    def await_reply(self, turn_id: str) -> None:
        """The turn ``turn_id`` was published: deaf until its reply is spoken."""
        self.awaiting.add(turn_id)
        self._deaf_until_s = time.monotonic()

    def awaited_by(self, parents: Iterable[str]) -> set[str]:
        """The awaited turns among ``parents`` (a reply's or an error's)."""
        return self.awaiting.intersection(parents)

    def answered(self, turns: set[str], echo_tail_s: float) -> None:
        """The reply to ``turns`` was spoken (or failed): listen again after ``echo_tail_s``
        (the room's echo of the reply must not be heard as a turn). Nothing for no turns."""
        if turns:
            self.awaiting.difference_update(turns)
            self._deaf_until_s = time.monotonic() + echo_tail_s

    def given_up(self, parents: Iterable[str]) -> None:
        """An error about these turns: no reply will come; listen again now."""
        self.awaiting.difference_update(parents)
        self._deaf_until_s = time.monotonic()

    def deaf(self) -> bool:
        """True while a reply is awaited or being spoken (frames are then dropped). A turn
        awaited for longer than ``REPLY_WAIT_S`` is given up (the next frame is heard)."""
        now = time.monotonic()
        deaf = bool(self.awaiting) or now < self._deaf_until_s
        if self.awaiting and now > self._deaf_until_s + REPLY_WAIT_S:
            self.awaiting.clear()
        return deaf

"""Whether the agent is speaking, known from the bus alone.

A ``reply`` scene means the agent starts speaking it; a ``spoken`` or ``error`` scene
whose parents name that reply means it has stopped. A reply that nothing follows within
``timeout_s`` (no voice module running, a lost scene) is forgotten, so the agent is not
thought to speak for ever.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable


class Speaking:
    """The replies being spoken now.

    Args:
        timeout_s: how long a reply counts as spoken without a ``spoken``/``error`` after it (s).
        clock: seconds, monotonic (``time.monotonic``; tests pass their own).
    """

    def __init__(self, timeout_s: float = 120.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s = timeout_s
        self.clock = clock
        self._since: dict[str, float] = {}

    def started(self, reply_id: str) -> None:
        """The reply ``reply_id`` is being spoken."""
        self._since[reply_id] = self.clock()

    def follows(self, parents: Iterable[str]) -> bool:
        """True when a scene with these parents ends a reply being spoken."""
        return any(p in self._since for p in parents)

    def ended(self, parents: Iterable[str]) -> list[str]:
        """Mark the replies among ``parents`` as ended; the ids ended."""
        gone = [p for p in parents if p in self._since]
        for p in gone:
            del self._since[p]
        return gone

    @property
    def replies(self) -> list[str]:
        """The ids of the replies being spoken now, oldest first (stale ones dropped)."""
        now = self.clock()
        for reply_id, since in list(self._since.items()):
            if now - since > self.timeout_s:
                del self._since[reply_id]
        return list(self._since)

    @property
    def speaking(self) -> bool:
        return bool(self.replies)

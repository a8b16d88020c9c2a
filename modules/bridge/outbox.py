"""Scenes sent and not yet confirmed by their receiver, kept to be sent again: the broker
alone cannot promise delivery (killed, it loses what it had not saved; it drops silently
beyond ``max_queued_messages`` for an offline peer; a refused publish is acknowledged as
if it went through)."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

log = logging.getLogger(__name__)


class Outbox:
    """Args:
    max_scenes: kept at most; beyond it the oldest is dropped with a log line (a
        receiver away for good must not grow memory without bound).
    """

    def __init__(self, max_scenes: int) -> None:
        self.max_scenes = max_scenes
        #: id → (topic, payload, monotonic time last sent; None: not yet sent).
        self._pending: OrderedDict[str, tuple[str, bytes, float | None]] = OrderedDict()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, scene_id: str, topic: str, payload: bytes) -> None:
        self._pending[scene_id] = (topic, payload, None)
        while len(self._pending) > self.max_scenes:
            old, _ = self._pending.popitem(last=False)
            self.dropped += 1
            log.warning("bridge: outbox full (%d); scene %s dropped unconfirmed", self.max_scenes, old)

    def confirm(self, ids: list[str]) -> int:
        """Forget the confirmed ``ids``; returns how many were pending."""
        return sum(self._pending.pop(i, None) is not None for i in ids)

    def due(self, older_than_s: float) -> list[tuple[str, str, bytes]]:
        """(id, topic, payload) of the scenes not sent yet or last sent more than
        ``older_than_s`` ago (all of them with 0), oldest first; they count as sent now."""
        now = time.monotonic()
        out = [(i, t, p) for i, (t, p, at) in self._pending.items() if at is None or now - at >= older_than_s]
        for i, t, p in out:
            self._pending[i] = (t, p, now)
        return out

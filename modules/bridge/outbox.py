"""Scenes sent and not yet confirmed by their receiver, kept to be sent again: the broker
alone cannot promise delivery (killed, it loses what it had not saved; it drops silently
beyond ``max_queued_messages`` for an offline peer; a refused publish is acknowledged as
if it went through)."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """One scene as it goes out: its ``scene_id``, the ``room`` it is for ("" = every site
    that takes its kind), ``topic``, ``payload`` (the scene's JSON) and whether the broker
    keeps it (``retain``)."""

    scene_id: str
    room: str
    topic: str
    payload: bytes
    retain: bool = False


class Outbox:
    """Args:
    max_scenes: kept at most; beyond it the oldest is dropped with a log line (a
        receiver away for good must not grow memory without bound).
    """

    def __init__(self, max_scenes: int) -> None:
        self.max_scenes = max_scenes
        #: (scene id, room) → (what goes out, monotonic time last sent; None: not yet sent).
        self._pending: OrderedDict[tuple[str, str], tuple[Outgoing, float | None]] = OrderedDict()
        #: (scene id, room) → how many times it was sent.
        self._sends: dict[tuple[str, str], int] = {}
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, out: Outgoing) -> None:
        self._pending[(out.scene_id, out.room)] = (out, None)
        while len(self._pending) > self.max_scenes:
            (old, room), _ = self._pending.popitem(last=False)
            self._sends.pop((old, room), None)
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:  # a line, not a flood
                log.warning(
                    "bridge: outbox full (%d); scene %s dropped unconfirmed (%d so far)",
                    self.max_scenes,
                    old,
                    self.dropped,
                )

    def confirm(self, ids: list[str], by: str) -> int:
        """Forget the ``ids`` the site ``by`` confirmed (sent to it, or to every site);
        returns how many were pending."""
        done = 0
        for i in ids:
            for key in ((i, by), (i, "")):
                if self._pending.pop(key, None) is not None:
                    self._sends.pop(key, None)
                    done += 1
                    break
        return done

    def withdraw(self, scene_id: str) -> bool:
        """Send ``scene_id`` no more, to anyone (it was answered otherwise); True when it was pending."""
        keys = [k for k in self._pending if k[0] == scene_id]
        for key in keys:
            del self._pending[key]
            self._sends.pop(key, None)
        return bool(keys)

    def due(self, older_than_s: float) -> list[Outgoing]:
        """What is not sent yet or was last sent more than ``older_than_s`` ago (all of it
        with 0), oldest first; it counts as sent now."""
        now = time.monotonic()
        out = [o for o, at in self._pending.values() if at is None or now - at >= older_than_s]
        for o in out:
            key = (o.scene_id, o.room)
            self._pending[key] = (o, now)
            self._sends[key] = self._sends.get(key, 0) + 1
        return out

    def unconfirmed(self, sends: int) -> list[Outgoing]:
        """What has been sent ``sends`` times exactly and is still not confirmed (asked
        after each sending, each is named once): the broker accepts a publish its ACL
        refuses without a word, and drops what an offline peer's queue cannot hold."""
        return [o for key, (o, _) in self._pending.items() if self._sends.get(key) == sends]

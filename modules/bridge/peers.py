"""The other sites as this peer knows them: presence (their retained ``online``/``offline``
status, the broker's last will when one vanishes), the last scene heard from each, and the
round-trip time through the broker (a ping answered on the ack topic).

Read by the health endpoint from another thread: every change and every snapshot holds
one lock.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Peer:
    """One site. ``status``: ``online``, ``offline`` or ``unknown`` (never heard of);
    ``since``: Unix seconds of the last change of status; ``last_kind``/``last_at``: the
    kind of the last scene taken from it and when (Unix s); ``rtt_ms``: the last round trip
    of a ping to it (ms), None before the first answer."""

    status: str = "unknown"
    since: float | None = None
    last_kind: str | None = None
    last_at: float | None = None
    rtt_ms: float | None = None


#: the scenes a room sends while it hears speech, before its turn.
HEARING_KINDS = ("speech.start", "partial")
#: the scenes that end a room's hearing: its turn, or the word that the speech became none.
HEARD_KINDS = ("turn", "speech.void")


class Peers:
    """Every site heard of, by name (this one excluded)."""

    def __init__(self, own_site: str) -> None:
        self.own_site = own_site
        self._peers: dict[str, Peer] = {}
        #: (site, kind) → monotonic s the last scene of that kind came from that site.
        self._kind_at: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def _peer(self, site: str) -> Peer:
        return self._peers.setdefault(site, Peer())

    def status(self, site: str, status: str) -> bool:
        """``site`` says it is ``status``; True when that is a change."""
        with self._lock:
            peer = self._peer(site)
            if peer.status == status:
                return False
            peer.status, peer.since = status, time.time()
            return True

    def heard(self, site: str, kind: str) -> None:
        """A scene of ``kind`` came from ``site``."""
        with self._lock:
            peer = self._peer(site)
            peer.last_kind, peer.last_at = kind, time.time()
            self._kind_at[(site, kind)] = time.monotonic()

    def may_be_hearing(self, site: str, within_s: float) -> bool:
        """True unless ``site`` is known to hear nothing now. A room says when it starts
        hearing speech (``speech.start``, at once) and what it hears so far (``partial``): it
        hears nothing now when neither came in the last ``within_s`` without its turn (or a
        ``speech.void``: the speech became no turn) since, or neither ever came (a peer that
        does not say when it hears is not waited for)."""
        with self._lock:
            signs = [self._kind_at.get((site, kind)) for kind in HEARING_KINDS]
            turn = max(self._kind_at.get((site, kind), -1.0) for kind in HEARD_KINDS)
        latest = max((t for t in signs if t is not None), default=None)
        if latest is None:
            return False
        return latest > turn and time.monotonic() - latest < within_s

    def round_trip(self, site: str, rtt_ms: float) -> None:
        with self._lock:
            self._peer(site).rtt_ms = rtt_ms

    def online(self, site: str) -> bool:
        with self._lock:
            peer = self._peers.get(site)
            return peer is not None and peer.status == "online"

    def online_sites(self) -> list[str]:
        with self._lock:
            return sorted(s for s, p in self._peers.items() if p.status == "online")

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """site → ``status``, ``since``, ``last_scene`` (``kind``, ``at``: ISO 8601 UTC),
        ``rtt_ms`` — as the health endpoint lists them."""

        def iso(t: float | None) -> str | None:
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) if t is not None else None

        with self._lock:
            return {
                site: {
                    "status": p.status,
                    "since": iso(p.since),
                    "last_scene": {"kind": p.last_kind, "at": iso(p.last_at)} if p.last_kind else None,
                    "rtt_ms": round(p.rtt_ms, 2) if p.rtt_ms is not None else None,
                }
                for site, p in sorted(self._peers.items())
            }

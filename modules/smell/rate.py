"""Rate limiting for live sources: publish on change, or once every ``min_interval_s``."""

from __future__ import annotations


class RateLimiter:
    """Admits a key (a smell scene's core, an error's reason) when it differs from the last
    admitted one of its kind, or when ``min_interval_s`` seconds have passed since then.

    Times are seconds on any monotonic clock (``time.monotonic()``)."""

    def __init__(self, min_interval_s: float) -> None:
        self.min_interval_s = min_interval_s
        self._last: dict[str, tuple[str, float]] = {}
        #: how many were held back, by kind.
        self.held: dict[str, int] = {}

    def admit(self, kind: str, key: str, now_s: float) -> bool:
        last = self._last.get(kind)
        if last is None or last[0] != key or now_s - last[1] >= self.min_interval_s:
            self._last[kind] = (key, now_s)
            return True
        self.held[kind] = self.held.get(kind, 0) + 1
        return False

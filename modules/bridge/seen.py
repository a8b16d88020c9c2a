"""The ids of scenes already taken from the broker: a scene sent again (QoS 1 redelivery,
the sender's outbox after a reconnect) is taken once."""

from __future__ import annotations

from collections import OrderedDict


class SeenIds:
    """The last ``max_ids`` ids, oldest forgotten first (bounded memory)."""

    def __init__(self, max_ids: int = 100_000) -> None:
        self.max_ids = max_ids
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, scene_id: str) -> bool:
        """True when ``scene_id`` is new (now remembered), False when it was seen."""
        if scene_id in self._ids:
            self._ids.move_to_end(scene_id)
            return False
        self._ids[scene_id] = None
        if len(self._ids) > self.max_ids:
            self._ids.popitem(last=False)
        return True

    def __contains__(self, scene_id: object) -> bool:
        return scene_id in self._ids

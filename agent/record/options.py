"""``[record]`` in the config: how a recorded session writes its audio."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from agent.config import ConfigError, parse_table
from agent.record import SESSION_FILE


@dataclass(frozen=True)
class RecordOptions:
    """Attributes:
    flush_s: audio is flushed (data and WAV header) at least this often, in seconds: a
        kill loses at most this much of it.
    rotate_s: a new audio file is begun after this many seconds of audio.
    """

    flush_s: float = 0.5
    rotate_s: float = 600.0

    @classmethod
    def parse(cls, table: dict) -> RecordOptions:
        """Raises: ConfigError naming the key."""
        o = parse_table(cls, table, "record")
        if not (math.isfinite(o.flush_s) and 0.01 <= o.flush_s <= 1.0):
            raise ConfigError(f"record.flush_s must be 0.01…1 s (a kill loses up to this much), got {o.flush_s}")
        if not (math.isfinite(o.rotate_s) and o.rotate_s >= 1.0):
            raise ConfigError(f"record.rotate_s must be at least 1 s, got {o.rotate_s}")
        return o

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def of_folder(cls, folder: Path) -> RecordOptions:
        """The options a session folder was begun with (its ``session.json``); the
        defaults when it cannot be read (a writer must not fail for want of them)."""
        try:
            table = json.loads((folder / SESSION_FILE).read_text(encoding="utf-8")).get("record", {})
            return cls.parse(table if isinstance(table, dict) else {})
        except (OSError, ValueError, AttributeError, ConfigError):
            return cls()

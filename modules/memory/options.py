"""``[modules.memory]``: the memory module's options, parsed and checked once.

A wrong name or type is refused by :func:`agent.codec.from_dict` naming the option; a
wrong choice or range is refused here naming the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.module import ModuleConfigError, parse_options
from agent.paths import data_dir
from modules.memory.speakers import THRESHOLD

SYNCHRONOUS = ("normal", "full")
DB_NAME = "memory.sqlite3"


@dataclass
class MemoryOptions:
    """``[modules.memory]`` in the config.

    Attributes:
        path: the SQLite database file; ``""`` → ``<data dir>/memory.sqlite3`` (:func:`data_dir`).
        synchronous: SQLite's ``synchronous`` in WAL mode: ``normal`` (a commit survives a
            killed process; the last commits may be lost to a power cut) or ``full`` (an
            fsync per commit: survives a power cut too, slower).
        busy_timeout_s: how long a write waits for another process's lock before it fails
            with ``output.unwritable`` (seconds).
        anchor_confirmations: a fact heard this many times is an ``anchor``, else a ``hypothesis``.
        embeddings: recall by sentence embedding (all-MiniLM-L6-v2); false → lexemes only.
        embed_threads: torch threads for one embedding, on the embedding thread only (the
            rest of the process keeps its own count). 1 by default: a sentence takes ~12 ms
            with one thread, and two threads on two cores shared with other work wait for
            each other (p95 132 ms against 13 ms with one; ``docs/benchmarks.md``).
        recall_facts: at most this many facts recalled per heard turn.
        recall_scenes: at most this many past scenes recalled per heard turn.
        min_similarity: the least score (cosine, or lexeme overlap 0–1) a recalled item needs.
        speaker_threshold: the largest timbre distance at which a heard voice is taken for an
            enrolled one (see :mod:`modules.memory.speakers` for the measurements); 0 turns
            voice recognition off.
    """

    path: str = ""
    synchronous: str = "normal"
    busy_timeout_s: float = 2.0
    anchor_confirmations: int = 2
    embeddings: bool = True
    embed_threads: int = 1
    recall_facts: int = 3
    recall_scenes: int = 3
    min_similarity: float = 0.35
    speaker_threshold: float = THRESHOLD

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> MemoryOptions:
        """The options of ``[modules.memory]`` (without ``enabled``).

        Raises:
            ModuleConfigError: an unknown option, a wrong type, choice or range.
        """
        parsed = parse_options(cls, options, "memory")
        if parsed.synchronous not in SYNCHRONOUS:
            raise ModuleConfigError(f"modules.memory.synchronous = {parsed.synchronous!r}: choose normal or full")
        if parsed.anchor_confirmations < 1:
            raise ModuleConfigError("modules.memory.anchor_confirmations must be 1 or more")
        if parsed.recall_facts < 0 or parsed.recall_scenes < 0:
            raise ModuleConfigError("modules.memory.recall_facts and recall_scenes must not be negative")
        if not 0.0 <= parsed.min_similarity <= 1.0:
            raise ModuleConfigError("modules.memory.min_similarity must be between 0 and 1")
        if parsed.speaker_threshold < 0:
            raise ModuleConfigError("modules.memory.speaker_threshold must not be negative (0 turns it off)")
        if parsed.embed_threads < 1:
            raise ModuleConfigError("modules.memory.embed_threads must be 1 or more")
        if parsed.busy_timeout_s < 0:
            raise ModuleConfigError("modules.memory.busy_timeout_s must not be negative")
        return parsed

    def db_path(self) -> Path:
        """The database file these options name."""
        return Path(self.path).expanduser() if self.path else data_dir() / DB_NAME

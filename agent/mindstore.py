"""What the mind keeps between sessions: its nodes and their trust, the cores it has heard
(for unfolding by similarity and for mining), and its frozen Δ-codes. One SQLite file
(``<data dir>/mind.sqlite3``, or ``:memory:``), one small transaction per turn.

It holds no words the user said beyond the core lemmas of each turn (MemoryAnchor keeps
the text); ``run.py think --codes`` shows the codes and ``run.py memory forget`` erases all
of it with the rest of what the agent remembers (the mind handles ``memory.forget``).

Tables: ``nodes`` (a sorted ``+``-joined lemma combination, its confirmations, the sessions
it was heard in), ``turns`` (session, wall time, scene id, speaker, core lemmas with their
salience as JSON), ``codes`` (name, parts as JSON, count and PMI when frozen), ``meta``
(schema version).
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.deltas import DeltaCode
from agent.errors import ScenevoiceError

SCHEMA = 1
#: turns kept for similarity and mining; older ones are dropped (their nodes and codes stay).
MAX_TURNS = 2000

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
    lemmas TEXT PRIMARY KEY, size INTEGER NOT NULL, confirmations INTEGER NOT NULL,
    sessions INTEGER NOT NULL, last_session TEXT NOT NULL, last_wall TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, wall TEXT NOT NULL,
    scene_id TEXT NOT NULL, speaker TEXT, weights TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS codes (
    code TEXT PRIMARY KEY, parts TEXT NOT NULL, count INTEGER NOT NULL, pmi REAL NOT NULL,
    wall TEXT NOT NULL);
"""


class MindStoreError(ScenevoiceError):
    """The mind's file cannot be opened, read or written (locked, full disk, not SQLite)."""

    reason = "output.unwritable"


@dataclass(frozen=True)
class Node:
    """A lemma combination as kept: how often it was confirmed, over how many sessions, and
    the last of them (None for a node never heard)."""

    lemmas: tuple[str, ...]
    confirmations: int
    sessions: int
    last_session: str | None = None

    def heard_in(self, session: str) -> Node:
        """The node as it stands once heard once more, in ``session``."""
        return Node(self.lemmas, self.confirmations + 1, self.sessions + (session != self.last_session), session)


@dataclass(frozen=True)
class PastTurn:
    """A remembered turn: its scene id, when, its core lemmas with their salience, and its
    row in the file (``id``: increasing, never reused)."""

    scene_id: str
    session: str
    wall: str
    weights: dict[str, float]
    id: int = 0

    @property
    def core(self) -> str:
        return "+".join(sorted(self.weights, key=lambda w: -self.weights[w])[:4])


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine similarity of two sparse vectors (lemma → weight); 0 when either is empty."""
    dot = sum(w * b[k] for k, w in a.items() if k in b)
    na, nb = math.sqrt(sum(w * w for w in a.values())), math.sqrt(sum(w * w for w in b.values()))
    return dot / (na * nb) if na and nb else 0.0


class MindStore:
    """The mind's SQLite file. Every method raises :class:`MindStoreError` on a database
    failure and leaves the file as it was (one transaction per change)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        #: the turns of the file as last read, oldest first (see :meth:`turns`).
        self._kept: list[PastTurn] = []
        self._kept_lock = threading.Lock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=2.0)
            if self.path != ":memory:":
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_TABLES)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
            elif int(row[0]) > SCHEMA:
                raise MindStoreError(f"{self.path}: schema {row[0]} is newer than this program reads ({SCHEMA})")
        except (sqlite3.Error, OSError) as exc:
            raise MindStoreError(f"cannot open the mind's memory {self.path}: {exc}") from None

    def close(self) -> None:
        self.db.close()

    def _tx(self, statements: Iterable[tuple[str, tuple]]) -> None:
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self.db.execute(sql, args)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise MindStoreError(f"cannot write the mind's memory {self.path}: {exc}") from None

    def _rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise MindStoreError(f"cannot read the mind's memory {self.path}: {exc}") from None

    # --- nodes --------------------------------------------------------------------------

    def node(self, lemmas: Iterable[str]) -> Node:
        """A node as kept (confirmations 0 for one never heard)."""
        key = tuple(sorted(set(lemmas)))
        rows = self._rows("SELECT confirmations, sessions, last_session FROM nodes WHERE lemmas=?", ("+".join(key),))
        return Node(key, rows[0][0], rows[0][1], rows[0][2]) if rows else Node(key, 0, 0)

    def nodes(self, min_confirmations: int = 1) -> list[Node]:
        """Every node confirmed at least ``min_confirmations`` times, most confirmed first."""
        rows = self._rows(
            "SELECT lemmas, confirmations, sessions, last_session FROM nodes WHERE confirmations >= ? "
            "ORDER BY confirmations DESC, size, lemmas",
            (min_confirmations,),
        )
        return [Node(tuple(r[0].split("+")), r[1], r[2], r[3]) for r in rows]

    # --- turns --------------------------------------------------------------------------

    def remember_turn(
        self,
        *,
        session: str,
        wall: str,
        scene_id: str,
        speaker: str | None,
        weights: Mapping[str, float],
        nodes: Iterable[tuple[str, ...]],
    ) -> None:
        """Keep one turn: its core lemmas and a confirmation for each of its ``nodes`` —
        one transaction."""
        statements: list[tuple[str, tuple]] = [
            (
                "INSERT INTO turns (session, wall, scene_id, speaker, weights) VALUES (?, ?, ?, ?, ?)",
                (session, wall, scene_id, speaker, json.dumps(dict(weights), ensure_ascii=False)),
            ),
            (
                "DELETE FROM turns WHERE id <= (SELECT MAX(id) FROM turns) - ?",
                (MAX_TURNS,),
            ),
        ]
        for node in nodes:
            key = "+".join(node)
            statements.append(
                (
                    "INSERT INTO nodes VALUES (?, ?, 1, 1, ?, ?) ON CONFLICT(lemmas) DO UPDATE SET "
                    "confirmations = confirmations + 1, "
                    "sessions = sessions + (last_session != excluded.last_session), "
                    "last_session = excluded.last_session, last_wall = excluded.last_wall",
                    (key, len(node), session, wall),
                )
            )
        self._tx(statements)

    def turns(self, limit: int = MAX_TURNS) -> list[PastTurn]:
        """The last ``limit`` turns kept, oldest first.

        Read from the file once, then kept in memory: each call asks the file only for its
        first and last row and its count, and reads just the rows added since (by any
        process); a row erased anywhere else makes it read them all again. Reading and
        parsing all 2 000 turns took ~10 ms a call, twice a turn (:meth:`similar` and the
        Δ-code mining)."""
        with self._kept_lock:
            self._sync_kept()
            return self._kept[-limit:] if limit < len(self._kept) else list(self._kept)

    def _sync_kept(self) -> None:
        (first_id, last_id, count), *_ = self._rows(
            "SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), 0), COUNT(*) FROM turns"
        )
        kept_last = self._kept[-1].id if self._kept else 0
        if count == len(self._kept) and last_id == kept_last and (not count or first_id == self._kept[0].id):
            return
        if last_id >= kept_last:  # rows added (and the oldest dropped): read only the new ones
            merged = [t for t in self._kept if t.id >= first_id] + self._read_turns("WHERE id > ?", (kept_last,))
            # Every row of the file is in ``merged`` (ids only grow), so equal counts mean equal rows.
            if len(merged) == count:
                self._kept = merged
                return
        self._kept = self._read_turns("", ())

    def _read_turns(self, where: str, args: tuple) -> list[PastTurn]:
        rows = self._rows(f"SELECT scene_id, session, wall, weights, id FROM turns {where} ORDER BY id", args)
        return [PastTurn(r[0], r[1], r[2], {k: float(v) for k, v in json.loads(r[3]).items()}, r[4]) for r in rows]

    def similar(
        self, weights: Mapping[str, float], *, k: int = 2, min_cosine: float = 0.3, skip: str | None = None
    ) -> list[tuple[PastTurn, float]]:
        """The ``k`` kept turns most like ``weights`` (cosine ≥ ``min_cosine``), best first;
        ``skip``: a scene id to leave out (the turn itself)."""
        scored = [(t, cosine(weights, t.weights)) for t in self.turns() if t.scene_id != skip]
        scored = [s for s in scored if s[1] >= min_cosine]
        scored.sort(key=lambda s: -s[1])
        return scored[:k]

    # --- codes --------------------------------------------------------------------------

    def codes(self) -> list[DeltaCode]:
        """Every frozen code, in the order it froze."""
        rows = self._rows("SELECT code, parts, count, pmi FROM codes")
        found = [DeltaCode(r[0], tuple(json.loads(r[1])), r[2], r[3]) for r in rows]
        return sorted(found, key=lambda c: int(c.code[1:]))

    def remember_codes(self, codes: Iterable[DeltaCode], wall: str) -> None:
        """Keep newly frozen codes (a name already taken is left as it was)."""
        self._tx(
            [
                (
                    "INSERT OR IGNORE INTO codes VALUES (?, ?, ?, ?, ?)",
                    (c.code, json.dumps(list(c.parts), ensure_ascii=False), c.count, c.pmi, wall),
                )
                for c in codes
            ]
        )

    # --- erasing ------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many nodes, turns and codes are kept."""
        return {t: self._rows(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("nodes", "turns", "codes")}

    def forget(self, speaker: str | None = None) -> int:
        """Erase what is kept: everything (``speaker`` None), or one speaker's turns.
        Nodes and codes carry no speaker, so they go only with everything. Returns the
        rows erased."""
        before = sum(self.counts().values())
        if speaker is None:
            self._tx([("DELETE FROM turns", ()), ("DELETE FROM nodes", ()), ("DELETE FROM codes", ())])
        else:
            self._tx([("DELETE FROM turns WHERE speaker = ?", (speaker,))])
        return before - sum(self.counts().values())

"""The memory database: every scene of every session, facts, and scene embeddings, in one
SQLite file (stdlib ``sqlite3``).

Durability: WAL journal with ``synchronous=NORMAL`` by default. A transaction is committed
when its frames are in the WAL file; a killed process (SIGKILL) loses nothing committed,
because the operating system still holds and writes those frames — only a power cut or
an OS crash can roll back the last commits, which ``synchronous=FULL`` (an fsync per
commit) also prevents, at a cost per commit. Each scene is its own small transaction.

Not thread-safe: one thread owns a :class:`MemoryStore` (the module's writer thread).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from agent.errors import ScenevoiceError
from agent.facts import Fact
from agent.files import write_atomically
from agent.lexicon import text_lexemes
from agent.scene import Scene, now_iso
from modules.memory.embedding import DIM, from_blob, to_blob
from modules.memory.migrations import migrate, schema_version
from modules.memory.speakers import nearest

#: scene kinds whose text is the user's speech: facts come from them, recall searches them.
HEARD_KINDS = ("turn", "utterance")
#: the heard scenes without an embedding: the WHERE of the index ``scenes_unembedded``
#: (``migrations.py``, version 3), word for word.
UNEMBEDDED = "embedding IS NULL AND kind IN ('turn', 'utterance')"


class MemoryStoreError(ScenevoiceError, RuntimeError):
    """The database cannot be opened or written (a locked file, a full disk, a read-only
    folder, a file that is not a database); the message names the file."""

    reason = "output.unwritable"


@dataclass(frozen=True)
class StoredFact:
    """A fact as kept: :class:`~agent.facts.Fact` plus where and how often it was heard.

    Attributes:
        id: its row id.
        subject, kind, relation, value: as in :class:`~agent.facts.Fact`.
        source_scene: the id of the scene it was first heard in.
        first_wall, last_wall: when it was first and last heard (ISO 8601 UTC).
        confirmations: how many scenes stated it.
    """

    id: int
    subject: str
    kind: str
    relation: str
    value: str
    source_scene: str
    first_wall: str
    last_wall: str
    confirmations: int


@dataclass(frozen=True)
class StoredScene:
    """The indexed columns of a kept scene (the whole scene is :meth:`MemoryStore.scene`)."""

    id: str
    session: str
    wall_start: str
    channel: str
    kind: str
    speaker: str | None
    text: str | None
    core: str | None


@dataclass(frozen=True)
class StoredSpeaker:
    """A voice as kept (migration 2): who, the running mean of its timbre profiles, how often heard.

    Attributes:
        id: ``speaker-N``, never changed.
        name: the name a name fact heard from this voice gave, or None.
        timbre: the mean of the ``sound.timbre`` vectors heard from it (float32).
        count: how many heard scenes it spoke.
        first_wall, last_wall: when it was first and last heard (ISO 8601 UTC).
    """

    id: str
    name: str | None
    timbre: np.ndarray
    count: int
    first_wall: str
    last_wall: str

    @property
    def label(self) -> str:
        """What scenes call this voice: its name once known, else its id."""
        return self.name or self.id


_SPEAKER_COLUMNS = "id, name, timbre, count, first_wall, last_wall"


def _speaker(row: tuple) -> StoredSpeaker:
    return StoredSpeaker(row[0], row[1], np.frombuffer(row[2], np.float32).copy(), row[3], row[4], row[5])


_FACT_COLUMNS = "id, subject, kind, relation, value, source_scene, first_wall, last_wall, confirmations"
_SCENE_COLUMNS = "id, session, wall_start, channel, kind, speaker, text, core"


def _lexemes(scene: Scene) -> set[str]:
    words = set(scene.lexemes)
    if scene.core:
        words.update(scene.core.split("+"))
    if scene.text:
        words.update(text_lexemes(scene.text))
    return {w.lower() for w in words}


class MemoryStore:
    """Open (creating and migrating as needed) the memory database at ``path``.

    Args:
        path: the SQLite file; its folder is created.
        synchronous: ``normal`` or ``full`` (see the module docstring).
        busy_timeout_s: how long to wait for another process's write lock (seconds).

    Raises:
        MemoryStoreError: the file cannot be created, opened or migrated.
    """

    def __init__(self, path: str | Path, synchronous: str = "normal", busy_timeout_s: float = 2.0) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=busy_timeout_s)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self.conn.execute("PRAGMA secure_delete=ON")  # forgotten data is overwritten, not left in free pages
            self.applied = migrate(self.conn)
        except (OSError, sqlite3.Error, RuntimeError) as exc:
            raise self._error("open", exc) from exc
        self._vec_ids: list[str] | None = None
        self._vec_rows: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None

    def _error(self, doing: str, exc: BaseException) -> MemoryStoreError:
        return MemoryStoreError(f"memory database {self.path}: cannot {doing}: {exc}", subject=str(self.path))

    def _write(self, doing: str, statements) -> None:
        """Run ``statements(conn)`` in one ``BEGIN IMMEDIATE`` transaction."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                statements(self.conn)
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._error(doing, exc) from exc

    @property
    def version(self) -> int:
        """The schema version recorded in the database."""
        return schema_version(self.conn)

    def close(self) -> None:
        self.conn.close()

    # --- writing ------------------------------------------------------------------------------

    def start_session(self, session: str, started: str | None = None) -> None:
        """Record a session (one run of the agent)."""
        self._write(
            "record a session",
            lambda c: c.execute(
                "INSERT OR IGNORE INTO sessions (id, started) VALUES (?, ?)", (session, started or now_iso())
            ),
        )

    @staticmethod
    def _insert(conn: sqlite3.Connection, scene: Scene, session: str) -> bool:
        cur = conn.execute(
            "INSERT OR IGNORE INTO scenes (id, session, wall_start, channel, kind, speaker, text, core, json)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                scene.id,
                session,
                scene.wall_start,
                scene.channel,
                scene.kind,
                scene.speaker,
                scene.text,
                scene.core,
                scene.to_json(),
            ),
        )
        if cur.rowcount == 0:
            return False
        if scene.kind not in HEARD_KINDS:
            return True
        conn.executemany(
            "INSERT OR IGNORE INTO lexemes (lexeme, scene_id) VALUES (?, ?)", [(w, scene.id) for w in _lexemes(scene)]
        )
        return True

    def add_scene(self, scene: Scene, session: str) -> bool:
        """Keep ``scene`` (one transaction; committed when this returns).

        Returns:
            False when a scene with its id was already kept.

        Raises:
            MemoryStoreError: ``output.unwritable`` (locked database, full disk).
        """
        inserted: list[bool] = []
        self._write(f"keep scene {scene.id}", lambda c: inserted.append(self._insert(c, scene, session)))
        return inserted[0]

    def add_scenes(self, scenes: list[Scene], session: str) -> int:
        """Keep ``scenes`` in one transaction; returns how many were new."""
        count: list[int] = []
        self._write("keep scenes", lambda c: count.append(sum(self._insert(c, s, session) for s in scenes)))
        return count[0]

    def add_facts(self, facts: list[Fact], scene: Scene) -> list[int]:
        """Record ``facts`` heard in ``scene``: a new fact starts with one confirmation; a
        fact heard again in another scene gains one.

        Returns:
            the ids of the facts ``scene`` stated.
        """
        ids: list[int] = []

        def write(c: sqlite3.Connection) -> None:
            for f in facts:
                c.execute(
                    "INSERT INTO facts (subject, kind, relation, value, value_key, source_scene, first_wall,"
                    " last_wall, confirmations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)"
                    " ON CONFLICT (subject, kind, relation, value_key) DO UPDATE SET value = excluded.value",
                    (f.subject, f.kind, f.relation, f.value, f.key, scene.id, scene.wall_start, scene.wall_start),
                )
                (fact_id,) = c.execute(
                    "SELECT id FROM facts WHERE subject = ? AND kind = ? AND relation = ? AND value_key = ?",
                    (f.subject, f.kind, f.relation, f.key),
                ).fetchone()
                new = c.execute(
                    "INSERT OR IGNORE INTO fact_sources (fact_id, scene_id) VALUES (?, ?)", (fact_id, scene.id)
                ).rowcount
                if new:
                    c.execute(
                        "UPDATE facts SET confirmations = confirmations + 1, last_wall = ? WHERE id = ?",
                        (scene.wall_start, fact_id),
                    )
                ids.append(fact_id)

        if facts:
            self._write("record facts", write)
        return ids

    def identify_speaker(self, timbre: list[float], wall: str, threshold: float) -> tuple[StoredSpeaker, bool]:
        """The voice that spoke a heard scene whose ``sound.timbre`` is ``timbre``: the nearest
        enrolled voice within ``threshold`` (:func:`~modules.memory.speakers.distance`), its
        mean and count updated; else a new voice ``speaker-N`` enrolled. One transaction.

        Returns:
            (the voice after this scene, whether it was recognised rather than enrolled).
        """
        vector = np.asarray(timbre, np.float32)
        out: list[tuple[StoredSpeaker, bool]] = []

        def write(c: sqlite3.Connection) -> None:
            known = [_speaker(r) for r in c.execute(f"SELECT {_SPEAKER_COLUMNS} FROM speakers ORDER BY rowid")]
            found = nearest([k.timbre for k in known], vector)
            if found is not None and found[1] <= threshold:
                old = known[found[0]]
                mean = ((old.timbre.astype(np.float64) * old.count + vector) / (old.count + 1)).astype(np.float32)
                c.execute(
                    "UPDATE speakers SET timbre = ?, count = count + 1, last_wall = ? WHERE id = ?",
                    (mean.tobytes(), wall, old.id),
                )
                out.append((StoredSpeaker(old.id, old.name, mean, old.count + 1, old.first_wall, wall), True))
                return
            numbers = [int(k.id.split("-")[1]) for k in known if k.id.startswith("speaker-") and k.id[8:].isdigit()]
            new = StoredSpeaker(f"speaker-{max(numbers, default=0) + 1}", None, vector, 1, wall, wall)
            c.execute(
                f"INSERT INTO speakers ({_SPEAKER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (new.id, None, vector.tobytes(), 1, wall, wall),
            )
            out.append((new, False))

        self._write("recognise a voice", write)
        return out[0]

    def name_speaker(self, speaker_id: str, name: str) -> None:
        """Give the voice ``speaker_id`` the name a name fact heard from it stated."""
        self._write(
            "name a voice", lambda c: c.execute("UPDATE speakers SET name = ? WHERE id = ?", (name, speaker_id))
        )

    def set_embedding(self, scene_id: str, vector: np.ndarray) -> None:
        """Store a scene's embedding (float32, :data:`~modules.memory.embedding.DIM` numbers)."""
        vector = np.asarray(vector, np.float32).reshape(DIM)
        self._write(
            "store an embedding",
            lambda c: c.execute("UPDATE scenes SET embedding = ? WHERE id = ?", (to_blob(vector), scene_id)),
        )
        if self._vec_ids is not None and scene_id not in self._vec_index:
            self._vec_index[scene_id] = len(self._vec_ids)
            self._vec_ids.append(scene_id)
            self._vec_rows.append(vector)
            self._matrix = None

    def unembedded(self, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` heard scenes with text but no embedding yet: ``[(id, text)]``, newest
        first. Read from the partial index ``scenes_unembedded`` (its WHERE is written out
        here as it is there: SQLite uses such an index only for a query that states it)."""
        rows = self.conn.execute(
            f"SELECT id, text FROM scenes INDEXED BY scenes_unembedded WHERE {UNEMBEDDED}"
            " AND text IS NOT NULL AND text != '' ORDER BY wall_start DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def forget(self, speaker: str | None) -> tuple[int, int]:
        """Erase ``speaker``'s scenes, facts and voice profile (``speaker`` is a voice's id or
        name; ``user`` also means scenes without a speaker), or everything when ``speaker``
        is None; the WAL is then checkpointed and truncated so no copy stays in it.

        Returns:
            (scenes erased, facts erased).
        """
        counts: list[int] = []

        def write(c: sqlite3.Connection) -> None:
            if speaker is None:
                where, args = "1", ()
                fwhere, fargs = "1", ()
            elif speaker == "user":
                where, args = "(speaker = ? OR speaker IS NULL)", (speaker,)
                fwhere, fargs = "subject = ?", (speaker,)
            else:
                # A voice is forgotten under its id and its name (scenes named it by either).
                names = {speaker}
                for row in c.execute("SELECT id, name FROM speakers WHERE id = ? OR name = ?", (speaker, speaker)):
                    names.update(n for n in row if n)
                marks = ",".join("?" * len(names))
                where, args = f"speaker IN ({marks})", tuple(sorted(names))
                fwhere, fargs = f"subject IN ({marks})", tuple(sorted(names))
            c.execute(f"DELETE FROM lexemes WHERE scene_id IN (SELECT id FROM scenes WHERE {where})", args)
            c.execute(f"DELETE FROM fact_sources WHERE fact_id IN (SELECT id FROM facts WHERE {fwhere})", fargs)
            counts.append(c.execute(f"DELETE FROM scenes WHERE {where}", args).rowcount)
            counts.append(c.execute(f"DELETE FROM facts WHERE {fwhere}", fargs).rowcount)
            if speaker is None:
                c.execute("DELETE FROM sessions")
                c.execute("DELETE FROM speakers")
            else:
                c.execute("DELETE FROM speakers WHERE id = ? OR name = ?", (speaker, speaker))

        self._write("forget", write)
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise self._error("checkpoint after forgetting", exc) from exc
        self._vec_ids = None
        self._matrix = None
        return counts[0], counts[1]

    # --- reading ------------------------------------------------------------------------------

    def facts(self, subject: str | None = None) -> list[StoredFact]:
        """Every fact (of ``subject``, when given), most confirmed first, then newest."""
        where, args = ("WHERE subject = ?", (subject,)) if subject else ("", ())
        rows = self.conn.execute(
            f"SELECT {_FACT_COLUMNS} FROM facts {where} ORDER BY confirmations DESC, last_wall DESC", args
        ).fetchall()
        return [StoredFact(*r) for r in rows]

    def speakers(self) -> list[StoredSpeaker]:
        """Every enrolled voice, most heard first."""
        rows = self.conn.execute(f"SELECT {_SPEAKER_COLUMNS} FROM speakers ORDER BY count DESC, rowid").fetchall()
        return [_speaker(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """``{"scenes", "sessions", "facts", "speakers", "voices", "embedded"}``: how much is
        kept (``speakers``: distinct ``speaker`` fields of scenes; ``voices``: enrolled voices)."""
        one = lambda sql: int(self.conn.execute(sql).fetchone()[0])  # noqa: E731
        return {
            "scenes": one("SELECT COUNT(*) FROM scenes"),
            "sessions": one("SELECT COUNT(*) FROM sessions"),
            "facts": one("SELECT COUNT(*) FROM facts"),
            "speakers": one("SELECT COUNT(DISTINCT COALESCE(speaker, 'user')) FROM scenes"),
            "voices": one("SELECT COUNT(*) FROM speakers"),
            "embedded": one("SELECT COUNT(*) FROM scenes WHERE embedding IS NOT NULL"),
        }

    def stored(self, scene_id: str) -> StoredScene | None:
        """The indexed columns of the kept scene ``scene_id``, or None."""
        row = self.conn.execute(f"SELECT {_SCENE_COLUMNS} FROM scenes WHERE id = ?", (scene_id,)).fetchone()
        return StoredScene(*row) if row else None

    def scene(self, scene_id: str) -> Scene | None:
        """The whole kept scene ``scene_id`` (parsed from its JSON), or None."""
        row = self.conn.execute("SELECT json FROM scenes WHERE id = ?", (scene_id,)).fetchone()
        return Scene.from_json(row[0]) if row else None

    def scene_ids(self) -> list[str]:
        """Every kept scene's id, oldest first."""
        return [r[0] for r in self.conn.execute("SELECT id FROM scenes ORDER BY rowid")]

    def _load_vectors(self) -> None:
        ids: list[str] = []
        rows: list[np.ndarray] = []
        for scene_id, blob in self.conn.execute("SELECT id, embedding FROM scenes WHERE embedding IS NOT NULL"):
            ids.append(scene_id)
            rows.append(from_blob(blob))
        self._vec_ids, self._vec_rows = ids, rows
        self._vec_index = {s: i for i, s in enumerate(ids)}
        self._matrix = None

    def search_vectors(self, query: np.ndarray, k: int, exclude: set[str] = frozenset()) -> list[tuple[str, float]]:
        """The ``k`` kept scenes whose embeddings are nearest ``query`` (unit float32,
        DIM numbers) by cosine: ``[(scene id, cosine)]``, best first. Brute force in numpy;
        the vectors are read from the database once, then kept in memory."""
        if self._vec_ids is None:
            self._load_vectors()
        assert self._vec_ids is not None
        if not self._vec_ids or k <= 0:
            return []
        if self._matrix is None:
            self._matrix = np.vstack(self._vec_rows).astype(np.float32, copy=False)
        scores = self._matrix @ np.asarray(query, np.float32).reshape(DIM)
        take = min(len(scores), k + len(exclude))
        best = np.argpartition(-scores, take - 1)[:take]
        ranked = sorted(best, key=lambda i: -scores[i])
        out = [(self._vec_ids[i], float(scores[i])) for i in ranked if self._vec_ids[i] not in exclude]
        return out[:k]

    def search_lexemes(self, lexemes: list[str], k: int, exclude: set[str] = frozenset()) -> list[tuple[str, float]]:
        """The ``k`` kept heard scenes sharing the most of ``lexemes`` (their text's, core's
        and lexemes'): ``[(scene id, shared / len(lexemes))]``, best first. Only heard scenes
        (:data:`HEARD_KINDS`) are indexed by lexeme."""
        words = sorted({w.lower() for w in lexemes})
        if not words or k <= 0:
            return []
        rows = self.conn.execute(
            f"SELECT scene_id, COUNT(*) AS n FROM lexemes WHERE lexeme IN ({','.join('?' * len(words))})"
            f" GROUP BY scene_id ORDER BY n DESC LIMIT ?",
            (*words, k + len(exclude)),
        ).fetchall()
        return [(r[0], r[1] / len(words)) for r in rows if r[0] not in exclude][:k]

    # --- export ------------------------------------------------------------------------------

    def export(self, out_path: str | Path) -> tuple[Path, int]:
        """Write everything kept as one JSON file, whole or not at all:
        ``{"schema_version", "exported", "sessions": [...], "facts": [...], "speakers": [...],
        "scenes": [...]}``.

        Returns:
            (the file, the number of scenes in it).

        Raises:
            OSError: the file cannot be written (the caller reports ``output.unwritable``).
        """
        sessions = [
            {"id": r[0], "started": r[1]}
            for r in self.conn.execute("SELECT id, started FROM sessions ORDER BY started")
        ]
        scenes = [
            {"session": r[0], "scene": json.loads(r[1])}
            for r in self.conn.execute("SELECT session, json FROM scenes ORDER BY rowid")
        ]
        document = {
            "schema_version": self.version,
            "exported": now_iso(),
            "sessions": sessions,
            "facts": [asdict(f) for f in self.facts()],
            "speakers": [{**asdict(v), "timbre": [float(x) for x in v.timbre]} for v in self.speakers()],
            "scenes": scenes,
        }

        def write(partial: Path) -> None:
            with open(partial, "w", encoding="utf-8") as out:
                json.dump(document, out, ensure_ascii=False, indent=1)

        return write_atomically(out_path, write), len(scenes)

"""The memory database's schema, as numbered migrations recorded in ``schema_version``.

Migration *n* runs once, in one transaction with the row that records it, so a database
is always at a whole version. Add a migration by appending to :data:`MIGRATIONS`; never
edit one that has shipped.
"""

from __future__ import annotations

import sqlite3

#: migration n is MIGRATIONS[n - 1]: SQL statements run in order.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            started TEXT NOT NULL)""",
        """CREATE TABLE scenes (
            id TEXT PRIMARY KEY,
            session TEXT NOT NULL,
            wall_start TEXT NOT NULL,
            channel TEXT NOT NULL,
            kind TEXT NOT NULL,
            speaker TEXT,
            text TEXT,
            core TEXT,
            json TEXT NOT NULL,
            embedding BLOB)""",
        "CREATE INDEX scenes_session ON scenes(session)",
        "CREATE INDEX scenes_wall ON scenes(wall_start)",
        "CREATE INDEX scenes_speaker ON scenes(speaker)",
        "CREATE INDEX scenes_kind ON scenes(channel, kind)",
        "CREATE INDEX scenes_core ON scenes(core)",
        """CREATE TABLE lexemes (
            lexeme TEXT NOT NULL,
            scene_id TEXT NOT NULL,
            PRIMARY KEY (lexeme, scene_id)) WITHOUT ROWID""",
        "CREATE INDEX lexemes_scene ON lexemes(scene_id)",
        """CREATE TABLE facts (
            id INTEGER PRIMARY KEY,
            subject TEXT NOT NULL,
            kind TEXT NOT NULL,
            relation TEXT NOT NULL DEFAULT '',
            value TEXT NOT NULL,
            value_key TEXT NOT NULL,
            source_scene TEXT NOT NULL,
            first_wall TEXT NOT NULL,
            last_wall TEXT NOT NULL,
            confirmations INTEGER NOT NULL DEFAULT 1,
            UNIQUE (subject, kind, relation, value_key))""",
        """CREATE TABLE fact_sources (
            fact_id INTEGER NOT NULL,
            scene_id TEXT NOT NULL,
            PRIMARY KEY (fact_id, scene_id)) WITHOUT ROWID""",
    ],
    # 2: voices recognised by timbre (modules.memory.speakers). ``id`` is ``speaker-N``
    # for ever; ``name`` is set once a name fact is heard from that voice.
    [
        """CREATE TABLE speakers (
            id TEXT PRIMARY KEY,
            name TEXT,
            timbre BLOB NOT NULL,
            count INTEGER NOT NULL,
            first_wall TEXT NOT NULL,
            last_wall TEXT NOT NULL)""",
        "CREATE INDEX speakers_name ON speakers(name)",
    ],
    # 3: the heard scenes still without an embedding (``MemoryStore.unembedded``, asked on
    # every turn), found without reading every scene: 17 ms a turn at 17 000 scenes before.
    [
        "CREATE INDEX scenes_unembedded ON scenes(wall_start)"
        " WHERE embedding IS NULL AND kind IN ('turn', 'utterance')",
    ],
]

LATEST = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    """The version recorded in ``conn``'s database (0 for a new one)."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)")
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, upto: int = LATEST) -> list[int]:
    """Run the migrations ``conn``'s database lacks, up to version ``upto`` (the latest by
    default; a lower one builds an old database for tests), each in its own transaction
    (``BEGIN IMMEDIATE``: two processes opening a new database do not both migrate).

    Returns:
        the versions applied now (empty when it was up to date).

    Raises:
        RuntimeError: the database is newer than this program (a later schema).
        sqlite3.Error: from SQLite (a locked or read-only database).
    """
    applied: list[int] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if current > LATEST:
        raise RuntimeError(f"schema version {current} is newer than this program's {LATEST}")
    for version in range(current + 1, min(upto, LATEST) + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) >= version:  # another process got there first
                conn.execute("COMMIT")
                continue
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied) VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
                (version,),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied

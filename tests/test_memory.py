"""MemoryAnchor: scenes kept across sessions, facts, recall, erasure, and crash safety."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from agent.bus import SceneBus
from agent.facts import extract_facts
from agent.module import ModuleConfigError
from agent.parts import Request
from agent.scene import Scene
from modules.memory import MemoryAnchor
from modules.memory.store import MemoryStore


async def _session(db: Path, scenes: list[Scene], until: str, **options) -> list[Scene]:
    """One run of the agent (a bus with the memory module): publish ``scenes``, collect
    what memory publishes until a scene of kind ``until`` (or an error) arrives."""
    bus = SceneBus()
    memory = MemoryAnchor({"path": str(db), **options})
    got: list[Scene] = []
    finished = asyncio.Event()

    async def watch(scene: Scene) -> None:
        got.append(scene)
        if scene.kind in (until, "error"):
            finished.set()

    bus.subscribe("memory", memory.handle, memory.wants, inbox_size=memory.inbox_size)
    bus.subscribe("watch", watch, lambda s: s.channel in ("memory", "system"))
    await bus.start()
    await memory.start(bus)
    for scene in scenes:
        await bus.publish(scene, source="test")
    await asyncio.wait_for(finished.wait(), 120)
    await bus.stop(drain_timeout_s=5)
    await memory.stop()
    return got


def _turn(text: str, **fields) -> Scene:
    return Scene(channel="voice", kind="turn", text=text, **fields)


def test_facts_from_speech_by_rules() -> None:
    facts = extract_facts("Hi, I'm called bob and I live in New York. My sister Maria likes tea.", None)
    assert [(f.kind, f.relation, f.value) for f in facts] == [
        ("name", "", "Bob"),
        ("place", "", "New York"),
        ("person", "sister", "Maria"),
    ]
    assert [(f.kind, f.value) for f in extract_facts("I love green tea and cake.", "left")] == [("like", "green tea")]
    assert extract_facts("Do I like pizza? What is my name?", None) == []


def test_a_wrong_option_is_refused_by_name() -> None:
    with pytest.raises(ModuleConfigError, match="modules.memory"):
        MemoryAnchor({"pathh": "x"})
    with pytest.raises(ModuleConfigError, match="synchronous"):
        MemoryAnchor({"synchronous": "off"})


def test_migrations_run_once_and_the_version_is_recorded(tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite3"
    first = MemoryStore(db)
    assert first.applied == [1, 2, 3] and first.version == 3
    first.close()
    second = MemoryStore(db)
    assert second.applied == [] and second.version == 3
    rows = second.conn.execute("SELECT version FROM schema_version").fetchall()
    assert rows == [(1,), (2,), (3,)]
    assert second.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    second.close()


def test_a_version_1_database_is_upgraded_to_the_latest_keeping_what_it_holds(tmp_path: Path) -> None:
    from modules.memory import migrations

    db = tmp_path / "v1.sqlite3"
    conn = sqlite3.connect(db, isolation_level=None)
    assert migrations.migrate(conn, upto=1) == [1]  # as the first release left it
    conn.execute("INSERT INTO sessions (id, started) VALUES ('old', '2026-01-01T00:00:00Z')")
    conn.close()
    store = MemoryStore(db)
    assert store.applied == [2, 3] and store.version == 3
    assert store.speakers() == [] and store.counts()["sessions"] == 1
    store.close()
    again = MemoryStore(db)
    assert again.applied == [] and again.version == 3
    again.close()


def test_a_second_session_recalls_the_name_the_first_heard(tmp_path: Path) -> None:
    db = tmp_path / "memory.sqlite3"
    told = _turn("My name is Anna.")
    first = asyncio.run(_session(db, [told, Scene(channel="memory", kind="memory.show")], "done", embeddings=False))
    assert [(s.kind, s.text, s.context) for s in first if s.kind == "fact"] == [("fact", "Anna", "name")]
    asked = _turn("What is my name?")
    second = asyncio.run(_session(db, [asked, Scene(channel="memory", kind="memory.show")], "done", embeddings=False))
    recalls = [s for s in second if s.kind == "recall" and s.parents == [asked.id]]
    name = [s for s in recalls if s.context == "name"]
    assert len(name) == 1 and name[0].text == "Anna"
    assert name[0].trust == "hypothesis" and name[0].source == f"memory:{told.id}"
    # the first session's turn comes back as a scene too (it shares the lexeme "name")
    assert any(s.context == "scene" and s.text == "My name is Anna." for s in recalls)
    counts = next(s for s in second if s.kind == "counts")
    assert counts.text.startswith("2 scenes in 2 sessions from 1 speakers; 1 facts")


def test_a_fact_heard_twice_becomes_an_anchor(tmp_path: Path) -> None:
    db = tmp_path / "memory.sqlite3"
    asyncio.run(
        _session(
            db,
            [_turn("My name is Anna."), _turn("Call me Anna!"), Scene(channel="memory", kind="memory.show")],
            "done",
            embeddings=False,
        )
    )
    asked = _turn("Do you remember my name?")
    got = asyncio.run(_session(db, [asked, Scene(channel="memory", kind="memory.show")], "done", embeddings=False))
    name = [s for s in got if s.kind == "recall" and s.context == "name"]
    assert [(s.text, s.trust) for s in name] == [("Anna", "anchor")]


@pytest.mark.slow
def test_recall_by_embedding_with_the_real_model(tmp_path: Path) -> None:
    db = tmp_path / "memory.sqlite3"
    asyncio.run(
        _session(
            db,
            [
                _turn("I live in Lisbon."),
                _turn("My sister Maria plays the cello."),
                Scene(channel="memory", kind="memory.show"),
            ],
            "done",
        )
    )
    search = Scene(channel="memory", kind="memory.search", text="what city do I live in")
    got = asyncio.run(_session(db, [search], "done"))
    recalls = [s for s in got if s.kind == "recall"]
    # no shared word and no question rule: only the embedding finds the place
    assert recalls and recalls[0].context == "place" and recalls[0].text == "Lisbon"
    store = MemoryStore(db)
    assert store.counts()["embedded"] == 2
    store.close()


def test_show_forget_and_export(tmp_path: Path) -> None:
    db = tmp_path / "memory.sqlite3"
    out = tmp_path / "export.json"
    scenes = [
        _turn("My name is Anna.", speaker="left"),
        _turn("I live in Oslo.", speaker="right"),
        Scene(channel="memory", kind="memory.export", request=Request(out_path=str(out))),
    ]
    got = asyncio.run(_session(db, scenes, "done", embeddings=False))
    done = got[-1]
    assert done.kind == "done" and done.result.path == str(out) and done.result.count == 2
    exported = json.loads(out.read_text())
    assert exported["schema_version"] == 3 and len(exported["scenes"]) == 2
    assert {(f["subject"], f["kind"], f["value"]) for f in exported["facts"]} == {
        ("left", "name", "Anna"),
        ("right", "place", "Oslo"),
    }
    got = asyncio.run(
        _session(db, [Scene(channel="memory", kind="memory.forget", speaker="left")], "done", embeddings=False)
    )
    assert got[-1].result.count == 1
    store = MemoryStore(db)
    assert [(f.subject, f.value) for f in store.facts()] == [("right", "Oslo")]
    assert store.conn.execute("SELECT COUNT(*) FROM scenes WHERE speaker = 'left'").fetchone()[0] == 0
    store.close()
    got = asyncio.run(_session(db, [Scene(channel="memory", kind="memory.forget")], "done", embeddings=False))
    store = MemoryStore(db)
    assert store.counts() == {"scenes": 0, "sessions": 0, "facts": 0, "speakers": 0, "voices": 0, "embedded": 0}
    assert b"Oslo" not in db.read_bytes()  # secure_delete + checkpoint: erased, not just unlinked
    store.close()


def test_bad_requests_and_an_unwritable_export_give_error_scenes(tmp_path: Path) -> None:
    db = tmp_path / "memory.sqlite3"
    got = asyncio.run(_session(db, [Scene(channel="memory", kind="memory.search")], "error", embeddings=False))
    assert got[-1].error.reason == "input.bad-request"
    bad = Scene(channel="memory", kind="memory.export", request=Request(out_path=str(tmp_path / "no" / "x.json")))
    got = asyncio.run(_session(db, [bad], "error", embeddings=False))
    assert got[-1].error.reason == "output.unwritable"


def test_a_locked_database_gives_an_error_scene_and_the_module_keeps_running(tmp_path: Path) -> None:
    db = tmp_path / "memory.sqlite3"
    MemoryStore(db).close()
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        got = asyncio.run(
            _session(db, [_turn("My name is Anna."), _turn("Hello.")], "error", embeddings=False, busy_timeout_s=0.05)
        )
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    errors = [s for s in got if s.kind == "error"]
    assert errors and errors[0].error.reason == "output.unwritable" and "locked" in errors[0].error.message


_WRITER = """
import sys
from agent.scene import Scene
from modules.memory.store import MemoryStore
store = MemoryStore(sys.argv[1])
store.start_session("s1")
for i in range(100000):
    scene = Scene(channel="voice", kind="turn", text=f"sentence number {i}")
    store.add_scene(scene, "s1")
    print(scene.id, flush=True)
"""


def test_a_sigkilled_writer_loses_no_committed_scene(tmp_path: Path) -> None:
    db = tmp_path / "memory.sqlite3"
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    committed: list[str] = []
    assert writer.stdout is not None
    while len(committed) < 300:
        line = writer.stdout.readline()
        assert line, "the writer died before committing 300 scenes"
        committed.append(line.strip())
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    committed += [line.strip() for line in writer.stdout.read().splitlines() if line.strip()]
    assert writer.returncode == -signal.SIGKILL
    store = MemoryStore(db)
    kept = set(store.scene_ids())
    assert set(committed) <= kept
    assert len(kept) - len(committed) <= 1  # at most the one committed but not yet printed
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()


def test_the_cli_shows_and_forgets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from agent.cli import memory as memory_cli
    from agent.config import Config

    db = tmp_path / "memory.sqlite3"
    asyncio.run(
        _session(db, [_turn("My name is Anna."), Scene(channel="memory", kind="memory.show")], "done", embeddings=False)
    )
    parser = argparse.ArgumentParser()
    memory_cli.add_parser(parser.add_subparsers(dest="command"), argparse.ArgumentParser(add_help=False))
    config = Config({"modules": {"memory": {"enabled": True, "path": str(db), "embeddings": False}}}, [])
    assert memory_cli.run(config, parser.parse_args(["memory", "show"])) == 0
    assert "user: name = Anna (hypothesis)" in capsys.readouterr().err
    assert memory_cli.run(config, parser.parse_args(["memory", "forget", "--all"])) == 0
    assert "forgot 1 scenes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["memory", "forget"])  # neither --speaker nor --all


def test_the_heard_scenes_without_an_embedding_are_found_through_their_index_newest_first(tmp_path: Path) -> None:
    # Asked on every turn: a full scan grows with everything ever kept (17 ms a turn at
    # 17 000 scenes); the partial index holds only the heard scenes still without a vector.
    import numpy as np

    store = MemoryStore(tmp_path / "m.sqlite3")
    store.start_session("s")
    said = [
        Scene(channel="voice", kind="reply", text=f"reply {i}", wall_start=f"2026-01-01T00:{i % 60:02d}:00Z")
        for i in range(300)
    ]
    heard = [_turn(f"turn {i}", wall_start=f"2026-01-02T00:00:{i:02d}Z") for i in range(5)]
    blank = _turn("", wall_start="2026-01-03T00:00:00Z")
    store.add_scenes([*said, *heard, blank], "s")
    store.set_embedding(heard[4].id, np.ones(384, np.float32) / np.sqrt(384))
    assert store.unembedded(10) == [(s.id, s.text) for s in reversed(heard[:4])]
    assert store.unembedded(2) == [(heard[3].id, "turn 3"), (heard[2].id, "turn 2")]
    plan = store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM scenes WHERE embedding IS NULL AND kind IN ('turn', 'utterance')"
        " ORDER BY wall_start DESC"
    ).fetchall()
    assert any("scenes_unembedded" in row[-1] for row in plan), plan
    store.close()

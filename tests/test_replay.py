"""``run.py replay``: the recorded sessions under ``tests/data/recorded`` replayed through
today's agent (regression tests), a tampered copy that must be caught, and damaged folders."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import DATA, run_cli

from agent.record.replay import Outcome, Tolerances, compare

RECORDED = DATA / "recorded"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["one-voice", "three-voices"])
def test_a_recorded_session_replays_as_recorded(name: str) -> None:
    done = run_cli("replay", str(RECORDED / name))
    assert done.code == 0, done.stdout + done.stderr
    assert "3 turn(s) replayed: 3 as recorded" in done.stdout, done.stdout


@pytest.mark.slow
def test_a_session_whose_reply_and_core_were_different_is_reported_and_fails(tmp_path) -> None:
    """The recorded reply to the second turn and its core are changed in the copy: replay
    names both as changed and exits 1; the other turns stay as recorded."""
    folder = tmp_path / "tampered"
    shutil.copytree(RECORDED / "one-voice", folder)
    lines = (folder / "scenes.jsonl").read_text(encoding="utf-8").splitlines()
    turns = [json.loads(line)["scene"]["id"] for line in lines if '"kind":"turn"' in line]
    changed = []
    for line in lines:
        row = json.loads(line)
        scene = row["scene"]
        if turns[1] in scene["parents"] and scene["kind"] == "reply":
            scene["text"] = "Something else entirely, said in another way."
        if turns[1] in scene["parents"] and scene["kind"] == "thought":
            scene["core"] = "moon+tide"
        changed.append(json.dumps(row))
    (folder / "scenes.jsonl").write_text("\n".join(changed) + "\n", encoding="utf-8")
    done = run_cli("replay", str(folder), "--json")
    assert done.code == 1, done.stdout + done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["changed"] for r in reports] == [False, True, False]
    fields = {c["field"] for c in reports[1]["changes"] if not c["within"]}
    assert fields == {"reply", "core"}, reports[1]["changes"]


@pytest.mark.slow
def test_a_damaged_folder_replays_what_is_readable_and_says_what_is_not(tmp_path) -> None:
    folder = tmp_path / "damaged"
    shutil.copytree(RECORDED / "three-voices", folder)
    scenes = folder / "scenes.jsonl"
    text = scenes.read_text(encoding="utf-8")
    scenes.write_text(text + '{"t_s": 99.0, "scene": {"channel": "voi', encoding="utf-8")  # killed mid-line
    (folder / "session.json").write_text("{not json", encoding="utf-8")
    done = run_cli("replay", str(folder))
    assert re.search(r"warning: .*scenes\.jsonl.*line \d+", done.stderr), done.stderr
    assert re.search(r"warning: .*session\.json", done.stderr), done.stderr
    assert done.code == 0 and "3 as recorded" in done.stdout, done.stdout + done.stderr


@pytest.mark.slow
def test_replay_of_what_is_not_a_session_says_so(tmp_path) -> None:
    missing = run_cli("replay", str(tmp_path / "nothing"))
    assert missing.code == 2 and "error:" in missing.stderr
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "scenes.jsonl").write_text("", encoding="utf-8")
    empty = run_cli("replay", str(tmp_path / "empty"))
    assert empty.code == 2 and "no recorded turn" in empty.stderr


def test_tolerances_let_wording_and_small_moves_pass_and_catch_the_rest() -> None:
    was = Outcome(
        "The child almost hurt the small dog.",
        "hurt+dog+child",
        "calm",
        "logical",
        "Tell me more.",
        "plain",
        2.30,
        120.0,
        -20.0,
    )
    assert (
        compare(
            was,
            Outcome(**{**was.__dict__, "transcript": "the child almost hurt the small dog", "core": "child+dog+hurt"}),
            Tolerances(),
        )
        == []
    )
    moved = compare(was, Outcome(**{**was.__dict__, "rate_wps": 2.40, "f0_median_hz": 125.0}), Tolerances())
    assert [c.field for c in moved] == ["rate_wps", "f0_median_hz"] and all(c.within for c in moved)
    beyond = compare(
        was,
        Outcome(**{**was.__dict__, "transcript": "The wild dog ran home.", "mode": "tense", "f0_median_hz": 150.0}),
        Tolerances(),
    )
    assert {c.field for c in beyond if not c.within} == {"transcript", "mode", "f0_median_hz"}
    assert compare(Outcome(transcript="hello there"), Outcome(transcript="hello there", core="x"), Tolerances()) == []


def test_the_recorded_sessions_are_whole(data: Path) -> None:
    from agent.record.reader import read_recording

    for name in ("one-voice", "three-voices"):
        read = read_recording(RECORDED / name)
        assert read.problems == [], read.problems
        assert {f.track for f in read.files} == {"mic", "voice"}
        assert sum(s.kind == "turn" for s in read.heard()) == 3
        assert sum(s.kind == "spoken" for _, s in read.scenes) == 3

"""The agent remembers across sessions: one process hears "My name is Anna.", another,
later, on the same memory, is asked "What is my name?" and answers "Anna".

Real parts end to end: speech rendered by the Piper voice into WAV files, heard by Whisper
in `run.py talk --in`, kept by MemoryAnchor in SQLite, answered by the mind.
"""

from __future__ import annotations

import os

import pytest
from conftest import run_cli

pytestmark = pytest.mark.slow


def test_a_name_heard_in_one_session_is_known_in_the_next(tmp_path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    for text, wav in (("My name is Anna.", "anna.wav"), ("What is my name?", "question.wav")):
        made = run_cli("say", text, "-o", str(tmp_path / wav), env=env)
        assert made.code == 0, made.stderr
    first = run_cli("talk", "--in", str(tmp_path / "anna.wav"), "--out", str(tmp_path / "r1.wav"), env=env)
    assert first.code == 0, first.stderr
    heard = next(s for s in first.scenes if s["kind"] == "turn")
    assert "anna" in heard["text"].lower(), heard["text"]
    assert (tmp_path / "data" / "scenevoice" / "memory.sqlite3").is_file()

    second = run_cli("talk", "--in", str(tmp_path / "question.wav"), "--out", str(tmp_path / "r2.wav"), env=env)
    assert second.code == 0, second.stderr
    reply = next(s for s in second.scenes if s["kind"] == "reply")
    assert reply["text"] == "Your name is Anna.", reply["text"]

    # And a person can see it, and erase it.
    shown = run_cli("memory", "show", env=env)
    assert shown.code == 0 and "Anna" in shown.stdout + shown.stderr, shown.stderr
    forgot = run_cli("memory", "forget", "--all", env=env)
    assert forgot.code == 0, forgot.stderr
    third = run_cli("talk", "--in", str(tmp_path / "question.wav"), "--out", str(tmp_path / "r3.wav"), env=env)
    reply = next(s for s in third.scenes if s["kind"] == "reply")
    assert reply["text"] == "You have not told me your name yet.", reply["text"]

"""The mind's evaluation set: scripted conversations scored turn by turn.

    .venv/bin/python -m bench.mind_eval [--set modules.mind.KEY=VALUE ...] [--show]

Plays every dialogue of ``tests/data/mind/dialogues.toml`` through the real mind and the
real MemoryAnchor (SQLite, sentence embeddings) on a session's scene bus, in a fresh data
folder per dialogue; a turn marked ``session = "new"`` starts a new session on the same
files. The voice module is not run: each turn is a ``turn`` scene with the text as Whisper
would write it and, where the dialogue names one, a measured voice; the voice profile the
replies are planned for is the Piper voice ``joe``'s, as the voice module announces it.
Prints each failed check, a score per dialogue and in all; ``--show`` prints every turn.
With a language model (``--set 'modules.mind.llm.url="bundled"'``), a streamed reply is
judged whole (all its sentences).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import tempfile
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config import load_config
from agent.scene import Scene
from agent.session import Session
from agent.sound import Sound

DIALOGUES = Path(__file__).resolve().parent.parent / "tests" / "data" / "mind" / "dialogues.toml"
#: how long one turn may take to be answered (the embedding model loads on the first).
TURN_TIMEOUT_S = 60.0


@dataclass
class Outcome:
    """The checks of one dialogue: (turn, check, passed, detail) each, and the replies."""

    name: str
    checks: list[tuple[int, str, bool, str]] = field(default_factory=list)
    replies: list[tuple[str, str]] = field(default_factory=list)
    #: per turn, from the turn published to its reply (its first sentence) delivered, s.
    first_reply_s: list[float] = field(default_factory=list)
    #: replies a language model worded (streamed).
    worded: int = 0

    @property
    def passed(self) -> int:
        return sum(ok for _, _, ok, _ in self.checks)


def load(path: Path = DIALOGUES) -> tuple[list[dict[str, Any]], dict[str, Sound]]:
    """The dialogues and the named voices of the set.

    Raises:
        ValueError: a turn names an unknown voice or check.
    """
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    voices = {name: Sound(**values) for name, values in data.get("voice", {}).items()}
    known = {"contains", "any", "absent", "act", "register", "manner"}
    for d in data["dialogue"]:
        for i, t in enumerate(d["turns"]):
            if t.get("voice") and t["voice"] not in voices:
                raise ValueError(f"{path}: {d['name']} turn {i + 1}: unknown voice {t['voice']!r}")
            if set(t.get("expect", {})) - known:
                raise ValueError(f"{path}: {d['name']} turn {i + 1}: unknown checks {set(t['expect']) - known}")
    return data["dialogue"], voices


def _echoes(said: str, reply: str, n: int = 5) -> bool:
    words = said.lower().rstrip(".?!").split()
    return any(" ".join(words[i : i + n]) in reply.lower() for i in range(len(words) - n + 1))


def check(turn_no: int, said: str, reply: Scene, expect: dict[str, Any]) -> list[tuple[int, str, bool, str]]:
    """Every check of one turn on its reply."""
    text = reply.text or ""
    low = text.lower()
    out = []
    for want in expect.get("contains", []):
        out.append((turn_no, f"contains {want!r}", want.lower() in low, text))
    if "any" in expect:
        out.append((turn_no, f"any of {expect['any']}", any(w.lower() in low for w in expect["any"]), text))
    for unwanted in expect.get("absent", []):
        out.append((turn_no, f"absent {unwanted!r}", unwanted.lower() not in low, text))
    for key in ("act", "register"):
        if key in expect:
            out.append((turn_no, f"{key} {expect[key]}", getattr(reply, key) == expect[key], str(getattr(reply, key))))
    if "manner" in expect:
        manner = reply.plan.manner if reply.plan else None
        out.append((turn_no, f"manner {expect['manner']}", manner == expect["manner"], str(manner)))
    if reply.act != "recall":
        out.append((turn_no, "no echo", not _echoes(said, text), text))
    return out


async def _session(overrides: Sequence[str], turns: list[tuple[int, dict[str, Any]]], voices, outcome) -> None:
    from modules.voice.tts.piper import piper_voices

    config = load_config(overrides=list(overrides))
    async with Session(config, only={"mind", "memory"}) as session:
        if session.failed:
            raise RuntimeError(f"modules did not start: {session.failed}")
        profile = Scene(channel="voice", kind="voice.profile", voice=piper_voices()["joe"].profile())
        await session.bus.publish(profile, source="voice")
        for number, t in turns:
            heard = Scene(channel="voice", kind="turn", text=t["say"], sound=voices.get(t.get("voice", "")))
            t0 = time.perf_counter()
            reply, texts = None, []
            async for scene in session.request(heard, until=_whole, timeout_s=TURN_TIMEOUT_S):
                if scene.kind == "reply":
                    reply = scene
                    outcome.first_reply_s.append(time.perf_counter() - t0)
                if scene.kind in ("reply", "reply.more") and scene.text:
                    texts.append(scene.text)
            assert reply is not None
            if reply.piece is not None:  # a language model's reply, streamed: judged whole
                outcome.worded += 1
                reply = dataclasses.replace(reply, text=" ".join(texts))
            outcome.replies.append((t["say"], reply.text or ""))
            outcome.checks.extend(check(number, t["say"], reply, t.get("expect", {})))


def _whole(scene: Scene) -> bool:
    """The reply is all here: a whole one, or the last piece of one that streams."""
    return scene.kind in ("reply", "reply.more") and (scene.piece is None or scene.piece.last)


def run_dialogue(dialogue: dict[str, Any], voices: dict[str, Sound], overrides: Sequence[str] = ()) -> Outcome:
    """Play one dialogue in a fresh data folder; its outcome."""
    outcome = Outcome(dialogue["name"])
    sessions: list[list[tuple[int, dict[str, Any]]]] = [[]]
    for i, t in enumerate(dialogue["turns"], 1):
        if t.get("session") == "new" and sessions[-1]:
            sessions.append([])
        sessions[-1].append((i, t))
    before = os.environ.get("XDG_DATA_HOME")
    with tempfile.TemporaryDirectory(prefix="scenevoice-eval-") as data:
        os.environ["XDG_DATA_HOME"] = data
        try:
            for turns in sessions:
                asyncio.run(_session(overrides, turns, voices, outcome))
        finally:
            if before is None:
                os.environ.pop("XDG_DATA_HOME", None)
            else:
                os.environ["XDG_DATA_HOME"] = before
    return outcome


def evaluate(overrides: Sequence[str] = (), path: Path = DIALOGUES) -> list[Outcome]:
    """Every dialogue of the set, played and scored."""
    dialogues, voices = load(path)
    return [run_dialogue(d, voices, overrides) for d in dialogues]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    p.add_argument("--show", action="store_true", help="print every turn and reply")
    args = p.parse_args(argv)
    outcomes = evaluate(args.set)
    total = sum(len(o.checks) for o in outcomes)
    passed = sum(o.passed for o in outcomes)
    turns = sum(len(o.replies) for o in outcomes)
    for o in outcomes:
        print(f"{o.name:<40} {o.passed:>3}/{len(o.checks):<3} checks  ({len(o.replies)} turns)")
        if args.show:
            for said, reply in o.replies:
                print(f"    > {said}\n      {reply}")
        for turn_no, what, ok, detail in o.checks:
            if not ok:
                print(f"    turn {turn_no}: {what} failed: {detail}")
    times = sorted(t for o in outcomes for t in o.first_reply_s[1:])
    worded = sum(o.worded for o in outcomes)
    print(f"{len(outcomes)} dialogues, {turns} turns: {passed}/{total} checks = {passed / total:.1%}")
    if worded:
        print(f"{worded} of {turns} replies worded by the language model (the rest by the rules)")
    if times:
        median_ms = times[len(times) // 2] * 1000
        p95_ms = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))] * 1000
        print(
            f"turn → reply (its first sentence) on the bus: median {median_ms:.1f} ms, p95 {p95_ms:.1f} ms "
            "(the first turn of each session left out)"
        )
    return 0 if passed == total else 1


if __name__ == "__main__":
    sys.exit(main())

"""``run.py think TEXT... [--codes]``: the mind's scene machinery, shown.

Each TEXT is one turn of a session (as if heard, without a voice): the mind compresses it
into a ``mind``/``thought`` scene, unfolds it into ``mind``/``subscene`` scenes and answers
it; every scene goes to stdout as a JSON line, a summary for people to stderr. The mind
remembers the turns as in a conversation (its nodes, their trust, the Δ-codes that freeze),
in the file ``modules.mind.store`` names (``--set modules.mind.store=:memory:`` keeps
nothing). ``--codes`` then lists every Δ-code and anchor the mind keeps (with no TEXT: only
that).
"""

from __future__ import annotations

import argparse
import asyncio

from agent.cli.common import REQUEST_TIMEOUT_S, emit, report_error, report_failed, say
from agent.config import Config
from agent.errors import EXIT_INPUT, EXIT_INTERNAL, EXIT_MACHINE, EXIT_OK
from agent.mindstore import MindStore, MindStoreError
from agent.paths import data_dir
from agent.scene import Scene
from agent.session import Session
from agent.trust import trust_of


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "think", parents=[common], help="compress and unfold sentences as the mind does; list its Δ-codes"
    )
    p.add_argument("texts", nargs="*", metavar="TEXT", help="turns of one session, in order")
    p.add_argument("--codes", action="store_true", help="then list the Δ-codes and anchors the mind keeps")


def _describe(scene: Scene) -> str | None:
    if scene.kind == "thought":
        extras = [f"context {scene.context}" if scene.context else "", scene.delta or "", scene.trust]
        return f"  core {scene.core} · {scene.mode} · {scene.register} · {' · '.join(e for e in extras if e)}"
    if scene.kind == "subscene" and scene.unfolding is not None:
        u = scene.unfolding
        via = f" ({scene.delta})" if scene.delta else ""
        return f"    {u.phase:<5} {u.role:<10} {scene.core:<24} {scene.register:<10} via {u.via}{via} {u.weight:.2f}"
    if scene.kind == "reply":
        return f"  reply [{scene.act}]: {scene.text}"
    return None


async def _think(config: Config, texts: list[str]) -> int:
    async with Session(config, only={"mind"}) as session:
        report_failed(session)
        for text in texts:
            say(f"> {text}")
            turn = Scene(channel="text", kind="turn", text=text, source="think")
            emit(turn)
            async for scene in session.request(
                turn, until=lambda s: s.kind in ("reply", "error"), timeout_s=REQUEST_TIMEOUT_S
            ):
                if scene.kind == "error":
                    return report_error(scene)
                emit(scene)
                if (line := _describe(scene)) is not None:
                    say(line)
    return EXIT_OK


def _codes(config: Config) -> int:
    options = config.module_options("mind")
    path = options.get("store") or str(data_dir() / "mind.sqlite3")
    confirmations = int(options.get("anchor_confirmations", 3))
    try:
        store = MindStore(path)
        codes, nodes = store.codes(), store.nodes()
        store.close()
    except MindStoreError as exc:
        say(f"error: {exc}")
        return EXIT_MACHINE
    for code in codes:
        print(code.formula, flush=True)
        say(f"  seen together {code.count} times, PMI {code.pmi:.2f} bits")
    anchors = [n for n in nodes if trust_of(len(n.lemmas), n.confirmations, n.sessions, confirmations) == "anchor"]
    for node in anchors:
        print(f"anchor {'+'.join(node.lemmas)}", flush=True)
        say(f"  heard {node.confirmations} times in {node.sessions} sessions")
    if not codes and not anchors:
        say(f"no Δ-codes or anchors yet ({path})")
    return EXIT_OK


def run(config: Config, args: argparse.Namespace) -> int:
    if not args.texts and not args.codes:
        say("error: give one or more TEXTs to think about, or --codes")
        return EXIT_INPUT
    if any(not t.strip() for t in args.texts):
        say("error: an empty TEXT has nothing to think about")
        return EXIT_INPUT
    code = asyncio.run(_think(config, args.texts)) if args.texts else EXIT_OK
    if code == EXIT_OK and args.codes:
        code = _codes(config)
    return code if code is not None else EXIT_INTERNAL

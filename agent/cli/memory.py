"""``run.py memory show | search TEXT | forget [--speaker ID | --all] | export FILE``: a
person sees and erases what the memory module keeps.

Each subcommand is one request scene (``memory.show``, ``memory.search``,
``memory.forget``, ``memory.export``) to a session that runs only the memory module (and,
for ``forget``, the mind, which erases what it keeps too: ``agent/mindstore.py``); the
scenes they answer with go to stdout as JSON lines, a summary for people to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from agent.cli.common import REQUEST_TIMEOUT_S, emit, report_error, report_failed, say
from agent.config import Config
from agent.errors import EXIT_INTERNAL, EXIT_OK
from agent.parts import Request
from agent.scene import Scene
from agent.session import Session


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("memory", parents=[common], help="see, search, export or erase what the memory keeps")
    what = p.add_subparsers(dest="memory_command", required=True, metavar="show|search|forget|export")
    what.add_parser("show", parents=[common], help="the facts kept and how many scenes")
    search = what.add_parser("search", parents=[common], help="recall facts and scenes for some words")
    search.add_argument("text", metavar="TEXT", help="the words to look for")
    forget = what.add_parser("forget", parents=[common], help="erase one speaker's scenes and facts, or everything")
    who = forget.add_mutually_exclusive_group(required=True)
    who.add_argument("--speaker", metavar="ID", help="the speaker to forget (user: scenes without a speaker)")
    who.add_argument("--all", action="store_true", help="forget everything")
    export = what.add_parser("export", parents=[common], help="write everything kept to a JSON file")
    export.add_argument("file", metavar="FILE", help="the JSON file to write")


def request_for(args: argparse.Namespace) -> Scene:
    """The request scene a ``memory`` subcommand sends."""
    kind = f"memory.{args.memory_command}"
    if args.memory_command == "search":
        return Scene(channel="memory", kind=kind, text=args.text)
    if args.memory_command == "forget":
        return Scene(channel="memory", kind=kind, speaker=None if args.all else args.speaker)
    if args.memory_command == "export":
        return Scene(channel="memory", kind=kind, request=Request(out_path=str(Path(args.file).resolve())))
    return Scene(channel="memory", kind=kind)


def _describe(scene: Scene) -> str | None:
    if scene.kind in ("fact", "recall"):
        whose = f"{scene.speaker}: " if scene.speaker else ""
        return f"{whose}{scene.context} = {scene.text} ({scene.trust})"
    if scene.kind == "counts":
        return scene.text
    if scene.kind == "speaker":
        heard = scene.result.count if scene.result is not None else None
        return f"voice {scene.speaker}: heard {heard} times ({scene.trust})"
    return None


async def _ask(config: Config, request: Scene) -> int:
    forget = request.kind == "memory.forget"
    async with Session(config, only={"memory", "mind"} if forget else {"memory"}) as session:
        report_failed(session)
        # every running module that keeps something answers a forget with its own "done"
        waiting = {"memory"} | ({"mind"} if forget and "mind" in session.modules else set())

        erased = 0
        async for scene in session.request(
            request, until=lambda s: s.kind == "error" or not waiting, timeout_s=REQUEST_TIMEOUT_S
        ):
            if scene.kind == "error":
                return report_error(scene)
            emit(scene)
            if (line := _describe(scene)) is not None:
                say(line)
            if scene.kind == "done":
                waiting.discard(scene.channel)
                result = scene.result
                if forget and result is not None:
                    if scene.channel == "mind":
                        erased = result.count or 0
                    else:
                        say(f"forgot {result.count} scenes")
                elif request.kind == "memory.export" and result is not None:
                    say(f"wrote {result.count} scenes to {result.path}")
                if not waiting:
                    if erased:
                        say(f"the mind forgot {erased} of its nodes, turns and codes")
                    return EXIT_OK
    return EXIT_INTERNAL


def run(config: Config, args: argparse.Namespace) -> int:
    return asyncio.run(_ask(config, request_for(args)))

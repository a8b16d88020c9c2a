"""``run.py record DIR``: record the acoustic scene — listen through the microphone and keep
what is heard in a new session folder under DIR (``agent/record``: the audio, every scene,
``session.json``), without answering. Ends on Ctrl-C, SIGTERM or ``--seconds``; a kill
at any moment loses at most the last ``[record] flush_s`` of audio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal

from agent.cli.common import recorded_session, report_error, report_failed, say
from agent.config import Config
from agent.errors import EXIT_INPUT, EXIT_OK
from agent.scene import Scene
from agent.session import Session

#: the module that answers; a recording only listens.
MIND = "mind"


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "record", parents=[common], help="record what the microphone hears, as audio and scenes, into a folder"
    )
    p.add_argument("dir", metavar="DIR", help="the folder that holds session folders (made if need be)")
    p.add_argument("--seconds", type=float, metavar="S", help="stop after this many seconds (default: until stopped)")


async def _follow(session: Session, stopping: asyncio.Event) -> int:
    """Listen until stopped; print each heard scene for people. Returns the exit code."""
    request = Scene(channel="voice", kind="listen.live", source="record")
    lineage = session.request(request, until=lambda s: False, timeout_s=math.inf)
    async with contextlib.aclosing(lineage) as scenes:
        async for scene in scenes:
            if scene.kind == "listening":
                say(f"listening on {scene.result.device if scene.result else 'the microphone'} — Ctrl-C stops")
            elif scene.kind in ("turn", "sound"):
                words = scene.text or f"[{scene.kind}]"
                say(f"{scene.t_start or 0.0:8.2f} s  {words}")
            elif scene.kind == "error" and scene.parents == [request.id]:  # listening itself ended
                stopping.set()
                return report_error(scene)
    return EXIT_OK


async def _record(config: Config, root: str, seconds: float | None) -> int:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    only = {name for name in config.modules() if config.enabled(name) and name != MIND}
    async with recorded_session(config, root, "record", only) as session:
        report_failed(session)
        following = asyncio.create_task(_follow(session, stopping), name="record:follow")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await stopping.wait()
        if following.done():
            return following.result()
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
    return EXIT_OK


def run(config: Config, args: argparse.Namespace) -> int:
    if args.seconds is not None and not (math.isfinite(args.seconds) and args.seconds > 0):
        say("error: --seconds must be a positive number")
        return EXIT_INPUT
    code = asyncio.run(_record(config, args.dir, args.seconds))
    say("recording stopped")
    return code

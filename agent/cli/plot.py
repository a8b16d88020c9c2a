"""``run.py plot SCENE_JSON``: a spoken scene's plan against its measured pitch and level."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from agent.cli.common import one_turn, say
from agent.config import Config
from agent.parts import Request
from agent.scene import Scene


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("plot", parents=[common], help="draw a spoken scene's plan against its measured voice")
    p.add_argument("scene", metavar="SCENE_JSON", help="the scene run.py say wrote beside its WAV")
    p.add_argument("-o", "--out", help="the PNG to write (default: beside the scene)")


def run(config: Config, args: argparse.Namespace) -> int:
    png = args.out or str(Path(args.scene).with_suffix(".png"))
    request = Scene(channel="voice", kind="plot", request=Request(path=str(args.scene), out_path=png))
    code, done = asyncio.run(one_turn(config, request, "done"))
    if done is not None and done.result is not None:
        say(f"wrote {done.result.path}")
    return code

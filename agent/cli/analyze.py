"""``run.py analyze FILE...``: one JSON scene per utterance (or per sound without words)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from agent.cli.common import REQUEST_TIMEOUT_S, emit, report_error, report_failed
from agent.config import Config
from agent.errors import EXIT_OK
from agent.parts import Request
from agent.scene import Scene
from agent.session import Session


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("analyze", parents=[common], help="print one JSON scene per utterance or sound")
    p.add_argument("files", nargs="+", metavar="FILE")


async def _analyze(config: Config, files: Sequence[str]) -> int:
    from tqdm import tqdm

    worst = EXIT_OK
    async with Session(config) as session:
        report_failed(session)
        bar = tqdm(files, unit="file", disable=len(files) < 2 or not sys.stderr.isatty(), file=sys.stderr)
        for path in bar:
            request = Scene(channel="voice", kind="listen.file", request=Request(path=str(path)))
            async for scene in session.request(
                request, until=lambda s: s.kind in ("done", "error"), timeout_s=REQUEST_TIMEOUT_S
            ):
                if scene.kind == "error":
                    worst = max(worst, report_error(scene))
                elif scene.kind != "done":
                    emit(scene)
    return worst


def run(config: Config, args: argparse.Namespace) -> int:
    return asyncio.run(_analyze(config, args.files))

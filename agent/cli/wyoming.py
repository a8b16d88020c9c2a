"""``run.py wyoming``: the agent's ears and voice for Home Assistant, over the Wyoming protocol.

``describe`` → ``info`` (the Whisper model and the voice in use), ``transcribe`` + audio →
``transcript``, ``synthesize`` → audio; see :mod:`agent.wyoming`. Listens on
``tcp://127.0.0.1:10300`` unless ``--uri`` says otherwise (``tcp://0.0.0.0:10300`` for
Home Assistant on another machine: a deliberate choice, the server has no authentication).
``--zeroconf [NAME]`` announces it as ``_wyoming._tcp`` (needs the ``zeroconf`` package).
SIGTERM or SIGINT: stop, exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

from agent.config import Config
from agent.wyoming.server import DEFAULT_URI, ZEROCONF_NAME, WyomingOptions, serve


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "wyoming",
        parents=[common],
        help="serve speech to text and text to speech to Home Assistant (Wyoming protocol)",
    )
    p.add_argument(
        "--uri",
        default=DEFAULT_URI,
        help=f"where to listen: tcp://HOST:PORT or unix://PATH (default {DEFAULT_URI}; "
        "tcp://0.0.0.0:10300 lets other machines in)",
    )
    p.add_argument(
        "--zeroconf",
        nargs="?",
        const=ZEROCONF_NAME,
        metavar="NAME",
        help=f"announce the server over zeroconf as NAME (default {ZEROCONF_NAME}); needs the zeroconf package",
    )
    p.add_argument(
        "--no-streaming",
        action="store_true",
        help="offer no streaming events (transcript-start/-chunk/-stop, synthesize-start/-chunk/-stop)",
    )


def run(config: Config, args: argparse.Namespace) -> int:
    o = WyomingOptions(uri=args.uri, zeroconf=args.zeroconf, streaming=not args.no_streaming)
    o.check()  # before any model loads
    os.environ["TQDM_DISABLE"] = "1"  # no progress bars in a server's log
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))  # a server logs what it does
    return asyncio.run(serve(config, o))

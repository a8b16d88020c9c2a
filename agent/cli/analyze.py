"""``run.py analyze FILE...``: scenes from files of any channel — one per utterance or sound
without words (audio), per picture or changed video frame (vision), per smell reading
(SmellNet), per gesture (tactile).

The file's kind picks the request: pictures and videos by extension go to ``look.file``;
JSON lines go to ``touch.file`` when their first object has a ``type`` (tactile events do)
and to ``sniff.file`` otherwise (sensor readings); everything else is audio
(``listen.file``). The CLI knows no module: it names requests, modules answer them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.cli.common import REQUEST_TIMEOUT_S, emit, recorded_session, report_error, report_failed
from agent.config import Config
from agent.errors import EXIT_OK
from agent.parts import Request, Result
from agent.record import TRACKS
from agent.record.copy import copy_audio
from agent.record.options import RecordOptions
from agent.scene import Scene
from agent.session import Session

PICTURES = frozenset(".png .jpg .jpeg .bmp .tif .tiff .webp .ppm .pgm .pbm .jp2 .exr .hdr".split())
VIDEOS = frozenset(".mp4 .avi .mov .mkv .webm .m4v .mpg .mpeg .gif .wmv".split())
JSON_LINES = frozenset(".jsonl .ndjson .json".split())


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "analyze", parents=[common], help="print one JSON scene per utterance, sound, picture, reading or gesture"
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="also write a recorded session folder under DIR (the audio, every scene; see run.py export)",
    )


def _first_object(path: Path) -> object:
    """The first non-blank line of a JSON-lines file, parsed; None when it cannot be read."""
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    return json.loads(line)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return None


def request_for(path: str) -> Scene:
    """The request scene that asks the right channel for ``path`` (see the module docstring)."""
    suffix = Path(path).suffix.lower()
    if suffix in PICTURES or suffix in VIDEOS:
        return Scene(channel="vision", kind="look.file", request=Request(path=path))
    if suffix in JSON_LINES:
        first = _first_object(Path(path))
        if isinstance(first, dict) and "type" in first:
            return Scene(channel="tactile", kind="touch.file", request=Request(path=path))
        return Scene(channel="smell", kind="sniff.file", request=Request(path=path))
    return Scene(channel="voice", kind="listen.file", request=Request(path=path))


async def _analyze(config: Config, files: Sequence[str], out: str | None) -> int:
    from tqdm import tqdm

    worst = EXIT_OK
    async with recorded_session(config, out, "analyze") as session:
        report_failed(session)
        folder = session.recording_folder
        bar = tqdm(files, unit="file", disable=len(files) < 2 or not sys.stderr.isatty(), file=sys.stderr)
        for path in bar:
            request = request_for(str(path))
            if folder is not None and request.kind == "listen.file":
                await _record_audio(session, folder, request, str(path))
            async for scene in session.request(
                request, until=lambda s: s.kind in ("done", "error"), timeout_s=REQUEST_TIMEOUT_S
            ):
                if scene.kind == "error":
                    worst = max(worst, report_error(scene))
                elif scene.kind != "done" and scene.kind not in TRACKS:  # a recorded file is not a finding
                    emit(scene)
    return worst


async def _record_audio(session: Session, folder: Path, request: Scene, path: str) -> None:
    """The file's audio into the session folder as the stream of ``request`` (t = 0 at its
    first sample, the clock of the scenes heard in it)."""
    rel = await asyncio.to_thread(copy_audio, folder, path, RecordOptions.of_folder(folder))
    if rel is not None:
        recorded = request.derive(
            kind="recorded.mic", channel="voice", t_start=0.0, result=Result(path=rel), source=path
        )
        await session.bus.publish(recorded, source="analyze")


def run(config: Config, args: argparse.Namespace) -> int:
    code = asyncio.run(_analyze(config, args.files, args.out))
    return code

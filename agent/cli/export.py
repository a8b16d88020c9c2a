"""``run.py export DIR --to vtt|srt|textgrid|jams [-o OUT]``: a recorded session folder
(``agent/record``) as captions, a Praat TextGrid or a JAMS annotation.

What is heard goes in as words (phrase by phrase), speakers, sounds without words, and —
in the TextGrid and JAMS — pitch and level; the agent's replies go in where their play
time is known. Everything lies on one timeline: the clock of the session's first stream,
so a one-stream session lines up with ``audio/mic-000.wav`` (``agent/record/timeline.py``
says how further streams and the replies are placed).

A damaged folder (a killed recording) exports what is readable; each thing that was not
is named on stderr, and the command still succeeds. It fails (exit 2) only when DIR is
not a session folder or holds no readable scene at all.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from agent.cli.common import say
from agent.config import Config
from agent.errors import EXIT_INPUT, EXIT_OK, ScenevoiceError
from agent.record import SCENES_FILE
from agent.record.reader import Recording, RecordingError, read_recording
from agent.record.timeline import Timeline, build_timeline


class ExportPathError(ScenevoiceError):
    """The output file cannot be used (its folder does not exist)."""

    reason = "input.output-path"


def _writers() -> dict[str, tuple[str, Callable[[Timeline, Path], list[str]]]]:
    """Each format: (its file extension, the function that writes it). Imported here, not
    at the top: jams brings pandas (a second at start), and every command imports this file."""
    from agent.record.jams_file import write_jams
    from agent.record.srt import write_srt
    from agent.record.textgrid import write_textgrid
    from agent.record.vtt import write_vtt

    return {
        "vtt": ("vtt", write_vtt),
        "srt": ("srt", write_srt),
        "textgrid": ("TextGrid", write_textgrid),
        "jams": ("jams", write_jams),
    }


FORMATS = ("vtt", "srt", "textgrid", "jams")


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "export",
        parents=[common],
        help="a recorded session folder as WebVTT, SubRip, Praat TextGrid or JAMS",
        description="Export a recorded session folder (made by record, talk/serve --record, analyze --out).",
    )
    p.add_argument("dir", metavar="DIR", help="the session folder (the one holding scenes.jsonl)")
    p.add_argument("--to", required=True, choices=FORMATS, help="the format to write")
    p.add_argument(
        "-o", "--out", metavar="OUT", help="the file to write, or a folder for it (default: DIR/<DIR's name>.<ext>)"
    )


def output_path(folder: Path, extension: str, out: str | None) -> Path:
    """Where the export goes: ``out`` (into it, named after the folder, when it is a
    folder), else ``folder/<folder name>.<extension>``.

    Raises:
        ExportPathError: ``out``'s folder does not exist.
    """
    name = f"{folder.name}.{extension}"
    if out is None:
        return folder / name
    path = Path(out).expanduser()
    if path.is_dir():
        return path / name
    if not path.parent.is_dir():
        raise ExportPathError(
            f"{out}: the folder {path.parent} does not exist (make it, or name a file in a folder that does)",
            subject=out,
        )
    return path


def _read(folder: str) -> Recording:
    """:func:`read_recording`, with a hint when DIR holds session folders instead."""
    try:
        return read_recording(folder)
    except RecordingError as exc:
        root = Path(folder)
        inner = sorted(p.parent for p in root.glob(f"*/{SCENES_FILE}")) if root.is_dir() else []
        if exc.reason == "input.unreadable" and inner:
            raise RecordingError(
                f"{root}: holds session folders, not one; give one of them (the newest: {inner[-1]})",
                subject=str(root),
            ) from None
        raise


def run(config: Config, args: argparse.Namespace) -> int:
    recording = _read(args.dir)
    for problem in recording.problems:
        say(f"warning: {recording.folder.name}: {problem}")
    if not recording.scenes:
        say(f"error: {recording.folder / SCENES_FILE}: no readable scene; nothing to export")
        return EXIT_INPUT
    extension, write = _writers()[args.to]
    out = output_path(recording.folder, extension, args.out)
    timeline = build_timeline(recording)
    try:
        notes = write(timeline, out)
    except OSError as exc:
        raise ExportPathError(f"cannot write {out}: {exc}", reason="output.unwritable", subject=str(out)) from None
    for note in [*timeline.notes, *notes]:
        say(f"note: {note}")
    say(
        f"wrote {out}: {len(timeline.speech)} utterances ({len(timeline.phrases)} phrases), "
        f"{len(timeline.sounds)} sounds, {len(timeline.replies)} replies, {timeline.duration_s:.2f} s"
    )
    return EXIT_OK

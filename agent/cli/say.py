"""``run.py say TEXT -o out.wav``: speak text (or a scene's JSON) into a WAV, with its
realised scene (plan against measured) beside it as ``out.json``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from pathlib import Path

from agent.cli.common import one_request, report_failed, say
from agent.config import Config
from agent.errors import EXIT_INPUT
from agent.files import write_text_atomically
from agent.melody import MANNERS, melody_table, plan_voice
from agent.register import REGISTERS
from agent.scene import Scene
from agent.session import Session


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "say", parents=[common], help="speak TEXT (or a scene's JSON) into a WAV file, with its measured scene"
    )
    p.add_argument(
        "text",
        metavar="TEXT",
        nargs="?",
        default="",
        help="the words, or a scene as JSON (or a .json file holding one); empty with --nonverbal",
    )
    p.add_argument("-o", "--out", required=True, help="the WAV file to write (its scene goes beside it as .json)")
    p.add_argument("--register", choices=REGISTERS, help="how the scene unfolds (default: logical)")
    p.add_argument("--mode", help="the scene's mode (calm, tense, excited…): it picks the manner of voicing")
    p.add_argument("--manner", choices=MANNERS, help="the manner of voicing, over the mode's and register's")
    p.add_argument("--engine", choices=("auto", "piper", "bark"), help="the synthesiser (default: the config's)")
    p.add_argument("--nonverbal", choices=("sigh", "hum", "breath", "silence"), help="answer without words")


def _looks_like_a_path(text: str) -> bool:
    """TEXT names a scene file when it ends in ``.json`` and is one word (a path without
    spaces) or an existing file."""
    return text.endswith(".json") and (not any(c.isspace() for c in text) or Path(text).is_file())


def _request(text: str, args: argparse.Namespace) -> Scene:
    """The reply scene to speak, before its plan. Raises SceneError for malformed JSON."""
    if text.lstrip().startswith("{"):
        request = dataclasses.replace(Scene.from_json(text), kind="reply", channel="voice")
    else:
        request = Scene(channel="voice", kind="reply", text=text or None)
    request = dataclasses.replace(request, register=args.register or request.register, mode=args.mode or request.mode)
    return dataclasses.replace(request, text=None) if args.nonverbal else request


async def _speak(config: Config, request: Scene, args: argparse.Namespace) -> tuple[int, Scene | None]:
    async with Session(config) as session:
        report_failed(session)
        # Each step derives a new scene (and plan) rather than changing the one before.
        if args.nonverbal or request.plan is None or args.manner or args.register or args.mode:
            plan = plan_voice(request, own=await session.voice_profile(), manner=args.manner)
            if args.nonverbal:
                plan = dataclasses.replace(plan, nonverbal=args.nonverbal)
            request = dataclasses.replace(request, plan=plan)
        if args.engine and request.plan is not None:
            request = dataclasses.replace(request, plan=dataclasses.replace(request.plan, engine=args.engine))
        return await one_request(session, request, "spoken")


def run(config: Config, args: argparse.Namespace) -> int:
    text = args.text or ""
    if _looks_like_a_path(text):  # a scene file, e.g. one say wrote before
        try:
            text = Path(text).read_text(encoding="utf-8")
        except FileNotFoundError:
            say(f"error: no such scene file: {args.text}")
            return EXIT_INPUT
        except (OSError, UnicodeDecodeError) as exc:
            say(f"error: cannot read the scene {args.text}: {exc}")
            return EXIT_INPUT
    if not text.strip() and not args.nonverbal:
        say("error: say needs TEXT (or a scene as JSON), or --nonverbal sigh|hum|breath|silence")
        return EXIT_INPUT
    if args.mode and args.mode not in melody_table().get("mode_manner", {}):
        known = ", ".join(melody_table().get("mode_manner", {}))
        say(f"error: mode {args.mode!r} has no manner of voicing in assets/melody.toml ({known})")
        return EXIT_INPUT
    code, spoken = asyncio.run(_speak(config, _request(text, args), args))
    if spoken is not None:
        scene_path = write_text_atomically(Path(args.out).with_suffix(".json"), spoken.to_json() + "\n")
        say(f"wrote {args.out} and its scene {scene_path}")
    return code

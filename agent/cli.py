"""scenevoice's command line: ``python run.py [COMMAND]`` (or the ``scenevoice`` script).

Commands publish request scenes on the bus and print what comes back; they know no
module by name. Scenes go to stdout as JSON lines; messages for people go to stderr.
Exit codes: 0 done; 1 internal error; 2 bad input (a file that is not usable audio, no
speech to answer); 3 the machine lacks something (a model, an audio device).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.config import Config, ConfigError, load_config
from agent.melody import MANNERS, melody_table, plan_voice
from agent.paths import ASSETS
from agent.plugins import discover
from agent.register import REGISTERS
from agent.scene import Scene
from agent.session import Session, SessionError

log = logging.getLogger("scenevoice")

#: the recording the main job answers when there is no microphone.
BUNDLED_TURN = ASSETS / "audio" / "jfk.flac"
FALLBACK_REPLY = Path("reply.wav")
REQUEST_TIMEOUT_S = 900.0

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_MACHINE = 0, 1, 2, 3


def _exit_code(reason: str | None) -> int:
    if reason and reason.startswith(("input.", "reply.")):
        return EXIT_INPUT
    if reason in ("device.missing", "model.missing", "output.unwritable"):
        return EXIT_MACHINE
    return EXIT_INTERNAL


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _emit(scene: Scene) -> None:
    print(scene.to_json(), flush=True)


# --- commands ------------------------------------------------------------------------------


def cmd_modules(config: Config, args: argparse.Namespace) -> int:
    plugins = discover()
    configured = set(config.modules())
    width = max([len(n) for n in plugins | dict.fromkeys(configured)] + [6])
    print(f"{'module':{width}}  enabled  entry point / summary")
    for name, plugin in plugins.items():
        enabled = "yes" if config.enabled(name) else "no"
        what = plugin.error or f"{plugin.target} — {plugin.summary}"
        print(f"{name:{width}}  {enabled:7}  {what}")
    for name in sorted(configured - set(plugins)):
        state = "yes" if config.enabled(name) else "no"
        print(f"{name:{width}}  {state:7}  configured but NOT INSTALLED")
    return EXIT_OK


def cmd_models(config: Config, args: argparse.Namespace) -> int:
    plugins = discover()
    rows = []
    for name, plugin in plugins.items():
        if plugin.cls is None or not config.enabled(name):
            continue
        options = config.module_options(name)
        engines = plugin.cls.engines(options)
        if args.prepare and engines:
            _say(f"preparing the models of {name} …")
            plugin.cls.prepare(options)
            engines = plugin.cls.engines(options)
        rows += [(name, r) for r in engines]
    if not rows:
        _say("no enabled module uses a model")
        return EXIT_OK
    print(f"{'module':7} {'role':4} {'engine':15} {'model':17} {'use':7} {'ready':5}  where / detail")
    for name, r in rows:
        use = "default" if r.default else "option"
        ready = "yes" if r.ready else "NO"
        print(f"{name:7} {r.role:4} {r.engine:15} {r.model:17} {use:7} {ready:5}  {r.where}")
        if r.detail:
            print(f"{'':52}{r.detail}")
    missing = [r for _, r in rows if r.default and not r.ready]
    for r in missing:
        _say(f"not ready: {r.role} engine {r.engine} ({r.model}): {r.detail}")
    return EXIT_MACHINE if missing else EXIT_OK


async def _analyze(config: Config, files: Sequence[str]) -> int:
    from tqdm import tqdm

    worst = EXIT_OK
    async with Session(config) as session:
        _report_failed(session)
        bar = tqdm(files, unit="file", disable=len(files) < 2 or not sys.stderr.isatty(), file=sys.stderr)
        for path in bar:
            request = Scene(channel="voice", kind="listen.file", source=str(path))
            async for scene in session.request(request, until=lambda s: s.kind in ("done", "error"),
                                               timeout_s=REQUEST_TIMEOUT_S):
                if scene.kind == "error":
                    _say(f"error: {scene.text}")
                    worst = max(worst, _exit_code(scene.context))
                elif scene.kind != "done":
                    _emit(scene)
    return worst


def cmd_analyze(config: Config, args: argparse.Namespace) -> int:
    return asyncio.run(_analyze(config, args.files))


async def _one_turn(config: Config, request: Scene, wait_for: str) -> tuple[int, Scene | None]:
    """Publish ``request``, print its lineage; returns (exit code, the awaited scene)."""
    async with Session(config) as session:
        _report_failed(session)
        async for scene in session.request(request, until=lambda s: s.kind in (wait_for, "error"),
                                           timeout_s=REQUEST_TIMEOUT_S):
            if scene.kind == "error":
                _say(f"error: {scene.text}")
                return _exit_code(scene.context), None
            _emit(scene)
            if scene.kind == wait_for:
                return EXIT_OK, scene
    return EXIT_INTERNAL, None


def _voice_anchor(config: Config) -> tuple[str, str]:
    """The voice replies are planned for (the mind's ``voice`` option, engine.voice)."""
    engine, _, voice = str(config.module_options("mind").get("voice", "piper.joe")).partition(".")
    return engine, voice or "joe"


def _looks_like_a_path(text: str) -> bool:
    """``say``'s TEXT names a scene file when it ends in ``.json`` and is one word (a path
    without spaces) or an existing file."""
    return text.endswith(".json") and (not any(c.isspace() for c in text) or Path(text).is_file())


def cmd_say(config: Config, args: argparse.Namespace) -> int:
    text = args.text or ""
    if _looks_like_a_path(text):  # a scene file, e.g. one say wrote before
        try:
            text = Path(text).read_text(encoding="utf-8")
        except FileNotFoundError:
            _say(f"error: no such scene file: {args.text}")
            return EXIT_INPUT
        except (OSError, UnicodeDecodeError) as exc:
            _say(f"error: cannot read the scene {args.text}: {exc}")
            return EXIT_INPUT
    if not text.strip() and not args.nonverbal:
        _say("error: say needs TEXT (or a scene as JSON), or --nonverbal sigh|hum|breath|silence")
        return EXIT_INPUT
    if args.mode and args.mode not in melody_table().get("mode_manner", {}):
        known = ", ".join(melody_table().get("mode_manner", {}))
        _say(f"error: mode {args.mode!r} has no manner of voicing in assets/melody.toml ({known})")
        return EXIT_INPUT
    # Each step derives a new scene (and plan) rather than changing the one before.
    if text.lstrip().startswith("{"):
        request = dataclasses.replace(Scene.from_json(text), kind="reply", channel="voice")
    else:
        request = Scene(channel="voice", kind="reply", text=text or None)
    request = dataclasses.replace(request, register=args.register or request.register,
                                  mode=args.mode or request.mode)
    engine, voice = _voice_anchor(config)
    if args.nonverbal:
        request = dataclasses.replace(request, text=None)
        plan = plan_voice(request, engine=engine, voice=voice, manner=args.manner)
        request = dataclasses.replace(request, plan=dataclasses.replace(plan, nonverbal=args.nonverbal))
    elif request.plan is None or args.manner or args.register or args.mode:
        request = dataclasses.replace(request, plan=plan_voice(request, engine=engine, voice=voice,
                                                               manner=args.manner))
    if args.engine and request.plan is not None:
        request = dataclasses.replace(request, plan=dataclasses.replace(request.plan, engine=args.engine))
    code, spoken = asyncio.run(_one_turn(config, request, "spoken"))
    if spoken is not None:
        scene_path = Path(args.out).with_suffix(".json")
        scene_path.write_text(spoken.to_json() + "\n", encoding="utf-8")
        _say(f"wrote {args.out} and its scene {scene_path}")
    return code


async def _live(config: Config, turns: int | None) -> tuple[int, str | None]:
    """Returns (exit code, the reason if no microphone could be used)."""
    spoken = 0
    async with Session(config) as session:
        _report_failed(session)
        request = Scene(channel="voice", kind="listen.live")
        stream = session.request(request, until=lambda s: False, timeout_s=float("inf"))
        async for scene in stream:
            if scene.kind == "error":
                if scene.context == "device.missing" and scene.parents == [request.id]:
                    return EXIT_MACHINE, scene.text
                _say(f"error: {scene.text}")
                continue
            if scene.kind == "listening":
                _say(f"{scene.text} — speak; Ctrl-C ends")
                continue
            _emit(scene)
            if scene.kind == "spoken":
                spoken += 1
                if turns is not None and spoken >= turns:
                    await stream.aclose()
                    break
    return EXIT_OK, None


def cmd_talk(config: Config, args: argparse.Namespace, overrides: list[str]) -> int:
    if args.input:
        out = args.out or str(FALLBACK_REPLY)
        config = load_config(args.config, [*overrides, f"modules.voice.output={json.dumps(out)}"])
        request = Scene(channel="voice", kind="listen.turn", source=args.input)
        code, _ = asyncio.run(_one_turn(config, request, "spoken"))
        if code == EXIT_OK:
            _say(f"reply written to {out}")
        return code
    try:
        code, no_mic = asyncio.run(_live(config, args.turns))
    except KeyboardInterrupt:
        return EXIT_OK
    if no_mic is None:
        return code
    out = args.out or str(FALLBACK_REPLY)
    _say(f"No microphone to listen to: {no_mic}\n"
         f"Running one turn on the bundled recording {BUNDLED_TURN} instead; "
         f"the reply goes to {Path(out).resolve()}.")
    args.input, args.out = str(BUNDLED_TURN), out
    return cmd_talk(config, args, overrides)


def cmd_plot(config: Config, args: argparse.Namespace) -> int:
    png = args.out or str(Path(args.scene).with_suffix(".png"))
    request = Scene(channel="voice", kind="plot", source=str(args.scene), context=png)
    code, done = asyncio.run(_one_turn(config, request, "done"))
    if done is not None:
        _say(f"wrote {done.source}")
    return code


def _report_failed(session: Session) -> None:
    for name, why in session.failed.items():
        _say(f"warning: module {name} did not start: {why}")


# --- entry point ---------------------------------------------------------------------------


#: the options every command takes, before or after the command's name.
GLOBAL_OPTIONS = ("config", "overrides", "asr", "verbose")


def _global_options(after_command: bool) -> argparse.ArgumentParser:
    """The options every command takes. Given after the command they are kept apart
    (``<name>_after``, absent unless given): argparse would otherwise let the command's
    defaults overwrite what was given before it. :func:`_merge_global_options` joins them."""
    common = argparse.ArgumentParser(add_help=False)
    tail = "_after" if after_command else ""
    unset: dict[str, Any] = {"default": argparse.SUPPRESS} if after_command else {}
    common.add_argument("--config", dest=f"config{tail}", **unset,
                        help="a TOML config file (default: ./scenevoice.toml if present)")
    common.add_argument("--set", dest=f"overrides{tail}", action="append", metavar="KEY=VALUE",
                        **(unset or {"default": list[str]()}),
                        help="override a config value, e.g. modules.voice.asr=faster-whisper")
    common.add_argument("--asr", dest=f"asr{tail}", choices=("openai-whisper", "faster-whisper"), **unset,
                        help="shorthand for --set modules.voice.asr=…")
    common.add_argument("-v", "--verbose", dest=f"verbose{tail}", action="count", **(unset or {"default": 0}),
                        help="-v info, -vv debug")
    return common


def _merge_global_options(args: argparse.Namespace) -> argparse.Namespace:
    """Join the global options given before and after the command: ``--set`` and ``-v``
    add up (an override after the command is applied last, so it wins key by key);
    ``--config`` and ``--asr`` after the command win over the same option before it."""
    after = {name: getattr(args, f"{name}_after") for name in GLOBAL_OPTIONS if hasattr(args, f"{name}_after")}
    for name in after:
        delattr(args, f"{name}_after")
    args.overrides = [*args.overrides, *after.get("overrides", [])]
    args.verbose += after.get("verbose", 0)
    args.config = after.get("config", args.config)
    args.asr = after.get("asr", args.asr)
    return args


def _parser() -> argparse.ArgumentParser:
    common = _global_options(after_command=True)
    parser = argparse.ArgumentParser(prog="scenevoice", parents=[_global_options(after_command=False)],
                                     description="A voice agent that thinks in scenes. "
                                     "With no command: talk through the microphone. The options "
                                     "below work before or after the command.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("modules", parents=[common], help="list installed and enabled modules")
    p = sub.add_parser("models", parents=[common], help="show each engine's weights and readiness")
    p.add_argument("--prepare", action="store_true", help="convert/cache bundled models now")
    p = sub.add_parser("analyze", parents=[common], help="print one JSON scene per utterance or sound")
    p.add_argument("files", nargs="+", metavar="FILE")
    p = sub.add_parser("say", parents=[common],
                       help="speak TEXT (or a scene's JSON) into a WAV file, with its measured scene")
    p.add_argument("text", metavar="TEXT", nargs="?", default="",
                   help="the words, or a scene as JSON (or a .json file holding one); empty with --nonverbal")
    p.add_argument("-o", "--out", required=True, help="the WAV file to write (its scene goes beside it as .json)")
    p.add_argument("--register", choices=REGISTERS, help="how the scene unfolds (default: logical)")
    p.add_argument("--mode", help="the scene's mode (calm, tense, excited…): it picks the manner of voicing")
    p.add_argument("--manner", choices=MANNERS, help="the manner of voicing, over the mode's and register's")
    p.add_argument("--engine", choices=("auto", "piper", "bark"), help="the synthesiser (default: the config's)")
    p.add_argument("--nonverbal", choices=("sigh", "hum", "breath", "silence"),
                   help="answer without words")
    p = sub.add_parser("plot", parents=[common], help="draw a spoken scene's plan against its measured voice")
    p.add_argument("scene", metavar="SCENE_JSON", help="the scene run.py say wrote beside its WAV")
    p.add_argument("-o", "--out", help="the PNG to write (default: beside the scene)")
    p = sub.add_parser("talk", parents=[common],
                       help="one turn from a file (--in), or turn by turn through the microphone")
    p.add_argument("--in", dest="input", metavar="FILE", help="answer this recording instead of the microphone")
    p.add_argument("--out", metavar="FILE", help="write the reply here (default: the speaker, or reply.wav)")
    p.add_argument("--turns", type=int, help="stop after this many spoken replies")
    return parser


def _quiet_libraries() -> None:
    warnings.filterwarnings("ignore", message=".*FP16 is not supported on CPU.*")
    warnings.filterwarnings("ignore", category=UserWarning, module="whisper")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = _merge_global_options(parser.parse_args(argv))
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    _quiet_libraries()
    command = args.command or "talk"
    if args.command is None:
        args.input, args.out, args.turns = None, None, None
    overrides = list(args.overrides)
    if args.asr:
        overrides.append(f"modules.voice.asr={json.dumps(args.asr)}")
    if command == "say":
        overrides.append(f"modules.voice.output={json.dumps(args.out)}")
    try:
        config = load_config(args.config, overrides)
        log.info("config: %s; overrides: %s", " + ".join(map(str, config.sources)),
                 " ".join(overrides) or "none")
        if command == "modules":
            return cmd_modules(config, args)
        if command == "models":
            return cmd_models(config, args)
        if command == "analyze":
            return cmd_analyze(config, args)
        if command == "say":
            return cmd_say(config, args)
        if command == "plot":
            return cmd_plot(config, args)
        return cmd_talk(config, args, overrides)
    except (ConfigError, SessionError) as exc:
        _say(f"error: {exc}")
        return EXIT_INPUT if isinstance(exc, ConfigError) else EXIT_MACHINE
    except ValueError as exc:  # a malformed scene given on the command line
        _say(f"error: {exc}")
        return EXIT_INPUT
    except TimeoutError:
        _say(f"error: no answer within {REQUEST_TIMEOUT_S:.0f} s")
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:  # the last line of defence: a message, not a traceback
        log.debug("internal error", exc_info=True)
        _say(f"internal error: {type(exc).__name__}: {exc} (run with -vv for the traceback)")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())

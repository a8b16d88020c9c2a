"""The entry point: options shared by every command (before or after its name), the
config, and one table from errors to exit codes (:mod:`agent.errors`)."""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import io
import json
import logging
import signal
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from agent.cli import analyze, export, memory, models, modules, plot, record, replay, say, serve, talk, think, wyoming
from agent.cli.common import REQUEST_TIMEOUT_S
from agent.cli.common import say as tell
from agent.config import ConfigError, load_config
from agent.cores import share_cores
from agent.errors import EXIT_INTERNAL, EXIT_OK, ScenevoiceError

log = logging.getLogger("scenevoice")

#: the commands, each a file of this package with ``add_parser`` and ``run``.
COMMANDS = {
    "modules": modules,
    "models": models,
    "analyze": analyze,
    "say": say,
    "plot": plot,
    "talk": talk,
    "memory": memory,
    "think": think,
    "serve": serve,
    "record": record,
    "replay": replay,
    "export": export,
    "wyoming": wyoming,
}


#: the options every command takes, before or after the command's name.
GLOBAL_OPTIONS = ("config", "overrides", "asr", "verbose")


def _global_options(after_command: bool) -> argparse.ArgumentParser:
    """The options every command takes. Given after the command they are kept apart
    (``<name>_after``, absent unless given): argparse would otherwise let the command's
    defaults overwrite what was given before it. :func:`_merge_global_options` joins them."""
    common = argparse.ArgumentParser(add_help=False)
    tail = "_after" if after_command else ""
    unset: dict[str, Any] = {"default": argparse.SUPPRESS} if after_command else {}
    common.add_argument(
        "--config", dest=f"config{tail}", **unset, help="a TOML config file (default: ./scenevoice.toml if present)"
    )
    common.add_argument(
        "--set",
        dest=f"overrides{tail}",
        action="append",
        metavar="KEY=VALUE",
        **(unset or {"default": list[str]()}),
        help="override a config value, e.g. modules.voice.asr=faster-whisper",
    )
    common.add_argument(
        "--asr",
        dest=f"asr{tail}",
        choices=("openai-whisper", "faster-whisper"),
        **unset,
        help="shorthand for --set modules.voice.asr=…",
    )
    common.add_argument(
        "-v", "--verbose", dest=f"verbose{tail}", action="count", **(unset or {"default": 0}), help="-v info, -vv debug"
    )
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
    parser = argparse.ArgumentParser(
        prog="scenevoice",
        parents=[_global_options(after_command=False)],
        description="A voice agent that thinks in scenes. "
        "With no command: talk through the microphone. The options "
        "below work before or after the command.",
    )
    sub = parser.add_subparsers(dest="command")
    for command in COMMANDS.values():
        command.add_parser(sub, common)
    return parser


def _quiet_libraries() -> None:
    warnings.filterwarnings("ignore", message=".*FP16 is not supported on CPU.*")
    warnings.filterwarnings("ignore", category=UserWarning, module="whisper")


def _stacks_on_sigusr1() -> None:
    """``kill -USR1 PID`` prints every thread's stack on stderr: for a process that will not end."""
    if hasattr(signal, "SIGUSR1"):
        with contextlib.suppress(io.UnsupportedOperation, ValueError, OSError):  # stderr without a file (in-process)
            faulthandler.register(signal.SIGUSR1, all_threads=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (0 done, 1 internal error, 2 bad input,
    3 something the machine lacks)."""
    parser = _parser()
    args = _merge_global_options(parser.parse_args(argv))
    _stacks_on_sigusr1()
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        # -v: each line with its wall-clock time (to the ms), to set beside a recording
        format=("%(asctime)s.%(msecs)03d " if args.verbose else "") + "%(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    _quiet_libraries()
    share_cores()  # numpy's idle BLAS threads would spin on the cores the engines need
    command = args.command or "talk"
    if args.command is None:
        args.input, args.out, args.turns = None, None, None
    overrides = list(args.overrides)
    if args.asr:
        overrides.append(f"modules.voice.asr={json.dumps(args.asr)}")
    if command == "say":
        overrides.append(f"modules.voice.output={json.dumps(args.out)}")
    try:
        role, site = getattr(args, "role", None), getattr(args, "site", None)
        if site and role is None:
            raise ConfigError("--site names this machine among several: give its --role too (satellite, sensor)")
        if role in ("satellite", "sensor") and not site:
            raise ConfigError(f"--role {role} needs --site NAME: the room or place this machine is (kitchen, window)")
        if site:  # before the user's --set, which win
            overrides.insert(0, f"modules.bridge.site={json.dumps(site)}")
        config = load_config(args.config, overrides, role)
        log.info("config: %s; overrides: %s", " + ".join(map(str, config.sources)), " ".join(overrides) or "none")
        if command == "talk":
            return talk.run(config, args, overrides)
        return COMMANDS[command].run(config, args)
    except ScenevoiceError as exc:  # a wrong config, a malformed scene, a missing module…
        tell(f"error: {exc}")
        return exc.exit_code
    except TimeoutError:
        tell(f"error: no answer within {REQUEST_TIMEOUT_S:.0f} s")
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:  # the last line of defence: a message, not a traceback
        log.debug("internal error", exc_info=True)
        tell(f"internal error: {type(exc).__name__}: {exc} (run with -vv for the traceback)")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())

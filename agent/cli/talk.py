"""``run.py talk``: turn by turn through the microphone, or one turn from a file (``--in``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import json
import os
import signal
import threading
from pathlib import Path

from agent.cli.common import one_turn, recorded_session, report_error, report_failed, say
from agent.cli.view import TalkView
from agent.config import Config, load_config
from agent.errors import EXIT_INPUT, EXIT_INTERNAL, EXIT_MACHINE, EXIT_OK
from agent.parts import Request
from agent.paths import ASSETS
from agent.scene import Scene
from agent.session import print_tasks

#: the recording the main job answers when there is no microphone.
BUNDLED_TURN = ASSETS / "audio" / "jfk.flac"
FALLBACK_REPLY = Path("reply.wav")
#: how long a live session may take to stop after Ctrl-C (s): the clean stop takes ~2 s.
STOP_S = 10.0
#: the exit code after a second Ctrl-C cut the stop short (the shell's for SIGINT).
EXIT_FORCED = 130


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "talk", parents=[common], help="one turn from a file (--in), or turn by turn through the microphone"
    )
    p.add_argument("--in", dest="input", metavar="FILE", help="answer this recording instead of the microphone")
    p.add_argument("--out", metavar="FILE", help="write the reply here (default: the speaker, or reply.wav)")
    p.add_argument("--turns", type=int, help="stop after this many spoken replies")
    p.add_argument(
        "--record", metavar="DIR", help="record the session (both sides' audio and every scene) into a folder under DIR"
    )
    p.add_argument(
        "--llm",
        metavar="URL|bundled",
        help="word replies with a language model: an OpenAI-compatible server's /v1 URL, or 'bundled' "
        "(SmolLM2-135M served by llama.cpp on loopback); sets modules.mind.llm.url",
    )


class _CtrlC:
    """Ctrl-C (SIGINT) during a live talk: the session stops cleanly — and within
    ``STOP_S`` whatever happens, until the event loop has closed (:meth:`disarm`): past it
    the process says where it was waiting (every thread's stack, every task's) and exits
    with ``EXIT_INTERNAL`` (a stop that hangs is a bug); at a second Ctrl-C it does the
    same with ``EXIT_FORCED``."""

    def __init__(self, main: asyncio.Task) -> None:
        self.main = main
        self.pressed = False
        self._watchdog: threading.Timer | None = None
        self._loop = asyncio.get_running_loop()
        try:
            self._loop.add_signal_handler(signal.SIGINT, self._pressed)
            self.installed = True
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread: the default
            self.installed = False

    def _pressed(self) -> None:
        if self.pressed:
            _exit_now("a second Ctrl-C", self._loop, EXIT_FORCED)
        self.pressed = True
        why = f"the stop took over {STOP_S:g} s"
        self._watchdog = threading.Timer(STOP_S, _exit_now, args=(why, self._loop, EXIT_INTERNAL))
        self._watchdog.daemon = True
        self._watchdog.start()
        self.main.cancel()

    def remove(self) -> None:
        """The session is over, the loop is closing: a second Ctrl-C still ends the
        process at once (the loop's own handler goes with the loop), and the watchdog
        stays armed through the loop's teardown."""
        if self.installed:
            self._loop.remove_signal_handler(signal.SIGINT)
            if self.pressed:
                signal.signal(signal.SIGINT, lambda *_: _exit_now("a second Ctrl-C", self._loop, EXIT_FORCED))

    def disarm(self) -> None:
        """The event loop has closed: the stop is over."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self.installed and self.pressed:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _exit_now(why: str, loop: asyncio.AbstractEventLoop, code: int) -> None:
    """End the process at once with ``code``, saying where the stop waited."""
    say(f"{why}; exiting without waiting for the rest. Where it waited:")
    with contextlib.suppress(Exception):  # stderr without a file (in-process)
        faulthandler.dump_traceback(all_threads=True)
    with contextlib.suppress(Exception):  # the tasks are read from another thread: best effort
        print_tasks(loop)
    os._exit(code)


async def _live(config: Config, turns: int | None, record: str | None, ctrl_cs: list[_CtrlC]) -> tuple[int, str | None]:
    """Returns (exit code, the message if no microphone could be used); its Ctrl-C handling
    goes into ``ctrl_cs``, for the caller to disarm once the loop has closed."""
    view = TalkView()
    main = asyncio.current_task()
    assert main is not None
    ctrl_c = _CtrlC(main)
    ctrl_cs.append(ctrl_c)
    try:
        return await _converse(config, turns, view, record)
    except asyncio.CancelledError:
        if not ctrl_c.pressed:
            raise
        return EXIT_OK, None  # the session has stopped (the context managers ran)
    finally:
        ctrl_c.remove()
        view.close()


async def _converse(config: Config, turns: int | None, view: TalkView, record: str | None) -> tuple[int, str | None]:
    spoken = 0
    async with recorded_session(config, record, "talk") as session:
        report_failed(session)
        request = Scene(channel="voice", kind="listen.live")
        lineage = session.request(request, until=lambda s: False, timeout_s=float("inf"))
        async with contextlib.aclosing(lineage) as scenes:
            async for scene in scenes:
                if scene.kind == "error":
                    problem = scene.error
                    if problem is not None and problem.reason == "device.missing" and scene.parents == [request.id]:
                        return EXIT_MACHINE, problem.message
                    view.close()
                    code = report_error(scene)
                    if scene.parents == [request.id]:  # live listening itself ended: nothing more comes
                        return code, None
                    continue
                if scene.kind == "done" and scene.parents == [request.id]:  # a file-driven microphone ended
                    break
                if scene.kind == "listening":
                    device = scene.result.device if scene.result else "the microphone"
                    say(f"listening on {device} — speak; Ctrl-C ends")
                view.show(scene)
                if scene.kind == "spoken":
                    spoken += 1
                    if turns is not None and spoken >= turns:
                        break
    return EXIT_OK, None


def run(config: Config, args: argparse.Namespace, overrides: list[str]) -> int:
    if args.input and getattr(args, "record", None):
        say("error: --record records a live session; with --in the reply is written to --out")
        return EXIT_INPUT
    if getattr(args, "llm", None):  # the main job (run.py alone) has no --llm
        overrides = [*overrides, f"modules.mind.llm.url={json.dumps(args.llm)}"]
        config = load_config(args.config, overrides)
        args.llm = None  # in the overrides now (run again below for the bundled recording)
    if args.input:
        out = args.out or str(FALLBACK_REPLY)
        config = load_config(args.config, [*overrides, f"modules.voice.output={json.dumps(out)}"])
        request = Scene(channel="voice", kind="listen.turn", request=Request(path=args.input))
        code, _ = asyncio.run(one_turn(config, request, "spoken"))
        if code == EXIT_OK:
            say(f"reply written to {out}")
        return code
    ctrl_cs: list[_CtrlC] = []
    try:
        code, no_mic = asyncio.run(_live(config, args.turns, getattr(args, "record", None), ctrl_cs))
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        for ctrl_c in ctrl_cs:
            ctrl_c.disarm()
    if no_mic is None:
        return code
    out = args.out or str(FALLBACK_REPLY)
    say(
        f"No microphone to listen to: {no_mic}\n"
        f"Running one turn on the bundled recording {BUNDLED_TURN} instead; "
        f"the reply goes to {Path(out).resolve()}."
    )
    if getattr(args, "record", None):
        say("(this turn is not recorded: --record records live sessions)")
    args.input, args.out, args.record = str(BUNDLED_TURN), out, None
    return run(config, args, overrides)

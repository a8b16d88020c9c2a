"""What every command shares: messages, scenes on stdout, one request's round trip."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Callable

from agent.config import Config
from agent.errors import EXIT_INTERNAL, EXIT_OK, exit_code
from agent.record.recorder import Recorder
from agent.scene import Scene
from agent.session import Session

#: how long a command waits for the answer to its request (a long file on a slow CPU).
REQUEST_TIMEOUT_S = 900.0


def say(message: str) -> None:
    """A message for people, on stderr."""
    print(message, file=sys.stderr, flush=True)


def emit(scene: Scene) -> None:
    """A scene for programs: one JSON line on stdout."""
    print(scene.to_json(), flush=True)


def report_error(scene: Scene) -> int:
    """Tell people what an error scene says; returns the exit code its reason calls for."""
    problem = scene.error
    if problem is None:
        say("error: (an error scene without its error part)")
        return EXIT_INTERNAL
    say(f"error: {problem.message}")
    return exit_code(problem.reason)


def report_failed(session: Session) -> None:
    """Warn about modules that did not start (the others run)."""
    for name, why in session.failed.items():
        say(f"warning: module {name} did not start: {why}")


async def one_request(session: Session, request: Scene, wait_for: str) -> tuple[int, Scene | None]:
    """Publish ``request`` on a running session and print its lineage until a ``wait_for``
    scene or an error arrives; returns (exit code, the awaited scene or None)."""
    async for scene in session.request(
        request, until=lambda s: s.kind in (wait_for, "error"), timeout_s=REQUEST_TIMEOUT_S
    ):
        if scene.kind == "error":
            return report_error(scene), None
        emit(scene)
        if scene.kind == wait_for:
            return EXIT_OK, scene
    return EXIT_INTERNAL, None


async def one_turn(config: Config, request: Scene, wait_for: str) -> tuple[int, Scene | None]:
    """:func:`one_request` in a session of its own."""
    async with Session(config) as session:
        report_failed(session)
        return await one_request(session, request, wait_for)


@contextlib.asynccontextmanager
async def recorded_session(
    config: Config,
    record_root: str | None,
    command: str,
    only: set[str] | None = None,
    tell: Callable[[str], None] = say,
) -> AsyncIterator[Session]:
    """A running :class:`Session` (``only``: these modules), recorded into a new session
    folder under ``record_root`` when it is given (``agent/record``): every scene from the
    first, and the modules' audio from the ``record.start`` on. ``tell`` says where (a
    message for people, or a log line).

    Raises:
        FolderError: the session folder cannot be made or written.
        ConfigError: ``[record]`` is wrong.
    """
    session = Session(config, only)
    recorder = Recorder(record_root, command, config) if record_root else None
    if recorder is not None:
        recorder.attach(session.bus)
        session.recording_folder = recorder.folder
    try:
        async with session:
            if recorder is not None:
                tell(f"recording into {recorder.folder}")
                await session.bus.publish(recorder.start_scene(), source=command)
            yield session
    finally:
        if recorder is not None:
            recorder.close()

"""What every command shares: messages, scenes on stdout, one request's round trip."""

from __future__ import annotations

import sys

from agent.config import Config
from agent.errors import EXIT_INTERNAL, EXIT_OK, exit_code
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

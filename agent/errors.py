"""One error vocabulary: every error of the project has a reason, and a reason an exit code.

A reason is ``area.what`` in lower case, words joined by ``-`` (``input.no-speech``). The
area says who must act: ``input``/``config`` the user (exit 2), ``model``/``device``/
``output`` the machine (exit 3), ``internal``/``module`` the program (exit 1). An error
raised in a module travels to the CLI as an error scene whose :class:`Problem` part
carries the same reason, so a command's exit code comes from this one table whether the
error was raised in-process or reported over the bus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NoReturn

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_MACHINE = 0, 1, 2, 3

#: every reason the project uses, and the exit code a command ends with when it meets it.
REASONS: dict[str, int] = {
    "input.missing": EXIT_INPUT,  # a file named by the user does not exist
    "input.unreadable": EXIT_INPUT,  # not usable audio / not readable
    "input.malformed": EXIT_INPUT,  # malformed scene JSON or a bad field
    "input.no-speech": EXIT_INPUT,  # audio with nothing to answer
    "input.bad-request": EXIT_INPUT,  # a request without what it needs, a wrong value
    "input.output-path": EXIT_INPUT,  # an output name or folder that cannot be used
    "config.invalid": EXIT_INPUT,  # a wrong config file, option or --set
    "model.missing": EXIT_MACHINE,  # weights or a voice that are not on this machine
    "device.missing": EXIT_MACHINE,  # no such sound device, or it vanished
    "module.missing": EXIT_MACHINE,  # a module enabled but not installed, or none handles a request
    "output.unwritable": EXIT_MACHINE,  # a full disk, a read-only folder
    "module.failed": EXIT_INTERNAL,  # a module raised while handling a scene
    "internal": EXIT_INTERNAL,  # a bug: anything else
}


def exit_code(reason: str | None) -> int:
    """The exit code for ``reason``; an unknown or missing reason is an internal error."""
    return REASONS.get(reason or "internal", EXIT_INTERNAL)


class ScenevoiceError(Exception):
    """The base of every error the project raises on purpose.

    Args:
        message: a sentence for a person, naming the file or value concerned.
        reason: one of :data:`REASONS`; defaults to the class's own ``reason``.
        subject: the file path or value the error is about, if any.

    Raises:
        ValueError: for a reason that is not in :data:`REASONS` (a typo is a bug).
    """

    reason: ClassVar[str] = "internal"

    def __init__(self, message: str, *, reason: str | None = None, subject: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            if reason not in REASONS:
                raise ValueError(f"unknown error reason {reason!r}; add it to agent.errors.REASONS")
            self.reason = reason  # type: ignore[misc]
        self.subject = subject

    @property
    def exit_code(self) -> int:
        return exit_code(self.reason)

    def problem(self) -> Problem:
        """The typed part an error scene carries for this error."""
        return Problem(reason=self.reason, message=str(self), subject=self.subject)


class InputError(ScenevoiceError, ValueError):
    """Input the user gave cannot be used (exit 2)."""

    reason = "input.bad-request"


class MachineError(ScenevoiceError, RuntimeError):
    """The machine lacks something: a model, a device, room on disk (exit 3)."""

    reason = "model.missing"


class InternalError(ScenevoiceError, RuntimeError):
    """A bug or misuse of an internal interface (exit 1)."""

    reason = "internal"


class SchemaError(InputError):
    """Malformed scene data. ``field`` is the dotted path of the offending field."""

    reason = "input.malformed"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", subject=field)
        self.field = field


def fail(field: str, message: str) -> NoReturn:
    """Raise :class:`SchemaError` for ``field`` (a dotted path) with ``message``."""
    raise SchemaError(field, message)


@dataclass(frozen=True)
class Problem:
    """What went wrong, as an error scene carries it.

    Attributes:
        reason: one of :data:`REASONS` (``input.no-speech``).
        message: a sentence for a person.
        subject: the file or value concerned, if any.
    """

    reason: str
    message: str
    subject: str | None = None

    def _check(self, path: str) -> None:
        if self.reason not in REASONS:
            fail(f"{path}.reason", f"{self.reason!r} is not a known reason ({', '.join(REASONS)})")

    @property
    def exit_code(self) -> int:
        return exit_code(self.reason)

"""Where tactile JSON lines come from: a file, standard input, a UNIX socket's connections.

Each source yields text lines (without their newline) as they come; decoding errors
arrive as :class:`TactileInputError` instances in the stream, so one bad line is skipped
and the next read.
"""

from __future__ import annotations

import asyncio
import contextlib
import stat
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from agent.errors import InputError
from modules.tactile.evdev_input import DeviceMissing
from modules.tactile.events import TactileInputError


class TactileFileError(InputError):
    """A tactile events file that is missing or cannot be read as text."""

    reason = "input.missing"


def read_lines(path: str) -> list[str]:
    """The lines of a JSON-lines file (UTF-8).

    Raises:
        TactileFileError: ``input.missing`` when it does not exist, ``input.unreadable``
            when it is not a readable UTF-8 text file.
    """
    where = Path(path)
    if not where.exists():
        raise TactileFileError(f"{path}: no such tactile events file", subject=path)
    try:
        return where.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TactileFileError(
            f"{path}: cannot read it as UTF-8 JSON lines ({exc})", reason="input.unreadable", subject=path
        ) from None


async def stdin_lines() -> AsyncIterator[str]:
    """Standard input's lines, read on a daemon thread (a blocked read cannot be cancelled)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def hand(item: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed before stdin did
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def pump() -> None:
        for line in sys.stdin:
            hand(line.rstrip("\r\n"))
        hand(None)

    threading.Thread(target=pump, name="tactile:stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


async def reader_lines(reader: asyncio.StreamReader, name: str) -> AsyncIterator[str | TactileInputError]:
    """A socket connection's lines; a line that is not UTF-8 comes as an error."""
    count = 0
    while raw := await reader.readline():
        count += 1
        try:
            yield raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            yield TactileInputError(f"{name}:{count}: not UTF-8 text ({exc})", subject=name)


def prepare_socket_path(path: str) -> None:
    """Make room for a listening socket at ``path``: a stale socket left there is removed.

    Raises:
        DeviceMissing: something else than a socket is in the way, or its folder is missing.
    """
    where = Path(path)
    if not where.parent.is_dir():
        raise DeviceMissing(f"unix:{path}: the folder {where.parent} does not exist", subject=path)
    if where.exists() or where.is_symlink():
        if not stat.S_ISSOCK(where.lstat().st_mode):
            raise DeviceMissing(f"unix:{path}: a file that is not a socket is in the way", subject=path)
        where.unlink()

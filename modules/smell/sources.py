"""Live sources of reading lines: stdin or a serial port (pyserial), opened only when configured.

A source is read on a daemon thread (a blocking read cannot be cancelled) and its lines are
handed to the event loop; :meth:`LineSource.lines` yields ``(line number, text)`` until the
source ends. A serial port that cannot be opened, or that fails while read, is a
:class:`~agent.errors.MachineError` with reason ``device.missing`` (exit code 3).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import IO, Any

from agent.errors import MachineError
from modules.smell.options import SmellOptions

#: seconds a serial read waits before it looks whether the source was closed.
SERIAL_POLL_S = 0.5


class DeviceMissing(MachineError):
    """The configured sensor device is absent, cannot be opened, or vanished."""

    reason = "device.missing"


class LineSource:
    """Lines of text from ``read_lines`` (an iterator run on a daemon thread).

    Args:
        name: the source as scenes name it (``stdin``, ``serial:/dev/ttyUSB0``).
        read_lines: yields lines; may raise :class:`DeviceMissing`.
        close: releases the device (called once, from :meth:`close`).
    """

    def __init__(self, name: str, read_lines: Callable[[], Iterator[str]], close: Callable[[], None]) -> None:
        self.name = name
        self._read_lines = read_lines
        self._close = close
        self.closed = threading.Event()

    async def lines(self) -> AsyncIterator[tuple[int, str]]:
        """``(line number from 1, text)`` as lines arrive, until the source ends.

        Raises:
            DeviceMissing: the device failed while being read.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def pump() -> None:
            try:
                for text in self._read_lines():
                    if self.closed.is_set():
                        break
                    loop.call_soon_threadsafe(queue.put_nowait, ("line", text))
            except DeviceMissing as exc:
                loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))
            except RuntimeError:  # the loop closed under us: nobody listens any more
                return
            try:
                loop.call_soon_threadsafe(queue.put_nowait, ("end", None))
            except RuntimeError:
                return

        threading.Thread(target=pump, name=f"smell:{self.name}", daemon=True).start()
        line_no = 0
        while True:
            what, value = await queue.get()
            if what == "end":
                return
            if what == "error":
                raise value
            line_no += 1
            yield line_no, value

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self._close()


def _stdin_source(stream: IO[str]) -> LineSource:
    return LineSource("stdin", lambda: iter(stream.readline, ""), lambda: None)


def _serial_source(port: str, baud: int) -> LineSource:
    name = f"serial:{port}"
    try:
        import serial  # pyserial
    except ImportError:
        raise DeviceMissing(f"{name}: pyserial is not installed (pip install pyserial==3.5)", subject=name) from None
    try:
        device = serial.serial_for_url(port, baudrate=baud, timeout=SERIAL_POLL_S)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceMissing(
            f"{name}: cannot open the serial port ({exc}); check modules.smell.source and that the sensor "
            "is plugged in",
            subject=name,
        ) from None
    source: LineSource

    def read_lines() -> Iterator[str]:
        pending = b""
        while not source.closed.is_set():
            try:
                chunk = device.readline()
            except (serial.SerialException, OSError) as exc:
                if source.closed.is_set():
                    return
                raise DeviceMissing(f"{name}: the serial port failed while read ({exc})", subject=name) from None
            pending += chunk
            if pending.endswith(b"\n"):
                yield pending.decode("utf-8", errors="replace")
                pending = b""

    source = LineSource(name, read_lines, device.close)
    return source


def open_source(options: SmellOptions, stdin: IO[str] | None = None) -> LineSource | None:
    """The configured live source, opened; None when ``options.source`` is empty.

    Args:
        stdin: the stream ``stdin`` reads (default ``sys.stdin``).

    Raises:
        DeviceMissing: a serial port that does not exist or cannot be opened, or pyserial
            missing.
    """
    if options.source == "stdin":
        return _stdin_source(stdin if stdin is not None else sys.stdin)
    port = options.serial_port
    if port:
        return _serial_source(port, options.serial_baud)
    return None

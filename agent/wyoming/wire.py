"""Reading Wyoming events with limits.

``wyoming.event.async_read_event`` reads a JSON header line, then ``data_length`` bytes of
more JSON, then ``payload_length`` bytes of payload, trusting both lengths: a header that
declares a payload of 10**12 bytes would have it buffer whatever the client sends until the
server runs out of memory. :class:`GuardedReader` stands between it and the socket and
refuses any block over :data:`MAX_BLOCK_BYTES` before a byte of it is read, and remembers
why, so the handler can answer with an ``error`` event and close the connection.
"""

from __future__ import annotations

import asyncio
from typing import cast

from wyoming.event import Event, async_read_event

#: the most bytes one event's data or payload may declare: 4 MiB (an audio chunk is a few
#: kilobytes; 4 MiB is 10.9 s of 48 kHz stereo 32-bit audio in one chunk).
MAX_BLOCK_BYTES = 4 * 1024 * 1024


class EventRefused(Exception):
    """A client sent what cannot be read as a Wyoming event; the message says what."""


class GuardedReader:
    """The part of ``asyncio.StreamReader`` that ``async_read_event`` uses, with limits.

    Args:
        reader: the connection's stream (its own limit bounds a header line: 64 KiB).
        max_block_bytes: the most bytes a ``data_length`` or ``payload_length`` may declare.
    """

    def __init__(self, reader: asyncio.StreamReader, max_block_bytes: int = MAX_BLOCK_BYTES) -> None:
        self._reader = reader
        self.max_block_bytes = max_block_bytes
        #: why the last event was refused (None when it was not).
        self.refused: str | None = None
        #: True when the last header line held something (an EOF reads as b"").
        self.line_read = False

    async def readline(self) -> bytes:
        self.refused, self.line_read = None, False
        try:
            line = await self._reader.readline()
        except ValueError:  # over the stream's limit, without a newline
            self.refused = "an event header line longer than the server reads (64 KiB)"
            raise
        self.line_read = bool(line)
        return line

    async def readexactly(self, n: int) -> bytes:
        if not isinstance(n, int) or n > self.max_block_bytes:
            self.refused = f"a declared length of {n!r} bytes (at most {self.max_block_bytes} are read)"
            raise ValueError(self.refused)  # async_read_event answers None for a ValueError
        return await self._reader.readexactly(n)

    async def read_event(self) -> Event | None:
        """The next event, or None when the client closed the connection between events.

        Raises:
            EventRefused: the header is not JSON, not an object, lacks its ``type``, or
                declares a block over the limit; or the connection ended inside an event.
        """
        try:
            event = await async_read_event(cast(asyncio.StreamReader, self))
        except asyncio.IncompleteReadError as exc:
            raise EventRefused(f"the connection ended inside an event ({len(exc.partial)} of its bytes came)") from None
        except (AttributeError, KeyError, TypeError) as exc:  # JSON, but not an event's header
            raise EventRefused(f"an event header that is not a Wyoming event ({type(exc).__name__}: {exc})") from None
        if event is None and (self.refused is not None or self.line_read):
            raise EventRefused(self.refused or "an event header (or its data) that is not JSON")
        if event is not None and not isinstance(event.type, str):
            raise EventRefused(f"an event whose type is {event.type!r}, not a string")
        if event is not None and not isinstance(event.data, dict):
            raise EventRefused(f"the data of a {event.type!r} event is not a JSON object")
        return event

"""Structured logs for an appliance: one JSON object per line on stderr.

``{"t": "2026-11-30T10:00:00.123Z", "level": "INFO", "logger": "scenevoice", "message": "…"}``
plus ``"error"`` (the exception's type and message) when a record carries one — readable
by journald, jq and any log shipper, one event per line however the message is worded.
"""

from __future__ import annotations

import json
import logging
import time


class JsonLines(logging.Formatter):
    """A log record as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        line = {"t": t, "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            line["error"] = f"{type(exc).__name__}: {exc}"
        return json.dumps(line, ensure_ascii=False)


def use_json_lines(level: int) -> None:
    """Send every log record, from ``level`` up, to stderr as JSON lines (replacing the
    handlers set before)."""
    import sys

    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root.addHandler(handler)
    root.setLevel(level)

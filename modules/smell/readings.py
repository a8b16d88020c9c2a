"""Sensor readings as JSON lines → :class:`~agent.odor.Odor` readings.

One reading per line, a JSON object with any of the :class:`~agent.odor.Odor` fields and
an optional ``t_s`` (seconds on the sensor's clock, ≥ 0), e.g.::

    {"t_s": 12.0, "voc_index": 230, "co2_ppm": 910, "humidity_pct": 52.5,
     "temperature_c": 23.4, "gas_resistance_ohm": 9200}
    {"t_s": 13.0, "labels": ["coffee"]}

Blank lines are skipped. Anything else that is not a valid reading (not JSON, NaN, an
unknown field, a value outside its physical range) raises :class:`BadReading` naming the
source and line; the reader skips it and goes on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from agent.codec import SchemaError, from_dict
from agent.errors import InputError
from agent.odor import Odor


class BadReading(InputError):
    """A line that is not a valid reading. ``subject`` is ``<source>:<line number>``."""

    reason = "input.malformed"


@dataclass(frozen=True)
class Reading:
    """A valid reading: where it came from, its line number (from 1), its time on the
    sensor's clock in seconds (None when the line gave none) and its values."""

    source: str
    line_no: int
    t_s: float | None
    odor: Odor


def parse_reading(text: str, source: str, line_no: int) -> Reading | None:
    """The reading on line ``line_no`` of ``source``; None for a blank line.

    Raises:
        BadReading: not a JSON object, NaN or infinity, an unknown or mistyped field, a
            value outside its physical range, or neither a measure nor a label.
    """
    if not text.strip():
        return None
    where = f"{source}:{line_no}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadReading(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})", subject=where) from None
    if not isinstance(data, dict):
        raise BadReading(f"{where}: a reading must be a JSON object, got {type(data).__name__}", subject=where)
    t_s = data.pop("t_s", None)
    if t_s is not None and (
        isinstance(t_s, bool) or not isinstance(t_s, (int, float)) or not math.isfinite(t_s) or t_s < 0
    ):
        raise BadReading(f"{where}: reading.t_s must be a number of seconds ≥ 0, got {t_s!r}", subject=where)
    try:
        odor = from_dict(Odor, data, "reading")
    except SchemaError as exc:
        raise BadReading(f"{where}: {exc}", subject=where) from None
    return Reading(source, line_no, None if t_s is None else float(t_s), odor)

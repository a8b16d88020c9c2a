"""``[modules.smell]``: SmellNet's options, parsed and checked once.

``assets/config.toml`` documents each option. A wrong name or type is refused by
:func:`agent.codec.from_dict` naming the option; a wrong source or value is refused here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.module import ModuleConfigError, parse_options

SERIAL = "serial:"


@dataclass
class SmellOptions:
    """``[modules.smell]`` in the config.

    Attributes:
        source: where live readings come from: ``""`` (none: only ``sniff.file``
            requests), ``stdin``, or ``serial:<port>`` (``serial:/dev/ttyUSB0``), opened
            on start.
        serial_baud: the serial port's speed, bits per second.
        min_interval_s: a live source publishes a smell scene when its core changes, or
            else at most once per this many seconds (errors alike, per reason).
        rules: the rule table's path; ``""`` = ``assets/smell_rules.toml``.
    """

    source: str = ""
    serial_baud: int = 115200
    min_interval_s: float = 10.0
    rules: str = ""

    @property
    def serial_port(self) -> str | None:
        """The port of a ``serial:<port>`` source, else None."""
        return self.source[len(SERIAL) :] if self.source.startswith(SERIAL) else None

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> SmellOptions:
        """The options of ``[modules.smell]`` (without ``enabled``).

        Raises:
            ModuleConfigError: an unknown option, a wrong type or a wrong value; the
                message names the option and the fix.
        """
        parsed = parse_options(cls, options, "smell")
        if parsed.source not in ("", "stdin") and not parsed.serial_port:
            raise ModuleConfigError(f'modules.smell.source = {parsed.source!r}: choose "", "stdin" or "serial:<port>"')
        if parsed.serial_baud <= 0:
            raise ModuleConfigError(f"modules.smell.serial_baud = {parsed.serial_baud}: must be positive")
        if parsed.min_interval_s < 0:
            raise ModuleConfigError(f"modules.smell.min_interval_s = {parsed.min_interval_s}: must be ≥ 0")
        return parsed

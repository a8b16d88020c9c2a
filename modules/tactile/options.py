"""``[modules.tactile]``: the tactile module's options, parsed and checked once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.module import ModuleConfigError, parse_options

SOCKET_PREFIX = "unix:"


@dataclass
class TactileOptions:
    """``[modules.tactile]`` in the config.

    Attributes:
        input: where events come from while the agent runs: ``""`` nowhere (requests
            only), ``"-"`` standard input, ``"unix:/path.sock"`` a UNIX socket the module
            listens on (each connection one stream of JSON lines), or a JSON-lines file
            read once at start.
        device: a Linux input device (``/dev/input/event3``) read through ``evdev``; ``""`` none.
        actuator: where a reply's gesture goes: ``""`` nowhere, ``"unix:/path.sock"`` a
            socket an actuator listens on, or a file the JSON lines are appended to.
        thresholds: the gesture table; ``""`` is ``assets/tactile.toml``.
        speaking_timeout_s: a reply with no ``spoken``/``error`` after it counts as being
            spoken this long at most (s).
    """

    input: str = ""
    device: str = ""
    actuator: str = ""
    thresholds: str = ""
    speaking_timeout_s: float = 120.0

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> TactileOptions:
        """The options of ``[modules.tactile]`` (without ``enabled``).

        Raises:
            ModuleConfigError: an unknown option, a wrong type or value (named).
        """
        parsed = parse_options(cls, options, "tactile")
        if not parsed.speaking_timeout_s > 0:
            raise ModuleConfigError(
                f"modules.tactile.speaking_timeout_s = {parsed.speaking_timeout_s}: must be positive"
            )
        for name in ("input", "actuator"):
            value = getattr(parsed, name)
            if value == SOCKET_PREFIX:
                raise ModuleConfigError(f"modules.tactile.{name} = {value!r}: give the socket's path after 'unix:'")
        return parsed

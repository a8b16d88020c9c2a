"""``[modules.bridge]``: where the broker is, who this peer is, what crosses.

``assets/config.toml`` documents each option. Secrets never come from the config text: the
password is read from the environment variable ``password_env`` or the file
``password_file``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.module import ModuleConfigError, parse_options

#: a site is one topic level: letters, digits, ``-`` and ``_`` (no ``/``, ``+``, ``#``).
SITE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class BridgeOptions:
    """``[modules.bridge]`` in the config.

    Attributes:
        host, port: the broker (loopback unless you mean otherwise).
        site: this peer's name, one topic level (``kitchen``, ``hub``).
        send: the scene kinds this peer sends to the broker.
        receive: the scene kinds it takes from the other sites.
        username: the broker account ("" = anonymous).
        password_env, password_file: where the password is (an environment variable's
            name, or a file whose first line it is); never the config itself.
        ca_file: a CA certificate (PEM): TLS to the broker, the server checked against it.
        keepalive_s: MQTT keep-alive; a peer that vanishes is marked offline within 1.5×.
        session_expiry_s: how long the broker keeps this peer's queued scenes while it is
            away (a persistent session).
        retry_max_s: the longest wait between two attempts to reach the broker (back-off
            from 0.1 s, doubling).
        resend_s: a sent scene not yet confirmed by its receiver is sent again this often.
        outbox_max: scenes kept until confirmed; beyond it the oldest is dropped (logged).
        max_payload_bytes: a larger scene from the broker is refused (an error scene).
    """

    host: str = "127.0.0.1"
    port: int = 1883
    site: str = "home"
    send: list[str] = field(default_factory=list)
    receive: list[str] = field(default_factory=list)
    username: str = ""
    password_env: str = ""
    password_file: str = ""
    ca_file: str = ""
    keepalive_s: int = 10
    session_expiry_s: int = 3600
    retry_max_s: float = 2.0
    resend_s: float = 5.0
    outbox_max: int = 10_000
    max_payload_bytes: int = 262_144

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> BridgeOptions:
        """Raises: ModuleConfigError naming the option and the fix."""
        o = parse_options(cls, options, "bridge")
        if not SITE.match(o.site):
            raise ModuleConfigError(f"modules.bridge.site = {o.site!r}: one word of letters, digits, - or _")
        if not 0 < o.port < 65536:
            raise ModuleConfigError(f"modules.bridge.port = {o.port}: 1…65535")
        for name in ("keepalive_s", "session_expiry_s", "outbox_max", "max_payload_bytes"):
            if getattr(o, name) <= 0:
                raise ModuleConfigError(f"modules.bridge.{name} must be positive")
        if not (o.retry_max_s > 0 and o.resend_s > 0):
            raise ModuleConfigError("modules.bridge.retry_max_s and resend_s must be positive")
        return o

    def password(self) -> str | None:
        """The password from the environment or the file; None when neither is set.

        Raises:
            ModuleConfigError: the variable is named but unset, or the file cannot be read.
        """
        if self.password_env:
            if self.password_env not in os.environ:
                raise ModuleConfigError(f"modules.bridge.password_env: ${self.password_env} is not set")
            return os.environ[self.password_env]
        if self.password_file:
            try:
                return Path(self.password_file).read_text(encoding="utf-8").splitlines()[0].strip()
            except (OSError, IndexError) as exc:
                raise ModuleConfigError(f"modules.bridge.password_file: cannot read it: {exc}") from None
        return None

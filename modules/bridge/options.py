"""``[modules.bridge]``: where the broker is, who this peer is, what crosses.

``assets/config.toml`` documents each option. Secrets never come from the config text: the
password is read from the environment variable ``password_env`` or the file
``password_file``.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.module import ModuleConfigError, parse_options

#: the shortest keep-alive (s): aiomqtt runs the client's housekeeping (its pings) once a
#: second, so a keep-alive of 1–2 s has the broker drop live peers as vanished.
MIN_KEEPALIVE_S = 3

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
        keepalive_s: MQTT keep-alive; a machine that goes silent is marked offline 1.5 ×
            ``keepalive_s`` after its last packet, at the broker's next look (13.6–17.8 s
            measured at 10 s); a process that dies, at once (its socket closes).
        retry_max_s: the longest wait between two attempts to reach the broker (back-off
            from 0.1 s, doubling).
        resend_s: a sent scene not yet confirmed by its receiver is sent again this often.
        outbox_max: scenes kept until confirmed; beyond it the oldest is dropped (logged).
        in_flight: QoS 1 publishes awaiting the broker's answer at once (pipelined sending).
        max_payload_bytes: a larger scene from the broker is refused (an error scene).
        retain: kinds the broker keeps (the last of each kind per site) for a peer that
            connects later: a satellite's ``voice.profile`` reaches a hub started after it.
        one_room_s: a turn taken from a room is held up to this long (s) while another
            room may be hearing the same utterance (it said ``speech.start`` and no turn or
            ``speech.void`` since), for that room's hearing; the best heard is answered
            (``rooms.py``). 0 = every turn at once.
        hub: the site whose mind answers this room ("" = none: this peer is not a
            satellite). With the hub away a turn is answered here with ``away_text``.
        away_text: what a satellite says, in its own voice, to a turn the hub cannot take
            (the hub offline, the broker away, or no reply within ``reply_wait_s``).
        reply_wait_s: how long a satellite waits for the hub's answer to a turn (s).
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
    retry_max_s: float = 2.0
    resend_s: float = 5.0
    outbox_max: int = 10_000
    in_flight: int = 64
    max_payload_bytes: int = 262_144
    retain: list[str] = field(default_factory=lambda: ["voice.profile"])
    one_room_s: float = 1.5
    hub: str = ""
    away_text: str = "I can't reach the hub just now."
    reply_wait_s: float = 10.0

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> BridgeOptions:
        """Raises: ModuleConfigError naming the option and the fix."""
        o = parse_options(cls, options, "bridge")
        if o.keepalive_s < MIN_KEEPALIVE_S:
            raise ModuleConfigError(
                f"modules.bridge.keepalive_s = {o.keepalive_s}: at least {MIN_KEEPALIVE_S} (the client pings once a"
                " second at best, and the broker drops a peer silent for 1.5 × keepalive_s)"
            )
        if not SITE.match(o.site):
            raise ModuleConfigError(f"modules.bridge.site = {o.site!r}: one word of letters, digits, - or _")
        if not 0 < o.port < 65536:
            raise ModuleConfigError(f"modules.bridge.port = {o.port}: 1…65535")
        for name in ("keepalive_s", "outbox_max", "in_flight", "max_payload_bytes"):
            if getattr(o, name) <= 0:
                raise ModuleConfigError(f"modules.bridge.{name} must be positive")
        if not (o.retry_max_s > 0 and o.resend_s > 0 and o.reply_wait_s > 0):
            raise ModuleConfigError("modules.bridge.retry_max_s, resend_s and reply_wait_s must be positive")
        if not o.one_room_s >= 0:
            raise ModuleConfigError("modules.bridge.one_room_s must be 0 or more seconds")
        if o.ca_file:  # said now, by name: the client would only say "no broker" at each attempt
            try:
                ssl.create_default_context(cafile=o.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ModuleConfigError(
                    f"modules.bridge.ca_file = {o.ca_file!r}: not a readable CA certificate ({exc})"
                ) from None
        if o.hub and not SITE.match(o.hub):
            raise ModuleConfigError(f'modules.bridge.hub = {o.hub!r}: a site name, or "" for none')
        if o.hub and not o.away_text.strip():
            raise ModuleConfigError("modules.bridge.away_text: a satellite needs words to say when the hub is away")
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

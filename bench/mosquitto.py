"""A real mosquitto broker on a free loopback port, for tests and benchmarks: a password
file, an ACL that lets each site write only under its own ``scenevoice/<site>/``, and
persistence saved on every change — started, stopped (SIGTERM), killed (SIGKILL) and
started again on the same port and data folder.

    with Broker(tmp_path, {"kitchen": "pw1", "hub": "pw2"}) as broker:
        broker.port; broker.kill(); broker.start()
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

#: what the broker lets every account do: read everything of the project, write only its own.
ACL = "pattern readwrite scenevoice/%u/#\npattern read scenevoice/#\n"
START_S = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BrokerError(RuntimeError):
    """mosquitto is not installed or did not start; the message has its log."""


class Broker:
    """Args:
    folder: where its config, password file, ACL, data and log go.
    accounts: username → password.
    """

    def __init__(self, folder: Path, accounts: dict[str, str]) -> None:
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(self.binary).exists():
            raise BrokerError("mosquitto is not installed (apt-get install mosquitto)")
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "data").mkdir(exist_ok=True)
        passwords = folder / "passwords"
        passwords.write_text("")
        for user, password in accounts.items():
            subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password], check=True, capture_output=True)
        (folder / "acl").write_text(ACL)
        (folder / "mosquitto.conf").write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous false\n"
            f"password_file {passwords}\n"
            f"acl_file {folder / 'acl'}\n"
            "persistence true\n"
            f"persistence_location {folder / 'data'}/\n"
            "autosave_interval 1\n"
            "autosave_on_changes true\n"
            "max_queued_messages 10000\n"
            f"log_dest file {folder / 'mosquitto.log'}\n"
            # Started as root, mosquitto would drop to its own user, who cannot reach a
            # test's private folder: it stays the user who started it.
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
        )

    def start(self) -> Broker:
        """Start it and wait until it accepts connections. Raises BrokerError."""
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.folder / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                said = self.process.stderr.read().decode() if self.process.stderr else ""
                raise BrokerError(f"mosquitto exited: {said}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return self
            time.sleep(0.05)
        raise BrokerError(f"mosquitto did not listen on {self.port} in {START_S:.0f} s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM (it saves its data) or SIGKILL (it does not), and wait for it to end."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""A real mosquitto broker on a free loopback port, for tests and benchmarks: a password
file, an ACL that lets each site write only under its own ``scenevoice/<site>/``, and
persistence saved on every change — started, stopped (SIGTERM), killed (SIGKILL) and
started again on the same port and data folder.

    with Broker(tmp_path, {"kitchen": "pw1", "hub": "pw2"}) as broker:
        broker.port; broker.kill(); broker.start()

With ``tls=True`` its one listener speaks TLS (1.2 or newer) only: it makes a self-signed CA
(``broker.ca_file``, the PEM a client trusts) and a certificate for 127.0.0.1 and localhost
signed by it, with the ``openssl`` command line. :func:`make_ca` makes another CA, one that
signed nothing the broker has.
"""

from __future__ import annotations

import contextlib
import json
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
#: how long the certificates it makes are valid; they are made anew for each Broker.
CERT_DAYS = 7
#: an EC key: made in milliseconds, where RSA takes a noticeable fraction of a second.
KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BrokerError(RuntimeError):
    """mosquitto (or, for TLS, openssl) is not installed or did not start; the message has
    its log."""


def _openssl(*args: str, cwd: Path) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise BrokerError("openssl is not installed (apt-get install openssl): a TLS broker needs it")
    done = subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise BrokerError(f"openssl {args[0]} failed: {done.stderr.strip()}")


def make_ca(folder: Path, name: str = "ca") -> tuple[Path, Path]:
    """A self-signed CA in ``folder``: ``<name>.pem`` (the certificate) and ``<name>.key``.

    Raises:
        BrokerError: openssl is missing or failed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    _openssl(
        "req", "-x509", *KEY, "-keyout", key.name, "-out", cert.name, "-days", str(CERT_DAYS),
        "-subj", f"/CN=scenevoice test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-addext", "subjectKeyIdentifier=hash",
        cwd=folder,
    )  # fmt: skip
    key.chmod(0o600)
    return cert, key


def make_server_cert(folder: Path, ca: tuple[Path, Path], name: str = "server") -> tuple[Path, Path]:
    """A server certificate for 127.0.0.1 and localhost signed by ``ca`` (its PEM and key),
    in ``folder``: ``<name>.pem`` and ``<name>.key``.

    Raises:
        BrokerError: openssl is missing or failed.
    """
    cert, key, request, extensions = (folder / f"{name}{ext}" for ext in (".pem", ".key", ".csr", ".ext"))
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    _openssl("req", "-new", *KEY, "-keyout", key.name, "-out", request.name, "-subj", "/CN=localhost", cwd=folder)
    key.chmod(0o600)
    _openssl(
        "x509", "-req", "-in", request.name, "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
        "-out", cert.name, "-days", str(CERT_DAYS), "-extfile", extensions.name,
        cwd=folder,
    )  # fmt: skip
    return cert, key


class Broker:
    """Args:
    folder: where its config, password file, ACL, data and log go (and, with ``tls``, its
        certificates, under ``tls/``).
    accounts: username → password.
    tls: the listener speaks TLS 1.2+ only, with a certificate signed by a CA made here,
        whose PEM is ``ca_file``; without it (the default), plain MQTT and ``ca_file`` None.
    max_queued_messages: what the broker holds for an offline peer's persistent session;
        beyond it, it drops the newer messages without telling anyone (mosquitto's default
        is 1,000).
    """

    def __init__(
        self, folder: Path, accounts: dict[str, str], tls: bool = False, max_queued_messages: int = 10_000
    ) -> None:
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
        #: the CA's certificate (PEM) that signed the broker's; None without TLS.
        self.ca_file: Path | None = None
        listener = ""
        if tls:
            ca = make_ca(folder / "tls")
            cert, key = make_server_cert(folder / "tls", ca)
            self.ca_file = ca[0]
            listener = f"cafile {ca[0]}\ncertfile {cert}\nkeyfile {key}\ntls_version tlsv1.2\n"
        (folder / "mosquitto.conf").write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"{listener}"
            "allow_anonymous false\n"
            f"password_file {passwords}\n"
            f"acl_file {folder / 'acl'}\n"
            "persistence true\n"
            f"persistence_location {folder / 'data'}/\n"
            "autosave_interval 1\n"
            "autosave_on_changes true\n"
            f"max_queued_messages {max_queued_messages}\n"
            # Small packets at once (the bridge's clients set TCP_NODELAY too): without it a
            # forwarded scene can wait ~35 ms for a delayed ACK.
            "set_tcp_nodelay true\n"
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


def bridge_overrides(broker: Broker, site: str, send: list[str], receive: list[str], password_env: str) -> list[str]:
    """``--set`` overrides for a peer of ``broker``: the bridge on, as ``site`` with an
    account of the same name whose password is in the environment variable
    ``password_env``, sending and receiving these scene kinds."""
    return [
        "modules.bridge.enabled=true",
        f"modules.bridge.port={broker.port}",
        f"modules.bridge.site={json.dumps(site)}",
        f"modules.bridge.username={json.dumps(site)}",
        f"modules.bridge.password_env={json.dumps(password_env)}",
        f"modules.bridge.send={json.dumps(send)}",
        f"modules.bridge.receive={json.dumps(receive)}",
    ]

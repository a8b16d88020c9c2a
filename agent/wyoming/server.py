"""The Wyoming server's life: one session, the socket, the zeroconf announcement, the stop.

One :class:`~agent.session.Session` serves every client (the models load once); it runs
only the module that hears and speaks, with its replies going to a WAV file in a
temporary folder (the server reads each reply from there, one at a time). No mind runs:
Home Assistant has its own conversation agent, and a mind would answer every transcript
aloud into that same file. SIGTERM or SIGINT: stop accepting, end the connections, let
the module close, exit 0 — within ``stop_s`` (a transcription cannot be cut halfway: past
that the process exits regardless).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import importlib.util
import logging
import os
import signal
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from wyoming.server import AsyncServer

from agent.config import Config, ConfigError
from agent.errors import EXIT_MACHINE, EXIT_OK, MachineError
from agent.session import Session, SessionError
from agent.wyoming.handler import Served, WyomingHandler
from agent.wyoming.info import describe
from agent.wyoming.voice import AgentVoice

log = logging.getLogger("scenevoice.wyoming")

#: where the server listens unless told otherwise: loopback, Wyoming's usual ASR port.
DEFAULT_URI = "tcp://127.0.0.1:10300"
#: the name the server announces itself by over zeroconf unless given one.
ZEROCONF_NAME = "scenevoice"
#: the module the server runs (it hears and speaks); see the module docstring for why only it.
SPEAKING_MODULE = "voice"
#: how long the server waits for the speaking module to announce its voice (s).
VOICE_WAIT_S = 30.0


@dataclass(frozen=True)
class WyomingOptions:
    """How ``run.py wyoming`` serves.

    Attributes:
        uri: ``tcp://HOST:PORT`` or ``unix://PATH`` to listen on.
        zeroconf: the name to announce over zeroconf (``_wyoming._tcp``); None: no announcement.
        streaming: True to offer the streaming events (transcript-*, synthesize-*).
        stop_s: seconds a stop may take before the process exits regardless.
    """

    uri: str = DEFAULT_URI
    zeroconf: str | None = None
    streaming: bool = True
    stop_s: float = 5.0

    def check(self) -> None:
        """Refuse what would fail only after the models are loaded.

        Raises:
            ConfigError: a URI the server cannot listen on, or zeroconf without tcp://.
            MachineError: zeroconf asked for, but the ``zeroconf`` package is not installed.
        """
        parsed = urlparse(self.uri)
        if parsed.scheme not in ("tcp", "unix"):
            raise ConfigError(f"--uri {self.uri}: listen on tcp://HOST:PORT or unix://PATH")
        try:
            AsyncServer.from_uri(self.uri)
        except ValueError as exc:
            raise ConfigError(f"--uri {self.uri}: {exc}") from None
        if self.zeroconf is not None:
            if parsed.scheme != "tcp":
                raise ConfigError(f"--zeroconf announces a TCP port; --uri {self.uri} is not tcp://HOST:PORT")
            if importlib.util.find_spec("zeroconf") is None:
                raise MachineError(
                    "--zeroconf needs the zeroconf package, which is not installed "
                    "(pip install zeroconf), or leave --zeroconf out and add the server in "
                    "Home Assistant by host and port",
                    reason="module.missing",
                )


def _replies_into(config: Config, wav: Path) -> Config:
    """``config`` with the speaking module's replies written to ``wav`` (a copy)."""
    data = copy.deepcopy(config.data)
    data.setdefault("modules", {}).setdefault(SPEAKING_MODULE, {})["output"] = str(wav)
    return Config(data, list(config.sources))


async def _announce(o: WyomingOptions) -> None:
    """Announce the server over zeroconf. Raises OSError when no network allows it."""
    from wyoming.zeroconf import HomeAssistantZeroconf

    parsed = urlparse(o.uri)
    host = parsed.hostname or ""
    if host.startswith("127.") or host in ("localhost", "::1"):
        log.warning(
            "zeroconf announces %s, which other machines cannot reach; serve on --uri tcp://0.0.0.0:%d",
            host,
            parsed.port,
        )
    wildcard = host in ("", "0.0.0.0", "::")
    announcer = HomeAssistantZeroconf(
        port=parsed.port or 0, name=o.zeroconf or ZEROCONF_NAME, host=None if wildcard else host
    )
    await announcer.register_server()
    log.info(
        "announced over zeroconf as %s._wyoming._tcp.local. (%s:%d)", announcer.name, announcer.host, announcer.port
    )


async def serve(config: Config, o: WyomingOptions) -> int:
    """Serve Wyoming until SIGTERM or SIGINT; returns the exit code (0 after a stop, 3 when
    the address cannot be listened on or zeroconf cannot announce).

    Raises:
        SessionError: the speaking module is not enabled, not installed, or failed to start.
        ConfigError: its options are wrong.
    """
    o.check()
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    with tempfile.TemporaryDirectory(prefix="scenevoice-wyoming-") as folder:
        scratch = Path(folder)
        if not config.enabled(SPEAKING_MODULE):
            raise SessionError(f"run.py wyoming needs the {SPEAKING_MODULE} module; enable modules.{SPEAKING_MODULE}")
        async with Session(_replies_into(config, scratch / "reply.wav"), only={SPEAKING_MODULE}) as session:
            if SPEAKING_MODULE not in session.modules:
                raise SessionError(f"the {SPEAKING_MODULE} module did not start: {session.failed.get(SPEAKING_MODULE)}")
            with contextlib.suppress(SessionError):  # no voice: info offers no TTS, synthesize says why
                await session.voice_profile(VOICE_WAIT_S)
            voice = AgentVoice(session, scratch)
            served = Served(voice, describe(session, o.streaming, o.streaming), scratch, o.streaming)
            server = AsyncServer.from_uri(o.uri)
            try:
                await server.start(functools.partial(WyomingHandler, served))
            except OSError as exc:
                log.error("cannot listen on %s: %s", o.uri, exc)
                return EXIT_MACHINE
            log.info("serving Wyoming on %s (audio in transit in %s)", o.uri, scratch)
            if o.zeroconf is not None:
                try:
                    await _announce(o)
                except OSError as exc:
                    log.error("cannot announce over zeroconf: %s", exc)
                    await server.stop()
                    return EXIT_MACHINE
            warming = asyncio.create_task(voice.warm_up(), name="wyoming:warm-up")
            await stopping.wait()
            log.info("stopping (%d connection(s) open)", len(served.connections))
            watchdog = threading.Timer(o.stop_s, _exit_now, args=(o.stop_s,))
            watchdog.daemon = True
            watchdog.start()
            await server.stop()
            tasks = [warming, *served.connections]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    log.info("stopped")
    return EXIT_OK


def _exit_now(stop_s: float) -> None:
    """The stop took longer than ``stop_s`` (a transcription or a reply still running on a
    worker thread): say so and exit at once, 0 (it was asked to stop)."""
    log.error("the stop took over %g s; exiting without waiting for the rest", stop_s)
    logging.shutdown()
    os._exit(EXIT_OK)

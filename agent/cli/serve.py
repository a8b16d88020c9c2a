"""``run.py serve``: the headless appliance — listens and answers until it is stopped.

No terminal needed: the config (``--config``; its ``[serve]`` table) says everything; logs
are JSON lines on stderr (``[serve] log = "json"``); ``GET /health`` on
``[serve] host``:``port`` (127.0.0.1 unless configured; port 0 picks a free one, logged)
answers what the agent is doing (``agent/health.py``). Listening that ends (the sound
server went away, the device vanished) is started again every ``retry_s`` with a log line.
SIGTERM or SIGINT: stop listening, cut the reply being spoken (an ``interrupt``), let the
modules close (MemoryAnchor commits), exit 0 — within ``stop_s``. ``assets/scenevoice.service``
runs it under systemd.

``--role satellite|hub|sensor`` (``--site NAME``) makes it one of several machines sharing
one mind through an MQTT broker: the role's preset (``assets/roles/``) lies between the
defaults and the user's config. With nothing that listens (a hub, a sensor) it serves the
scenes that come; with a file as the microphone, it serves on once the file has ended.
``/health`` carries each module's own report under ``details`` (a bridge: every site).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import signal
import threading
from dataclasses import dataclass
from typing import Literal

from agent.bus import everything
from agent.cli.common import recorded_session
from agent.config import ROLES, Config, ConfigError, parse_table
from agent.errors import EXIT_MACHINE, EXIT_OK
from agent.health import Health, HealthServer
from agent.jsonlog import use_json_lines
from agent.scene import Scene
from agent.session import Session

log = logging.getLogger("scenevoice.serve")


@dataclass(frozen=True)
class ServeOptions:
    """``[serve]`` in the config.

    Attributes:
        host: the health endpoint's address (loopback unless you mean otherwise).
        port: its TCP port; 0 = a free one (logged).
        log: ``json`` (one JSON object per line) or ``text``.
        retry_s: seconds between attempts to listen again after listening ended.
        stop_s: seconds a stop may take before the process exits regardless.
    """

    host: str = "127.0.0.1"
    port: int = 8765
    log: Literal["json", "text"] = "json"
    retry_s: float = 1.0
    stop_s: float = 5.0

    @classmethod
    def parse(cls, table: dict) -> ServeOptions:
        """Raises: ConfigError naming the key."""
        o = parse_table(cls, table, "serve")
        if not 0 <= o.port <= 65535:
            raise ConfigError(f"serve.port must be 0…65535, got {o.port}")
        for name in ("retry_s", "stop_s"):
            if not (math.isfinite(getattr(o, name)) and getattr(o, name) > 0):
                raise ConfigError(f"serve.{name} must be a positive number of seconds")
        return o


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "serve", parents=[common], help="the headless appliance: listen and answer until stopped (health at /health)"
    )
    p.add_argument(
        "--record", metavar="DIR", help="record the session (both sides' audio and every scene) into a folder under DIR"
    )
    p.add_argument(
        "--role",
        choices=ROLES,
        help="one of several machines sharing one mind through an MQTT broker: a room's ears and voice "
        "(satellite), the mind for every room (hub), or a sensor (assets/roles/)",
    )
    p.add_argument("--site", help="this machine's site name for the broker (kitchen, hall); the hub's is hub")


class _Appliance:
    def __init__(self, session: Session, o: ServeOptions, stopping: asyncio.Event) -> None:
        self.session, self.o, self.stopping = session, o, stopping
        #: replies asked for and not yet spoken (cut on a stop).
        self.unspoken: set[str] = set()
        self.health = Health(self._modules, self._details)

    def _modules(self) -> dict[str, str]:
        states = dict.fromkeys(self.session.modules, "running")
        states.update({name: f"failed: {why}" for name, why in self.session.failed.items()})
        return states

    def _details(self) -> dict[str, dict]:
        details = {}
        for name, module in list(self.session.modules.items()):
            try:
                report = module.status()
            except Exception as exc:  # a report that fails is itself reported
                report = {"error": f"{type(exc).__name__}: {exc}"}
            if report:
                details[name] = report
        return details

    async def listen(self) -> None:
        """Listen, and listen again after listening ends, until stopped. With nothing here
        that listens (a hub, a sensor) it serves the scenes that come until stopped."""
        if not self.session.serves("listen.live"):
            log.info("nothing here listens to a microphone (modules: %s); serving", ", ".join(self.session.modules))
            self.health.state = "serving"
            await self.stopping.wait()
            return
        while not self.stopping.is_set():
            request = Scene(channel="voice", kind="listen.live", source="serve")
            lineage = self.session.request(request, until=lambda s: False, timeout_s=math.inf)
            async with contextlib.aclosing(lineage) as scenes:
                async for scene in scenes:
                    if scene.kind == "reply":
                        self.unspoken.add(scene.id)
                    elif scene.kind == "spoken":
                        self.unspoken.difference_update(scene.parents)
                    elif scene.kind == "done" and scene.parents == [request.id]:  # a file as microphone ended
                        log.info("the input file has ended; serving until stopped")
                        self.health.state = "serving"
                        await self.stopping.wait()
                        return
                    elif scene.kind == "listening":
                        log.info("listening on %s", scene.result.device if scene.result else "the microphone")
                    elif scene.kind == "error" and scene.error is not None:
                        log.error("%s: %s", scene.error.reason, scene.error.message)
                        if scene.parents == [request.id]:  # listening itself ended
                            break
            self.health.state = "retrying"
            log.warning("listening ended; trying again in %g s", self.o.retry_s)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.o.retry_s):
                    await self.stopping.wait()

    async def cut(self) -> None:
        """Cut the replies being spoken or waiting to be."""
        if self.unspoken:
            log.info("cutting %d reply(ies) being spoken", len(self.unspoken))
            cut = Scene(channel="serve", kind="interrupt", parents=sorted(self.unspoken), source="serve")
            await self.session.bus.publish(cut, source="serve")


async def _serve(config: Config, o: ServeOptions, record: str | None) -> int:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    async with recorded_session(config, record, "serve", tell=log.info) as session:
        for name, why in session.failed.items():  # in the log, as everything else serve says
            log.warning("module %s did not start: %s", name, why)
        appliance = _Appliance(session, o, stopping)
        session.bus.subscribe(
            "serve.health", appliance.health.observe, everything, inbox_size=256, policy="drop_oldest"
        )
        server = HealthServer(appliance.health, o.host, o.port)
        try:
            port = server.start()
        except OSError as exc:
            log.error("cannot serve /health on %s:%d: %s", o.host, o.port, exc)
            return EXIT_MACHINE
        log.info("health on http://%s:%d/health", o.host, port)
        listening = asyncio.create_task(appliance.listen(), name="serve:listen")
        await stopping.wait()
        appliance.health.state = "stopping"
        log.info("stopping")
        watchdog = threading.Timer(o.stop_s, _exit_now, args=(o.stop_s,))
        watchdog.daemon = True
        watchdog.start()
        await appliance.cut()
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listening
        server.stop()
    log.info("stopped")
    return EXIT_OK


def _exit_now(stop_s: float) -> None:
    """The stop took longer than ``stop_s``: say so and exit at once (0: it was asked to stop;
    every scene MemoryAnchor had was committed as it came)."""
    log.error("the stop took over %g s; exiting without waiting for the rest", stop_s)
    logging.shutdown()
    os._exit(EXIT_OK)


def run(config: Config, args: argparse.Namespace) -> int:
    o = ServeOptions.parse(config.section("serve"))
    # No progress bars on a log that is read by machines (tqdm reads this when it starts a bar).
    os.environ["TQDM_DISABLE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    level = min(logging.getLogger().level, logging.INFO)  # an appliance logs what it does
    if o.log == "json":
        use_json_lines(level)
    logging.getLogger().setLevel(level)
    return asyncio.run(_serve(config, o, args.record))

"""The appliance's health: what a running agent reports at ``GET /health``.

:class:`Health` watches the bus (every scene, on an inbox that drops its oldest when full,
so it can never hold the agent up) and keeps counters, the devices in use, the last turn's
latency and each module's state; :class:`HealthServer` answers ``GET /health`` with it as
JSON over HTTP (aiohttp) on the configured address — 127.0.0.1 unless configured otherwise
— from a thread and event loop of its own: the answer is built from what is already
counted, so it comes in milliseconds even while the agent hears, thinks and speaks
(``bench/appliance.py``; on the agent's own loop a model loading delayed it 0.3 s).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent.scene import Scene

if TYPE_CHECKING:
    from aiohttp import web

#: scene kinds counted (others are seen but not counted).
COUNTED = ("turn", "reply", "spoken", "interrupt", "error", "partial", "turn.draft")


class Health:
    """What the agent has done since it started, read from the bus."""

    def __init__(
        self, modules: Callable[[], dict[str, str]], details: Callable[[], dict[str, dict[str, Any]]] | None = None
    ) -> None:
        """``modules``: each module's name → its state (``running``, ``failed: …``);
        ``details``: each module's name → what it reports beyond that (``Module.status``;
        a bridge's sites; ``"ok": False`` makes the agent degraded), called from the
        server's thread."""
        self.modules = modules
        self.details = details or dict
        self.started_unix_s = time.time()
        self._monotonic0 = time.monotonic()
        self.counts: Counter[str] = Counter()
        self.devices: dict[str, str] = {}
        self.last_turn: dict[str, Any] | None = None
        self.last_error: dict[str, Any] | None = None
        self.state = "starting"
        #: taken while a scene is counted and while a snapshot is read (another thread).
        self._lock = threading.Lock()

    async def observe(self, scene: Scene) -> None:
        """A scene went over the bus (the session's observer hands each one here)."""
        with self._lock:
            self._observe(scene)

    def _observe(self, scene: Scene) -> None:
        if scene.kind in COUNTED:
            self.counts[scene.kind] += 1
        if scene.kind == "listening" and scene.result is not None and scene.result.device:
            self.devices["microphone"] = scene.result.device
            self.state = "listening"
        elif scene.kind == "spoken":
            if scene.result is not None and scene.result.device:
                self.devices["speaker"] = scene.result.device
            stages = {h.stage: h.t_unix_s for h in scene.hops}
            end, first = stages.get("voice.speech_end"), stages.get("voice.audio.first")
            self.last_turn = {
                "text": scene.text,
                "at": scene.wall_start,
                "latency_s": round(first - end, 3) if end is not None and first is not None else None,
                "cut_at_s": scene.result.cut_at_s if scene.result is not None else None,
            }
        elif scene.kind == "error" and scene.error is not None:
            self.last_error = {"reason": scene.error.reason, "message": scene.error.message, "at": scene.wall_start}

    def snapshot(self) -> dict[str, Any]:
        """The ``/health`` answer: ``status`` (``ok``, or ``degraded`` when a module failed
        or nothing listens), ``state``, ``uptime_s``, ``modules``, ``devices``, ``counts``,
        ``last_turn`` (its latency: end of speech → first sound, s), ``last_error``, and each
        module's own report under ``details`` (a bridge: every site, its status, last scene
        and round trip)."""
        modules = self.modules()
        details = self.details()
        failed = any(state != "running" for state in modules.values())
        failed = failed or any(report.get("ok") is False for report in details.values())
        with self._lock:
            return {**self._snapshot(modules, failed), "details": details}

    def _snapshot(self, modules: dict[str, str], failed: bool) -> dict[str, Any]:
        return {
            "status": "degraded" if failed or self.state not in ("listening", "serving", "stopping") else "ok",
            "state": self.state,
            "uptime_s": round(time.monotonic() - self._monotonic0, 1),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started_unix_s)),
            "modules": modules,
            "devices": dict(self.devices),
            "counts": {kind: self.counts.get(kind, 0) for kind in COUNTED},
            "last_turn": self.last_turn,
            "last_error": self.last_error,
        }


class HealthServer:
    """``GET /health`` over HTTP (aiohttp) on a thread and event loop of its own, so that
    nothing the agent's loop does (a model loading, a long handler) delays the answer: a
    watchdog asking every few seconds gets it in milliseconds (``bench/appliance.py``).
    Any other path is a 404."""

    def __init__(self, health: Health, host: str, port: int) -> None:
        self.health, self.host, self.port = health, host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def start(self, timeout_s: float = 10.0) -> int:
        """Listen; returns the port (the one chosen when ``port`` was 0).

        Raises:
            OSError: the address cannot be bound (in use, not this machine's).
        """
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._listen())
            except BaseException as exc:  # reported to start()
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=run, name="health", daemon=True)
        self._thread.start()
        if not started.wait(timeout_s):
            raise OSError(f"the health endpoint did not start in {timeout_s:g} s")
        if failure:
            raise failure[0]
        return self.port

    async def _listen(self) -> None:
        from aiohttp import web

        async def answer(_request: web.Request) -> web.Response:
            return web.json_response(self.health.snapshot())

        app = web.Application()
        app.router.add_get("/health", answer)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self._runner.addresses:
            self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        """Stop answering (waits for the thread, a few ms)."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

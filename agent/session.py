"""A running agent: the bus, the enabled modules, and a way to follow a request.

The command line (and any other front end) is a client of the bus: it publishes a
request scene and follows its *lineage* — every scene whose parents lead back to the
request — until a scene it waits for arrives. It knows no module by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import sys
import weakref
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent.bus import SceneBus, everything
from agent.config import Config, ConfigError
from agent.errors import ScenevoiceError
from agent.module import Module, ModuleConfigError
from agent.parts import VoiceProfile
from agent.plugins import discover
from agent.scene import Scene

log = logging.getLogger(__name__)

OBSERVER = "session"


class SessionError(ScenevoiceError, RuntimeError):
    """The session cannot start as configured (a module enabled but not installed or not
    importable), or no running module handles a request; the message says which and why."""

    reason = "module.missing"


@dataclass
class _Follower:
    ids: set[str]
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)


def print_tasks(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Every asyncio task of ``loop`` (default: the running one) and where it waits, on
    stderr (``kill -USR2 PID``: a session that will not end; ``-USR1`` gives the threads,
    ``agent/cli/main.py``)."""
    for task in asyncio.all_tasks(loop):
        print(f"--- {task!r}", file=sys.stderr)
        task.print_stack(file=sys.stderr)
    sys.stderr.flush()


#: sessions running on each event loop that installed :func:`print_tasks` on SIGUSR2.
_SIGUSR2_SESSIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, int] = weakref.WeakKeyDictionary()


def _tasks_on_sigusr2(on: bool) -> None:
    """Install :func:`print_tasks` on SIGUSR2 where the loop can (its main thread, POSIX),
    or remove it once the last session on the loop that installed it has stopped."""
    if not hasattr(signal, "SIGUSR2"):
        return
    with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
        loop = asyncio.get_running_loop()
        running = _SIGUSR2_SESSIONS.get(loop, 0)
        if on:
            if running == 0:
                loop.add_signal_handler(signal.SIGUSR2, print_tasks)
            _SIGUSR2_SESSIONS[loop] = running + 1
        elif running > 0:
            _SIGUSR2_SESSIONS[loop] = running - 1
            if running == 1:
                del _SIGUSR2_SESSIONS[loop]
                loop.remove_signal_handler(signal.SIGUSR2)


class Session:
    """Start with ``async with Session(config) as session:``.

    Args:
        config: the merged config; its enabled modules are started.
        only: if given, start just these enabled modules (e.g. ``{"voice"}`` for analysis
            without replies).
    """

    def __init__(self, config: Config, only: set[str] | None = None) -> None:
        self.config = config
        self.only = only
        self.bus = SceneBus(block_timeout_s=float(config.section("bus").get("block_timeout_s", 1.0)))
        self.modules: dict[str, Module] = {}
        self.failed: dict[str, str] = {}
        self._followers: list[_Follower] = []
        #: the voice a speaking module last announced (a ``voice.profile`` scene).
        self.voice: VoiceProfile | None = None
        #: the session folder this session is recorded into (``agent/record``), if any.
        self.recording_folder: Path | None = None
        self._voice_announced = asyncio.Event()

    def _instantiate(self) -> None:
        plugins = discover()
        for name in self.config.modules():
            if not self.config.enabled(name) or (self.only is not None and name not in self.only):
                continue
            plugin = plugins.get(name)
            if plugin is None:
                raise SessionError(
                    f"module {name!r} is enabled in the config but not installed "
                    f"(installed: {', '.join(plugins) or 'none'})"
                )
            if plugin.cls is None:
                raise SessionError(f"module {name!r}: {plugin.error}")
            try:
                self.modules[name] = plugin.cls(self.config.module_options(name))
            except ModuleConfigError as exc:
                raise ConfigError(str(exc)) from None

    async def start(self) -> None:
        """Instantiate and start the enabled modules. A module whose ``start`` raises is
        logged (its traceback at debug level), left out, and listed in ``failed``; the
        others run.

        Raises:
            SessionError: an enabled module is not installed or cannot be imported.
            ConfigError: a module's options are wrong.
        """
        self._instantiate()
        _tasks_on_sigusr2(True)
        for name, module in self.modules.items():
            self.bus.subscribe(name, module.handle, module.wants, inbox_size=module.inbox_size, policy=module.policy)
        self.bus.subscribe(OBSERVER, self._observe, everything, inbox_size=1024)
        await self.bus.start()
        for name, module in list(self.modules.items()):
            try:
                await module.start(self.bus)
            except Exception as exc:
                log.error(
                    "module %s failed to start: %s: %s",
                    name,
                    type(exc).__name__,
                    exc,
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )
                self.failed[name] = f"{type(exc).__name__}: {exc}"
                await self.bus.unsubscribe(name)
                del self.modules[name]

    async def stop(self) -> None:
        """Drain, stop the bus, then stop each module (each isolated from the others)."""
        await self.bus.stop()
        for name, module in self.modules.items():
            log.debug("session: stopping %s", name)
            try:
                await module.stop()
            except Exception:
                log.exception("module %s failed to stop cleanly", name)
        _tasks_on_sigusr2(False)

    async def __aenter__(self) -> Session:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _observe(self, scene: Scene) -> None:
        if scene.kind == "voice.profile" and scene.voice is not None:
            self.voice = scene.voice
            self._voice_announced.set()
        for follower in self._followers:
            if follower.ids.intersection(scene.parents):
                follower.ids.add(scene.id)
                follower.queue.put_nowait(scene)

    async def voice_profile(self, timeout_s: float = 5.0) -> VoiceProfile:
        """The voice the speaking module announced, waiting up to ``timeout_s`` for it.

        Raises:
            SessionError: no running module announced a voice in that time (none speaks).
        """
        try:
            async with asyncio.timeout(timeout_s):
                await self._voice_announced.wait()
        except TimeoutError:
            raise SessionError(
                f"no running module announced a voice to speak with (running: {', '.join(self.modules) or 'none'})"
            ) from None
        assert self.voice is not None
        return self.voice

    def serves(self, kind: str) -> bool:
        """True when a running module serves requests of ``kind`` (``Module.requests``)."""
        return any(kind in module.requests for module in self.modules.values())

    async def request(
        self, scene: Scene, until: Callable[[Scene], bool], timeout_s: float
    ) -> AsyncGenerator[Scene, None]:
        """Publish ``scene`` and yield every scene of its lineage as it arrives, up to and
        including the first one ``until`` accepts.

        Raises:
            SessionError: no module wants the scene.
            TimeoutError: nothing ``until`` accepts arrived within ``timeout_s``.
        """
        follower = _Follower({scene.id})
        self._followers.append(follower)
        try:
            if await self.bus.publish(scene, source=OBSERVER) == 0:
                raise SessionError(
                    f"no running module handles {scene.channel}/{scene.kind} scenes "
                    f"(running: {', '.join(self.modules) or 'none'})"
                )
            # A deadline per wait, not a timeout block around the yields: that would fire
            # in the consumer's code between yields and surface as a stray cancellation.
            # (Not asyncio.wait_for: in 3.11 it swallows a cancellation that comes as a
            # scene does, and a session that was told to stop would go on.)
            deadline = None if math.isinf(timeout_s) else asyncio.get_running_loop().time() + timeout_s
            while True:
                async with asyncio.timeout_at(deadline):
                    got = await follower.queue.get()
                yield got
                if until(got):
                    return
        finally:
            self._followers.remove(follower)

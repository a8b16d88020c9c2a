"""Channel modules on a real scene bus, for tests: publish scenes, collect what comes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from agent.bus import SceneBus
from agent.module import Module
from agent.scene import Scene


async def run_module(
    module: Module | Sequence[Module], scenes: Sequence[Scene], until: Callable[[Scene], bool], timeout_s: float
) -> list[Scene]:
    """Start ``module`` (or several, each subscribed before any starts, started in the order
    given, as a session does) on a bus, each with its own inbox size and policy; publish
    ``scenes`` one by one from a watcher, and return every scene the bus delivers to the
    watcher until one that ``until`` accepts.

    Raises:
        TimeoutError: nothing ``until`` accepts within ``timeout_s`` (the test fails at once
            with it, it does not hang).
    """
    bus = SceneBus()
    seen: list[Scene] = []
    finished = asyncio.Event()

    async def watch(scene: Scene) -> None:
        seen.append(scene)
        if until(scene):
            finished.set()

    modules = [module] if isinstance(module, Module) else list(module)
    for m in modules:
        bus.subscribe(m.name, m.handle, m.wants, inbox_size=m.inbox_size, policy=m.policy)
    bus.subscribe("watch", watch, inbox_size=256)
    await bus.start()
    try:
        for m in modules:
            await m.start(bus)
        for scene in scenes:
            await bus.publish(scene, source="watch")
        await asyncio.wait_for(finished.wait(), timeout_s)
    finally:
        await bus.stop()
        for m in modules:
            await m.stop()
    return seen

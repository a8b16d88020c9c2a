"""One channel module on a real scene bus, for tests: publish scenes, collect what comes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from agent.bus import SceneBus
from agent.module import Module
from agent.scene import Scene


async def run_module(
    module: Module, scenes: Sequence[Scene], until: Callable[[Scene], bool], timeout_s: float
) -> list[Scene]:
    """Start ``module`` on a bus (subscribed with its own inbox size and policy), publish
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

    bus.subscribe(module.name, module.handle, module.wants, inbox_size=module.inbox_size, policy=module.policy)
    bus.subscribe("watch", watch, inbox_size=256)
    await bus.start()
    try:
        await module.start(bus)
        for scene in scenes:
            await bus.publish(scene, source="watch")
        await asyncio.wait_for(finished.wait(), timeout_s)
    finally:
        await bus.stop()
        await module.stop()
    return seen

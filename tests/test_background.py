"""Background threads yield the CPU: the memory's threads run nicer than the process."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from agent.background import BACKGROUND_NICE, yield_cpu
from agent.bus import SceneBus
from agent.scene import Scene
from modules.memory import MemoryAnchor

#: the nice value of a thread: Linux only (elsewhere yield_cpu does nothing and this runs nowhere).
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="a thread has a nice value of its own on Linux")


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@linux_only
def test_a_thread_that_yields_the_cpu_runs_nicer_and_the_rest_of_the_process_does_not() -> None:
    before = _nice()
    with ThreadPoolExecutor(1, initializer=yield_cpu) as pool:
        assert pool.submit(_nice).result() == min(19, before + BACKGROUND_NICE)
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(_nice).result() == before
    assert _nice() == before


@linux_only
def test_the_memorys_embedding_thread_runs_nicer_than_the_voice_and_its_database_thread_does_not(tmp_path) -> None:
    # The database thread answers speaker.ask, which the turn waits for.
    async def run() -> tuple[int, int]:
        memory = MemoryAnchor({"path": str(tmp_path / "m.sqlite3"), "embeddings": False})
        await memory.start(SceneBus())
        try:
            return await memory._on_db(_nice), await memory._on_model(_nice)
        finally:
            await memory.stop()

    assert asyncio.run(run()) == (_nice(), min(19, _nice() + BACKGROUND_NICE))


@linux_only
def test_the_mind_remembers_each_turn_on_a_nicer_thread_and_the_next_turn_reads_what_it_kept(tmp_path) -> None:
    # Remembering reads every turn kept to mine Δ-codes (~45 ms at 1 100 turns): on the event
    # loop it held up the live loop's frames and the reply's synthesis.
    from agent.mind import Mind

    async def run() -> tuple[list[tuple[int, int]], list[int], int]:
        mind = Mind({"store": str(tmp_path / "mind.sqlite3")})
        bus = SceneBus()
        bus.subscribe("mind", mind.handle, mind.wants)
        ran: list[tuple[int, int]] = []  # (thread, its nice value) of each remembering
        read: list[int] = []  # turns kept when the answer read the store, on the loop's thread
        remember = mind._remember

        def remembering(*args) -> None:
            ran.append((threading.get_native_id(), _nice()))
            remember(*args)

        mind._remember = remembering  # type: ignore[method-assign]
        async with bus:
            await mind.start(bus)
            store = mind.store
            assert store is not None
            codes = store.codes

            def reading():
                if threading.get_native_id() == loop_thread:
                    read.append(len(store.turns()))
                return codes()

            store.codes = reading  # type: ignore[method-assign]
            for text in ("The river runs past the old mill.", "The mill was built by my grandfather."):
                await mind.handle(Scene(channel="voice", kind="turn", text=text))
            await mind._remembered()
            kept = len(store.turns())
            await mind.stop()
        return ran, read, kept

    loop_thread = threading.get_native_id()
    ran, read, kept = asyncio.run(run())
    assert len(ran) == 2 and all(tid != loop_thread for tid, _ in ran)
    assert all(nice == min(19, _nice() + BACKGROUND_NICE) for _, nice in ran)
    assert (read, kept) == ([0, 1], 2)  # the second answer read the first turn's remembering


def test_a_remembering_that_fails_is_logged_and_the_next_turn_is_still_answered(tmp_path, caplog) -> None:
    from agent.mind import Mind

    async def run() -> list[Scene]:
        mind = Mind({"store": str(tmp_path / "mind.sqlite3")})
        bus = SceneBus()
        replies: list[Scene] = []

        async def collect(scene: Scene) -> None:
            replies.append(scene)

        def broken(*args) -> None:
            raise RuntimeError("the disk is on fire")

        mind._remember = broken  # type: ignore[method-assign]
        bus.subscribe("out", collect, lambda s: s.kind == "reply")
        async with bus:
            await mind.start(bus)
            for text in ("The river runs past the old mill.", "The mill was built by my grandfather."):
                await mind.handle(Scene(channel="voice", kind="turn", text=text))
            await mind.stop()
            await asyncio.sleep(0.2)
        return replies

    replies = asyncio.run(run())
    assert len(replies) == 2
    assert caplog.text.count("remembering the last turn failed") == 2 and "the disk is on fire" in caplog.text

"""SmellNet: the smell channel on the bus — a stub electronic nose.

No learned model: readings (JSON lines, :mod:`modules.smell.readings`) become smell scenes
through the rule table ``assets/smell_rules.toml`` (:mod:`modules.smell.rules`). This file
only routes; whatever the rooms raise becomes an ``error`` scene with the exception's own
reason, and the module keeps running.

Scenes it handles:

``sniff.file`` (``request.path`` = a file of JSON-line readings)
    publishes one ``smell`` scene per valid reading (channel ``smell``: ``odor`` = the
    reading, ``smell`` = the phrase, ``core``/``lexemes``/``mode`` from the table), one
    ``error`` scene per bad line (reason ``input.malformed``, subject ``<path>:<line>``),
    then ``done`` with ``result.count`` = the number of smell scenes. A missing file is
    ``input.missing``; a file that is not UTF-8 text ``input.unreadable``.
``sniff.live`` (``request.path`` = ``stdin`` or ``serial:<port>``; default the configured
    ``source``)
    opens the source, publishes ``sniffing`` (``result.device`` = the source), then smell
    scenes as readings arrive — when the core changes, or else once per
    ``min_interval_s`` (bad lines alike, per reason) — and ``done`` (``result.device``,
    ``result.count``) when the source ends. A port that cannot be opened or that fails is
    ``device.missing`` (exit code 3).

On start, a configured ``source`` is opened as if ``sniff.live`` had been asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.bus import SceneBus, error_scene
from agent.errors import ScenevoiceError
from agent.module import Module
from agent.parts import Result
from agent.scene import Scene
from modules.smell.options import SmellOptions
from modules.smell.rate import RateLimiter
from modules.smell.readings import BadReading, parse_reading
from modules.smell.rules import SMELL_RULES, RuleTable, rule_table
from modules.smell.scenes import smell_scene
from modules.smell.sources import LineSource, open_source

log = logging.getLogger(__name__)

#: the request kinds this module serves, whatever their channel.
REQUESTS = ("sniff.file", "sniff.live")


def _read_text(path: str) -> list[str]:
    """The lines of ``path``. Raises ScenevoiceError: missing (input.missing), a folder,
    unreadable or not UTF-8 (input.unreadable)."""
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ScenevoiceError(f"{path}: no such file", reason="input.missing", subject=path) from None
    except UnicodeDecodeError as exc:
        raise ScenevoiceError(
            f"{path}: not UTF-8 text (byte {exc.start}); readings are JSON lines",
            reason="input.unreadable",
            subject=path,
        ) from None
    except OSError as exc:
        raise ScenevoiceError(
            f"{path}: cannot read it ({exc.strerror})", reason="input.unreadable", subject=path
        ) from None


class SmellNet(Module):
    """SmellNet stub (no learned model): sensor readings or nose labels → smell scenes by a rule table."""

    name = "smell"
    requests = REQUESTS

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.o = SmellOptions.parse(self.options)
        self._live_task: asyncio.Task | None = None
        self._source: LineSource | None = None

    # --- bus ----------------------------------------------------------------------------------

    def wants(self, scene: Scene) -> bool:
        return scene.kind in REQUESTS

    async def handle(self, scene: Scene) -> None:
        if scene.kind == "sniff.file":
            await self._sniff_file(scene)
        elif scene.kind == "sniff.live":
            asked = scene.request.path if scene.request is not None else None
            await self._open_live(scene, asked or self.o.source)

    async def start(self, bus: SceneBus) -> None:
        await super().start(bus)
        if self.o.source:
            await self._open_live(None, self.o.source)

    async def stop(self) -> None:
        if self._source is not None:
            self._source.close()
        if self._live_task is not None:
            self._live_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._live_task

    def table(self) -> RuleTable:
        """The rule table (read once). Raises ModuleConfigError for a broken table."""
        return rule_table(self.o.rules or str(SMELL_RULES))

    # --- files --------------------------------------------------------------------------------

    async def _sniff_file(self, request: Scene) -> None:
        path = request.request.path if request.request is not None else None
        if not path:
            await self.publish(
                error_scene(
                    request, "sniff.file needs a file of JSON-line readings in 'request.path'", "input.bad-request"
                )
            )
            return
        try:
            table = self.table()
            lines = await asyncio.to_thread(_read_text, path)
        except ScenevoiceError as exc:
            await self.publish(error_scene(request, exc))
            return
        count = 0
        for line_no, text in enumerate(lines, start=1):
            try:
                reading = parse_reading(text, path, line_no)
            except BadReading as exc:
                await self.publish(error_scene(request, exc))
                continue
            if reading is not None:
                await self.publish(smell_scene(reading, table.judge(reading.odor), request))
                count += 1
        await self.publish(request.derive(kind="done", channel="smell", result=Result(count=count)))

    # --- live sources -------------------------------------------------------------------------

    async def _open_live(self, cause: Scene | None, spec: str) -> None:
        if self._live_task is not None and not self._live_task.done():
            await self.publish(
                error_scene(
                    cause, f"already sniffing {self._source.name if self._source else '?'}", "input.bad-request"
                )
            )
            return
        try:
            options = SmellOptions.parse({**self.options, "source": spec})
            if not options.source:
                raise ScenevoiceError(
                    'sniff.live needs a source: request.path or modules.smell.source = "stdin" or "serial:<port>"',
                    reason="input.bad-request",
                )
            table = self.table()
            source = await asyncio.to_thread(open_source, options)
        except ScenevoiceError as exc:
            await self.publish(error_scene(cause, exc))
            return
        assert source is not None, "a source was configured"
        self._source = source
        fields: dict[str, Any] = dict(channel="smell", kind="sniffing", result=Result(device=source.name))
        sniffing = cause.derive(**fields) if cause is not None else Scene(**fields)
        await self.publish(sniffing)
        self._live_task = asyncio.create_task(self._live(sniffing, source, table), name=f"smell:{source.name}")

    async def _live(self, sniffing: Scene, source: LineSource, table: RuleTable) -> None:
        limiter = RateLimiter(self.o.min_interval_s)
        count = 0
        try:
            async for line_no, text in source.lines():
                now_s = time.monotonic()
                try:
                    reading = parse_reading(text, source.name, line_no)
                except BadReading as exc:
                    if limiter.admit("error", exc.reason, now_s):
                        await self.publish(error_scene(sniffing, exc))
                    else:
                        log.info("smell: %s (held back: one error per %g s)", exc, self.o.min_interval_s)
                    continue
                if reading is None:
                    continue
                verdict = table.judge(reading.odor)
                if limiter.admit("smell", verdict.core, now_s):
                    await self.publish(smell_scene(reading, verdict, sniffing))
                    count += 1
        except ScenevoiceError as exc:
            await self.publish(error_scene(sniffing, exc))
            return
        except Exception as exc:  # a background task must not die in silence
            log.exception("smell: live source failed")
            await self.publish(error_scene(sniffing, f"{source.name}: {type(exc).__name__}: {exc}", "module.failed"))
            return
        finally:
            source.close()
        await self.publish(
            sniffing.derive(kind="done", channel="smell", result=Result(device=source.name, count=count))
        )

"""The scene bus: asyncio publish/subscribe with isolated, bounded subscribers.

Each subscriber has its own inbox (an ``asyncio.Queue`` of bounded size) and its own
consumer task, so subscribers run concurrently and a slow one delays only itself.

Scenes do not change under their readers: :meth:`SceneBus.publish` takes a snapshot of
the scene (:meth:`Scene.copy`: ``sound``, ``plan``, ``fidelity`` and every list copied)
and queues it; each subscriber's handler gets its own copy of that snapshot. A subscriber
that changes its scene (its plan, its sound, a list) changes nothing another subscriber or
the publisher holds, and a publisher that changes its scene after publishing changes
nothing already sent. (One snapshot in the queues rather than one copy per subscriber:
fewer live objects while scenes wait, which halved a burst's throughput when tried.)
Copies rather than frozen parts: modules build ``Sound`` and ``VoicePlan`` field by field
before they publish, the JSON codec and every reader work with plain lists, and one rule
enforced here covers every module, including third-party ones. The cost is measured by
``bench/bus_throughput.py`` (docs/benchmarks.md).

Tracing: :meth:`SceneBus.publish` stamps a hop ``<source>.out`` (one time for all
subscribers); each subscriber's copy gets ``<subscriber>.in`` when it dequeues the scene,
so the time between the two hops is that subscriber's queueing latency, and a scene
derived from it (``Scene.derive``) carries the whole pipeline's hops forward.

Stages inside a module are traced the same way, without hop bookkeeping in the module: it
asks the bus for a :class:`Trace` of the scene it works on (:meth:`SceneBus.trace`),
calls ``trace.mark("vad")`` as each stage ends (from any thread; a plain callable, so
helpers that know nothing of scenes take ``trace.mark``), and makes its result with
``trace.derive(...)``: the new scene's hops are the cause's followed by
``<module>.<stage>`` hops, so ``spoken`` scenes show ``voice.tts.first``,
``voice.played``… between the bus's own hops.

Isolation: a handler that raises is logged (with its traceback at debug level: people get
a message, developers ``-vv``) and counted; the bus then
publishes a ``system``/``error`` scene naming the module and the failed scene (so anyone
waiting on that scene's lineage learns of the failure) and goes on. A handler that fails
on an ``error`` scene is logged and counted but publishes no further error (two faulty
modules would otherwise answer each other's errors for ever). A predicate that raises
counts as "not interested".

Backpressure, per subscriber:

``block`` (default)
    Lossless while the subscriber keeps up. When its inbox is full, ``publish`` waits for
    room up to ``block_timeout_s`` (other subscribers are served first and are not held
    up); after that the scene is dropped for that subscriber, counted in its ``dropped``
    stat and logged. The bounded wait keeps two modules that publish to each other from
    deadlocking when both inboxes are full.
``drop_oldest``
    Never waits: a full inbox discards its oldest scene to make room. For live feeds where
    the newest scene matters more than completeness (level meters, observers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from agent.errors import Problem, ScenevoiceError
from agent.scene import Hop, Scene

log = logging.getLogger(__name__)

#: how long cancelled tasks may take to end before a stop goes on without them (s).
SETTLE_S = 10.0


async def settle(tasks: list[asyncio.Task], who: str, timeout_s: float = SETTLE_S) -> None:
    """Await ``tasks`` (cancelled already) for at most ``timeout_s``: a stop must end even if
    one of them never does (a library that swallows its cancellation); those are named in
    the log and left behind."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout_s)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: an error on the way out is not "never retrieved"
    if pending:
        log.error(
            "%s: %d task(s) did not end within %.0f s of being cancelled: %s",
            who,
            len(pending),
            timeout_s,
            ", ".join(t.get_name() for t in pending),
        )


Handler = Callable[[Scene], Awaitable[None]]
Predicate = Callable[[Scene], bool]
Policy = Literal["block", "drop_oldest"]


def everything(scene: Scene) -> bool:
    """The predicate of an observer that sees every scene."""
    return True


@dataclass
class SubscriberStats:
    delivered: int = 0
    handled: int = 0
    failed: int = 0
    dropped: int = 0


@dataclass
class Subscription:
    name: str
    handler: Handler
    predicate: Predicate
    inbox: asyncio.Queue
    policy: Policy
    stats: SubscriberStats = field(default_factory=SubscriberStats)
    task: asyncio.Task | None = None


class BusError(ScenevoiceError, RuntimeError):
    """Misuse of the bus: a duplicate subscriber name, an unknown policy."""

    reason = "internal"


class Trace:
    """The stages a module's work on one scene passes, stamped as hops (see the module
    docstring, "Tracing").

    Args:
        cause: the scene the work is for (a request, a reply); it is not changed.
        module: the module's name; each stage becomes the hop ``<module>.<stage>``.
    """

    def __init__(self, cause: Scene, module: str) -> None:
        self.cause = cause
        self.module = module
        self._stages: list[Hop] = []
        self._lock = threading.Lock()

    def mark(self, stage: str, t_unix_s: float | None = None) -> None:
        """Stamp ``Hop("<module>.<stage>", t)``: the stage ``stage`` ended at ``t_unix_s``
        (default: now; a moment already past when the stage is known only afterwards, as
        the end of speech is at the end of the turn). Safe to call from a worker thread."""
        hop = Hop(f"{self.module}.{stage}", time.time() if t_unix_s is None else t_unix_s)
        with self._lock:
            self._stages.append(hop)

    @property
    def hops(self) -> list[Hop]:
        """The cause's hops followed by the stages marked so far (a new list)."""
        with self._lock:
            return [*self.cause.hops, *self._stages]

    def derive(self, **changes: Any) -> Scene:
        """``cause.derive(**changes)`` (a new scene, child of the cause) whose hops are
        :attr:`hops` unless ``changes`` gives its own."""
        changes.setdefault("hops", self.hops)
        return self.cause.derive(**changes)


class SceneBus:
    """Publish/subscribe for scenes. Use ``async with SceneBus() as bus:`` or start/stop.

    Args:
        block_timeout_s: how long ``publish`` waits for room in a full ``block`` inbox
            before it drops the scene for that subscriber.
    """

    def __init__(self, block_timeout_s: float = 1.0) -> None:
        self.block_timeout_s = block_timeout_s
        self._subs: dict[str, Subscription] = {}
        self._running = False

    # --- lifecycle ------------------------------------------------------------------------

    def subscribe(
        self,
        name: str,
        handler: Handler,
        predicate: Predicate = everything,
        *,
        inbox_size: int = 64,
        policy: Policy = "block",
    ) -> Subscription:
        """Register ``handler`` for the scenes ``predicate`` accepts.

        Raises:
            BusError: ``name`` is taken, ``inbox_size`` < 1, or ``policy`` is unknown.
        """
        if name in self._subs:
            raise BusError(f"a subscriber named {name!r} is already on the bus")
        if policy not in ("block", "drop_oldest"):
            raise BusError(f"unknown backpressure policy {policy!r} (block, drop_oldest)")
        if inbox_size < 1:
            raise BusError(f"inbox_size must be at least 1, got {inbox_size}")
        sub = Subscription(name, handler, predicate, asyncio.Queue(maxsize=inbox_size), policy)
        self._subs[name] = sub
        if self._running:
            sub.task = asyncio.create_task(self._consume(sub), name=f"bus:{name}")
        return sub

    async def unsubscribe(self, name: str) -> None:
        """Remove a subscriber; scenes still in its inbox are discarded."""
        sub = self._subs.pop(name, None)
        if sub is not None and sub.task is not None:
            sub.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sub.task

    async def start(self) -> None:
        """Start one consumer task per subscriber."""
        self._running = True
        for sub in self._subs.values():
            if sub.task is None:
                sub.task = asyncio.create_task(self._consume(sub), name=f"bus:{sub.name}")

    async def stop(self, drain_timeout_s: float = 2.0) -> None:
        """Let inboxes drain for up to ``drain_timeout_s``, then cancel and await every
        consumer task. Afterwards no task of the bus is left running."""
        if self._running and drain_timeout_s > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_timeout_s):
                    await asyncio.gather(*(s.inbox.join() for s in self._subs.values()))
        self._running = False
        tasks = [s.task for s in self._subs.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        await settle(tasks, "bus")
        for sub in self._subs.values():
            sub.task = None

    async def __aenter__(self) -> SceneBus:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- traffic --------------------------------------------------------------------------

    async def publish(self, scene: Scene, source: str) -> int:
        """Deliver ``scene`` to every interested subscriber (not back to ``source``).

        Returns:
            how many subscribers it was queued for.
        """
        hop = Hop(f"{source}.out", time.time())
        snapshot: Scene | None = None  # the bus's own copy, made for the first taker
        waiting: list[Subscription] = []
        queued = 0
        for sub in list(self._subs.values()):
            if sub.name == source or not self._wants(sub, scene):
                continue
            if sub.inbox.full():
                if sub.policy == "drop_oldest":
                    with contextlib.suppress(asyncio.QueueEmpty):
                        sub.inbox.get_nowait()
                        sub.inbox.task_done()
                        sub.stats.dropped += 1
                else:
                    waiting.append(sub)
                    continue
            if snapshot is None:
                snapshot = _snapshot(scene, hop)
            sub.inbox.put_nowait(snapshot)
            sub.stats.delivered += 1
            queued += 1
        if waiting:
            if snapshot is None:
                snapshot = _snapshot(scene, hop)
            results = await asyncio.gather(*(self._put_blocking(s, snapshot) for s in waiting))
            queued += sum(results)
        return queued

    async def _put_blocking(self, sub: Subscription, scene: Scene) -> bool:
        try:
            async with asyncio.timeout(self.block_timeout_s):
                await sub.inbox.put(scene)
        except TimeoutError:
            sub.stats.dropped += 1
            log.warning(
                "bus: %s's inbox stayed full for %.1f s; dropped %s scene %s",
                sub.name,
                self.block_timeout_s,
                scene.kind,
                scene.id,
            )
            return False
        sub.stats.delivered += 1
        return True

    def _wants(self, sub: Subscription, scene: Scene) -> bool:
        try:
            return bool(sub.predicate(scene))
        except Exception:
            log.exception("bus: %s's predicate raised on %s scene %s; skipped", sub.name, scene.kind, scene.id)
            return False

    async def _consume(self, sub: Subscription) -> None:
        while True:
            snapshot = await sub.inbox.get()
            scene = snapshot.copy()  # this subscriber's own (see publish)
            scene.hops.append(Hop(f"{sub.name}.in", time.time()))
            try:
                await sub.handler(scene)
                sub.stats.handled += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                sub.stats.failed += 1
                log.error(
                    "bus: %s failed on %s scene %s: %s: %s",
                    sub.name,
                    scene.kind,
                    scene.id,
                    type(exc).__name__,
                    exc,
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )
                if scene.kind != "error":
                    await self.publish(
                        error_scene(
                            scene,
                            f"{sub.name} failed on {scene.kind} scene: {type(exc).__name__}: {exc}",
                            reason="module.failed",
                        ),
                        source=sub.name,
                    )
            finally:
                sub.inbox.task_done()

    # --- tracing --------------------------------------------------------------------------

    def trace(self, cause: Scene, module: str) -> Trace:
        """A :class:`Trace` of ``module``'s work on ``cause``: mark its stages, derive its
        result from it (see the module docstring, "Tracing")."""
        return Trace(cause, module)

    # --- introspection --------------------------------------------------------------------

    def stats(self) -> dict[str, SubscriberStats]:
        return {name: sub.stats for name, sub in self._subs.items()}

    @property
    def subscribers(self) -> list[str]:
        return list(self._subs)


def _snapshot(scene: Scene, hop: Hop) -> Scene:
    """The bus's copy of a published scene, taken at publish time and ending in ``hop``.
    Queued for every subscriber and never handed to one: each gets a copy of it."""
    twin = scene.copy()
    twin.hops.append(hop)
    return twin


def error_scene(
    cause: Scene | None, problem: Problem | ScenevoiceError | str, reason: str | None = None, subject: str | None = None
) -> Scene:
    """A ``system``/``error`` scene about ``cause`` (its child: anyone following the
    cause's lineage learns of the failure). What went wrong is its ``error`` part: a
    :class:`~agent.errors.Problem`, the one a :class:`~agent.errors.ScenevoiceError`
    describes, or one made of a message, a ``reason`` from ``agent.errors.REASONS`` and
    the ``subject`` (file or value) concerned.

    Raises:
        ValueError: a message without a reason, or an unknown reason.
    """
    if isinstance(problem, ScenevoiceError):
        problem = problem.problem()
    elif isinstance(problem, str):
        if reason is None:
            raise ValueError("error_scene: a message needs a reason")
        problem = ScenevoiceError(problem, reason=reason, subject=subject).problem()
    parents = [cause.id] if cause is not None else []
    hops = list(cause.hops) if cause is not None else []
    return Scene(channel="system", kind="error", error=problem, parents=parents, hops=hops)

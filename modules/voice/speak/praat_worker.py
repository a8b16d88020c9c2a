"""The realiser's Praat resynthesis in a process of its own, while a live session runs.

parselmouth keeps the interpreter lock for the whole of each Praat call: a Python thread
spinning beside a pitch analysis ran at 22 % of its free speed, and a reply's PSOLA
resynthesis (``realiser.impose``) holds it for tens of milliseconds per sentence. In a live
session every other thread waits that long — the event loop that cancels the echo and
hears each 32 ms frame, the turn's analysis, the next sentence's synthesis. Run in a worker
process, the call holds that process's lock only; its samples cross by pipe (a sentence at
22 kHz is ~100 KB: well under a millisecond).

:func:`start` spawns the one worker (the live loop's warm-up does, so that the first reply
does not wait for it); until then, and for good once the worker has failed, :func:`call`
runs here, as before. A worker that dies (killed, out of memory) is logged once and the
call is made here instead: the reply is never lost to it.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

import numpy as np

from agent.cores import share_cores
from modules.voice.speak import realiser

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_failed = False

P = ParamSpec("P")
R = TypeVar("R")


def _quiet_worker() -> None:
    """In the worker: Ctrl-C is the parent's to handle (it ends the worker with the pool),
    and numpy's BLAS stays on the worker's thread (``agent/cores.py``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    share_cores()


def start() -> bool:
    """Start the worker (once; it is ready when this returns). Returns False when it cannot
    run (then :func:`call` works in this process)."""
    global _pool, _failed
    with _lock:
        if _pool is not None or _failed:
            return _pool is not None
        try:
            pool = ProcessPoolExecutor(1, multiprocessing.get_context("spawn"), initializer=_quiet_worker)
            silence = np.zeros(1600, np.float32)
            pool.submit(realiser.impose, silence, 16000, None, None, None, realiser.Stretch([], 1.0)).result()
        except Exception as exc:  # no processes here (a sandbox), or the worker cannot import
            log.warning("voice: Praat stays in this process (%s)", exc)
            _failed = True
            return False
        _pool = pool
        return True


def running() -> bool:
    """True while the worker serves :func:`call`."""
    return _pool is not None


def stop() -> None:
    """End the worker (the next :func:`call` runs here until :func:`start`)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def _lost(exc: BaseException) -> None:
    """The worker died: said once, and every later call is made here."""
    global _pool, _failed
    log.error("voice: the Praat worker ended (%s); realising in this process from now on", exc)
    with _lock:
        _pool, _failed = None, True


def call(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)`` in the worker when it runs, else here: the same result either
    way. ``fn`` is a module-level function (the worker imports it by name) and its arguments
    and result cross by pipe (numpy arrays, dataclasses); its own exceptions are raised here.
    The reply is never lost to the worker: one that died is logged and the call made here."""
    pool = _pool
    if pool is not None:
        try:
            future = pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool as exc:  # it died before the call
            _lost(exc)
        except RuntimeError:  # stopped meanwhile: made here, as before it started
            pass
        else:
            try:
                return future.result()
            except BrokenProcessPool as exc:  # it died during the call
                _lost(exc)
    return fn(*args, **kwargs)

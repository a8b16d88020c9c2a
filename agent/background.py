"""Background threads: work nobody waits for yields the CPU to work somebody does.

On a 2-core machine a module's bookkeeping (the memory's sentence embedding and SQLite,
which nothing in a reply waits for) runs at the very moment the reply's first sentence is
synthesised and the next turn is judged. A thread that calls :func:`yield_cpu` (a
``ThreadPoolExecutor`` initializer) runs ``BACKGROUND_NICE`` steps nicer than the process:
Linux gives it the CPU only when the reply's threads leave some. It still runs as soon as a
core is free, so nothing is lost and nothing waits for long.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

#: how many nice steps a background thread runs below the process (Linux: CFS weight
#: 1024 → ~110, so a busy reply thread gets ~90 % of a core it shares with one).
BACKGROUND_NICE = 10


def yield_cpu() -> None:
    """Lower the calling thread's CPU priority by ``BACKGROUND_NICE`` (Linux, where a
    thread has a nice value of its own; elsewhere nothing happens: the call would lower the
    whole process). Never raises."""
    if sys.platform != "linux":
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICE)
    except OSError as exc:  # raising one's own nice value is always allowed; kept quiet if not
        log.debug("background: the thread's priority stays (%s)", exc)

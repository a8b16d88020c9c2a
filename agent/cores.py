"""Sharing a few cores: numpy's BLAS runs on the thread that calls it.

numpy's OpenBLAS keeps a pool of worker threads, one per core, and after each call they
spin for a while (OpenBLAS's thread timeout, ~0.1 s here) before they sleep. The agent's
numerical calls are small (a mel filter bank, a pitch track's frames) and are followed at
once by the work a reply waits for — CTranslate2's Whisper and ONNX Runtime's Smart Turn
and Piper, each with threads of its own — so on a 2-core machine the spinning worker took
the second core from them: the quick decode of a pause took 89–97 ms instead of 56–58 ms,
and Smart Turn on two threads 115–126 ms instead of 50 ms (2026-12-02, Xeon 2.1 GHz, 2
cores). :func:`share_cores` keeps BLAS on the calling thread; the engines keep their own
threads. Every process of the agent calls it: the entry point (``agent/cli/main.py``), the
realiser's Praat worker and the audio process.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

#: BLAS threads per call (the caller's own).
BLAS_THREADS = 1


#: what a BLAS library loaded later reads when it starts (OpenCV carries an OpenBLAS of its
#: own, loaded with the vision module after the entry point has run); child processes too.
BLAS_ENVIRONMENT = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def share_cores() -> None:
    """Limit every BLAS library loaded in the process (numpy's OpenBLAS, SciPy's) to
    ``BLAS_THREADS`` (threadpoolctl), and every one loaded after, in this process or its
    children (``BLAS_ENVIRONMENT``). Never raises: without threadpoolctl or a known BLAS,
    the libraries already loaded keep their threads."""
    for name in BLAS_ENVIRONMENT:
        os.environ[name] = str(BLAS_THREADS)
    try:
        import numpy  # noqa: F401  (loads the BLAS the limit applies to)
        from threadpoolctl import threadpool_limits
    except ImportError as exc:  # pragma: no cover - a declared dependency
        log.debug("cores: BLAS threads unchanged (%s)", exc)
        return
    threadpool_limits(limits=BLAS_THREADS, user_api="blas")

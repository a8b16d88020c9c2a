"""Sharing the cores: numpy's BLAS runs on the calling thread in the agent's processes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from conftest import ROOT
from threadpoolctl import threadpool_info, threadpool_limits

from agent.cores import BLAS_THREADS, share_cores


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_sharing_the_cores_puts_every_loaded_blas_on_the_calling_thread_and_numpy_still_multiplies() -> None:
    with threadpool_limits(limits=2, user_api="blas"):
        assert _blas_threads() and max(_blas_threads()) == 2  # numpy's OpenBLAS is there to limit
        share_cores()
        assert set(_blas_threads()) == {BLAS_THREADS}
        a = np.random.default_rng(0).standard_normal((300, 300))
        assert np.allclose(a @ np.linalg.inv(a), np.eye(300), atol=1e-6)


def test_the_entry_point_and_the_realisers_worker_share_the_cores() -> None:
    """``run.py`` (every command: here the real ``modules``, which lists the channel modules)
    and the realiser's Praat worker process call it."""
    probe = (
        "from threadpoolctl import threadpool_info; from agent.cli import main\n"
        "assert main(['modules']) == 0\n"
        "print(sorted({p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "voice" in out.stdout  # the command ran: its table of modules
    assert out.stdout.strip().splitlines()[-1] == f"[{BLAS_THREADS}]"
    from modules.voice.speak import praat_worker

    assert praat_worker.start()
    try:
        threads = praat_worker._pool.submit(_blas_threads).result(timeout=60)
    finally:
        praat_worker.stop()
    assert threads and set(threads) == {BLAS_THREADS}

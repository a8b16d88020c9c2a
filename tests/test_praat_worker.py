"""The realiser's Praat resynthesis in a worker process (``speak/praat_worker.py``): the same
samples as in this process, and a reply that survives the worker's death."""

from __future__ import annotations

import logging
import os
import signal

import numpy as np
import pytest
from conftest import SPEECH, load_16k

from modules.voice.speak import praat_worker, realiser


@pytest.fixture
def worker():
    assert praat_worker.start(), "the worker did not start"
    yield
    praat_worker.stop()
    praat_worker._failed = False  # the next test may start one again


def _sentence() -> tuple[np.ndarray, realiser.Stretch]:
    speech = load_16k(SPEECH / "spk1_snt1.wav")
    return speech, realiser.Stretch([(0.0, len(speech) / 16000)], 1.15)


def test_the_worker_realises_the_same_samples_as_this_process(worker) -> None:
    speech, stretch = _sentence()
    here = realiser.impose(speech, 16000, 170.0, 5.0, "rise-fall", stretch)
    there = praat_worker.call(realiser.impose, speech, 16000, 170.0, 5.0, "rise-fall", stretch)
    assert praat_worker.running()
    assert len(here) == pytest.approx(1.15 * len(speech), rel=0.02)
    assert np.array_equal(here, there)


def test_a_worker_that_dies_leaves_the_realising_to_this_process(worker, caplog) -> None:
    speech, stretch = _sentence()
    expected = realiser.impose(speech, 16000, 150.0, 4.0, "falling", stretch)
    (pid,) = praat_worker._pool._processes  # type: ignore[union-attr]
    os.kill(pid, signal.SIGKILL)
    with caplog.at_level(logging.ERROR, logger="modules.voice.speak.praat_worker"):
        got = praat_worker.call(realiser.impose, speech, 16000, 150.0, 4.0, "falling", stretch)
    assert np.array_equal(got, expected)
    assert not praat_worker.running() and "realising in this process" in caplog.text


def test_an_error_in_the_worker_is_raised_here_and_the_worker_goes_on(worker) -> None:
    with pytest.raises(ValueError, match="invalid literal"):
        praat_worker.call(int, "twelve")
    assert praat_worker.running() and praat_worker.call(int, "12") == 12

"""Shared fixtures: real recordings, real engines (loaded once per run), the CLI."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent

# What the agent remembers (MemoryAnchor's SQLite file) goes to a folder of this test run,
# never to the user's own data folder: every CLI the tests start inherits this.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="scenevoice-test-data-")
atexit.register(shutil.rmtree, os.environ["XDG_DATA_HOME"], ignore_errors=True)  # and gone after the run
# The engines run in this process as in the agent's: numpy's BLAS on the calling thread.
from agent.cores import share_cores  # noqa: E402

share_cores()
DATA = Path(__file__).resolve().parent / "data"
SPEECH = DATA / "speech"
MANIFEST = json.loads((DATA / "MANIFEST.json").read_text())


@pytest.fixture(scope="session")
def data() -> Path:
    return DATA


@pytest.fixture(scope="session")
def cache() -> Path:
    from agent.paths import cache_dir

    return cache_dir()


@pytest.fixture(scope="session")
def openai_engine(cache):
    from modules.voice.asr.engines import AsrOptions, make_engine

    return make_engine("openai-whisper", AsrOptions(), cache)


@pytest.fixture(scope="session")
def faster_engine(cache):
    from modules.voice.asr.engines import AsrOptions, make_engine

    return make_engine("faster-whisper", AsrOptions(), cache)


@functools.cache
def joe_profile():
    """The Piper voice joe as the voice module announces it (its row of assets/voices.toml)."""
    from modules.voice.tts.piper import piper_voices

    return piper_voices()["joe"].profile()


@pytest.fixture(scope="session")
def vad():
    from modules.voice.listen.vad import SileroVAD

    return SileroVAD()


def load_16k(path: Path) -> np.ndarray:
    from modules.voice.io.audio import load_audio, resample
    from modules.voice.rates import RATE_HZ

    audio = load_audio(path)
    return resample(audio.mono(), audio.rate_hz, RATE_HZ)


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def scenes(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


#: seconds a CLI run may take before its test fails: well above the slowest run here (a
#: whole turn with model loading, ~40 s on a loaded 2-core machine), far below a hang.
CLI_TIMEOUT_S = 240.0


def run_cli(*args: str, timeout: float = CLI_TIMEOUT_S, env: dict | None = None, cwd: Path | None = None) -> CliResult:
    """Run ``python run.py ARGS`` as a user would. A traceback on stderr fails the test; so
    does a run that outlives ``timeout`` seconds (killed, with what it printed so far)."""
    try:
        proc = subprocess.run(
            [sys.executable, str(ROOT / "run.py"), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=cwd or ROOT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
        pytest.fail(f"run.py {' '.join(args)} still running after {timeout:.0f} s; stderr:\n{out}")
    assert "Traceback" not in proc.stderr, proc.stderr
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def praat_median_f0_hz(path: Path) -> float:
    """Praat's median F0 of a file's voiced frames ("To Pitch (ac)", defaults, 75–600 Hz):
    the field's reference, independent of the analyser."""
    import parselmouth

    f0 = parselmouth.Sound(str(path)).to_pitch().selected_array["frequency"]
    return float(np.median(f0[f0 > 0]))


def words_of(text: str) -> set[str]:
    import re

    return set(re.findall(r"[a-z']+", text.lower()))

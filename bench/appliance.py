"""``run.py serve`` on the virtual sound devices, and its health answer timed.

    .venv/bin/python -m bench.appliance [--rounds 3]

Starts the appliance on the rig (``modules/voice/io/virtual_devices.py``) with ``[serve]
port = 0``, then, idle and while it answers speech played into its microphone (hearing,
thinking, speaking), asks ``GET /health`` every 50 ms and times each answer; last, SIGTERM,
and the time to exit. Prints p50, p95 and max per phase. :class:`Appliance` is also what
``tests/test_serve.py`` drives.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

from agent.paths import PROJECT_ROOT

SPEECH = PROJECT_ROOT.parent / "shared" / "audio" / "speech"
READY_S = 120.0


class Appliance:
    """A ``run.py serve`` process with the rig's environment; its stderr lines collected."""

    def __init__(self, env: dict[str, str], *sets: str, record: str | None = None, options: Sequence[str] = ()) -> None:
        """``sets``: ``--set`` overrides; ``options``: more of ``serve``'s options (``--role hub``)."""
        args = [sys.executable, str(PROJECT_ROOT / "run.py"), "serve", "--set", "serve.port=0", *options]
        if record is not None:
            args += ["--record", record]
        for s in sets:
            args += ["--set", s]
        self.process = subprocess.Popen(
            args, env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self.url: str | None = None
        assert self.process.stderr is not None
        threading.Thread(target=self._read, args=(self.process.stderr,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))
            if self.url is None and (m := re.search(r"health on (http://\S+/health)", line)):
                self.url = m.group(1)

    def wait_listening(self, timeout_s: float = READY_S) -> None:
        """Until its log says it listens. Raises RuntimeError with the log if it does not."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.url and any('"listening on' in line or "listening on" in line for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("the appliance did not start listening:\n" + "\n".join(self.lines[-40:]))

    def health(self, timeout_s: float = 2.0) -> tuple[dict[str, Any], float]:
        """The ``/health`` answer and how long it took (s)."""
        assert self.url is not None
        t0 = time.perf_counter()
        with urllib.request.urlopen(self.url, timeout=timeout_s) as answer:
            body = json.load(answer)
        return body, time.perf_counter() - t0

    def listening_count(self) -> int:
        """How many times its log has said it listens."""
        return sum("listening on" in line for line in self.lines)

    def wait_listening_again(self, after: int, timeout_s: float = 30.0) -> float:
        """Seconds until its log says it listens for the ``after``+1-th time.

        Raises:
            RuntimeError: it did not within ``timeout_s`` (with the log's tail).
        """
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            if self.listening_count() > after:
                return time.monotonic() - t0
            time.sleep(0.02)
        raise RuntimeError("the appliance did not listen again:\n" + "\n".join(self.lines[-30:]))

    def stop(self, timeout_s: float = 20.0) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds to exit)."""
        t0 = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout_s)
        return code, time.perf_counter() - t0

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def timed_during(appliance: Appliance, until: Any, period_s: float = 0.05, limit_s: float = 60.0) -> list[float]:
    """Ask ``/health`` every ``period_s`` until ``until(answer)``; each answer's time (s)."""
    times: list[float] = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        body, took = appliance.health()
        times.append(took)
        if until(body):
            break
        time.sleep(period_s)
    return times


def _line(name: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{name:<28} n={len(ms):4d}  p50 {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms  max {ms[-1]:6.1f} ms"


def kill_sound_server(rig: Any, down_s: float) -> None:
    """SIGKILL the rig's PulseAudio, leave it down ``down_s``, start it again."""
    import os

    os.kill(rig.pid, signal.SIGKILL)
    rig.pid = None
    time.sleep(down_s)
    rig.start()


def main(argv: list[str] | None = None) -> int:
    from modules.voice.io.virtual_devices import audio_rig

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="utterances to answer")
    p.add_argument("--deaths", type=int, default=3, help="times the sound server is killed and restarted")
    args = p.parse_args(argv)
    files = ["spk1_snt1.wav", "spk1_snt4.wav", "spk1_snt5.wav", "spk1_snt3.wav"]
    with audio_rig() as rig:
        appliance = Appliance(rig.env)
        try:
            appliance.wait_listening()
            idle = timed_during(appliance, lambda b: False, limit_s=3.0)
            busy: list[float] = []
            for i in range(args.rounds):
                before = appliance.health()[0]["counts"]["spoken"]
                rig.play_into_mic(SPEECH / files[i % len(files)])
                busy += timed_during(appliance, lambda b, n=before: b["counts"]["spoken"] > n)
            recovered = []
            for _ in range(args.deaths):
                listened = appliance.listening_count()
                kill_sound_server(rig, 3.0)
                recovered.append(appliance.wait_listening_again(listened))
            code, stop_s = appliance.stop()
        finally:
            appliance.kill()
    print(_line("idle", idle))
    print(_line("hearing, thinking, speaking", busy))
    if recovered:
        print("sound server killed and back: listening again " + ", ".join(f"{r:.2f}" for r in recovered) + " s after")
    print(f"SIGTERM → exit {code} in {stop_s:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Real audio devices on a machine without a sound card: a private PulseAudio server.

``vspeaker`` is a 16 kHz mono null sink (the default speaker; record it through
``vspeaker.monitor``); ``vmic`` is the default microphone, fed by whatever is played
into the ``micfeed`` sink. Audio played into ``micfeed`` reaches a program recording
``vmic`` bit for bit (shared/AUDIO_RIG.md). The server runs in its own runtime folder
and is stopped by its own PID, even when the test using it fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

RIG_PA = """\
.fail
load-module module-native-protocol-unix auth-anonymous=1
load-module module-null-sink sink_name=vspeaker rate=16000 channels=1
load-module module-null-sink sink_name=micfeed rate=16000 channels=1
load-module module-remap-source source_name=vmic master=micfeed.monitor rate=16000 channels=1
set-default-sink vspeaker
set-default-source vmic
"""


class RigError(RuntimeError):
    """The PulseAudio rig could not start (the message says what is missing)."""


class AudioRig:
    def __init__(self) -> None:
        self.runtime = Path(tempfile.mkdtemp(prefix="sv-pulse-"))
        self.runtime.chmod(0o700)
        self.pid: int | None = None
        self._recorders: list[subprocess.Popen] = []

    @property
    def env(self) -> dict[str, str]:
        """The environment under which programs see the rig's devices."""
        return {**os.environ, "XDG_RUNTIME_DIR": str(self.runtime),
                "PULSE_COOKIE": str(self.runtime / "cookie"), "PULSE_SERVER": f"unix:{self.runtime}/pulse/native"}

    def start(self) -> AudioRig:
        for tool in ("pulseaudio", "pactl", "paplay", "parecord"):
            if shutil.which(tool) is None:
                raise RigError(f"{tool} is not installed (apt install pulseaudio pulseaudio-utils)")
        (self.runtime / "rig.pa").write_text(RIG_PA)
        env = {**self.env, "HOME": str(self.runtime)}
        env.pop("PULSE_SERVER")
        subprocess.run(["pulseaudio", "-n", "-F", str(self.runtime / "rig.pa"), "--daemonize=yes",
                        "--exit-idle-time=-1", "--disallow-exit", "--use-pid-file=yes",
                        f"--log-target=file:{self.runtime / 'pulse.log'}"],
                       env=env, check=True, capture_output=True, timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if subprocess.run(["pactl", "info"], env=self.env, capture_output=True, check=False, timeout=5).returncode == 0:
                break
            time.sleep(0.05)
        else:
            raise RigError(f"PulseAudio did not answer; log: {(self.runtime / 'pulse.log').read_text()[-2000:]}")
        pid_file = self.runtime / "pulse" / "pid"
        self.pid = int(pid_file.read_text().split()[0])
        return self

    def play_into_mic(self, wav: Path) -> None:
        """Play a file into the virtual microphone; returns when it has been played."""
        subprocess.run(["paplay", "--device=micfeed", str(wav)], env=self.env, check=True, timeout=120)

    def record_speaker(self, out_wav: Path) -> subprocess.Popen:
        """Start recording the virtual speaker into a 16 kHz mono WAV (stop with stop_recording)."""
        proc = subprocess.Popen(["parecord", "--device=vspeaker.monitor", "--rate=16000", "--channels=1",
                                 "--file-format=wav", str(out_wav)], env=self.env)
        self._recorders.append(proc)
        return proc

    @staticmethod
    def stop_recording(proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGINT)  # parecord finishes the WAV header on SIGINT
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()

    def stop(self) -> None:
        for proc in self._recorders:
            if proc.poll() is None:
                self.stop_recording(proc)
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            for _ in range(100):
                try:
                    os.kill(self.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            self.pid = None
        shutil.rmtree(self.runtime, ignore_errors=True)


@contextlib.contextmanager
def audio_rig() -> Iterator[AudioRig]:
    rig = AudioRig()
    try:
        yield rig.start()
    finally:
        rig.stop()

"""Real audio devices on a machine without a sound card: a private PulseAudio server.

A headless machine (a server, a container, CI, an appliance without a sound card yet) can
still run the agent's live loop: this starts a PulseAudio server of its own, in its own
runtime folder, with two virtual devices at 16 kHz mono (the agent's rate):

- ``vspeaker``: a null sink, the default speaker; what is played there can be recorded
  from ``vspeaker.monitor`` (:meth:`AudioRig.record_speaker`);
- ``vmic``: the default microphone, fed by whatever is played into the ``micfeed`` sink
  (:meth:`AudioRig.play_into_mic`); it reaches a program recording ``vmic`` bit for bit.

Programs see the devices when run with :attr:`AudioRig.env` (PortAudio, and so
``sounddevice`` and ``run.py talk``, go through PulseAudio's ALSA plug-in). The server is
stopped by its own PID when the ``with`` block ends, even on an error::

    with audio_rig() as rig:
        subprocess.Popen([".venv/bin/python", "run.py", "talk"], env=rig.env)
        rig.play_into_mic(Path("question.wav"))

Needs the ``pulseaudio`` and ``pulseaudio-utils`` packages (``pactl``, ``paplay``,
``parecord``); :class:`RigError` says which tool is missing.
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

from .devices import DeviceError

#: the server's start-up script: its socket, the two devices, the defaults.
RIG_PA = """\
.fail
load-module module-native-protocol-unix auth-anonymous=1
load-module module-null-sink sink_name=vspeaker rate=16000 channels=1
load-module module-null-sink sink_name=micfeed rate=16000 channels=1
load-module module-remap-source source_name=vmic master=micfeed.monitor rate=16000 channels=1
set-default-sink vspeaker
set-default-source vmic
"""
#: the server's settings. Its device threads run real-time (SCHED_RR) when it may (as root),
#: and by default the kernel kills a real-time thread that runs 200 ms without blocking: on
#: two busy cores that ended two long duplex benchmarks ("Connection terminated", nothing
#: logged). -1 leaves that limit as it is (unlimited unless the caller set one).
DAEMON_CONF = """\
rlimit-rttime = -1
"""
#: the command-line tools the rig drives.
TOOLS = ("pulseaudio", "pactl", "paplay", "parecord")
#: seconds the server has to answer after it is started.
START_TIMEOUT_S = 10.0


class RigError(DeviceError):
    """The virtual devices could not start (the message says what is missing); a
    :class:`~modules.voice.io.devices.DeviceError`, so reason ``device.missing``."""


class AudioRig:
    """A private PulseAudio server with a virtual speaker and microphone (see the module).

    Attributes:
        runtime: the server's own runtime folder (socket, cookie, log), removed at stop.
        pid: the server's process id while it runs, else None.
    """

    def __init__(self) -> None:
        self.runtime = Path(tempfile.mkdtemp(prefix="sv-pulse-"))
        self.runtime.chmod(0o700)
        self.pid: int | None = None
        self._recorders: list[subprocess.Popen] = []

    @property
    def env(self) -> dict[str, str]:
        """The environment under which programs see the rig's devices."""
        return {
            **os.environ,
            "XDG_RUNTIME_DIR": str(self.runtime),
            "PULSE_COOKIE": str(self.runtime / "cookie"),
            "PULSE_SERVER": f"unix:{self.runtime}/pulse/native",
        }

    def start(self) -> AudioRig:
        """Start the server and wait until it answers; returns the rig.

        Raises:
            RigError: a tool is not installed, or the server did not answer in time.
        """
        for tool in TOOLS:
            if shutil.which(tool) is None:
                raise RigError(f"{tool} is not installed (apt install pulseaudio pulseaudio-utils)", subject=tool)
        (self.runtime / "rig.pa").write_text(RIG_PA)
        (self.runtime / "daemon.conf").write_text(DAEMON_CONF)
        env = {**self.env, "HOME": str(self.runtime), "PULSE_CONFIG": str(self.runtime / "daemon.conf")}
        env.pop("PULSE_SERVER")
        subprocess.run(
            [
                "pulseaudio",
                "-n",
                "-F",
                str(self.runtime / "rig.pa"),
                "--daemonize=yes",
                "--exit-idle-time=-1",
                "--disallow-exit",
                "--use-pid-file=yes",
                f"--log-target=file:{self.runtime / 'pulse.log'}",
            ],
            env=env,
            check=True,
            capture_output=True,
            timeout=30,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            info = subprocess.run(["pactl", "info"], env=self.env, capture_output=True, check=False, timeout=5)
            if info.returncode == 0:
                break
            time.sleep(0.05)
        else:
            raise RigError(f"PulseAudio did not answer; log: {(self.runtime / 'pulse.log').read_text()[-2000:]}")
        pid_file = self.runtime / "pulse" / "pid"
        self.pid = int(pid_file.read_text().split()[0])
        return self

    def pactl(self, *args: str) -> str:
        """Run ``pactl`` on this server (e.g. ``"load-module", "module-null-sink", ...``
        to add a device); returns its output. Raises ``CalledProcessError`` on failure."""
        done = subprocess.run(["pactl", *args], env=self.env, check=True, capture_output=True, text=True, timeout=30)
        return done.stdout

    def play_into_mic(self, wav: Path) -> None:
        """Play a file into the virtual microphone; returns when it has been played."""
        subprocess.run(["paplay", "--device=micfeed", str(wav)], env=self.env, check=True, timeout=120)

    def record_speaker(self, out_wav: Path) -> subprocess.Popen:
        """Start recording the virtual speaker into a 16 kHz mono WAV (stop with stop_recording)."""
        proc = subprocess.Popen(
            [
                "parecord",
                "--device=vspeaker.monitor",
                "--rate=16000",
                "--channels=1",
                "--file-format=wav",
                str(out_wav),
            ],
            env=self.env,
        )
        self._recorders.append(proc)
        return proc

    @staticmethod
    def stop_recording(proc: subprocess.Popen) -> None:
        """Stop a recording started by :meth:`record_speaker`, its WAV complete."""
        proc.send_signal(signal.SIGINT)  # parecord finishes the WAV header on SIGINT
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()

    def stop(self) -> None:
        """Stop the recordings and the server (by its PID), and remove the runtime folder."""
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
    """A started :class:`AudioRig`, stopped when the block ends (even on an error)."""
    rig = AudioRig()
    try:
        yield rig.start()
    finally:
        rig.stop()

"""``run.py record`` killed (SIGKILL) at random moments on the virtual sound devices: how much
of the audio heard before the kill is missing from the session folder.

    .venv/bin/python -m bench.record_kill [--kills 3] [--seed 1]

Each round starts ``run.py record`` on the rig (``modules/voice/io/virtual_devices.py``),
plays speech into its microphone, kills it with SIGKILL at a random moment 2–8 s later,
and reads the folder back: the audio that should be there is the session time of the kill
less the session time of the first file's announcement (``recorded.mic`` in
``scenes.jsonl``, logged just after its first sample was written, so the estimate counts
the capture pipeline's latency as lost too); what is there is the sum of the WAV files'
frames. Prints seconds lost per kill and the worst. :class:`RecordProcess` is also what
``tests/test_record.py`` drives.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import soundfile as sf

from agent.paths import PROJECT_ROOT

SPEECH = PROJECT_ROOT.parent / "shared" / "audio" / "speech"
READY_S = 120.0


class RecordProcess:
    """A ``run.py record ROOT`` process with the rig's environment; its stderr lines kept."""

    def __init__(self, root: Path, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "run.py"), "record", str(root), *args],
            env={**os.environ, **env},
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.folder: Path | None = None
        assert self.process.stderr is not None
        threading.Thread(target=self._read, args=(self.process.stderr,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))
            if self.folder is None and (m := re.match(r"recording into (.+)$", line.strip())):
                self.folder = Path(m.group(1))

    def wait_for(self, what: str, timeout_s: float = READY_S) -> None:
        """Until a stderr line contains ``what``. Raises RuntimeError with the log if not."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(what in line for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"no {what!r} from run.py record:\n" + "\n".join(self.lines[-30:]))

    def kill(self) -> float:
        """SIGKILL now; returns the Unix time it was sent."""
        t = time.time()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        return t


def scene_lines(folder: Path) -> list[dict]:
    """The whole lines of ``scenes.jsonl`` (a line cut short by a kill is left out)."""
    rows = []
    for line in (folder / "scenes.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def seconds_lost(folder: Path, killed_unix_s: float) -> float:
    """Seconds of microphone audio heard before the kill and not in the folder (see the
    module docstring for how this errs: toward more lost)."""
    started = json.loads((folder / "session.json").read_text(encoding="utf-8"))["started_unix_s"]
    first = min(row["t_s"] for row in scene_lines(folder) if row["scene"]["kind"] == "recorded.mic")
    frames = sum(sf.info(str(path)).frames for path in (folder / "audio").glob("mic-*.wav"))
    return (killed_unix_s - started - first) - frames / 16_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    import tempfile

    from modules.voice.io.virtual_devices import audio_rig

    rng = random.Random(args.seed)
    lost = []
    with audio_rig() as rig, tempfile.TemporaryDirectory() as tmp:
        for k in range(args.kills):
            env = {**rig.env, "XDG_DATA_HOME": f"{tmp}/data"}
            recording = RecordProcess(Path(tmp) / "rec", env, "--set", "record.rotate_s=5")
            recording.wait_for("listening on")
            rig.play_into_mic(SPEECH / f"spk1_snt{k % 5 + 1}.wav")
            time.sleep(rng.uniform(2.0, 8.0))
            killed = recording.kill()
            assert recording.folder is not None
            lost.append(seconds_lost(recording.folder, killed))
            files = len(list((recording.folder / "audio").glob("mic-*.wav")))
            print(f"kill {k + 1}: {lost[-1]:.3f} s lost ({files} mic files)", flush=True)
    print(f"worst: {max(lost):.3f} s lost of the audio before SIGKILL over {len(lost)} kills")


if __name__ == "__main__":
    main()

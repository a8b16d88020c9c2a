"""Record the sessions under ``tests/data/recorded`` anew (``tests/test_replay.py`` replays them).

    .venv/bin/python tests/make_recorded_sessions.py [OUT]   # default: tests/data/recorded

Each is a real ``run.py talk --record`` session on the virtual sound devices
(``modules/voice/io/virtual_devices.py``), with an empty memory: real recordings from
``tests/data/speech`` are played into the microphone one at a time, each after the agent has
answered the one before; the session ends with Ctrl-C (SIGINT). ``one-voice``: three
sentences of one speaker. ``three-voices``: a man (the left channel of
stereo_diarization.wav), a woman (LJ050-0131.wav cut before its first pause, at 2.0 s)
and spk1. A session whose turns do not replay as recorded on a quiet machine is not kept.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
SPEECH = ROOT / "tests" / "data" / "speech"


def _sessions(tmp: Path) -> dict[str, list[Path]]:
    stereo, rate = sf.read(SPEECH / "stereo_diarization.wav")
    sf.write(tmp / "wizard.wav", stereo[:, 0], rate)
    lj, rate = sf.read(SPEECH / "LJ050-0131.wav")
    sf.write(tmp / "unless.wav", lj[: int(2.0 * rate)], rate)
    return {
        "one-voice": [SPEECH / "spk1_snt1.wav", SPEECH / "spk1_snt3.wav", SPEECH / "spk1_snt2.wav"],
        "three-voices": [tmp / "wizard.wav", tmp / "unless.wav", SPEECH / "spk1_snt4.wav"],
    }


def _counts(root: Path) -> tuple[int, int]:
    found = list(root.glob("*/scenes.jsonl"))
    text = found[0].read_text(encoding="utf-8") if found else ""
    return text.count('"kind":"turn"'), text.count('"kind":"spoken"')


def record(name: str, files: list[Path], out: Path, tmp: Path) -> Path:
    from modules.voice.io.virtual_devices import audio_rig

    root = tmp / name
    with audio_rig() as rig:
        env = {**os.environ, **rig.env, "XDG_DATA_HOME": str(tmp / f"data-{name}")}
        talk = subprocess.Popen(
            [sys.executable, "run.py", "talk", "--record", str(root)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: list[str] = []
        threading.Thread(target=lambda: lines.extend(talk.stdout or []), daemon=True).start()
        while not any("listening on" in line for line in lines):
            if talk.poll() is not None:
                raise RuntimeError("".join(lines))
            time.sleep(0.2)
        time.sleep(1.0)
        for path in files:
            spoken_before = _counts(root)[1]
            rig.play_into_mic(path)
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                turns, spoken = _counts(root)
                if spoken > spoken_before and spoken >= turns:
                    break
                time.sleep(0.3)
            time.sleep(2.5)
        talk.send_signal(signal.SIGINT)
        talk.wait(30)
    (session,) = root.iterdir()
    target = out / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(session, target)
    return target


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "data" / "recorded"
    with tempfile.TemporaryDirectory() as tmp:
        for name, files in _sessions(Path(tmp)).items():
            print(f"{name}: {record(name, files, out, Path(tmp))}", flush=True)


if __name__ == "__main__":
    main()

"""The live path through real audio devices: PulseAudio's virtual microphone and speaker."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from audio_rig import audio_rig
from conftest import ROOT, SPEECH, load_16k, words_of

pytestmark = [pytest.mark.slow, pytest.mark.audio_rig]


def _wait_for_line(stream, needle: str, timeout_s: float, sink: list[str]) -> bool:
    """Read ``stream`` line by line into ``sink`` until a line holds ``needle``."""
    found = threading.Event()

    def pump() -> None:
        for line in stream:
            sink.append(line)
            if needle in line:
                found.set()
        found.set()

    threading.Thread(target=pump, daemon=True).start()
    return found.wait(timeout_s) and any(needle in line for line in sink)


def test_speech_played_into_the_microphone_gets_a_spoken_reply_on_the_speaker(tmp_path, faster_engine) -> None:
    with audio_rig() as rig:
        agent = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "talk", "--turns", "1"],
                                 env=rig.env, cwd=tmp_path, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            err: list[str] = []
            assert _wait_for_line(agent.stderr, "listening on", 180, err), "".join(err)
            speaker = rig.record_speaker(tmp_path / "speaker.wav")
            time.sleep(1.0)  # parecord is slow to start (AUDIO_RIG.md)
            rig.play_into_mic(SPEECH / "spk1_snt1.wav")
            out, _ = agent.communicate(timeout=180)
            time.sleep(0.5)
            rig.stop_recording(speaker)
        finally:
            if agent.poll() is None:
                agent.kill()
        assert agent.returncode == 0, "".join(err)
        assert not any("Traceback" in line for line in err), "".join(err)

    scenes = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [s["kind"] for s in scenes] == ["turn", "reply", "spoken"]
    turn, reply, spoken = scenes
    assert {"child", "hurt", "small", "dog"} <= words_of(turn["text"])
    assert turn["source"] != "" and spoken["source"] == "speaker"
    recorded, rate = sf.read(tmp_path / "speaker.wav", dtype="float32")
    level_db = 20 * np.log10(np.sqrt(np.mean(recorded**2)) + 1e-12)
    assert level_db > -45, f"the speaker stayed silent ({level_db:.1f} dBFS)"
    heard_back = words_of(faster_engine.transcribe(load_16k(tmp_path / "speaker.wav")).text)
    planned = words_of(reply["text"])
    assert len(heard_back & planned) / len(planned) >= 0.6, (heard_back, planned)

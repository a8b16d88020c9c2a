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
from conftest import ROOT, SPEECH, load_16k, words_of

from modules.voice.io.virtual_devices import audio_rig

pytestmark = [pytest.mark.slow, pytest.mark.audio_rig]


#: bounds on each wait: the agent loads Whisper and Piper (tens of seconds on this CPU),
#: then answers one turn; a fault ends the wait at once (the agent exits) or at the bound.
READY_TIMEOUT_S = 180.0
REPLY_TIMEOUT_S = 180.0


class _Lines:
    """Reads a child's stream line by line on a thread, so no wait blocks on a pipe."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self.closed = threading.Event()
        self._new = threading.Condition()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            with self._new:
                self.lines.append(line)
                self._new.notify_all()
        with self._new:
            self.closed.set()
            self._new.notify_all()

    def wait_for(self, needle: str, timeout_s: float) -> bool:
        """True once a line holds ``needle``; False when the stream closes (the child
        exited) or ``timeout_s`` passes first."""
        deadline = time.monotonic() + timeout_s
        with self._new:
            while not any(needle in line for line in self.lines):
                left = deadline - time.monotonic()
                if self.closed.is_set() or left <= 0:
                    return False
                self._new.wait(left)
        return True

    def text(self) -> str:
        return "".join(self.lines)


@pytest.mark.parametrize("input_rate_hz", [0, 48000], ids=["16kHz", "48kHz-resampled"])
def test_speech_played_into_the_microphone_gets_a_spoken_reply_on_the_speaker(
    tmp_path, faster_engine, input_rate_hz
) -> None:
    with audio_rig() as rig:
        agent = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "run.py"),
                "talk",
                "--turns",
                "1",
                "--set",
                f"modules.voice.input_rate_hz={input_rate_hz}",
            ],
            env={**rig.env, "XDG_DATA_HOME": str(tmp_path / "data")},  # a memory of its own
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        err, out = _Lines(agent.stderr), _Lines(agent.stdout)
        speaker = None
        try:
            if not err.wait_for("listening on", READY_TIMEOUT_S):
                pytest.fail(
                    f"the agent never listened (exit code {agent.poll()}, "
                    f"{READY_TIMEOUT_S:.0f} s bound):\n{err.text()[-3000:]}"
                )
            speaker = rig.record_speaker(tmp_path / "speaker.wav")
            time.sleep(1.0)  # parecord is slow to start (AUDIO_RIG.md)
            rig.play_into_mic(SPEECH / "spk1_snt1.wav")
            try:
                agent.wait(timeout=REPLY_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pytest.fail(
                    f"no reply within {REPLY_TIMEOUT_S:.0f} s of speaking; stdout:\n{out.text()}\n"
                    f"stderr:\n{err.text()[-3000:]}"
                )
            out.closed.wait(10)
            err.closed.wait(10)
            time.sleep(0.5)
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait(10)
            if speaker is not None:
                rig.stop_recording(speaker)
        assert agent.returncode == 0, err.text()
        assert "Traceback" not in err.text(), err.text()
        out = out.text()

    # The turn's lineage: what the voice heard and said, and the mind's reply (the memory's
    # recall scenes about the turn come too, and are not this test's business).
    lineage = [json.loads(line) for line in out.splitlines() if line.strip()]
    scenes = [s for s in lineage if s["kind"] in ("turn", "reply", "spoken")]
    assert [s["kind"] for s in scenes] == ["turn", "reply", "spoken"]
    turn, reply, spoken = scenes
    assert {"child", "hurt", "small", "dog"} <= words_of(turn["text"])
    # While the user spoke, partial transcripts came, before the turn, growing toward it.
    kinds = [s["kind"] for s in lineage]
    partials = [s for s in lineage if s["kind"] == "partial"]
    assert partials and kinds.index("partial") < kinds.index("turn"), kinds
    assert words_of(partials[-1]["text"]) & {"child", "hurt", "small"}, partials[-1]["text"]
    # Memory recognised the voice before the turn went out: the turn names it.
    assert turn["speaker"] == "speaker-1"
    # The turn's trace: speech end, end of turn decided, words, reply text, first audio
    # queued and handed to the speaker, in that order.
    stamps = {h["stage"]: h["t_unix_s"] for h in spoken["hops"]}
    order = ["voice.speech_end", "voice.endpoint", "voice.asr", "mind.out", "voice.tts.first", "voice.audio.first"]
    assert all(stage in stamps for stage in order), sorted(stamps)
    assert [stamps[stage] for stage in order] == sorted(stamps[stage] for stage in order), stamps
    assert turn["source"] != "" and spoken["source"] is None
    assert spoken["result"]["device"] and spoken["result"]["path"] is None  # played on the speaker
    assert spoken["act"] == reply["act"] and spoken["context"] == reply["context"]
    recorded, _rate = sf.read(tmp_path / "speaker.wav", dtype="float32")
    level_db = 20 * np.log10(np.sqrt(np.mean(recorded**2)) + 1e-12)
    assert level_db > -45, f"the speaker stayed silent ({level_db:.1f} dBFS)"
    heard_back = words_of(faster_engine.transcribe(load_16k(tmp_path / "speaker.wav")).text)
    planned = words_of(reply["text"])
    assert len(planned) >= 2, reply["text"]
    assert len(heard_back & planned) / len(planned) >= 0.6, (heard_back, planned)
    # Words heard back that were never planned: Whisper on the agent's own clean voice.
    assert len(heard_back - planned) <= max(1, len(planned) // 4), (heard_back, planned)


def test_talk_without_the_turn_model_ends_with_exit_3_naming_its_package(tmp_path) -> None:
    # A stand-in ``pipecat`` package without the model file, first on the path: what a user
    # sees when the wheel is missing or broken.
    fake = tmp_path / "stand_in_site" / "pipecat"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    with audio_rig() as rig:
        env = {**rig.env, "PYTHONPATH": str(fake.parent), "XDG_DATA_HOME": str(tmp_path / "data")}
        result = subprocess.run(
            [sys.executable, str(ROOT / "run.py"), "talk", "--turns", "1"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=READY_TIMEOUT_S,
        )
    assert result.returncode == 3, result.stderr[-2000:]
    assert "pip install pipecat-ai" in result.stderr and "Traceback" not in result.stderr

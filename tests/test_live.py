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


def _talk(rig, tmp_path, *args: str) -> tuple[subprocess.Popen, _Lines, _Lines]:
    """``run.py talk ARGS`` on the rig's devices with a memory of its own: (process, stderr, stdout)."""
    agent = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "talk", *args],
        env={**rig.env, "XDG_DATA_HOME": str(tmp_path / "data")},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return agent, _Lines(agent.stderr), _Lines(agent.stdout)


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
    # queued and handed to the speaker, in that order — but for a reply prepared during a
    # doubted pause and started ahead of the close (prepared_lead_s, a frame): its first
    # audio was queued and handed over as the turn closed, before the words went out.
    stamps = {h["stage"]: h["t_unix_s"] for h in spoken["hops"]}
    order = ["voice.speech_end", "voice.endpoint", "voice.asr", "mind.out", "voice.tts.first", "voice.audio.first"]
    assert all(stage in stamps for stage in order), sorted(stamps)
    if "voice.prepared" in stamps and stamps["voice.tts.first"] < stamps["mind.out"]:  # started ahead
        order = order[:4]
        assert stamps["voice.speech_end"] < stamps["voice.tts.first"] <= stamps["voice.audio.first"], stamps
        assert abs(stamps["voice.tts.first"] - stamps["voice.endpoint"]) < 0.1, stamps
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


def test_ctrl_c_while_the_agent_answers_ends_the_session_cleanly_and_soon(tmp_path) -> None:
    """Ctrl-C at any moment — here while the reply is being prepared or spoken, with frames
    arriving every 32 ms — ends ``talk`` with exit 0 within the stop's bound and no forced
    exit. (Python 3.11's ``asyncio.wait_for`` dropped such a cancellation now and then, and the
    session listened on for good.)"""
    import signal

    from agent.cli.talk import STOP_S

    with audio_rig() as rig:
        agent, err, out = _talk(rig, tmp_path)
        try:
            assert err.wait_for("listening on", READY_TIMEOUT_S), err.text()[-3000:]
            rig.play_into_mic(SPEECH / "spk1_snt1.wav")
            assert out.wait_for('"kind":"turn"', REPLY_TIMEOUT_S), out.text()[-2000:]
            time.sleep(0.5)  # the reply is on its way or playing
            agent.send_signal(signal.SIGINT)
            asked_s = time.monotonic()
            agent.wait(timeout=STOP_S + 20)
            took_s = time.monotonic() - asked_s
            err.closed.wait(10)
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait(10)
    assert agent.returncode == 0, err.text()[-3000:]
    assert "exiting without waiting" not in err.text() and "Traceback" not in err.text(), err.text()[-3000:]
    assert took_s < STOP_S, took_s


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


def test_full_duplex_with_the_echo_loopback_barge_in_and_a_backchannel(tmp_path) -> None:
    """One ``run.py talk`` through the stereo tap with PulseAudio's loopback from the speaker
    back into the microphone (50 ms, as loud as played): every utterance gets exactly one
    reply and none of the agent's own words becomes a turn; a voice that talks over a reply
    cuts it and is answered, heard whole; a "Yeah." over a reply does not stop it."""
    from bench import duplex
    from bench.turn_latency import TapRecorder, tapped_rig

    with audio_rig() as rig:
        question, _ = duplex.recording(tmp_path, "spk1_snt1.wav")
        second, _ = duplex.recording(tmp_path, "spk1_snt4.wav")
        interruption, _ = duplex.recording(tmp_path, "stereo_diarization.wav/right")
        yeah = duplex.backchannel_file(tmp_path, "Yeah.")
        tapped_rig(rig)
        rig.pactl("load-module", *duplex.SPEAKER_SOURCE.split())
        rig.pactl("load-module", "module-loopback", "source=tapspkmon", "sink=tapmic", "latency_msec=50")
        tap = TapRecorder(rig)
        agent = duplex.Agent(rig)
        try:
            tap.wait_running()
            agent.wait_listening()
            # 1. A question and its reply, which comes back through the loopback whole.
            duplex.play(rig, question)
            agent.wait_for("spoken", 0, REPLY_TIMEOUT_S)
            time.sleep(1.5)
            # 2. A backchannel over the next reply.
            nodded, _ = duplex.over_reply(rig, agent, tap, second, yeah, REPLY_TIMEOUT_S)
            went_on = agent.wait_for("spoken", nodded, REPLY_TIMEOUT_S)
            time.sleep(1.5)
            # 3. Another voice over the reply to the first question asked again.
            barged, _ = duplex.over_reply(rig, agent, tap, question, interruption, REPLY_TIMEOUT_S)
            cut = agent.wait_for("spoken", barged, REPLY_TIMEOUT_S)
            answered = agent.wait_for("turn", barged, REPLY_TIMEOUT_S)
            agent.wait_for("spoken", agent.heard.index(answered), REPLY_TIMEOUT_S)
        finally:
            agent.stop()
            tap.stop()
        log = agent.log()
    assert "Traceback" not in log, log[-3000:]
    turns = [h.scene for h in agent.heard if h.kind == "turn"]
    replies = [h.scene for h in agent.heard if h.kind == "reply"]
    # Four utterances that take the floor (the question twice, the second one, the
    # interruption): four turns, four replies; the loopback's echo of the agent is none.
    assert len(turns) == 4 and len(replies) == 4, [t["text"] for t in turns]
    assert (went_on.scene["result"] or {}).get("cut_at_s") is None, "the backchannel stopped the reply"
    assert (cut.scene["result"] or {}).get("cut_at_s") is not None, "the interruption did not cut the reply"
    assert any(h.kind == "interrupt" for h in agent.heard[barged:])
    # Its first word or two overlap the agent's voice, where AEC3 also takes from the user
    # (MODELS.md; "Griesins seems extremely distant." was heard once); the rest, in the
    # agent's silence, is heard.
    assert {"extremely", "distant"} <= words_of(answered.scene["text"]), answered.scene["text"]


def test_a_doubted_pause_is_drafted_voided_when_the_user_goes_on_and_the_end_plays_what_was_prepared(
    tmp_path, faster_engine
) -> None:
    """ "The child almost hurt the | small dog." with 1.6 s of room tone at the bar: the
    turn model doubts both pauses (0.16 and 0.01 through the rig), so the turn as it stands
    goes out as a draft at each; the first is voided by "small dog", the second becomes the turn,
    and its reply, drafted and realised during the wait, is played from what was prepared."""
    from bench import turn_set

    labels = json.loads(turn_set.LABELS.read_text())["speech/spk1_snt1.wav"]
    stream = turn_set.paused("s", "spk1", turn_set.load("spk1_snt1.wav"), labels["cut_after_continuation_s"], 1.6, "")
    wav = tmp_path / "paused.wav"
    sf.write(wav, stream.samples, turn_set.RATE_HZ, subtype="PCM_16")
    with audio_rig() as rig:
        # A draft goes out only when the pause's judgement and the draft's hearing (0.4 and
        # 0.7-1.2 s here, on a 2-core CPU without AVX-512) are done before the user goes on
        # and before the turn closes: the pause and the longest wait are long enough that this
        # test is about what becomes of drafts, not about the machine's speed.
        agent, err, out = _talk(rig, tmp_path, "--turns", "1", "-v", "--set", "modules.voice.max_silence_s=2.5")
        try:
            if not err.wait_for("listening on", READY_TIMEOUT_S):
                pytest.fail(f"the agent never listened (exit code {agent.poll()}):\n{err.text()[-3000:]}")
            rig.play_into_mic(wav)
            try:
                agent.wait(timeout=REPLY_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pytest.fail(
                    f"no reply within {REPLY_TIMEOUT_S:.0f} s; stdout:\n{out.text()}\nstderr:\n{err.text()[-3000:]}"
                )
            out.closed.wait(10)
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait(10)
        assert agent.returncode == 0, err.text()[-3000:]
    lineage = [json.loads(line) for line in out.text().splitlines() if line.strip()]
    drafts = [s for s in lineage if s["kind"] == "turn.draft"]
    turns = [s for s in lineage if s["kind"] == "turn"]
    spoken = [s for s in lineage if s["kind"] == "spoken"]
    assert len(turns) == 1 and len(spoken) == 1, [(s["kind"], s.get("text")) for s in lineage]
    turn = turns[0]
    assert {"child", "hurt", "small", "dog"} <= words_of(turn["text"])
    # At least the two pauses are drafted (a breath the VAD takes for speech may restart the
    # last pause, and with it its draft).
    assert len(drafts) >= 2, [d["text"] for d in drafts]
    assert "dog" not in words_of(drafts[0]["text"]) and {"child", "hurt"} <= words_of(drafts[0]["text"])
    # The turn is the last draft confirmed; nothing was said in reply to the first.
    assert drafts[-1]["id"] in turn["parents"] and drafts[-1]["text"] == turn["text"]
    (drafted_reply,) = [s for s in lineage if s["kind"] == "reply.draft" and drafts[-1]["id"] in s["parents"]]
    assert spoken[0]["text"] == drafted_reply["text"]
    stages = [h["stage"] for h in spoken[0]["hops"]]
    assert "voice.prepared" in stages, stages
    # Played from what was prepared, started ahead: its first piece was queued on the speaker
    # before the mind's reply existed (a frame before the close, prepared_lead_s, or at the
    # close when the preparation finished only then), and the reply took that track over:
    # heard whole, never cut.
    stamps = {h["stage"]: h["t_unix_s"] for h in spoken[0]["hops"]}
    assert stamps["voice.tts.first"] < stamps["mind.out"], stamps
    assert abs(stamps["voice.endpoint"] - stamps["voice.tts.first"]) < 0.1, stamps
    assert (spoken[0]["result"] or {}).get("cut_at_s") is None

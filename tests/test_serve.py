"""``run.py serve``: the headless appliance on the virtual sound devices — JSON logs, a health
endpoint that answers while the agent talks, and a clean stop on SIGTERM."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

from bench.appliance import SPEECH, Appliance, timed_during


@pytest.mark.slow
@pytest.mark.audio_rig
def test_the_appliance_listens_answers_reports_its_health_and_stops_on_sigterm(tmp_path) -> None:
    """… and, with ``--record``, leaves a whole recording of the session when it stops."""
    from agent.record.reader import read_recording
    from modules.voice.io.virtual_devices import audio_rig

    with audio_rig() as rig:
        appliance = Appliance({**rig.env, "XDG_DATA_HOME": str(tmp_path / "data")}, record=str(tmp_path / "rec"))
        try:
            appliance.wait_listening()
            body, _ = appliance.health()
            assert body["status"] == "ok" and body["state"] == "listening", body
            assert set(body["modules"]) >= {"voice", "mind", "memory"}
            assert all(state == "running" for state in body["modules"].values()), body["modules"]
            assert body["devices"]["microphone"] and body["uptime_s"] > 0
            assert body["counts"]["turn"] == 0 and body["last_turn"] is None
            # A question, answered while /health is asked every 50 ms: every ask answered.
            rig.play_into_mic(SPEECH / "spk1_snt1.wav")
            times = timed_during(appliance, lambda b: b["counts"]["spoken"] >= 1)
            assert len(times) > 10, "answered while hearing, thinking and speaking"
            body, _ = appliance.health()
            assert body["counts"]["turn"] == 1 and body["counts"]["reply"] == 1, body["counts"]
            assert 0.0 < body["last_turn"]["latency_s"] < 30.0 and body["devices"]["speaker"]  # bench/: how fast
            code, stop_s = appliance.stop()
        finally:
            appliance.kill()
    assert code == 0 and stop_s < 5.0, (code, stop_s)
    # Structured logs: every line on stderr is one JSON object.
    records = [json.loads(line) for line in appliance.lines if line.strip()]
    assert records and all({"t", "level", "logger", "message"} <= set(r) for r in records)
    messages = [r["message"] for r in records]
    assert any(m.startswith("listening on") for m in messages) and messages[-1] == "stopped"
    assert any(m.startswith("recording into") for m in messages)
    (folder,) = (tmp_path / "rec").iterdir()
    recorded = read_recording(folder)
    assert recorded.problems == [] and recorded.session["command"] == "serve"
    assert {f.track for f in recorded.files} == {"mic", "voice"}
    kinds = [s.kind for _, s in recorded.scenes]
    assert kinds.count("turn") == 1 and kinds.count("spoken") == 1, kinds


@pytest.mark.slow
@pytest.mark.audio_rig
def test_the_appliance_listens_again_when_the_sound_server_comes_back(tmp_path) -> None:
    """The sound server is killed (SIGKILL) and started again: the appliance logs that
    listening ended, listens again once the server is back (no crash, no restart of the
    process), and answers what it hears then. (How soon: ``bench/appliance.py``.)"""
    from bench.appliance import kill_sound_server
    from modules.voice.io.virtual_devices import audio_rig

    with audio_rig() as rig:
        appliance = Appliance({**rig.env, "XDG_DATA_HOME": str(tmp_path / "data")})
        try:
            appliance.wait_listening()
            listened = appliance.listening_count()
            kill_sound_server(rig, 2.0)
            appliance.wait_listening_again(listened)
            rig.play_into_mic(SPEECH / "spk1_snt4.wav")
            timed_during(appliance, lambda b: b["counts"]["spoken"] >= 1)
            body, _ = appliance.health()
            code, _ = appliance.stop()
        finally:
            appliance.kill()
    assert body["counts"]["spoken"] == 1 and body["state"] == "listening", body
    assert body["last_error"]["reason"] == "device.missing", body["last_error"]
    assert code == 0
    assert any("listening ended; trying again" in line for line in appliance.lines)


@pytest.mark.slow
@pytest.mark.audio_rig
def test_with_a_wake_phrase_only_what_is_addressed_is_answered_or_kept(tmp_path) -> None:
    """``wake_phrase = "hey computer"``: a sentence without it is heard and dropped (no turn,
    no partial, nothing remembered); "Hey computer. What time is it?" (the Piper voice;
    Whisper may hear the phrase as a turn of its own, then the question within the window)
    is answered with the time."""
    import time

    from modules.voice.io.virtual_devices import audio_rig

    asked = tmp_path / "asked.wav"
    made = run_cli("say", "Hey computer. What time is it?", "-o", str(asked))
    assert made.code == 0, made.stderr
    with audio_rig() as rig:
        appliance = Appliance(
            {**rig.env, "XDG_DATA_HOME": str(tmp_path / "data")}, 'modules.voice.wake_phrase="hey computer"'
        )
        try:
            appliance.wait_listening()
            rig.play_into_mic(SPEECH / "spk1_snt1.wav")  # not addressed
            deadline = time.monotonic() + 30
            while not any("does not begin with the wake phrase" in line for line in appliance.lines):
                assert time.monotonic() < deadline, "the unaddressed sentence was never judged"
                time.sleep(0.05)
            dropped = appliance.health()[0]["counts"]
            rig.play_into_mic(asked)
            timed_during(appliance, lambda b: (b["last_turn"] or {}).get("text", "").startswith("It is "))
            body, _ = appliance.health()
            code, _ = appliance.stop()
        finally:
            appliance.kill()
    assert code == 0
    assert dropped["turn"] == dropped["partial"] == dropped["turn.draft"] == 0, dropped
    assert 1 <= body["counts"]["turn"] <= 2 and body["last_turn"]["text"].startswith("It is "), body
    messages = [json.loads(line)["message"] for line in appliance.lines if line.strip()]
    assert any("does not begin with the wake phrase" in m and "dog" in m.lower() for m in messages)


@pytest.mark.slow
def test_without_a_sound_device_the_appliance_keeps_running_and_says_why(tmp_path) -> None:
    """No sound server to reach: listening fails, is tried again every second, and /health
    says so (degraded, retrying, the reason); the process neither dies nor hangs, and every
    line it logs is JSON."""
    import os
    import time

    env = {**os.environ, "PULSE_SERVER": "unix:/nonexistent/native", "XDG_DATA_HOME": str(tmp_path / "data")}
    appliance = Appliance(env)
    try:
        deadline = time.monotonic() + 120
        while not any("listening ended; trying again" in line for line in appliance.lines):
            assert appliance.process.poll() is None, "\n".join(appliance.lines[-20:])
            assert time.monotonic() < deadline, "\n".join(appliance.lines[-20:])
            time.sleep(0.1)
        body, _ = appliance.health()
        code, _ = appliance.stop()
    finally:
        appliance.kill()
    assert body["status"] == "degraded" and body["state"] == "retrying", body
    assert body["last_error"]["reason"] == "device.missing" and body["modules"]["voice"] == "running", body
    assert code == 0
    assert all(json.loads(line)["level"] for line in appliance.lines if line.strip())


@pytest.mark.slow
def test_a_malformed_config_refuses_to_start_naming_the_line_and_key(tmp_path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('[serve]\nport = 8765\nhost = "127.0.0.1\n')
    got = run_cli("serve", "--config", str(broken))
    assert got.code == 2 and "line 3" in got.stderr, got.stderr
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("[serve]\nport = 99999\n")
    got = run_cli("serve", "--config", str(wrong))
    assert got.code == 2 and "serve.port" in got.stderr, got.stderr
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[serve]\nprot = 1\n")
    got = run_cli("serve", "--config", str(unknown))
    assert got.code == 2 and "serve.prot" in got.stderr, got.stderr


def test_alsa_messages_go_to_the_log_not_to_stderr(capfd) -> None:
    """ALSA's library prints its errors on stderr itself (an underrun, an unknown device),
    which would break a log of JSON lines; the audio process hands them over instead."""
    import ctypes
    import queue

    from modules.voice.io.audio_process import _alsa_to

    outbox: queue.SimpleQueue = queue.SimpleQueue()
    _alsa_to(outbox)
    alsa = ctypes.cdll.LoadLibrary("libasound.so.2")
    handle = ctypes.c_void_p()
    assert alsa.snd_pcm_open(ctypes.byref(handle), b"no-such-device", 0, 0) < 0
    said = []
    while not outbox.empty():
        said.append(outbox.get())
    assert said and all(kind == "alsa" for kind, _ in said), said
    assert any("no-such-device" in text or "Unknown PCM" in text for _, text in said), said
    assert "ALSA lib" not in capfd.readouterr().err


def test_the_systemd_unit_is_valid_and_sandboxed(tmp_path) -> None:
    """``assets/scenevoice.service`` as systemd reads it: no unknown key or bad value (with
    the checkout's path for ~/scenevoice, so that its ExecStart exists), serve on SIGTERM,
    the audio process's nice level allowed, and the sandbox's key options."""
    import subprocess

    from conftest import ROOT

    text = (ROOT / "assets" / "scenevoice.service").read_text()
    for option in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=read-only", "LimitNICE=-11"):
        assert option in text, option
    assert "run.py serve" in text and "KillSignal=SIGTERM" in text
    unit = tmp_path / "scenevoice.service"
    unit.write_text(text.replace("%h/scenevoice", str(ROOT)))
    checked = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and "Unknown" not in checked.stderr and "Invalid" not in checked.stderr, (
        checked.stderr
    )
    # the check itself catches a wrong key
    bad = tmp_path / "bad.service"
    bad.write_text("[Service]\nExecStart=/bin/true\nBogusKey=1\n")
    assert (
        "Unknown key"
        in subprocess.run(["systemd-analyze", "verify", str(bad)], capture_output=True, text=True, timeout=60).stderr
    )

"""The command line end to end, with real models and real recordings, as a user runs it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from conftest import DATA, SPEECH, load_16k, run_cli, words_of

pytestmark = pytest.mark.slow


def test_analyze_prints_one_json_scene_per_utterance_with_text_timing_and_voice() -> None:
    result = run_cli("analyze", str(SPEECH / "jfk.flac"), str(SPEECH / "spk1_snt1.wav"))
    assert result.code == 0, result.stderr
    scenes = result.scenes
    jfk = [s for s in scenes if s["source"].endswith("jfk.flac")]
    assert all(s["kind"] == "utterance" and s["channel"] == "voice" for s in scenes)
    text = " ".join(s["text"] for s in jfk).lower().replace(",", "")
    assert "ask not what your country" in text
    assert [s["t_start"] for s in jfk] == sorted(s["t_start"] for s in jfk)
    assert 0.0 <= jfk[0]["t_start"] < jfk[-1]["t_end"] <= 11.0
    (child,) = [s for s in scenes if s["source"].endswith("spk1_snt1.wav")]
    assert child["core"] == "hurt+dog+child"
    sound = child["sound"]
    assert 150 < sound["f0_median_hz"] < 260          # Praat says 207 Hz for this speaker
    assert -45 < sound["energy_db"] < -20
    assert 1.5 < sound["rate_wps"] < 4.0               # 7 words in ~2.8 s
    assert [h["stage"] for h in child["hops"]][:5] == ["session.out", "voice.in", "voice.decode",
                                                        "voice.vad", "voice.asr"]


def test_a_sound_without_words_becomes_a_scene_without_a_transcript() -> None:
    result = run_cli("analyze", str(DATA / "sounds" / "2-100648-A-43.wav"))
    assert result.code == 0, result.stderr
    (scene,) = result.scenes
    assert scene["kind"] == "sound" and scene["text"] is None
    assert scene["lexemes"] and scene["core"] == "+".join(scene["lexemes"][:3])
    assert scene["sound"]["onset_rate_hz"] is not None and scene["sound"]["roughness"] is not None


@pytest.fixture(scope="module")
def awkward_files(tmp_path_factory) -> dict[str, Path]:
    """Real speech in every shape a user may hand over, and files that are not audio."""
    d = tmp_path_factory.mktemp("awkward")
    speech, rate = sf.read(SPEECH / "spk1_snt1.wav", dtype="float32")
    files = {}
    for r in (8000, 22050, 44100, 48000):
        files[f"rate{r}"] = d / f"rate{r}.wav"
        sf.write(files[f"rate{r}"], soxr.resample(speech, rate, r), r)
    files["stereo"] = d / "stereo.wav"
    sf.write(files["stereo"], np.stack([speech, 0.5 * speech], axis=1), rate)
    files["flac"] = SPEECH / "jfk.flac"
    files["mp3"] = SPEECH / "multilingual.mp3"
    files["silence"] = d / "silence.wav"
    sf.write(files["silence"], np.zeros(rate * 2, np.float32), rate)
    files["empty"] = d / "empty.wav"
    files["empty"].write_bytes(b"")
    files["truncated"] = d / "truncated.wav"
    files["truncated"].write_bytes((SPEECH / "spk1_snt1.wav").read_bytes()[:30000])
    files["header_only"] = d / "header_only.wav"
    files["header_only"].write_bytes((SPEECH / "spk1_snt1.wav").read_bytes()[:40])
    files["text"] = d / "notes.wav"
    files["text"].write_text("this is not audio\n")
    files["too_low_rate"] = d / "rate4000.wav"
    sf.write(files["too_low_rate"], soxr.resample(speech, rate, 4000), 4000)
    files["missing"] = d / "no_such_file.wav"
    return files


def test_every_awkward_input_is_answered_or_refused_clearly_and_nothing_else_is_lost(awkward_files) -> None:
    order = ["rate8000", "empty", "rate22050", "header_only", "rate44100", "text", "rate48000", "stereo",
             "too_low_rate", "flac", "truncated", "mp3", "silence", "missing"]
    result = run_cli("analyze", *(str(awkward_files[k]) for k in order), timeout=900)
    assert result.code == 2, "a refused file makes the exit non-zero"
    by_source: dict[str, list[dict]] = {}
    for scene in result.scenes:
        by_source.setdefault(scene["source"], []).append(scene)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]

    def text_of(key: str) -> str:
        return " ".join(s["text"] or "" for s in by_source[str(awkward_files[key])]).lower()

    for key in ("rate8000", "rate22050", "rate44100", "rate48000", "stereo"):
        assert {"child", "hurt", "small", "dog"} <= words_of(text_of(key)), key
    assert "ask not what your country" in text_of("flac").replace(",", "")
    assert "permission is hereby granted" in text_of("mp3").replace(",", "")
    assert [s["kind"] for s in by_source[str(awkward_files["silence"])]] == ["silence"]
    assert "child" in text_of("truncated")  # the first second survives and is heard
    expected = {"empty": "the file is empty (0 bytes)", "header_only": "not an audio file",
                "text": "not an audio file", "too_low_rate": "4000 Hz is too low",
                "missing": "no such file"}
    assert len(errors) == len(expected), errors
    for key, words in expected.items():
        assert any(str(awkward_files[key]) in e and words in e for e in errors), (key, errors)


def test_talk_answers_a_real_recording_with_a_spoken_reply_that_transcribes_back(tmp_path, faster_engine) -> None:
    out = tmp_path / "reply.wav"
    result = run_cli("talk", "--in", str(SPEECH / "spk1_snt3.wav"), "--out", str(out))
    assert result.code == 0, result.stderr
    kinds = [s["kind"] for s in result.scenes]
    assert kinds == ["turn", "reply", "spoken"]
    heard, reply, spoken = result.scenes
    assert {"high", "level", "air", "pure"} <= words_of(heard["text"])
    assert reply["parents"] == [heard["id"]] and spoken["parents"] == [reply["id"]]
    assert reply["plan"]["follows_speaker"] is True
    samples, rate = sf.read(out, dtype="float32")
    assert len(samples) / rate > 1.0
    assert 20 * np.log10(np.sqrt(np.mean(samples**2))) > -35, "the reply is audible"
    said = words_of(faster_engine.transcribe(load_16k(out)).text)
    planned = words_of(reply["text"])
    assert len(said & planned) / len(planned) >= 0.7, (said, planned)
    stages = [h["stage"] for h in spoken["hops"]]
    assert stages.index("voice.asr") < stages.index("mind.in") < stages.index("voice.out", stages.index("mind.in"))


def test_talk_on_silence_says_there_is_nothing_to_answer(tmp_path) -> None:
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(32000, np.float32), 16000)
    result = run_cli("talk", "--in", str(silent), "--out", str(tmp_path / "r.wav"))
    assert result.code == 2
    assert "no speech found (it is silent)" in result.stderr
    assert not (tmp_path / "r.wav").exists()


def test_say_writes_the_speech_and_its_measured_scene(tmp_path) -> None:
    out = tmp_path / "hello.wav"
    result = run_cli("say", "Good evening. The lamp is warm and the room is quiet.", "-o", str(out))
    assert result.code == 0, result.stderr
    samples, rate = sf.read(out, dtype="float32")
    assert rate == 22050 and len(samples) / rate > 2.0
    scene = json.loads(out.with_suffix(".json").read_text())
    assert scene["kind"] == "spoken" and scene["plan"]["voice"] == "joe"
    assert 70 < scene["sound"]["f0_median_hz"] < 140   # the Joe voice speaks around 96 Hz
    assert scene["sound"]["rate_wps"] > 1.5
    # The scene file it wrote can be spoken again, here in another register.
    again = tmp_path / "again.wav"
    result = run_cli("say", str(out.with_suffix(".json")), "--register", "poetic", "-o", str(again))
    assert result.code == 0, result.stderr
    scene = json.loads(again.with_suffix(".json").read_text())
    assert scene["register"] == "poetic" and scene["text"].startswith("Good evening.")


def test_say_refuses_a_malformed_scene_naming_the_field(tmp_path) -> None:
    result = run_cli("say", '{"schema": 1, "channel": "voice", "kind": "reply", "text": 5}', "-o",
                     str(tmp_path / "x.wav"))
    assert result.code == 2
    assert "scene.text: expected a string" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["say", "hello", "-o", "{tmp}/missing/x.wav"], "the folder {tmp}/missing does not exist"),
    (["say", "hello", "-o", "{tmp}/x.mp3"], "give it a .wav name"),
    (["say", "-o", "{tmp}/x.wav"], "say needs TEXT"),
    (["say", "hello", "--mode", "sleepy", "-o", "{tmp}/x.wav"], "mode 'sleepy' has no manner"),
    (["talk", "--in", str(SPEECH / "jfk.flac"), "--out", "{tmp}/reply.ogg"], "give it a .wav name"),
], ids=["missing-folder", "not-wav", "no-text", "unknown-mode", "talk-not-wav"])
def test_a_wrong_output_or_request_is_refused_before_any_speech_is_made(tmp_path, args, message) -> None:
    result = run_cli(*[a.format(tmp=tmp_path) for a in args])
    assert result.code == 2, result.stderr
    assert message.format(tmp=tmp_path) in result.stderr
    assert "Traceback" not in result.stderr
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_main_job_without_a_microphone_says_so_and_answers_the_bundled_recording(tmp_path) -> None:
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path), "PULSE_SERVER": f"unix:{tmp_path}/none"}
    result = run_cli(env=env, cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "No microphone to listen to" in result.stderr
    assert f"the reply goes to {tmp_path / 'reply.wav'}" in result.stderr
    samples, rate = sf.read(tmp_path / "reply.wav", dtype="float32")
    assert len(samples) / rate > 2.0
    assert [s["kind"] for s in result.scenes] == ["turn", "reply", "spoken"]
    assert "ask not what your country" in result.scenes[0]["text"].lower().replace(",", "")


def test_a_wrong_option_in_the_config_is_refused_by_name(tmp_path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[modules.voice]\nvad_treshold = 0.4\n")
    result = run_cli("analyze", "--config", str(config), str(SPEECH / "spk1_snt1.wav"))
    assert result.code == 2
    assert "modules.voice.vad_treshold: unknown field" in result.stderr

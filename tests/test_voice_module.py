"""The voice module on a bus, in schema 2: its errors as error scenes with their reasons and
exit codes, ``done`` with a count, the announced voice, plots where the request asks, and
the stages traced by the bus."""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Callable

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT
from module_harness import run_module

from agent.bus import SceneBus, error_scene
from agent.errors import ScenevoiceError
from agent.parts import Request, Result
from agent.scene import Scene
from agent.voiceplan import VoicePlan
from modules.voice.asr.ct2_convert import ConversionError
from modules.voice.asr.weights import WeightsMissing
from modules.voice.io.audio import AudioError, OutputPathError
from modules.voice.io.devices import DeviceError
from modules.voice.module import VoiceModule
from modules.voice.speak.plot import PlotError
from modules.voice.tts.bark.imports import BarkMissing
from modules.voice.tts.bark.models import BarkWeightsMissing
from modules.voice.tts.piper import VoiceMissing

#: every error class of the module: (class, its reason, its exit code, the builtin callers catch).
ERRORS = [
    (AudioError, "input.unreadable", 2, ValueError),
    (OutputPathError, "input.output-path", 2, OSError),
    (PlotError, "input.unreadable", 2, ValueError),
    (WeightsMissing, "model.missing", 3, RuntimeError),
    (VoiceMissing, "model.missing", 3, RuntimeError),
    (BarkWeightsMissing, "model.missing", 3, RuntimeError),
    (BarkMissing, "model.missing", 3, RuntimeError),
    (ConversionError, "model.missing", 3, RuntimeError),
    (DeviceError, "device.missing", 3, RuntimeError),
]


@pytest.mark.parametrize(("cls", "reason", "code", "builtin"), ERRORS, ids=[e[0].__name__ for e in ERRORS])
def test_an_error_scene_from_each_module_error_carries_its_reason_and_exit_code(cls, reason, code, builtin) -> None:
    cause = Scene(channel="voice", kind="listen.file", request=Request(path="x.wav"))
    exc = cls("x.wav: something is wrong", subject="x.wav")
    assert isinstance(exc, ScenevoiceError) and isinstance(exc, builtin)
    scene = error_scene(cause, exc)
    assert scene.kind == "error" and scene.parents == [cause.id]
    assert (scene.error.reason, scene.error.exit_code, scene.error.subject) == (reason, code, "x.wav")
    assert scene.error.message == "x.wav: something is wrong" and scene.text is None and scene.context is None
    assert Scene.from_json(scene.to_json()) == scene


async def _run(scenes: list[Scene], until: Callable[[Scene], bool], **options) -> list[Scene]:
    """Every scene on the bus until one ``until`` accepts, around a VoiceModule (Piper)."""
    return await run_module(VoiceModule({"tts": "piper", **options}), scenes, until, timeout_s=120)


def test_the_voice_profile_is_announced_on_start_with_the_voice_tables_numbers() -> None:
    seen = asyncio.run(_run([], lambda s: s.kind == "voice.profile"))
    (announced,) = seen
    row = tomllib.loads((ROOT / "assets" / "voices.toml").read_text())["piper"]["joe"]
    voice = announced.voice
    assert (announced.channel, voice.engine, voice.voice) == ("voice", "piper", "joe")
    assert (voice.f0_hz, voice.rate_wps, voice.min_f0_hz, voice.max_f0_hz) == (
        row["natural_f0_hz"],
        row["natural_rate_wps"],
        row["min_f0_hz"],
        row["max_f0_hz"],
    )


def test_a_voice_not_in_the_table_is_not_announced_and_a_reply_then_fails_as_model_missing() -> None:
    reply = Scene(channel="voice", kind="reply", text="Hello.")
    seen = asyncio.run(_run([reply], lambda s: s.kind == "error", voice="nobody"))
    assert [s.kind for s in seen] == ["error"]
    assert seen[0].error.reason == "model.missing" and "nobody" in seen[0].error.message


class _SilentAsr:
    """Stands in for Whisper where no speech reaches it (a file of silence)."""

    multilingual = False

    def transcribe(self, samples):  # pragma: no cover - never called on silence
        raise AssertionError("silence must not reach the ASR")


def test_done_after_listen_file_carries_the_count_of_scenes_heard(tmp_path, monkeypatch) -> None:
    from modules.voice.engines import VoiceEngines

    monkeypatch.setattr(VoiceEngines, "asr", lambda self: _SilentAsr())
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(32000, np.float32), 16000)
    request = Scene(channel="voice", kind="listen.file", request=Request(path=str(quiet)))
    seen = asyncio.run(_run([request], lambda s: s.kind in ("done", "error")))
    heard = [s for s in seen if s.parents == [request.id] and s.kind == "silence"]
    (done,) = [s for s in seen if s.kind == "done"]
    assert len(heard) == 1 and heard[0].source == str(quiet)
    assert done.result == Result(count=1) and done.text is None and done.source is None
    # The stages were traced by the bus's trace, between the request's hops.
    stages = [h.stage for h in heard[0].hops]
    assert stages[:2] == ["watch.out", "voice.in"] and {"voice.decode", "voice.vad", "voice.analyse"} <= set(stages)


@pytest.mark.parametrize(
    ("path", "reason"),
    [("missing.wav", "input.missing"), ("notes.wav", "input.unreadable"), (None, "input.bad-request")],
)
def test_a_file_that_cannot_be_heard_becomes_an_error_scene_with_its_reason(tmp_path, path, reason) -> None:
    (tmp_path / "notes.wav").write_text("this is not audio\n")
    request = Scene(channel="voice", kind="listen.turn", request=Request(path=str(tmp_path / path) if path else None))
    seen = asyncio.run(_run([request], lambda s: s.kind == "error"))
    (error,) = [s for s in seen if s.kind == "error"]
    assert error.parents == [request.id] and error.error.reason == reason and error.error.exit_code == 2


def test_a_reply_to_a_wrong_output_name_is_refused_as_an_output_path_error(tmp_path) -> None:
    reply = Scene(channel="voice", kind="reply", text="Hello.")
    seen = asyncio.run(_run([reply], lambda s: s.kind == "error", output=str(tmp_path / "x.mp3")))
    (error,) = [s for s in seen if s.kind == "error"]
    assert error.error.reason == "input.output-path" and "give it a .wav name" in error.error.message
    assert error.error.subject == str(tmp_path / "x.mp3")


def _spoken_json(folder, name: str = "spoken") -> tuple:
    t = np.arange(32000) / 16000
    wav = folder / f"{name}.wav"
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 120 * t)).astype(np.float32), 16000)
    scene = Scene(
        channel="voice",
        kind="spoken",
        text="Hello.",
        plan=VoicePlan(f0_median_hz=120.0, f0_range_st=4.0),
        result=Result(path=str(wav)),
    )
    path = folder / f"{name}.json"
    path.write_text(scene.to_json())
    return path, wav


@pytest.mark.slow
def test_the_plot_requests_out_path_is_honoured_and_done_names_the_png(tmp_path) -> None:
    json_path, _ = _spoken_json(tmp_path)
    (tmp_path / "pictures").mkdir()
    out = tmp_path / "pictures" / "drawn.png"
    request = Scene(channel="voice", kind="plot", request=Request(path=str(json_path), out_path=str(out)))
    seen = asyncio.run(_run([request], lambda s: s.kind in ("done", "error")))
    (done,) = [s for s in seen if s.kind in ("done", "error")]
    assert done.kind == "done", done.error
    assert done.result == Result(path=str(out)) and done.text is None
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not json_path.with_suffix(".png").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["drawn.png"]  # no partial file left


def test_a_plot_into_a_missing_folder_is_an_output_path_error(tmp_path) -> None:
    json_path, _ = _spoken_json(tmp_path)
    out = tmp_path / "nowhere" / "x.png"
    request = Scene(channel="voice", kind="plot", request=Request(path=str(json_path), out_path=str(out)))
    seen = asyncio.run(_run([request], lambda s: s.kind in ("done", "error")))
    (error,) = [s for s in seen if s.kind == "error"]
    assert error.error.reason == "input.output-path" and error.error.exit_code == 2


def test_the_audio_of_a_plot_is_found_from_the_scenes_result_path_only_inside_its_folder(tmp_path) -> None:
    from modules.voice.speak import plot

    drawn = []
    folder = tmp_path / "scenes"
    folder.mkdir()
    inside, wav = _spoken_json(folder, "take")
    renamed = inside.with_name("renamed.json")
    inside.rename(renamed)  # no WAV of its name beside it: the scene's result.path leads to take.wav

    def spy(scene, audio, png):
        drawn.append(audio)
        return png

    original, plot.plot_scene = plot.plot_scene, spy
    try:
        plot.plot_request(renamed)
        assert drawn == [wav.resolve()]
        outside, _ = _spoken_json(tmp_path, "secret")
        moved = folder / "evil.json"
        scene = Scene.from_json(outside.read_text())
        scene.result = Result(path="../secret.wav")
        moved.write_text(scene.to_json())
        with pytest.raises(PlotError, match="no audio beside it"):
            plot.plot_request(moved)
    finally:
        plot.plot_scene = original


def test_a_trace_stamps_module_stages_between_the_causes_hops_and_the_derived_scene() -> None:
    cause = Scene(channel="voice", kind="reply", text="x").with_hop("mind.out")
    trace = SceneBus().trace(cause, "voice")
    trace.mark("tts.first")
    trace.mark("played")
    derived = trace.derive(kind="spoken", text="x")
    assert [h.stage for h in derived.hops] == ["mind.out", "voice.tts.first", "voice.played"]
    assert derived.parents == [cause.id] and [h.stage for h in cause.hops] == ["mind.out"]
    assert derived.hops[1].t_unix_s <= derived.hops[2].t_unix_s

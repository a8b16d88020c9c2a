"""Reading a recorded session folder: what is whole comes back exactly, what is damaged is
named, and nothing outside the folder is read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from conftest import ROOT
from session_folder import RATE_HZ, recorded_file, write_session_folder

from agent.parts import Request
from agent.record.reader import RecordingError, read_recording
from agent.scene import Scene

#: one 16-bit step: a WAV written and read back is this close to the samples given.
STEP = 1.0 / 32768


@pytest.fixture(scope="module")
def jfk_16k() -> np.ndarray:
    samples, rate_hz = sf.read(ROOT / "assets" / "audio" / "jfk.flac", dtype="float32", always_2d=True)
    return soxr.resample(samples.mean(axis=1), rate_hz, RATE_HZ).astype(np.float32)


def _heard(request: Scene) -> list[Scene]:
    """Three heard scenes on the stream's clock; the second spans the 4 s rotation."""
    return [
        Scene(channel="voice", kind="utterance", t_start=0.3, t_end=2.2, text="And so my fellow", parents=[request.id]),
        Scene(channel="voice", kind="utterance", t_start=3.4, t_end=5.6, text="ask not", parents=[request.id]),
        Scene(channel="voice", kind="sound", t_start=9.0, t_end=10.5, parents=[request.id]),
    ]


@pytest.fixture
def folder(tmp_path: Path, jfk_16k: np.ndarray) -> tuple[Path, Scene, list[Scene]]:
    """A whole folder: jfk.flac in three files (rotated every 4 s) and three heard scenes."""
    request = Scene(channel="voice", kind="listen.live")
    heard = _heard(request)
    write_session_folder(tmp_path / "s", request, heard, jfk_16k, rotate_s=4.0)
    return tmp_path / "s", request, heard


def _lines(folder: Path) -> list[str]:
    return (folder / "scenes.jsonl").read_text().splitlines(keepends=True)


def test_a_whole_folder_reads_back_every_scene_and_file_without_problems(folder, jfk_16k) -> None:
    path, request, heard = folder
    rec = read_recording(path)
    assert rec.problems == []
    assert rec.session["format"] == "scenevoice-recording"
    assert len(rec.scenes) == 1 + 3 + 3  # the request, three recorded.mic, three heard
    assert [s.id for s in rec.heard()] == [s.id for s in heard]
    assert [(f.track, f.t_start, f.stream, f.rate_hz) for f in rec.files] == [
        ("mic", 0.0, request.id, RATE_HZ),
        ("mic", 4.0, request.id, RATE_HZ),
        ("mic", 8.0, request.id, RATE_HZ),
    ]
    assert sum(f.frames for f in rec.files) == len(jfk_16k)
    assert all(f.path.is_absolute() and f.path.parent == path.resolve() / "audio" for f in rec.files)
    assert rec.stream_of(heard[0]) == request.id


def test_a_scene_that_spans_a_rotation_joins_two_files_sample_for_sample(folder, jfk_16k) -> None:
    path, _, heard = folder
    audio = read_recording(path).audio(heard[1])  # 3.4–5.6 s: mic-000 and mic-001
    expected = jfk_16k[round(3.4 * RATE_HZ) : round(5.6 * RATE_HZ)]
    assert audio.dtype == np.float32
    assert audio.shape == expected.shape == (round(2.2 * RATE_HZ),)
    assert np.max(np.abs(audio - expected)) <= STEP


def test_a_last_line_cut_in_half_is_named_and_the_lines_before_it_are_read(folder) -> None:
    path, _, heard = folder
    lines = _lines(path)
    (path / "scenes.jsonl").write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    rec = read_recording(path)
    assert rec.problems == [f"scenes.jsonl line {len(lines)}: not JSON (cut short?)"]
    assert [s.id for s in rec.heard()] == [s.id for s in heard[:-1]]


def test_garbage_and_invalid_scenes_are_named_by_line_and_skipped(folder) -> None:
    path, _, heard = folder
    lines = _lines(path)
    bad_scene = json.dumps({"t_s": 1.0, "scene": {"schema": 2, "channel": "voice", "kind": "Not A Kind"}}) + "\n"
    (path / "scenes.jsonl").write_text(
        "".join([*lines[:2], "\x00\x01garbage{\n", bad_scene, '{"t_s": "soon", "scene": {}}\n', "[1, 2]\n", *lines[2:]])
    )
    rec = read_recording(path)
    assert rec.problems == [
        "scenes.jsonl line 3: not JSON",
        "scenes.jsonl line 4: scene.kind: 'Not A Kind' must be lower-case letters, digits and . _ -, "
        "starting with a letter",
        "scenes.jsonl line 5: t_s: expected seconds, got 'soon'",
        'scenes.jsonl line 6: not a {"t_s", "scene"} object',
    ]
    assert [s.id for s in rec.heard()] == [s.id for s in heard]
    assert len(rec.files) == 3


def test_a_wav_cut_short_gives_what_it_holds_and_a_stretch_past_it_is_refused(folder, jfk_16k) -> None:
    path, request, heard = folder
    last = path / "audio" / "mic-002.wav"
    data = last.read_bytes()
    last.write_bytes(data[: 44 + 2 * RATE_HZ])  # header (still saying ~3 s) and 1 s of data
    rec = read_recording(path)
    assert rec.problems == []
    assert rec.files[2].frames == RATE_HZ
    assert rec.files[2].t_end == pytest.approx(9.0)
    # 9.0–10.5 s lies wholly past what mic-002 holds.
    with pytest.raises(RecordingError, match="no recorded mic file covers") as caught:
        rec.audio(heard[2])
    assert caught.value.reason == "input.unreadable"
    # 8.5–10.5 s: the half second that is there, and no made-up tail.
    partly = Scene(channel="voice", kind="utterance", t_start=8.5, t_end=10.5, parents=[request.id])
    audio = rec.audio(partly)
    assert audio.shape == (RATE_HZ // 2,)
    assert np.max(np.abs(audio - jfk_16k[round(8.5 * RATE_HZ) : 9 * RATE_HZ])) <= STEP


def test_a_wav_whose_header_is_behind_its_data_reads_what_the_header_says(folder) -> None:
    path, _, _ = folder
    first = path / "audio" / "mic-000.wav"
    data = bytearray(first.read_bytes())
    at = data.find(b"data")
    data[at + 4 : at + 8] = (2 * RATE_HZ).to_bytes(4, "little")  # the header flushed at 1 s
    data[4:8] = (36 + 2 * RATE_HZ).to_bytes(4, "little")
    first.write_bytes(bytes(data))
    rec = read_recording(path)
    assert rec.files[0].frames == RATE_HZ
    assert rec.problems == []


def test_a_path_outside_the_folder_is_a_problem_and_is_not_read(folder) -> None:
    path, request, _ = folder
    escaping = recorded_file(request, "mic", 7, 20.0)
    absolute = recorded_file(request, "voice", 7, 20.0)
    escaping.result = type(escaping.result)(path="../../etc/passwd")
    absolute.result = type(absolute.result)(path="/etc/passwd")
    with (path / "scenes.jsonl").open("a") as out:
        for scene in (escaping, absolute):
            out.write(json.dumps({"t_s": 20.0, "scene": scene.to_dict()}) + "\n")
    rec = read_recording(path)
    assert len(rec.files) == 3
    assert all(f.path.is_relative_to(path.resolve()) for f in rec.files)
    assert rec.problems == [
        f"../../etc/passwd: outside the session folder (recorded.mic scene {escaping.id}), not read",
        f"/etc/passwd: an absolute path in recorded.voice scene {absolute.id}; "
        "files are named relative to the folder, not read",
    ]


def test_an_unreadable_or_missing_wav_is_named_and_the_others_still_serve(folder, jfk_16k) -> None:
    path, _, heard = folder
    (path / "audio" / "mic-002.wav").write_bytes(b"RIFF\x00\x00not a wav at all")
    (path / "audio" / "mic-001.wav").unlink()
    rec = read_recording(path)
    assert rec.problems[0] == "audio/mic-001.wav: missing"
    assert rec.problems[1].startswith("audio/mic-002.wav: unreadable: ")
    assert len(rec.problems) == 2
    assert [f.frames for f in rec.files] == [4 * RATE_HZ, 0, 0]
    # 3.4–5.6 s: mic-000 holds 3.4–4.0; the rest is in the missing file, so the tail is cut.
    assert rec.audio(heard[1]).shape == (round(0.6 * RATE_HZ),)


def test_a_missing_session_json_and_unknown_files_leave_the_scenes_readable(folder) -> None:
    path, _, heard = folder
    (path / "session.json").unlink()
    (path / "notes.txt").write_text("written by hand")
    (path / "audio" / "cover.png").write_bytes(b"\x89PNG")
    rec = read_recording(path)
    assert rec.session == {}
    assert rec.problems == ["session.json missing"]
    assert len(rec.heard()) == len(heard)


def test_a_damaged_session_json_is_named(folder) -> None:
    path, _, _ = folder
    (path / "session.json").write_text('{"format": "scenevoice-rec')
    rec = read_recording(path)
    assert rec.session == {}
    assert len(rec.problems) == 1 and rec.problems[0].startswith("session.json: unreadable: ")


def test_a_folder_that_does_not_exist_or_has_no_scenes_is_refused(tmp_path) -> None:
    with pytest.raises(RecordingError, match="no such session folder") as missing:
        read_recording(tmp_path / "nowhere")
    assert missing.value.reason == "input.missing"
    assert missing.value.exit_code == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecordingError, match="no scenes.jsonl") as empty:
        read_recording(tmp_path / "empty")
    assert empty.value.reason == "input.unreadable"


def test_a_scene_of_no_recorded_stream_has_no_audio(folder) -> None:
    path, _, _ = folder
    rec = read_recording(path)
    stray = Scene(channel="voice", kind="utterance", t_start=1.0, t_end=2.0, parents=["elsewhere"])
    assert rec.stream_of(stray) is None
    with pytest.raises(RecordingError, match="belongs to no recorded stream"):
        rec.audio(stray)


def test_two_streams_keep_their_own_clocks_and_files(tmp_path, jfk_16k) -> None:
    first, second = Scene(channel="voice", kind="listen.live"), Scene(channel="voice", kind="listen.live")
    heard_first = [Scene(channel="voice", kind="utterance", t_start=1.0, t_end=2.0, parents=[first.id])]
    heard_second = [Scene(channel="voice", kind="utterance", t_start=1.0, t_end=2.0, parents=[second.id])]
    write_session_folder(tmp_path, first, heard_first, jfk_16k[: 4 * RATE_HZ])
    write_session_folder(
        tmp_path, second, heard_second, jfk_16k[4 * RATE_HZ :], t_offset_s=30.0, first_index=1, append=True
    )
    rec = read_recording(tmp_path)
    assert rec.problems == []
    assert rec.streams() == [first.id, second.id]
    assert rec.recorded_at_s(second.id) == pytest.approx(30.0)
    # The same times on two clocks: each from its own stream's file.
    a, b = rec.audio(heard_first[0]), rec.audio(heard_second[0])
    assert np.max(np.abs(a - jfk_16k[RATE_HZ : 2 * RATE_HZ])) <= STEP
    assert np.max(np.abs(b - jfk_16k[5 * RATE_HZ : 6 * RATE_HZ])) <= STEP


def test_a_listen_file_request_names_the_file_it_heard(folder) -> None:
    """The request line round-trips with its typed part (a reader may show what was heard)."""
    path, _, _ = folder
    request = Scene(channel="voice", kind="listen.file", request=Request(path="speech.wav"))
    with (path / "scenes.jsonl").open("a") as out:
        out.write(json.dumps({"t_s": 40.0, "scene": request.to_dict()}) + "\n")
    scenes = read_recording(path).scenes
    assert scenes[-1] == (40.0, request)

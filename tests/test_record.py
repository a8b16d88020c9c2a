"""Recorded acoustic scenes (``agent/record``): the writer's pieces on their own, then
``run.py record`` on the virtual sound devices killed with SIGKILL, ``talk --record`` with
both sides, a disk that fills up while recording, and ``analyze --out``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SPEECH, load_16k, run_cli, words_of

from agent.record.options import RecordOptions
from agent.record.reader import read_recording
from agent.record.track import AudioTrack
from agent.scene import Scene
from bench.record_kill import RecordProcess, scene_lines, seconds_lost


def _track(folder: Path, announced: list, **kw) -> AudioTrack:
    (folder / "audio").mkdir(exist_ok=True)
    o = {"flush_s": 0.5, "rotate_s": 1.0, **kw}
    return AudioTrack(folder, "mic", 0.0, o["flush_s"], o["rotate_s"], lambda p, t: announced.append((p, t)))


def test_a_track_rotates_on_the_sample_and_cleans_what_pcm_cannot_hold(tmp_path) -> None:
    announced: list = []
    track = _track(tmp_path, announced)
    rng = np.random.default_rng(0)
    signal = (0.3 * rng.standard_normal(40_000)).astype(np.float32)
    signal[100], signal[200], signal[300] = np.nan, 3.0, -np.inf
    for block in np.array_split(signal, 37):  # blocks that do not fall on the file boundary
        track.write(block)
    track.close()
    assert announced == [("audio/mic-000.wav", 0.0), ("audio/mic-001.wav", 1.0), ("audio/mic-002.wav", 2.0)]
    parts = [sf.read(tmp_path / p, dtype="float32")[0] for p, _ in announced]
    assert [len(p) for p in parts] == [16_000, 16_000, 8_000]
    joined = np.concatenate(parts)
    assert joined[100] == 0.0 and joined[300] == 0.0 and joined[200] == pytest.approx(1.0, abs=1e-4)
    others = np.ones(len(signal), bool)
    others[[100, 200, 300]] = False
    clipped = np.clip(signal[others], -1, 1)
    assert np.max(np.abs(joined[others] - clipped)) < 1.0 / 32_000  # 16-bit steps


def test_a_track_read_while_it_is_written_holds_all_but_the_unflushed(tmp_path) -> None:
    """What a SIGKILL leaves: the file as it is on disk mid-write, copied and read."""
    track = _track(tmp_path, [], flush_s=0.25, rotate_s=60.0)
    for _ in range(100):  # 3.2 s in 32 ms blocks
        track.write(np.full(512, 0.25, np.float32))
    shutil.copy(tmp_path / "audio" / "mic-000.wav", tmp_path / "copy.wav")
    frames = len(sf.read(tmp_path / "copy.wav")[0])
    track.close()
    assert 3.2 - 0.25 <= frames / 16_000 <= 3.2


FILL_A_SMALL_DISK = """
import asyncio, json, logging, sys, time
from pathlib import Path
import numpy as np
from agent.record.scenelog import SceneLog
from agent.record.track import AudioTrack
from agent.scene import Scene
logging.basicConfig(level=logging.ERROR, format="%(message)s")
folder = Path(sys.argv[1])
(folder / "audio").mkdir()
track = AudioTrack(folder, "mic", 0.0, 0.5, 600.0, lambda p, t: None)
log = SceneLog(folder, time.monotonic())
for _ in range(8):  # 8 s of audio (256 kB) and scenes into 64 KiB
    track.write(np.zeros(16_000, np.float32))
    asyncio.run(log.write(Scene(channel="voice", kind="turn", text="x" * 2000)))
print(json.dumps({"track": track.failed, "scenes": log.failed, "seconds": track.frames / 16_000}))
"""


def test_a_full_disk_stops_the_recording_with_one_log_line_each_and_never_raises(tmp_path) -> None:
    """A real full disk: a 64 KiB tmpfs mounted in a private mount namespace (``unshare -rm``,
    util-linux; these machines run the tests as root)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    script = f'mount -t tmpfs -o size=64k tmpfs "{disk}" && exec "{sys.executable}" -c "$0" "{disk}"'
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, FILL_A_SMALL_DISK],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
    failed = json.loads(done.stdout)
    assert "No space left on device" in failed["track"] and "No space left on device" in failed["scenes"]
    assert 0.5 <= failed["seconds"] < 3.0  # what fitted was written
    stopped = [line for line in done.stderr.splitlines() if "stopped" in line]
    assert len(stopped) == 2, done.stderr  # one line each, not one per write
    assert all("the agent goes on" in line for line in stopped)


def test_record_options_refuse_what_would_lose_more_than_a_second() -> None:
    from agent.config import ConfigError

    assert RecordOptions.parse({}) == RecordOptions(0.5, 600.0)
    for bad in ({"flush_s": 2.0}, {"rotate_s": 0.1}, {"flush_s": "x"}, {"rotate": 5}):
        with pytest.raises(ConfigError, match="record"):
            RecordOptions.parse(bad)


def _turns(folder: Path) -> list[Scene]:
    return [s for s in read_recording(folder).heard() if s.kind == "turn"]


@pytest.mark.slow
@pytest.mark.audio_rig
def test_record_killed_with_sigkill_loses_under_a_second_and_everything_else_reads_back(tmp_path) -> None:
    from modules.voice.io.virtual_devices import audio_rig

    with audio_rig() as rig:
        recording = RecordProcess(
            tmp_path / "rec", {**rig.env, "XDG_DATA_HOME": str(tmp_path / "data")}, "--set", "record.rotate_s=2"
        )
        try:
            recording.wait_for("listening on")
            rig.play_into_mic(SPEECH / "spk1_snt1.wav")  # "The child almost hurt the small dog."
            recording.wait_for("small dog", timeout_s=60)
            time.sleep(1.3)  # mid-file: the kill lands between flushes and rotations
            killed = recording.kill()
        finally:
            recording.process.kill()
    folder = recording.folder
    assert folder is not None
    lost_s = seconds_lost(folder, killed)
    assert lost_s <= 1.0, f"{lost_s:.3f} s of audio lost at SIGKILL"
    read = read_recording(folder)
    assert [p for p in read.problems if "scenes.jsonl" not in p] == [], read.problems
    mics = sorted((f for f in read.files if f.track == "mic"), key=lambda f: f.t_start)
    assert len(mics) >= 3, "rotated every 2 s"
    for before, after in zip(mics, mics[1:]):  # one clock across files, no gap, no overlap
        assert after.t_start == pytest.approx(before.t_start + before.frames / 16_000, abs=1e-3)
    (turn,) = _turns(folder)
    assert {"child", "hurt", "dog"} <= words_of(turn.text or "")
    speech = read.audio(turn)
    assert len(speech) == pytest.approx((turn.t_end - turn.t_start) * 16_000, abs=2)
    quiet = read.span(read.stream_of(turn) or "", 0.0, max(0.05, turn.t_start - 0.3))
    rms = lambda x: 20 * np.log10(np.sqrt(np.mean(np.square(x))) + 1e-9)  # noqa: E731
    assert rms(speech) > rms(quiet) + 20, (rms(speech), rms(quiet))
    session = json.loads((folder / "session.json").read_text())
    assert session["command"] == "record" and session["devices"]["input"] and session["config"]["record"]


@pytest.mark.slow
@pytest.mark.audio_rig
def test_talk_records_both_sides_and_the_session_exports(tmp_path) -> None:
    """``talk --record``: what the microphone heard and what the agent said, as two tracks on
    one clock — the reply's audio is on the voice track after the turn, not on the mic
    track (no loopback on the rig) — and the folder exports to every format."""
    from modules.voice.io.virtual_devices import audio_rig

    with audio_rig() as rig:
        env = {**os.environ, **rig.env, "XDG_DATA_HOME": str(tmp_path / "data")}
        talk = subprocess.Popen(
            [".venv/bin/python", "run.py", "talk", "--record", str(tmp_path / "rec"), "--turns", "1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while not list((tmp_path / "rec").glob("*/audio/mic-000.wav")) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)
            rig.play_into_mic(SPEECH / "spk1_snt4.wav")
            out, _ = talk.communicate(timeout=90)
        finally:
            talk.kill()
    assert talk.returncode == 0, out
    (folder,) = (tmp_path / "rec").iterdir()
    read = read_recording(folder)
    (turn,) = _turns(folder)
    spoken = [s for _, s in read.scenes if s.kind == "spoken"]
    assert len(spoken) == 1 and read.session["devices"]["output"]
    stream = read.stream_of(turn) or ""
    end_s = max(f.t_start + f.duration_s for f in read.files if f.track == "voice")
    after = read.span(stream, turn.t_end, end_s, track="voice")
    tone_s = 1.0  # listening begins with a short tone (io/start_tone.py); then silence until the reply
    before = read.span(stream, tone_s, turn.t_start, track="voice")
    peak = lambda x: float(np.max(np.abs(x))) if len(x) else 0.0  # noqa: E731
    assert peak(after) > 0.05 and peak(before) < 0.01, (peak(after), peak(before))
    assert peak(read.audio(turn)) > 0.05
    for fmt in ("vtt", "srt", "textgrid", "jams"):
        done = run_cli("export", str(folder), "--to", fmt)
        assert done.code == 0, done.stderr
    import jams

    jam = jams.load(str(next(folder.glob("*.jams"))), validate=True)
    assert jam.search(namespace="pitch_contour")


@pytest.mark.slow
@pytest.mark.audio_rig
def test_a_disk_that_fills_while_recording_stops_the_recording_not_the_agent(tmp_path) -> None:
    """A 256 KiB tmpfs (mounted in a private mount namespace) fills within seconds: the log
    says the recording stopped, and the recorder still hears and reports what is said."""
    from modules.voice.io.virtual_devices import audio_rig

    disk = tmp_path / "disk"
    disk.mkdir()
    with audio_rig() as rig:
        env = {**os.environ, **rig.env, "XDG_DATA_HOME": str(tmp_path / "data")}
        script = f'mount -t tmpfs -o size=256k tmpfs "{disk}" && exec .venv/bin/python run.py record "{disk}"'
        proc = subprocess.Popen(["unshare", "-rm", "sh", "-c", script], env=env, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        import threading

        threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()  # type: ignore[arg-type]
        try:
            deadline = time.monotonic() + 120
            while not any("recording of mic stopped" in line for line in lines) and time.monotonic() < deadline:
                time.sleep(0.2)
            rig.play_into_mic(SPEECH / "spk1_snt1.wav")
            while not any("small dog" in line for line in lines) and time.monotonic() < deadline:
                time.sleep(0.2)
            alive = proc.poll() is None
        finally:
            proc.terminate()
            proc.wait(10)
    text = "".join(lines)
    assert "recording of mic stopped" in text and "No space left on device" in text, text[-2000:]
    assert "small dog" in text and alive, text[-2000:]
    assert "Traceback" not in text


@pytest.mark.slow
def test_analyze_out_writes_the_same_format_with_the_files_audio(tmp_path) -> None:
    done = run_cli("analyze", str(SPEECH / "jfk.flac"), str(SPEECH / "spk1_snt2.wav"), "--out", str(tmp_path))
    assert done.code == 0, done.stderr
    (folder,) = tmp_path.iterdir()
    read = read_recording(folder)
    assert read.problems == [] and read.session["command"] == "analyze"
    heard = read.heard()
    assert len(read.streams()) == 2 and len(heard) >= 3
    jfk = load_16k(SPEECH / "jfk.flac")
    first = heard[0]
    mine = read.audio(first)
    original = jfk[round(first.t_start * 16_000) : round(first.t_start * 16_000) + len(mine)]
    assert np.corrcoef(mine, original)[0, 1] > 0.99
    assert [s["kind"] for s in done.scenes][:1] == ["utterance"]
    assert len(scene_lines(folder)) > len(heard)

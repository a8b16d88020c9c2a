"""``run.py export``: a recorded session folder as WebVTT, SubRip, a Praat TextGrid and
JAMS, each read back by its own library (webvtt, srt, Praat, jams).

The quick tests write folders by hand (real speech, scenes made here); the slow ones
export what the voice module really heard in a real speech file.
"""

from __future__ import annotations

import asyncio
import html
import json
import math
import time
from datetime import timedelta
from pathlib import Path

import jams
import numpy as np
import parselmouth
import pytest
import soundfile as sf
import soxr
import srt
import webvtt
from conftest import DATA, ROOT, load_16k, run_cli, words_of
from parselmouth.praat import call
from session_folder import RATE_HZ, STARTED_UNIX_S, write_session_folder

from agent.cli.main import main
from agent.parts import Request, Result
from agent.record.jams_file import pitch_frames
from agent.record.reader import read_recording
from agent.record.textgrid import TIERS
from agent.record.timeline import build_timeline
from agent.scene import Hop, Scene
from agent.sound import Phrase, Sound

#: where the stream's clock starts on the session's (the recorded.mic line's t_s).
STREAM_AT_S = 0.25


@pytest.fixture(scope="module")
def jfk_16k() -> np.ndarray:
    samples, rate_hz = sf.read(ROOT / "assets" / "audio" / "jfk.flac", dtype="float32", always_2d=True)
    return soxr.resample(samples.mean(axis=1), rate_hz, RATE_HZ).astype(np.float32)


def _spoken(text: str, starts_unix_s: float, seconds: float, device: str | None = "speaker") -> Scene:
    """A reply the agent played: its first sound left at ``starts_unix_s`` (Unix s)."""
    return Scene(
        channel="voice",
        kind="spoken",
        text=text,
        t_start=0.0,
        t_end=seconds,
        result=Result(device=device) if device else Result(path="reply.wav"),
        hops=[Hop("voice.tts.first", starts_unix_s - 0.1), Hop("voice.audio.first", starts_unix_s)],
    )


def _heard(request: Scene) -> list[Scene]:
    """jfk.flac's first words as one utterance with two phrases, and a sound at 9–10.5 s."""
    sound = Sound(
        f0_median_hz=230.0,
        energy_db=-21.0,
        phrases=[
            Phrase(0.0, 1.5, "And so my fellow Americans,", f0_median_hz=228.0, energy_db=-22.5),
            Phrase(1.7, 3.2, "ask not <what> & why", f0_median_hz=241.0),
        ],
    )
    return [
        Scene(
            channel="voice",
            kind="utterance",
            t_start=0.3,
            t_end=3.6,
            text="And so my fellow Americans, ask not <what> & why",
            sound=sound,
            parents=[request.id],
        ),
        Scene(channel="voice", kind="sound", t_start=9.0, t_end=10.5, lexemes=["loud", "low"], parents=[request.id]),
    ]


@pytest.fixture
def folder(tmp_path: Path, jfk_16k: np.ndarray) -> Path:
    """jfk.flac heard in two 4-s files and… a reply played from 11.2 s on the timeline."""
    request = Scene(channel="voice", kind="listen.live")
    reply = _spoken("Thank you.", STARTED_UNIX_S + STREAM_AT_S + 11.2, 1.2)
    write_session_folder(
        tmp_path / "s1", request, _heard(request), jfk_16k, rotate_s=4.0, t_offset_s=STREAM_AT_S, extra=[(12.6, reply)]
    )
    return tmp_path / "s1"


# --- the timeline -----------------------------------------------------------------------


def test_phrases_sounds_and_a_played_reply_lie_on_the_first_streams_clock(folder) -> None:
    timeline = build_timeline(read_recording(folder))
    assert timeline.notes == []
    assert [(c.kind, c.t_start_s, c.t_end_s, c.speaker) for c in timeline.cues()] == [
        ("phrase", 0.3, 1.8, None),
        ("phrase", 2.0, 3.5, None),
        ("sound", 9.0, 10.5, None),
        ("spoken", 11.2, 12.4, "agent"),
    ]
    assert [c.text for c in timeline.cues()] == [
        "And so my fellow Americans,",
        "ask not <what> & why",
        "sound: loud low",
        "Thank you.",
    ]
    assert timeline.duration_s == 12.4  # the reply ends after the 11 s of audio


def test_a_phrase_whose_words_begin_before_its_utterance_starts_with_the_utterance(tmp_path, jfk_16k) -> None:
    """Whisper's word times can begin before the stretch the VAD heard (jfk.flac: "ask
    not" at -0.92 s); the cue keeps to the utterance, whose audio holds the words."""
    request = Scene(channel="voice", kind="listen.file")
    early = Sound(phrases=[Phrase(-0.924, 1.376, "ask not")])
    heard = Scene(
        channel="voice", kind="utterance", t_start=3.196, t_end=4.516, text="ask not", sound=early, parents=[request.id]
    )
    write_session_folder(tmp_path, request, [heard], jfk_16k)
    assert [(c.t_start_s, c.t_end_s) for c in build_timeline(read_recording(tmp_path)).cues()] == [(3.196, 4.516)]


def test_a_second_stream_is_moved_by_its_start_on_the_session_clock(tmp_path, jfk_16k) -> None:
    first, second = Scene(channel="voice", kind="listen.live"), Scene(channel="voice", kind="listen.live")
    one = Scene(channel="voice", kind="utterance", t_start=1.0, t_end=2.0, text="one", parents=[first.id])
    two = Scene(channel="voice", kind="utterance", t_start=1.0, t_end=2.0, text="two", parents=[second.id])
    write_session_folder(tmp_path, first, [one], jfk_16k[: 4 * RATE_HZ], t_offset_s=0.5)
    write_session_folder(tmp_path, second, [two], jfk_16k[4 * RATE_HZ :], t_offset_s=30.5, first_index=1, append=True)
    timeline = build_timeline(read_recording(tmp_path))
    assert timeline.offsets_s == {first.id: 0.0, second.id: 30.0}
    assert [(c.text, c.t_start_s, c.t_end_s) for c in timeline.cues()] == [("one", 1.0, 2.0), ("two", 31.0, 32.0)]
    assert timeline.duration_s == pytest.approx(30.0 + len(jfk_16k[4 * RATE_HZ :]) / RATE_HZ, abs=1e-3)


def test_replies_that_cannot_be_placed_are_left_out_and_noted(tmp_path, jfk_16k) -> None:
    request = Scene(channel="voice", kind="listen.live")
    written = _spoken("Written, not played.", STARTED_UNIX_S + 5.0, 1.0, device=None)
    unplayed = Scene(channel="voice", kind="spoken", text="No play time.", t_start=0.0, t_end=1.0)
    write_session_folder(tmp_path, request, _heard(request), jfk_16k, extra=[(6.0, written), (7.0, unplayed)])
    timeline = build_timeline(read_recording(tmp_path))
    assert timeline.replies == []
    assert timeline.notes == [
        "1 of the agent's replies were written to files, not played: not timed",
        "1 of the agent's replies cannot be placed (no play times): left out",
    ]


def test_without_session_json_replies_have_no_clock_but_the_words_stay(folder) -> None:
    (folder / "session.json").unlink()
    timeline = build_timeline(read_recording(folder))
    assert [r.text for r in timeline.replies] == []
    assert timeline.notes == [
        "1 of the agent's replies cannot be placed (session.json has no started_unix_s): left out"
    ]
    assert len(timeline.phrases) == 2


# --- each format, read back by its own library ------------------------------------------


def test_the_vtt_reads_back_with_webvtt_cue_for_cue(folder) -> None:
    assert main(["export", str(folder), "--to", "vtt"]) == 0
    captions = list(webvtt.read(str(folder / "s1.vtt")))
    assert [(c.start, c.end, html.unescape(c.text), c.voice) for c in captions] == [
        ("00:00:00.300", "00:00:01.800", "And so my fellow Americans,", None),
        ("00:00:02.000", "00:00:03.500", "ask not <what> & why", None),
        ("00:00:09.000", "00:00:10.500", "[sound: loud low]", None),
        ("00:00:11.200", "00:00:12.400", "Thank you.", "agent"),
    ]


def test_the_srt_reads_back_with_srt_and_names_the_agent(folder, tmp_path) -> None:
    out = tmp_path / "subs.srt"
    assert main(["export", str(folder), "--to", "srt", "-o", str(out)]) == 0
    subtitles = list(srt.parse(out.read_text()))
    assert [(s.index, s.start, s.content) for s in subtitles] == [
        (1, timedelta(seconds=0.3), "And so my fellow Americans,"),
        (2, timedelta(seconds=2.0), "ask not <what> & why"),
        (3, timedelta(seconds=9.0), "[sound: loud low]"),
        (4, timedelta(seconds=11.2), "agent: Thank you."),
    ]
    assert subtitles[-1].end == timedelta(seconds=12.4)


def _tiers(path: Path) -> tuple[dict[str, int], parselmouth.Data]:
    grid = parselmouth.Data.read(str(path))
    return {call(grid, "Get tier name", n): n for n in range(1, call(grid, "Get number of tiers") + 1)}, grid


def test_the_textgrid_opens_in_praat_with_every_tier_and_the_words_at_their_times(folder) -> None:
    assert main(["export", str(folder), "--to", "textgrid"]) == 0
    tiers, grid = _tiers(folder / "s1.TextGrid")
    assert list(tiers) == list(TIERS)
    assert call(grid, "Get end time") == pytest.approx(12.4)

    def label_at(tier: str, t_s: float) -> str:
        return call(grid, "Get label of interval", tiers[tier], call(grid, "Get interval at time", tiers[tier], t_s))

    assert label_at("utterances", 2.0) == "And so my fellow Americans, ask not <what> & why"
    assert label_at("phrases", 1.0) == "And so my fellow Americans,"
    assert label_at("phrases", 2.5) == "ask not <what> & why"
    assert label_at("phrases", 1.9) == ""  # the pause between them
    assert label_at("speaker", 1.0) == "user"
    assert label_at("speaker", 12.0) == "agent"
    assert label_at("sounds", 10.0) == "sound: loud low"
    assert label_at("agent", 12.0) == "Thank you."
    assert call(grid, "Get number of points", tiers["prosody"]) == 2
    assert call(grid, "Get time of point", tiers["prosody"], 1) == pytest.approx(1.05)
    assert call(grid, "Get label of point", tiers["prosody"], 1) == "f0_median_hz=228.0 energy_db=-22.5"


def test_a_reply_over_the_users_speech_is_moved_in_the_textgrids_speaker_tier(tmp_path, jfk_16k) -> None:
    request = Scene(channel="voice", kind="listen.live")
    over = _spoken("Sorry, go on.", STARTED_UNIX_S + STREAM_AT_S + 3.0, 1.0)  # 3.0–4.0 s, the user until 3.6
    write_session_folder(tmp_path / "s", request, _heard(request), jfk_16k, t_offset_s=STREAM_AT_S, extra=[(5, over)])
    assert main(["export", str(tmp_path / "s"), "--to", "textgrid"]) == 0
    tiers, grid = _tiers(tmp_path / "s" / "s.TextGrid")
    speaker = tiers["speaker"]
    agent = call(grid, "Get interval at time", speaker, 3.8)
    assert call(grid, "Get label of interval", speaker, agent) == "agent"
    assert call(grid, "Get start time of interval", speaker, agent) == pytest.approx(3.6)
    assert call(grid, "Get label of interval", tiers["agent"], call(grid, "Get interval at time", tiers["agent"], 3.2))


def test_the_jams_validates_and_its_pitch_is_praats_on_the_recorded_audio(folder, jfk_16k) -> None:
    assert main(["export", str(folder), "--to", "jams"]) == 0
    jam = jams.load(str(folder / "s1.jams"), validate=True)
    assert jam.file_metadata.duration == pytest.approx(12.4)
    heard, said = jam.search(namespace="lyrics")
    assert [o.value for o in heard.data] == ["And so my fellow Americans,", "ask not <what> & why"]
    assert [(o.time, o.value) for o in said.data] == [(11.2, "Thank you.")]
    speakers, kinds = jam.search(namespace="segment_open")
    assert [o.value for o in speakers.data] == ["user", "agent"]
    assert [o.value for o in kinds.data] == ["utterance", "sound"]
    assert [o.value for o in jam.search(namespace="tag_open")[0].data] == ["sound: loud low"]
    measures = jam.search(namespace="blob")[0].data
    assert measures[0].value["f0_median_hz"] == 228.0 and measures[0].value["energy_db"] == -22.5
    contour = jam.search(namespace="pitch_contour")[0].data
    times = np.array([o.time for o in contour])
    f0_hz = np.array([o.value["frequency"] for o in contour])
    assert times[0] >= 0.3 and times[-1] <= 3.6
    assert np.median(np.diff(times)) == pytest.approx(0.01)
    # Praat on the same stretch of the original audio: the same median (the WAV is 16-bit).
    _, reference_hz = pitch_frames(jfk_16k[round(0.3 * RATE_HZ) : round(3.6 * RATE_HZ)])
    assert np.median(f0_hz[f0_hz > 0]) == pytest.approx(np.median(reference_hz[reference_hz > 0]), rel=0.01)
    assert all(o.value["voiced"] == (o.value["frequency"] > 0) for o in contour)


# --- the command on damaged and wrong folders -------------------------------------------


def test_a_killed_folder_exports_what_is_readable_and_names_the_rest(folder, capsys) -> None:
    lines = (folder / "scenes.jsonl").read_text().splitlines(keepends=True)
    (folder / "scenes.jsonl").write_text("".join(lines[:-1]) + lines[-1][:40])  # the reply's line, cut
    last = folder / "audio" / "mic-002.wav"
    last.write_bytes(last.read_bytes()[: 44 + RATE_HZ])  # half a second of the last file
    assert main(["export", str(folder), "--to", "jams"]) == 0
    err = capsys.readouterr().err
    assert f"warning: s1: scenes.jsonl line {len(lines)}: not JSON (cut short?)" in err
    jam = jams.load(str(folder / "s1.jams"), validate=True)
    assert [o.value for o in jam.search(namespace="lyrics")[0].data] == [
        "And so my fellow Americans,",
        "ask not <what> & why",
    ]
    assert jam.search(namespace="lyrics")[1].data == []  # the reply was on the line cut short
    assert jam.sandbox.scenevoice["problems"] == [f"scenes.jsonl line {len(lines)}: not JSON (cut short?)"]


def test_a_folder_with_no_readable_scene_exits_2(tmp_path, capsys) -> None:
    (tmp_path / "scenes.jsonl").write_text('{"t_s": 0.1, "scene": {"kind"\n')
    assert main(["export", str(tmp_path), "--to", "vtt"]) == 2
    assert "no readable scene; nothing to export" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.vtt"))


def test_a_missing_folder_or_one_without_scenes_exits_2_and_says_why(tmp_path, capsys, folder) -> None:
    assert main(["export", str(tmp_path / "nowhere"), "--to", "srt"]) == 2
    assert "no such session folder" in capsys.readouterr().err
    # The folder that holds session folders (what `record DIR` was given): name the newest.
    assert main(["export", str(folder.parent), "--to", "srt"]) == 2
    assert f"holds session folders, not one; give one of them (the newest: {folder})" in capsys.readouterr().err


def test_an_output_in_a_missing_folder_exits_2_and_one_in_a_folder_takes_the_sessions_name(folder, tmp_path) -> None:
    assert main(["export", str(folder), "--to", "vtt", "-o", str(tmp_path / "no" / "such.vtt")]) == 2
    (tmp_path / "out").mkdir()
    assert main(["export", str(folder), "--to", "vtt", "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "s1.vtt").is_file()


# --- what the voice module really heard -------------------------------------------------

SPEECH = DATA / "speech" / "jfk.flac"


@pytest.fixture(scope="module")
def analysed(tmp_path_factory) -> tuple[Path, list[Scene]]:
    """A session folder of what the voice module heard in jfk.flac (one run per module):
    the request, the heard scenes and ``done`` as they came, the file as ``mic-000.wav``."""
    from agent.config import load_config
    from agent.session import Session

    async def hear() -> list[tuple[float, Scene]]:
        started = time.monotonic()
        request = Scene(channel="voice", kind="listen.file", request=Request(path=str(SPEECH)))
        got = [(0.0, request)]
        async with Session(load_config(None, []), only={"voice"}) as session:
            async for scene in session.request(request, until=lambda s: s.kind in ("done", "error"), timeout_s=600):
                got.append((time.monotonic() - started, scene))
        return got

    lines = asyncio.run(hear())
    assert lines[-1][1].kind == "done", lines[-1][1].error
    folder = tmp_path_factory.mktemp("analysed") / "20260921-125320"
    request, heard = lines[0][1], [s for _, s in lines[1:-1]]
    write_session_folder(folder, request, heard, load_16k(SPEECH), t_offset_s=0.0, extra=[lines[-1]])
    return folder, heard


@pytest.mark.slow
def test_the_vtt_of_a_real_analysis_holds_the_transcripts_words_within_the_audio(analysed) -> None:
    folder, heard = analysed
    assert main(["export", str(folder), "--to", "vtt"]) == 0
    captions = list(webvtt.read(str(folder / f"{folder.name}.vtt")))
    words = words_of(" ".join(html.unescape(c.text) for c in captions))
    assert words_of(json.loads((DATA / "MANIFEST.json").read_text())["speech"]["speech/jfk.flac"]["text"]) <= words
    duration_s = sf.info(SPEECH).duration
    assert all(0 <= c.start_in_seconds < c.end_in_seconds <= duration_s + 0.01 for c in captions)
    assert len(captions) >= sum(1 for s in heard if s.kind in ("turn", "utterance"))


@pytest.mark.slow
def test_the_srt_of_a_real_analysis_parses_with_srt(analysed) -> None:
    folder, _ = analysed
    assert main(["export", str(folder), "--to", "srt"]) == 0
    subtitles = list(srt.parse((folder / f"{folder.name}.srt").read_text()))
    assert [s.index for s in subtitles] == list(range(1, len(subtitles) + 1))
    assert "country" in " ".join(s.content for s in subtitles).lower()


@pytest.mark.slow
def test_the_textgrid_of_a_real_analysis_has_each_utterance_and_phrase(analysed) -> None:
    folder, heard = analysed
    assert main(["export", str(folder), "--to", "textgrid"]) == 0
    tiers, grid = _tiers(folder / f"{folder.name}.TextGrid")
    assert list(tiers) == list(TIERS)
    utterances = [s for s in heard if s.kind in ("turn", "utterance")]
    labelled = [
        call(grid, "Get label of interval", tiers["utterances"], i)
        for i in range(1, call(grid, "Get number of intervals", tiers["utterances"]) + 1)
    ]
    assert [label for label in labelled if label] == [s.text.strip() for s in utterances]
    phrase = next(p for s in utterances for p in (s.sound.phrases or []))
    owner = next(s for s in utterances if s.sound.phrases and phrase in s.sound.phrases)
    middle_s = owner.t_start + (phrase.t_start + phrase.t_end) / 2
    at = call(grid, "Get interval at time", tiers["phrases"], middle_s)
    assert call(grid, "Get label of interval", tiers["phrases"], at) == phrase.text.strip()


@pytest.mark.slow
def test_the_jams_pitch_of_a_real_analysis_is_within_a_semitone_of_the_analysers(analysed) -> None:
    folder, heard = analysed
    assert main(["export", str(folder), "--to", "jams"]) == 0
    jam = jams.load(str(folder / f"{folder.name}.jams"), validate=True)
    contour = jam.search(namespace="pitch_contour")[0].data
    utterances = [s for s in heard if s.kind in ("turn", "utterance")]
    for index, scene in enumerate(utterances):
        f0_hz = np.array([o.value["frequency"] for o in contour if o.value["index"] == index])
        median_hz = float(np.median(f0_hz[f0_hz > 0]))
        assert abs(12 * math.log2(median_hz / scene.sound.f0_median_hz)) < 1.0, (index, median_hz, scene.sound)


@pytest.mark.slow
def test_run_py_export_writes_the_file_and_says_so(analysed) -> None:
    folder, _ = analysed
    result = run_cli("export", str(folder), "--to", "srt", "-o", str(folder / "cli.srt"))
    assert result.code == 0, result.stderr
    assert f"wrote {folder / 'cli.srt'}" in result.stderr
    assert list(srt.parse((folder / "cli.srt").read_text()))

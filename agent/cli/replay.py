"""``run.py replay DIR``: a recorded session's audio through today's agent, turn by turn,
and what changed against what was recorded.

Each recorded ``turn`` (or, in an ``analyze --out`` folder, each ``utterance``) is cut from
the recorded microphone (``agent/record/reader.py``) and heard again as one turn
(``listen.turn``), in order, in one session, as fast as the machine goes; the mind answers
each as it comes. Replies are voiced into a file, not played. What the agent remembers is
left alone: the replay runs with an empty memory of its own (a temporary data folder), so a
session recorded with an empty memory replays like for like. Per turn it reports each field
that changed (transcript, core, mode, register, reply, the plan's manner, rate, pitch and
level) and whether the change is within tolerance (:class:`~agent.record.replay.Tolerances`).

Exit 0 when nothing changed beyond tolerance, 1 when something did (or a turn could not be
heard again), 2 when DIR holds no recorded turn. A damaged folder replays what is readable;
each thing that was not is named on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import soundfile as sf

from agent.cli.common import report_failed, say
from agent.config import Config, load_config
from agent.errors import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK
from agent.parts import Request
from agent.record import RATE_HZ
from agent.record.reader import Recording, RecordingError, read_recording
from agent.record.replay import Outcome, Tolerances, TurnReport, compare, outcome_of
from agent.scene import Scene
from agent.session import Session

#: the kinds of recorded scene that are replayed, the first present in a stream wins.
REPLAYED = ("turn", "utterance")
#: how long one stream's replay may take (an hour of audio on a slow CPU).
REPLAY_TIMEOUT_S = 3 * 3600.0


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    t = Tolerances()
    p = sub.add_parser(
        "replay",
        parents=[common],
        help="re-run a recorded session's audio through today's agent; report what changed (exit 1: beyond tolerance)",
        epilog=f"Tolerances: transcript WER ≤ {t.wer}; reply ≥ {t.reply_similarity:.0%} of its words alike; "
        f"plan rate ±{t.rate_ratio:.0%}, pitch ±{t.f0_st} st, level ±{t.energy_db} dB; "
        "core, mode, register and manner exactly.",
    )
    p.add_argument("dir", metavar="DIR", help="a session folder (from record, talk/serve --record, analyze --out)")
    p.add_argument("--json", action="store_true", help="one JSON object per turn on stdout instead of the report")


def _stream_audio(recording: Recording, stream: str, wav: Path) -> float:
    """The stream's whole microphone track into ``wav``; returns the stream-clock time of
    its first sample. Raises RecordingError when the stream has no readable audio."""
    files = [f for f in recording.files if f.stream == stream and f.track == "mic" and f.frames]
    if not files:
        raise RecordingError(f"stream {stream[:8]}: no readable microphone audio")
    t0 = min(f.t_start for f in files)
    t1 = max(f.t_end for f in files)
    sf.write(wav, recording.span(stream, t0, t1), RATE_HZ, subtype="PCM_16")
    return t0


def _overlap_s(a: Scene, b: Scene, shift_s: float) -> float:
    return min(a.t_end or 0.0, (b.t_end or 0.0) + shift_s) - max(a.t_start or 0.0, (b.t_start or 0.0) + shift_s)


async def _replay_stream(
    make_config: Callable[[list[str]], Config], recording: Recording, stream: str, kind: str, tmp: Path, tol: Tolerances
) -> list[TurnReport]:
    wav = tmp / f"{stream[:12]}.wav"
    t0 = _stream_audio(recording, stream, wav)
    live = kind == "turn"
    request = Scene(
        channel="voice",
        kind="listen.live" if live else "listen.file",
        request=None if live else Request(path=str(wav)),
        source="replay",
    )
    seen: list[Scene] = []
    async with Session(make_config([f"modules.voice.input_file={json.dumps(str(wav))}"] if live else [])) as session:
        report_failed(session)
        async for scene in session.request(
            request, until=lambda s: s.kind in ("done", "error") and request.id in s.parents, timeout_s=REPLAY_TIMEOUT_S
        ):
            seen.append(scene)
        await asyncio.sleep(0)
    if seen and seen[-1].kind == "error":
        raise RuntimeError(seen[-1].error.message if seen[-1].error else "an error")
    recorded_scenes = [s for _, s in recording.scenes]
    was_heard = [s for s in recording.heard() if s.kind == kind and recording.stream_of(s) == stream]
    now_heard = [s for s in seen if s.kind == kind]
    reports: list[TurnReport] = []
    used: set[str] = set()
    for turn in was_heard:
        at = recorded_scenes.index(turn)
        was = outcome_of(turn, recorded_scenes[at:])
        report = TurnReport(0, turn.t_start, was, None)
        match = max(now_heard, key=lambda s: _overlap_s(turn, s, t0), default=None)
        if match is None or _overlap_s(turn, match, t0) <= 0 or match.id in used:
            report.error = "not heard again (no turn now where it was)"
        else:
            used.add(match.id)
            report.now = outcome_of(match, seen[seen.index(match) :])
            report.changes = compare(was, report.now, tol)
        reports.append(report)
    for extra in (s for s in now_heard if s.id not in used):
        report = TurnReport(0, (extra.t_start or 0.0) + t0, Outcome(), outcome_of(extra, seen[seen.index(extra) :]))
        report.error = f"a new {kind} now, not in the recording: {extra.text!r}"
        reports.append(report)
    return sorted(reports, key=lambda r: r.t_start or 0.0)


async def _replay(
    make_config: Callable[[list[str]], Config], recording: Recording, tol: Tolerances
) -> list[TurnReport]:
    """Each recorded stream heard again (see the module docstring), its turns matched to the
    recorded ones by their overlap in time."""
    reports: list[TurnReport] = []
    with tempfile.TemporaryDirectory(prefix="scenevoice-replay-") as tmp:
        for stream in recording.streams():
            kinds = {s.kind for s in recording.heard() if recording.stream_of(s) == stream}
            kind = next((k for k in REPLAYED if k in kinds), None)
            if kind is None:
                continue
            say(f"replaying stream {stream[:8]} ({kind}s)…")
            try:
                reports += await _replay_stream(make_config, recording, stream, kind, Path(tmp), tol)
            except (RecordingError, RuntimeError) as exc:
                say(f"warning: stream {stream[:8]} not replayed: {exc}")
                report = TurnReport(0, None, Outcome(), None)
                report.error = str(exc)
                reports.append(report)
    for n, report in enumerate(reports, 1):
        report.index = n
    return reports


def _print(reports: list[TurnReport]) -> None:
    for r in reports:
        at = f" at {r.t_start:.2f} s" if r.t_start is not None else ""
        heard = (r.recorded.transcript or "")[:60]
        if r.error is not None:
            print(f"turn {r.index}{at} ({heard!r}): not replayed: {r.error}")
            continue
        if not r.changes:
            print(f"turn {r.index}{at} ({heard!r}): unchanged")
            continue
        print(f"turn {r.index}{at} ({heard!r}):")
        for c in r.changes:
            verdict = "within tolerance" if c.within else "CHANGED"
            by = f" ({c.by})" if c.by else ""
            print(f"    {c.field}: {verdict}{by}: {c.recorded!r} → {c.now!r}")
    beyond = sum(r.changed for r in reports)
    print(f"{len(reports)} turn(s) replayed: {len(reports) - beyond} as recorded (within tolerance), {beyond} changed")


def run(config: Config, args: argparse.Namespace) -> int:
    try:
        recording = read_recording(args.dir)
    except RecordingError as exc:
        say(f"error: {exc}")
        return exc.exit_code
    for problem in recording.problems:
        say(f"warning: {problem}")
    if not any(s.kind in REPLAYED for s in recording.heard()):
        say(f"error: {args.dir} holds no recorded turn to replay")
        return EXIT_INPUT
    with tempfile.TemporaryDirectory(prefix="scenevoice-replay-memory-") as memory:
        os.environ["XDG_DATA_HOME"] = memory  # an empty memory, not the user's
        reply_wav = Path(memory) / "reply.wav"
        asr = [f"modules.voice.asr={json.dumps(args.asr)}"] if args.asr else []
        overrides = [*args.overrides, *asr, f"modules.voice.output={json.dumps(str(reply_wav))}"]
        load_config(args.config, overrides)  # a wrong config is said before anything runs

        def make_config(more: list[str]) -> Config:
            return load_config(args.config, [*overrides, *more])

        reports = asyncio.run(_replay(make_config, recording, Tolerances()))
    if args.json:
        for r in reports:
            print(json.dumps(r.to_dict(), ensure_ascii=False))
    else:
        _print(reports)
    if not reports:
        return EXIT_INTERNAL
    return 1 if any(r.changed for r in reports) else EXIT_OK

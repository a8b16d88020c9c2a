"""Reading a recorded session folder (the format is :mod:`agent.record`'s docstring).

``read_recording(folder)`` takes whatever is readable — a folder killed mid-write, a line
cut in half, a WAV whose header is behind its data, a scene that no longer validates — and
lists each thing it could not read as one sentence in :attr:`Recording.problems`. Only a
folder that does not exist, or holds no ``scenes.jsonl`` at all, is refused.

Times: a heard scene's ``t_start``/``t_end`` and a recorded file's ``t_start`` are seconds
on the clock of the stream they belong to (see the format); ``t_s`` of a line is seconds
on the session's clock. Audio comes back as float32 mono at :data:`RATE_HZ`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agent.errors import ScenevoiceError
from agent.record import RATE_HZ, SCENES_FILE, SESSION_FILE, TRACKS
from agent.scene import Scene, SceneError

#: the kinds of scene that say what was heard, in the order they came.
HEARD_KINDS = ("turn", "utterance", "sound", "silence")


class RecordingError(ScenevoiceError):
    """A session folder cannot be read at all (``input.missing`` when it does not exist), or
    a stretch of audio asked of it is in no recorded file (``input.unreadable``)."""

    reason = "input.unreadable"


@dataclass(frozen=True)
class RecordedFile:
    """One audio file of a session folder, as its ``recorded.*`` scene announced it.

    Attributes:
        track: ``mic`` (what the agent heard) or ``voice`` (what it played).
        path: the file, absolute (always inside the session folder).
        t_start: its first sample's time on its stream's clock, seconds.
        stream: the id of the request that opened the stream (the scene's ``parents[0]``).
        rate_hz: its sample rate, Hz (0 if unreadable).
        frames: the frames soundfile can read from it (0 if unreadable; a file killed
            mid-write may hold more than its header says, and only these are read).
    """

    track: str
    path: Path
    t_start: float
    stream: str
    rate_hz: int
    frames: int

    @property
    def duration_s(self) -> float:
        """Seconds of readable audio."""
        return self.frames / self.rate_hz if self.rate_hz else 0.0

    @property
    def t_end(self) -> float:
        """The end of its readable audio on its stream's clock, seconds."""
        return self.t_start + self.duration_s


@dataclass
class Recording:
    """What a session folder holds, as far as it could be read.

    Attributes:
        folder: the session folder (absolute).
        session: ``session.json`` as a dict; ``{}`` when missing or damaged.
        scenes: every readable line of ``scenes.jsonl`` as ``(t_s, scene)``, in file order;
            ``t_s`` is seconds since the session started, on its clock.
        files: the audio files announced by ``recorded.mic``/``recorded.voice`` scenes that
            lie inside the folder, in the order announced (unreadable ones with 0 frames).
        problems: one sentence per thing that could not be read, naming the file (and line).
    """

    folder: Path
    session: dict[str, Any] = field(default_factory=dict)
    scenes: list[tuple[float, Scene]] = field(default_factory=list)
    files: list[RecordedFile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def heard(self) -> list[Scene]:
        """The ``turn``/``utterance``/``sound``/``silence`` scenes, in file order."""
        return [scene for _, scene in self.scenes if scene.kind in HEARD_KINDS]

    def streams(self) -> list[str]:
        """The ids of the streams that have recorded files, in the order first announced."""
        return list(dict.fromkeys(f.stream for f in self.files))

    def stream_of(self, scene: Scene) -> str | None:
        """The stream a heard scene belongs to: the first of its parents that opened a
        stream with recorded files; None when none did (nothing of it was recorded)."""
        streams = {f.stream for f in self.files}
        return next((p for p in scene.parents if p in streams), None)

    def recorded_at_s(self, stream: str, track: str = "mic") -> float | None:
        """The session time (``t_s``) at which the first ``recorded.<track>`` scene of
        ``stream`` crossed the bus, seconds; None when there is none."""
        kind = f"recorded.{track}"
        for t_s, scene in self.scenes:
            if scene.kind == kind and scene.parents[:1] == [stream]:
                return t_s
        return None

    def audio(self, scene: Scene, track: str = "mic") -> np.ndarray:
        """The recorded audio of ``scene``'s ``t_start``..``t_end`` on ``track``.

        Joins the files that cover it (a stretch that spans a rotation is in two). Samples
        inside the stretch that no file holds (a gap between files) are zeros; a tail no
        file holds (the unflushed end of a killed folder) is left out, so the array may be
        shorter than the stretch, never longer.

        Args:
            scene: a heard scene (its stream is :meth:`stream_of`), with times.
            track: ``mic`` or ``voice``.

        Returns:
            float32 samples at :data:`RATE_HZ`, shape ``(n,)``, sample 0 at ``t_start``.

        Raises:
            RecordingError: the scene has no times, belongs to no recorded stream, or no
                readable file of that stream and track covers any of it.
        """
        if scene.t_start is None or scene.t_end is None:
            raise RecordingError(
                f"{self.folder}: scene {scene.id} ({scene.kind}) has no t_start/t_end", subject=scene.id
            )
        stream = self.stream_of(scene)
        if stream is None:
            raise RecordingError(
                f"{self.folder}: scene {scene.id} ({scene.kind}) belongs to no recorded stream", subject=scene.id
            )
        return self.span(stream, scene.t_start, scene.t_end, track, what=f"scene {scene.id} ({scene.kind})")

    def span(
        self, stream: str, t_start: float, t_end: float, track: str = "mic", what: str = "the stretch"
    ) -> np.ndarray:
        """The recorded audio of ``t_start``..``t_end`` (seconds on ``stream``'s clock) on
        ``track``, as :meth:`audio` gives it.

        Raises:
            RecordingError: no readable file of that stream and track covers any of it.
        """
        start = round(t_start * RATE_HZ)
        out = np.zeros(max(0, round(t_end * RATE_HZ) - start), np.float32)
        covered_to = 0  # samples of ``out`` up to the end of the last file that covered any
        for rec in self.files:
            if rec.stream != stream or rec.track != track or rec.frames == 0:
                continue
            samples = _read_span(rec, t_start, t_end)
            if samples is None:
                continue
            at = round(max(rec.t_start, t_start) * RATE_HZ) - start
            n = min(len(samples), len(out) - at)
            if n <= 0:
                continue
            out[at : at + n] = samples[:n]
            covered_to = max(covered_to, at + n)
        if covered_to == 0 and len(out) > 0:
            raise RecordingError(
                f"{self.folder}: no recorded {track} file covers {what} ({t_start:.3f}–{t_end:.3f} s)",
                subject=str(self.folder),
            )
        return out[:covered_to]


def _read_span(rec: RecordedFile, t_start: float, t_end: float) -> np.ndarray | None:
    """The part of ``rec`` within ``t_start``..``t_end`` (stream clock), float32 at
    :data:`RATE_HZ`; None when it holds none of it or cannot be read now."""
    import soundfile as sf

    first = max(0, round((t_start - rec.t_start) * rec.rate_hz))
    last = min(rec.frames, round((t_end - rec.t_start) * rec.rate_hz))
    if last <= first:
        return None
    try:
        samples, _ = sf.read(str(rec.path), start=first, stop=last, dtype="float32", always_2d=True)
    except (OSError, RuntimeError):  # soundfile's errors are RuntimeErrors
        return None
    mono = samples.mean(axis=1, dtype=np.float32)
    if rec.rate_hz != RATE_HZ:
        import soxr

        mono = soxr.resample(mono, rec.rate_hz, RATE_HZ).astype(np.float32)
    return mono


def read_recording(folder: str | Path) -> Recording:
    """Read the session folder ``folder`` (see :mod:`agent.record`), tolerantly.

    Reads ``session.json``, every line of ``scenes.jsonl`` that is a valid
    ``{"t_s", "scene"}`` object, and the header of each audio file a ``recorded.mic``/
    ``recorded.voice`` scene announces. Anything that cannot be read (a line cut short, a
    scene that does not validate, a file missing, unreadable or outside the folder, a
    missing ``session.json``) becomes one sentence in ``problems``; the rest is kept.

    Raises:
        RecordingError: ``folder`` does not exist (reason ``input.missing``), is not a
            folder, or has no readable ``scenes.jsonl``.
    """
    root = Path(folder).expanduser().absolute()
    if not root.exists():
        raise RecordingError(f"{root}: no such session folder", reason="input.missing", subject=str(root))
    if not root.is_dir():
        raise RecordingError(
            f"{root}: not a session folder (a folder holding {SCENES_FILE} and {SESSION_FILE})", subject=str(root)
        )
    scenes_path = root / SCENES_FILE
    try:
        raw = scenes_path.read_bytes()
    except FileNotFoundError:
        raise RecordingError(
            f"{root}: no {SCENES_FILE}: not a session folder (give the folder `run.py record` made)",
            subject=str(scenes_path),
        ) from None
    except OSError as exc:
        raise RecordingError(f"{scenes_path}: cannot be read: {exc}", subject=str(scenes_path)) from None
    recording = Recording(folder=root)
    recording.session = _read_session(root / SESSION_FILE, recording.problems)
    recording.scenes = _read_scenes(raw, recording.problems)
    recording.files = _read_files(root, recording.scenes, recording.problems)
    return recording


def _read_session(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{SESSION_FILE} missing")
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{SESSION_FILE}: unreadable: {exc}")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{SESSION_FILE}: expected a JSON object, got {type(data).__name__}")
        return {}
    return data


def _read_scenes(raw: bytes, problems: list[str]) -> list[tuple[float, Scene]]:
    lines = raw.split(b"\n")
    # The last line of a folder killed mid-write has no newline: it may be cut short.
    unfinished = len(lines) if lines and lines[-1].strip() else None
    scenes = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{SCENES_FILE} line {number}"
        try:
            data = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            problems.append(f"{where}: not JSON" + (" (cut short?)" if number == unfinished else ""))
            continue
        t_s = data.get("t_s") if isinstance(data, dict) else None
        if not isinstance(data, dict) or "scene" not in data or isinstance(t_s, bool):
            problems.append(f'{where}: not a {{"t_s", "scene"}} object')
            continue
        if not isinstance(t_s, int | float):
            problems.append(f"{where}: t_s: expected seconds, got {t_s!r}")
            continue
        try:
            scene = Scene.from_dict(data["scene"])
        except SceneError as exc:
            problems.append(f"{where}: {exc}")
            continue
        scenes.append((float(t_s), scene))
    return scenes


def _read_files(root: Path, scenes: list[tuple[float, Scene]], problems: list[str]) -> list[RecordedFile]:
    import soundfile as sf

    inside = root.resolve()
    files: list[RecordedFile] = []
    seen: set[Path] = set()
    for _, scene in scenes:
        track = TRACKS.get(scene.kind)
        if track is None:
            continue
        named = scene.result.path if scene.result is not None else None
        what = f"{scene.kind} scene {scene.id}"
        if not named:
            problems.append(f"{what}: no result.path")
            continue
        if Path(named).is_absolute():
            problems.append(f"{named}: an absolute path in {what}; files are named relative to the folder, not read")
            continue
        path = (root / named).resolve()
        if not path.is_relative_to(inside):
            problems.append(f"{named}: outside the session folder ({what}), not read")
            continue
        if scene.t_start is None:
            problems.append(f"{named}: {what} has no t_start, not read")
            continue
        if not scene.parents:
            problems.append(f"{named}: {what} names no stream (no parents), not read")
            continue
        if path in seen:
            continue
        seen.add(path)
        rate_hz = frames = 0
        if not path.is_file():
            problems.append(f"{named}: missing")
        else:
            try:
                info = sf.info(str(path))
                rate_hz, frames = int(info.samplerate), int(info.frames)
            except (OSError, RuntimeError) as exc:  # soundfile's errors are RuntimeErrors
                problems.append(f"{named}: unreadable: {exc}")
            else:
                if frames == 0:
                    problems.append(f"{named}: no audio in it yet (killed before its first flush?)")
                elif rate_hz != RATE_HZ:
                    problems.append(f"{named}: {rate_hz} Hz, not {RATE_HZ} Hz (resampled when read)")
        files.append(RecordedFile(track, path, float(scene.t_start), scene.parents[0], rate_hz, frames))
    return files

"""Session folders written by hand, exactly as ``agent/record``'s docstring specifies, for
tests of the readers (``agent.record.reader``, ``run.py export``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from agent.parts import Result
from agent.scene import Scene

RATE_HZ = 16_000
STARTED_UNIX_S = 1_790_000_000.0


def recorded_file(stream: Scene, track: str, index: int, t_start: float) -> Scene:
    """The ``recorded.<track>`` scene announcing ``audio/<track>-<index>.wav`` of ``stream``."""
    return Scene(
        channel="voice",
        kind=f"recorded.{track}",
        t_start=t_start,
        result=Result(path=f"audio/{track}-{index:03d}.wav"),
        parents=[stream.id],
    )


def write_session_folder(
    folder: Path,
    request: Scene,
    heard: Sequence[Scene],
    mic_16k: np.ndarray,
    rotate_s: float = 3600.0,
    t_offset_s: float = 0.25,
    extra: Sequence[tuple[float, Scene]] = (),
    first_index: int = 0,
    append: bool = False,
) -> list[Scene]:
    """Write (or, with ``append``, add a stream to) a session folder: ``session.json``,
    ``audio/mic-NNN.wav`` (``mic_16k`` cut every ``rotate_s`` seconds, 16-bit), and
    ``scenes.jsonl`` with the request, each file's ``recorded.mic`` scene, the heard
    scenes and ``extra`` lines. The stream's clock starts ``t_offset_s`` after the session
    (a line's ``t_s`` is a scene's end on the stream clock plus ``t_offset_s``).

    Returns:
        the ``recorded.mic`` scenes written.
    """
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    if not append:
        session = {
            "format": "scenevoice-recording",
            "version": 1,
            "command": "test",
            "started": "2026-09-21T12:53:20Z",
            "started_unix_s": STARTED_UNIX_S,
            "config": {},
            "versions": {},
            "devices": {"input": None, "output": None},
            "record": {"flush_s": 1.0, "rotate_s": rotate_s},
        }
        (folder / "session.json").write_text(json.dumps(session))
    lines: list[tuple[float, Scene]] = [(t_offset_s, request)]
    announced = []
    per_file = int(rotate_s * RATE_HZ)
    for i, first in enumerate(range(0, len(mic_16k), per_file)):
        sf.write(
            folder / "audio" / f"mic-{first_index + i:03d}.wav", mic_16k[first : first + per_file], RATE_HZ, "PCM_16"
        )
        rec = recorded_file(request, "mic", first_index + i, first / RATE_HZ)
        announced.append(rec)
        lines.append((t_offset_s + first / RATE_HZ, rec))
    lines += [(t_offset_s + (s.t_end or 0.0), s) for s in heard]
    lines += extra
    lines.sort(key=lambda line: line[0])
    with (folder / "scenes.jsonl").open("a" if append else "w", encoding="utf-8") as out:
        for t_s, scene in lines:
            out.write(json.dumps({"t_s": round(t_s, 3), "scene": scene.to_dict()}, ensure_ascii=False) + "\n")
    return announced

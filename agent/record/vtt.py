"""WebVTT captions of a recorded session (``run.py export DIR --to vtt``), via ``webvtt-py``.

One cue per phrase of heard speech (the whole utterance where it has no phrases), per
sound without words (``[sound: loud low]``) and per reply of the agent that could be
placed; a cue with a speaker is a voice span (``<v agent>…``). Times are on the
timeline of :mod:`agent.record.timeline`.
"""

from __future__ import annotations

from pathlib import Path

from agent.files import write_text_atomically
from agent.record.timeline import Span, Timeline


def clock(t_s: float) -> str:
    """``HH:MM:SS.mmm`` for ``t_s`` seconds (≥ 0), as WebVTT writes times."""
    ms = round(max(t_s, 0.0) * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def escape(text: str) -> str:
    """Cue text with WebVTT's markup characters escaped (``&``, ``<``, ``>``), on one line."""
    return " ".join(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").split())


def cue_text(span: Span) -> str:
    """The text of ``span``'s cue: a voice span when it has a speaker, ``[…]`` for a sound."""
    if span.kind == "sound":
        return f"[{escape(span.text)}]"
    if span.speaker is None:
        return escape(span.text)
    return f"<v {escape(span.speaker)}>{escape(span.text)}</v>"


def vtt_text(timeline: Timeline) -> str:
    """The WebVTT file's text (UTF-8), cues by start time; a NOTE names the folder."""
    import webvtt

    captions = [
        webvtt.Caption(clock(span.t_start_s), clock(span.t_end_s), cue_text(span))
        for span in timeline.cues()
        if round(span.t_end_s * 1000) > round(span.t_start_s * 1000)
    ]
    note = f"scenevoice recording {timeline.recording.folder.name}"
    return webvtt.WebVTT(captions=captions, header_comments=[note]).content


def write_vtt(timeline: Timeline, path: str | Path) -> list[str]:
    """Write ``timeline``'s cues to ``path`` as WebVTT, atomically.

    Returns:
        notes on what was left out (none: every cue fits).

    Raises:
        OSError: ``path`` cannot be written.
    """
    text = vtt_text(timeline)
    write_text_atomically(path, text)
    return []

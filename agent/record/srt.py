"""SubRip subtitles of a recorded session (``run.py export DIR --to srt``), via ``srt``.

The cues of the VTT export (:mod:`agent.record.vtt`); SubRip has no voice spans, so a
cue with a speaker begins ``speaker: ``, and a sound reads ``[sound: loud low]``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from agent.files import write_text_atomically
from agent.record.timeline import Span, Timeline


def cue_text(span: Span) -> str:
    """The text of ``span``'s subtitle (one line)."""
    words = " ".join(span.text.split())
    if span.kind == "sound":
        return f"[{words}]"
    return f"{span.speaker}: {words}" if span.speaker is not None else words


def srt_text(timeline: Timeline) -> str:
    """The SubRip file's text, subtitles numbered from 1 by start time."""
    import srt

    subtitles = [
        srt.Subtitle(
            index=0,
            start=timedelta(milliseconds=round(span.t_start_s * 1000)),
            end=timedelta(milliseconds=round(span.t_end_s * 1000)),
            content=cue_text(span),
        )
        for span in timeline.cues()
        if round(span.t_end_s * 1000) > round(span.t_start_s * 1000)
    ]
    return srt.compose(subtitles, reindex=True, start_index=1)


def write_srt(timeline: Timeline, path: str | Path) -> list[str]:
    """Write ``timeline``'s cues to ``path`` as SubRip, atomically.

    Returns:
        notes on what was left out (none: every cue fits).

    Raises:
        OSError: ``path`` cannot be written.
    """
    text = srt_text(timeline)
    write_text_atomically(path, text)
    return []

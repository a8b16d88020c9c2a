"""A Praat TextGrid of a recorded session (``run.py export DIR --to textgrid``), written by
Praat itself (through ``parselmouth``), so Praat opens it as its own.

Tiers (interval tiers unless said):

``utterances``  each heard turn or utterance, its words.
``phrases``     its phrases (``Sound.phrases``), or the whole utterance where it has none.
``speaker``     who speaks when: the scene's ``speaker`` (``user`` when not named),
                ``agent`` for the agent's replies.
``sounds``      sounds without words, described (``sound: loud low``).
``agent``       the agent's replies that could be placed, their words.
``prosody``     a point tier: at the middle of each phrase, its measures as
                ``f0_median_hz=118.2 energy_db=-24.1`` (Hz, dBFS; what was measured).

A tier holds no overlapping intervals: where two overlap (the agent talked over, two
voices at once), the later one starts where the earlier ends, and a note says how many.
Times are on the timeline of :mod:`agent.record.timeline`, rounded to the millisecond.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.files import write_atomically
from agent.record.timeline import Span, Timeline
from agent.sound import Phrase, Sound

INTERVAL_TIERS = ("utterances", "phrases", "speaker", "sounds", "agent")
POINT_TIERS = ("prosody",)
TIERS = (*INTERVAL_TIERS, *POINT_TIERS)
#: the measures the prosody tier gives, in this order.
PROSODY_FIELDS = ("f0_median_hz", "f0_range_st", "energy_db", "rate_wps")


def _ms(t_s: float) -> float:
    return round(t_s, 3)


def prosody_label(measured: Sound | Phrase | None) -> str:
    """``f0_median_hz=118.2 energy_db=-24.1 …`` for what was measured ("" for nothing)."""
    if measured is None:
        return ""
    values = [(name, getattr(measured, name)) for name in PROSODY_FIELDS]
    return " ".join(f"{name}={value:.1f}" for name, value in values if value is not None)


def tier_intervals(spans: list[tuple[float, float, str]], xmax_s: float) -> tuple[list[tuple[float, float, str]], int]:
    """``(start, end, text)`` intervals made fit for one tier: rounded to the millisecond,
    inside 0..``xmax_s``, by start, none overlapping (a later one starts where the one
    before ends; one left empty is dropped). Returns them and how many were clipped or
    dropped."""
    fitted: list[tuple[float, float, str]] = []
    moved = 0
    for start, end, text in sorted((_ms(max(a, 0.0)), _ms(min(b, xmax_s)), t) for a, b, t in spans):
        if fitted and start < fitted[-1][1]:
            start = fitted[-1][1]
            moved += 1
        if end > start:
            fitted.append((start, end, text))
    return fitted, moved


def textgrid_of(timeline: Timeline) -> tuple[Any, list[str]]:
    """The Praat TextGrid object of ``timeline`` (0..duration) and notes on what was moved.

    Raises:
        parselmouth.PraatError: Praat refuses something (a bug here, not user input).
    """
    from parselmouth.praat import call

    xmax_s = max(_ms(timeline.duration_s), 0.001)
    grid = call("Create TextGrid", 0.0, xmax_s, " ".join(TIERS), " ".join(POINT_TIERS))
    speech = [(s.t_start_s, s.t_end_s, s.text) for s in timeline.speech]
    who = [(s.t_start_s, s.t_end_s, s.who) for s in [*timeline.speech, *timeline.replies]]
    tiers: dict[str, list[tuple[float, float, str]]] = {
        "utterances": speech,
        "phrases": [(s.t_start_s, s.t_end_s, s.text) for s in timeline.phrases],
        "speaker": who,
        "sounds": [(s.t_start_s, s.t_end_s, s.text) for s in timeline.sounds],
        "agent": [(s.t_start_s, s.t_end_s, s.text) for s in timeline.replies],
    }
    notes = []
    for number, name in enumerate(INTERVAL_TIERS, start=1):
        intervals, moved = tier_intervals(tiers[name], xmax_s)
        if moved:
            notes.append(f"textgrid: {moved} interval(s) of tier {name!r} overlapped an earlier one: moved or dropped")
        boundaries = sorted({t for start, end, _ in intervals for t in (start, end) if 0.0 < t < xmax_s})
        for t in boundaries:
            call(grid, "Insert boundary", number, t)
        for start, end, text in intervals:
            interval = call(grid, "Get interval at time", number, (start + end) / 2)
            call(grid, "Set interval text", number, interval, " ".join(text.split()))
    _prosody_points(grid, len(INTERVAL_TIERS) + 1, timeline.phrases, xmax_s)
    return grid, notes


def _prosody_points(grid: Any, tier: int, phrases: list[Span], xmax_s: float) -> None:
    from parselmouth.praat import call

    taken: set[float] = set()
    for span in phrases:
        label = prosody_label(span.sound)
        at_s = _ms((span.t_start_s + span.t_end_s) / 2)
        if label and 0.0 < at_s < xmax_s and at_s not in taken:  # Praat refuses two points at one time
            call(grid, "Insert point", tier, at_s, label)
            taken.add(at_s)


def write_textgrid(timeline: Timeline, path: str | Path) -> list[str]:
    """Write ``timeline`` to ``path`` as a Praat TextGrid (Praat's text format, UTF-8),
    atomically.

    Returns:
        notes on intervals moved or dropped (see the module docstring).

    Raises:
        OSError: ``path`` cannot be written.
    """
    from parselmouth.praat import call

    grid, notes = textgrid_of(timeline)
    call("Text writing preferences", "UTF-8")  # else Praat writes UTF-16 for any non-ASCII text

    def save(partial: Path) -> None:
        try:
            call(grid, "Save as text file", str(partial))
        except Exception as exc:  # parselmouth.PraatError: Praat says why in its message
            raise OSError(f"Praat cannot write {partial.name}: {exc}") from exc

    write_atomically(path, save)
    return notes

"""Rhythm: pauses found in the level track, speaking rate (spoken words and syllables per
second) and phrases with their own pitch, level and rate.

Word timings are ``(text, start_s, end_s)``; pauses are ``(start_s, duration_s)``; level
tracks are dBFS on the analyser's grid (:mod:`.frames`, one frame every ``HOP_S`` s).
Words are counted by the agent's one rule (``agent.words``), as the voice planner counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agent.sound import Phrase
from agent.words import count_syllables, spoken_words

from .frames import HOP_S, segments_mask
from .level import energy_summary
from .pitch import pitch_summary
from .tracks import Tracks

#: a gap between words longer than this is a pause.
MIN_PAUSE_S = 0.15
#: a pause this long, or clause punctuation, ends a phrase.
PHRASE_PAUSE_S = 0.25
_CLAUSE_END = (".", ",", ";", ":", "?", "!", "…")


@dataclass
class RhythmSummary:
    """The pace of a stretch: spoken words and syllables per second, the share of it that
    is pause (0..1) and the pauses' starts (seconds); None where it cannot be measured."""

    rate_wps: float | None
    rate_sps: float | None
    pause_ratio: float | None
    pause_positions_s: list[float] | None


def pauses_s(
    level_db: np.ndarray, t0_s: float, t1_s: float, floor_db: float | None = None
) -> list[tuple[float, float]]:
    """Pauses inside ``[t0_s, t1_s]`` from the level track ``level_db`` (dBFS, shape
    (n_frames,)): runs of frames quieter than ``max(loud − 25 dB, floor + 0.4 × (loud −
    floor))`` lasting ``MIN_PAUSE_S`` or more, not touching either end. ``loud`` is the 90th
    percentile level inside the span, ``floor`` the recording's noise floor (default: the
    5th percentile of ``level_db``), so the rule holds from clean studio speech to a noisy
    street. Returns (start_s, duration_s).

    The level decides, not Whisper's word timestamps (they stretch words over short
    silences) nor the VAD's segments (padded): the same rule then measures the user's
    voice and the agent's rendered one.
    """
    i0 = max(0, round(t0_s / HOP_S))
    i1 = min(len(level_db), round(t1_s / HOP_S) + 1)
    if i1 - i0 < 3:
        return []
    span = level_db[i0:i1]
    loud = float(np.percentile(span, 90))
    floor = float(np.percentile(level_db, 5)) if floor_db is None else floor_db
    silent = span < max(loud - 25.0, floor + 0.4 * (loud - floor))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], silent.astype(np.int8), [0]])))
    out = []
    for start, end in zip(edges[::2], edges[1::2]):
        if start == 0 or end == len(span):  # touching an end: not a pause between words
            continue
        if (end - start) * HOP_S >= MIN_PAUSE_S:
            out.append((round((i0 + start) * HOP_S, 3), round((end - start) * HOP_S, 3)))
    return out


def _spoken_counts(texts: Sequence[str], language: str) -> tuple[int, int]:
    """(spoken words, syllables) of ``texts`` by the agent's one rule (``agent.words``):
    ``"12"`` is one word, "twelve", of two syllables; punctuation is no word."""
    spoken = [w for text in texts for w in spoken_words(text, language)]
    return len(spoken), sum(count_syllables(w) for w in spoken)


def rhythm(
    words: Sequence[tuple[str, float, float]], level_db: np.ndarray, floor_db: float | None = None, language: str = "en"
) -> RhythmSummary:
    """Speaking rate and pauses from word timings ``(text, start_s, end_s)`` and the level
    track.

    ``rate_wps`` and ``rate_sps`` count spoken words and syllables (``agent.words``, numbers
    spelled out in ``language``) per second between the first word's start and the last
    word's end; the pauses inside that span (:func:`pauses_s`) give ``pause_ratio`` (their
    share of it) and ``pause_positions_s`` (their starts).
    """
    if not words:
        return RhythmSummary(None, None, None, None)
    t0, t1 = words[0][1], words[-1][2]
    n_words, syllables = _spoken_counts([w[0] for w in words], language)
    if t1 <= t0 or n_words == 0:
        return RhythmSummary(None, None, None, None)
    gaps = pauses_s(level_db, t0, t1, floor_db)
    return RhythmSummary(
        n_words / (t1 - t0),
        syllables / (t1 - t0),
        min(1.0, sum(d for _, d in gaps) / (t1 - t0)),
        [start for start, _ in gaps],
    )


def rhythm_from_text(
    text: str,
    level_db: np.ndarray,
    span_s: tuple[float, float] | None,
    floor_db: float | None = None,
    language: str = "en",
) -> RhythmSummary:
    """Rate and pauses of audio whose words are known but not their timings (the agent's
    own rendered voice): the spoken words and syllables of ``text`` (``agent.words``, the
    planner's count: "room 12" is two words) over ``span_s`` (first speech onset, last
    offset), pauses as in :func:`pauses_s`."""
    n_words, syllables = _spoken_counts([text], language)
    if n_words == 0 or span_s is None or span_s[1] <= span_s[0]:
        return RhythmSummary(None, None, None, None)
    t0, t1 = span_s
    gaps = pauses_s(level_db, t0, t1, floor_db)
    return RhythmSummary(
        n_words / (t1 - t0),
        syllables / (t1 - t0),
        min(1.0, sum(d for _, d in gaps) / (t1 - t0)),
        [start - t0 for start, _ in gaps],
    )


def phrase_spans(
    words: Sequence[tuple[str, float, float]], pauses: Sequence[tuple[float, float]] = ()
) -> list[tuple[int, int]]:
    """Split words ``(text, start_s, end_s)`` into phrases: a phrase ends after a word
    ending in clause punctuation, or where a pause (start_s, duration_s) of
    ``PHRASE_PAUSE_S`` or more has its middle between this word's middle and the next's.
    A one-word phrase joins the neighbour across the shorter pause. Returns (first, last+1)
    index pairs."""
    long_pauses = [(s + d / 2, d) for s, d in pauses if d >= PHRASE_PAUSE_S]
    spans: list[tuple[int, int]] = []
    gaps: list[float] = []  # the pause after each span (0 for punctuation)
    start = 0
    for i, (text, t_start, end) in enumerate(words):
        if i == len(words) - 1:
            spans.append((start, i + 1))
            break
        here, after = (t_start + end) / 2, (words[i + 1][1] + words[i + 1][2]) / 2
        pause = max((d for mid, d in long_pauses if here <= mid <= after), default=None)
        if pause is not None or text.rstrip().endswith(_CLAUSE_END):
            spans.append((start, i + 1))
            gaps.append(pause or 0.0)
            start = i + 1
    i = 0
    while len(spans) > 1 and i < len(spans):
        if spans[i][1] - spans[i][0] > 1:
            i += 1
            continue
        before = gaps[i - 1] if i > 0 else float("inf")
        after = gaps[i] if i < len(gaps) else float("inf")
        j = i - 1 if before < after else i  # merge spans j and j+1
        spans[j : j + 2] = [(spans[j][0], spans[j + 1][1])]
        del gaps[j]
        i = max(0, j)
    return spans


def phrases(
    tracks: Tracks,
    words: Sequence[tuple[str, float, float]],
    pauses: Sequence[tuple[float, float]] = (),
    language: str = "en",
) -> list[Phrase]:
    """Pitch, contour, level and rate (spoken words per second) of each phrase (see
    :func:`phrase_spans`), read from the stretch's tracks; times relative to the stretch's
    start."""
    out: list[Phrase] = []
    n = tracks.n_frames
    for first, last in phrase_spans(words, pauses):
        t0, t1 = words[first][1], words[last - 1][2]
        mask = segments_mask(n, [(t0, t1)])
        pitch = pitch_summary(tracks.pitch, mask)
        energy = energy_summary(tracks.level_db, mask)
        out.append(
            Phrase(
                t_start=round(t0, 3),
                t_end=round(t1, 3),
                text=" ".join(w[0] for w in words[first:last]),
                f0_median_hz=pitch.f0_median_hz,
                f0_range_st=pitch.f0_range_st,
                contour=pitch.contour,
                energy_db=energy.energy_db,
                rate_wps=_spoken_counts([w[0] for w in words[first:last]], language)[0] / (t1 - t0)
                if t1 > t0
                else None,
            )
        )
    return out

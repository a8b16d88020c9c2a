"""The summary of a stretch: every feature family read from its tracks into one
:class:`~agent.sound.Sound`, the part of a scene that says how something sounded.

The same analyser reads the user's voice and measures the agent's own rendered voice, so
a voice plan and its result compare field by field. Samples are mono float32 of shape
(n,) at ``sr_hz``; times are seconds from the stretch's start.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agent.sound import Sound

from .frames import HOP_S, segments_mask
from .level import activity_mask, energy_summary
from .pitch import hnr_db, pitch_summary
from .rhythm import pauses_s, phrases, rhythm, rhythm_from_text
from .spectrum import loudness_au, spectral_shape, timbre_vector
from .tracks import Tracks, measure


def summarise(
    tracks: Tracks,
    words: Sequence[tuple[str, float, float]] = (),
    speech_s: Sequence[tuple[float, float]] | None = None,
    floor_db: float | None = None,
    language: str = "en",
    text: str | None = None,
) -> Sound:
    """Every feature family of a stretch, from its tracks.

    Args:
        tracks: the stretch's tracks (:func:`measure`, or a :meth:`Tracks.slice`).
        words: word timings ``(text, start_s, end_s)`` relative to the stretch's start, for
            rate, pauses and phrases; empty for a sound without words.
        speech_s: VAD speech segments relative to the stretch's start; level, timbre and
            brightness are measured inside them (inside the audible frames when None).
        floor_db: the recording's noise floor (dBFS) for pause detection; by default the
            quietest 5 % of the stretch's frames.
        language: the words' language (two letters), to count numbers as spoken.
        text: the words of a stretch whose word timings are not known (the agent's own
            rendering, a live turn's quick transcript), used when ``words`` is empty: rate
            and pauses come from the text over the span of ``speech_s`` (first start, last end).

    Returns:
        a :class:`~agent.sound.Sound`; measures that cannot be taken are None.
    """
    n = tracks.n_frames
    level = tracks.level_db[:n]
    audible = activity_mask(level)
    mask = audible
    if speech_s:
        mask = segments_mask(n, speech_s) & audible
        if not mask.any():
            mask = audible
    pitch = pitch_summary(tracks.pitch, mask)
    energy = energy_summary(level, mask)
    centroid, tilt = spectral_shape(tracks.spec, tracks.freqs_hz, mask)
    words = list(words)
    if words or not text:
        pace = rhythm(words, level, floor_db, language)
    else:
        span = (speech_s[0][0], speech_s[-1][1]) if speech_s else None
        pace = rhythm_from_text(text, level, span, floor_db, language)
    pause_list = pauses_s(level, words[0][1], words[-1][2], floor_db) if words else []
    noise_db = floor_db if floor_db is not None else (float(np.percentile(level, 5)) if n else None)
    return Sound(
        duration_s=n * HOP_S,
        speech_s=float(sum(e - s for s, e in speech_s)) if speech_s else None,
        voiced_ratio=pitch.voiced_ratio,
        f0_median_hz=pitch.f0_median_hz,
        f0_range_st=pitch.f0_range_st,
        contour=pitch.contour,
        f0_final_slope_st_per_s=pitch.f0_final_slope_st_per_s,
        energy_db=energy.energy_db,
        snr_db=energy.energy_db - noise_db if energy.energy_db is not None and noise_db is not None else None,
        loudness_au=loudness_au(tracks.spec, tracks.sr_hz),
        energy_range_db=energy.energy_range_db,
        energy_slope_db_per_s=energy.energy_slope_db_per_s,
        centroid_hz=centroid,
        tilt_db_per_oct=tilt,
        hnr_db=hnr_db(tracks.pitch, mask),
        timbre=timbre_vector(tracks.spec, tracks.sr_hz, tracks.pitch),
        rate_wps=pace.rate_wps,
        rate_sps=pace.rate_sps,
        pause_ratio=pace.pause_ratio,
        pause_positions_s=pace.pause_positions_s,
        phrases=phrases(tracks, words, pause_list, language) if words else None,
    )


def analyse(
    y: np.ndarray,
    sr_hz: int,
    words: Sequence[tuple[str, float, float]] = (),
    speech_s: Sequence[tuple[float, float]] | None = None,
    floor_db: float | None = None,
    language: str = "en",
) -> Sound:
    """Every feature family of mono samples ``y`` (shape (n,)) at ``sr_hz``:
    :func:`summarise` of :func:`measure`. Arguments as for :func:`summarise`."""
    return summarise(measure(y, sr_hz), words, speech_s, floor_db, language)

"""The sound part of a scene: timbre and prosody measured from audio.

Every field is optional: a scene carries what was measured, and an absent measure is
``None``, never a made-up number. Units are in the names. The same record describes the
user's voice (what the analyser heard) and the agent's voice (what a voice plan became
once rendered and measured), so plan and result compare field by field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.codec import fail

#: Pitch movement over an utterance (see the analyser for how it is classified).
Contour = Literal["rising", "falling", "flat", "rise-fall", "fall-rise"]


@dataclass
class Phrase:
    """One phrase of an utterance (words between pauses or clause punctuation).

    Times are seconds from the utterance's ``t_start``."""

    t_start: float
    t_end: float
    text: str
    f0_median_hz: float | None = None
    f0_range_st: float | None = None
    contour: Contour | None = None
    energy_db: float | None = None
    rate_wps: float | None = None


@dataclass
class Sound:
    """Timbre and prosody of one stretch of audio.

    Time values are seconds relative to the scene's ``t_start``; levels are dBFS
    (0 dB = full scale); pitch spans are semitones (12 per octave).
    """

    duration_s: float | None = None
    #: seconds the VAD judged to be speech.
    speech_s: float | None = None
    #: share of analysis frames with a pitch, 0..1.
    voiced_ratio: float | None = None

    # Pitch.
    f0_median_hz: float | None = None
    #: span between the 5th and 95th percentile of voiced F0, semitones.
    f0_range_st: float | None = None
    contour: Contour | None = None
    #: linear F0 slope over the last voiced half second, semitones per second.
    f0_final_slope_st_per_s: float | None = None

    # Energy.
    #: RMS level over the speech (or the whole sound where there is none), dBFS.
    energy_db: float | None = None
    #: perceived loudness: Stevens' power law (band intensity^0.3) summed over 26 auditory
    #: bands, mean over the whole stretch, pauses included; arbitrary units (not calibrated
    #: to sound pressure), comparable between recordings.
    loudness_au: float | None = None
    #: signal-to-noise: ``energy_db`` above the noise floor of the audio around it (the
    #: quietest 5 % of frames of the stretch heard, pauses and silence before and after
    #: included), dB.
    snr_db: float | None = None
    #: dynamics: 95th minus 5th percentile of frame levels, dB.
    energy_range_db: float | None = None
    #: linear trend of frame level over the stretch, dB per second.
    energy_slope_db_per_s: float | None = None

    # Timbre.
    #: mean spectral centroid of voiced/loud frames, Hz (brightness).
    centroid_hz: float | None = None
    #: spectral tilt: regression slope of the long-term spectrum, dB per octave.
    tilt_db_per_oct: float | None = None
    #: harmonics-to-noise ratio of voiced frames, dB (voice quality: breathy/hoarse is low).
    hnr_db: float | None = None
    #: compact voice profile that tells speakers apart (Euclidean distance): pitch register
    #: in octaves re 100 Hz and the coarse spectral envelope (see the analyser).
    timbre: list[float] | None = None

    # Rhythm.
    #: words per second between the first word's start and the last word's end.
    rate_wps: float | None = None
    #: syllables per second over the same span.
    rate_sps: float | None = None
    #: share of the span that is pause (silence between words longer than 0.15 s), 0..1.
    pause_ratio: float | None = None
    #: start times of those pauses, seconds from ``t_start``.
    pause_positions_s: list[float] | None = None

    #: the same measures per phrase, in order (None when the stretch has no words).
    phrases: list[Phrase] | None = None

    # Sound without words.
    #: onsets per second (rhythm of a non-speech sound).
    onset_rate_hz: float | None = None
    #: share of energy in fast (30–150 Hz) amplitude modulation, 0..1: roughness.
    roughness: float | None = None

    def _check(self, path: str) -> None:
        for name in ("voiced_ratio", "pause_ratio", "roughness"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                fail(f"{path}.{name}", f"must lie in 0..1, got {value}")
        for name in (
            "duration_s",
            "speech_s",
            "f0_median_hz",
            "f0_range_st",
            "rate_wps",
            "loudness_au",
            "rate_sps",
            "centroid_hz",
            "onset_rate_hz",
            "energy_range_db",
        ):
            value = getattr(self, name)
            if value is not None and value < 0:
                fail(f"{path}.{name}", f"must not be negative, got {value}")

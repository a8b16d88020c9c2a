"""Who speaks: voices told apart by their timbre profile (``sound.timbre``), across sessions.

A heard scene's ``sound.timbre`` is ``[log2(F0 / 100 Hz), w·c1, w·c2]`` (see
``modules.voice.analysis.spectrum.timbre_vector``). A voice is enrolled as the running mean
of the profiles heard from it; a new profile belongs to the nearest enrolled voice when
:func:`distance` is at most the threshold, else it enrols a new voice.

The distance is Euclidean with the pitch register counted :data:`REGISTER_WEIGHT` times.
Measured on the real recordings in ``tests/data/speech`` (2026-11; spk1_snt1–5 one
speaker; LJ050-0131, jfk and each channel of stereo_diarization another each):

=========================================  ========  ========
                                           plain     register ×2
=========================================  ========  ========
spk1 utterance to utterance, widest        0.306     0.317
spk1 utterance to the mean of the others   0.224     0.242
another speaker to a spk1 utterance, min   0.302     0.360
another speaker to spk1's mean, min        0.375     0.479
two other speakers, min                    0.447     0.687
=========================================  ========  ========

Plain Euclidean leaves no gap between one speaker's widest pair and the nearest other
voice (LJ050-0131, another female voice of similar spectral envelope, 0.302); the pitch
register is the steadier cue within a speaker (spk1's five registers span 0.13 octave,
its envelope coefficients 0.21–0.28), so counting it twice opens a gap (0.317 → 0.360).
:data:`THRESHOLD` = 0.34 lies in the middle of it; against an enrolled mean (the usual
case after the first utterance) the margins are wide (0.242 → 0.479). Unlabelled:
multilingual.mp3 lies 0.25 from stereo_diarization's right channel, so it would be taken
for that voice; three numbers cannot tell every pair of voices apart.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: the pitch register (octaves) counts this many times the envelope coefficients.
REGISTER_WEIGHT = 2.0
#: the largest :func:`distance` at which a profile is taken for an enrolled voice.
THRESHOLD = 0.34


def distance(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Weighted Euclidean distance between two timbre profiles (``inf`` when their lengths
    differ: profiles from another version of the analyser are not compared)."""
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.shape != y.shape or x.size == 0:
        return float("inf")
    diff = x - y
    diff[0] *= REGISTER_WEIGHT
    return float(np.sqrt(diff @ diff))


def nearest(profiles: Sequence[np.ndarray], timbre: Sequence[float]) -> tuple[int, float] | None:
    """The index of the profile nearest ``timbre`` and its distance, or None when there are none."""
    if not profiles:
        return None
    distances = [distance(p, timbre) for p in profiles]
    best = int(np.argmin(distances))
    return best, distances[best]

"""The tone a live session plays as its microphone opens.

A short rising sweep, soft: it tells the user the agent listens, and it is the first thing
the echo canceller hears come back (``io/echo.py``). The canceller cannot tell the user
from the agent's own echo until it has measured the echo's delay from something the
speaker played, so without it the first reply of a session could not be interrupted (the
speech over it was taken for its echo). A frequency sweep is what delay measurement is
made with: its cross-correlation has one sharp peak, where a held note would have one at
every period.
"""

from __future__ import annotations

import numpy as np

#: the sweep: start and end frequency (Hz), length (s), peak level (dBFS).
LOW_HZ, HIGH_HZ, DURATION_S, PEAK_DB = 440.0, 1760.0, 0.6, -20.0
#: raised-cosine attack and release (s).
ATTACK_S, RELEASE_S = 0.02, 0.2


def start_tone(rate_hz: int) -> np.ndarray:
    """The tone at ``rate_hz``: float32 mono, shape (n,), ``DURATION_S`` long, peak
    ``PEAK_DB`` dBFS, an exponential sweep from ``LOW_HZ`` to ``HIGH_HZ``."""
    n = int(DURATION_S * rate_hz)
    t = np.arange(n) / rate_hz
    k = np.log(HIGH_HZ / LOW_HZ) / DURATION_S
    phase = 2 * np.pi * LOW_HZ * (np.exp(k * t) - 1) / k
    envelope = np.ones(n)
    attack, release = int(ATTACK_S * rate_hz), int(RELEASE_S * rate_hz)
    envelope[:attack] = 0.5 - 0.5 * np.cos(np.pi * np.arange(attack) / attack)
    envelope[n - release :] = 0.5 + 0.5 * np.cos(np.pi * np.arange(release) / release)
    return (10 ** (PEAK_DB / 20) * envelope * np.sin(phase)).astype(np.float32)

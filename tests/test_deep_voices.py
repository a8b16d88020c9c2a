"""Deep voices: the analyser's median F0 against Praat's from 65 to 95 Hz.

The set (``bench/deep_voices.py``, shared with ``bench/pitch_tracker.py``) is built once
per session: real recordings and the Piper voice "joe" lowered by the realiser to medians
of 70, 80 and 90 Hz. These are stand-ins for real deep voices (none is installed here),
named so in each id. ``bench`` is imported from the checkout's root (``python -m pytest``
puts it on the path, as the README's test command does).
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import deep_voices as dv

pytestmark = pytest.mark.slow

NAMES = [
    f"{source}@{median:.0f}Hz"
    for source in (*dv.REAL_SOURCES, *(f"piper.joe#{i + 1}" for i in range(len(dv.PIPER_SENTENCES))))
    for median in dv.DEEP_MEDIANS_HZ
]
#: measured worst 0.19 st (spk1_snt1 and piper.joe#2 lowered to 70 Hz), mean 0.06 st;
#: margin 0.21 st. Before the adaptive floor the analyser read these 0.5–7.6 st high.
DEEP_VS_PRAAT_ST = 0.40


@pytest.fixture(scope="session")
def deep_set() -> dict[str, np.ndarray]:
    from modules.voice.tts.piper import PiperTTS, piper_voices

    tts = PiperTTS(piper_voices()["joe"])
    items = dict(dv.deep_voice_set(dv.real_sources() + dv.piper_sources(tts)))
    assert sorted(items) == sorted(NAMES)
    return items


@pytest.mark.parametrize("name", NAMES, ids=[f"lowered-stand-in:{n}" for n in NAMES])
def test_a_deep_voice_reads_within_0_4_st_of_praat(name: str, deep_set) -> None:
    from modules.voice.analysis import analyse

    samples = deep_set[name]
    praat_hz = dv.praat_median_hz(samples)  # floor suited to the voice (De Looze & Hirst)
    assert 65.0 < praat_hz < 95.0, f"{name}: the set is not deep ({praat_hz:.1f} Hz)"
    ours_hz = analyse(samples, 16000).f0_median_hz
    assert abs(12 * np.log2(ours_hz / praat_hz)) < DEEP_VS_PRAAT_ST, (name, ours_hz, praat_hz)

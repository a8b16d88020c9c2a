"""Answers without words (seed 000 §16.1.4: "an answer as breath, not a phrase").

A plan with ``nonverbal`` set renders as one of four sounds, made by a small
source-filter synthesiser (numpy and scipy, deterministic):

``hum``
    a closed-mouth "mm": a harmonic voice source whose pitch follows the plan's median
    and contour, through a nasal resonance, with a soft onset and release;
``sigh``
    breath through an open vocal tract (noise through /a/-like formants) with a faint
    voice under it falling by half an octave, loud at once and fading slowly;
``breath``
    an inhalation: band-limited noise swelling and fading;
``silence``
    a timed silence.
"""

from __future__ import annotations

import numpy as np

from agent.voiceplan import VoicePlan
from modules.voice.speak.realiser import contour_shape, set_level

KINDS = ("sigh", "hum", "breath", "silence")


def _resonator(x: np.ndarray, rate_hz: int, freq_hz: float, bandwidth_hz: float) -> np.ndarray:
    """A two-pole resonance (a formant) at ``freq_hz``, unity gain at its peak."""
    from scipy.signal import lfilter  # scipy.signal costs a second to import: only when used

    r = np.exp(-np.pi * bandwidth_hz / rate_hz)
    theta = 2 * np.pi * freq_hz / rate_hz
    return lfilter([1 - r], [1.0, -2 * r * np.cos(theta), r * r], x)


def _envelope(n: int, rate_hz: int, attack_s: float, release_s: float) -> np.ndarray:
    t = np.arange(n) / rate_hz
    up = np.clip(t / max(attack_s, 1e-3), 0, 1)
    down = np.clip((t[-1] - t) / max(release_s, 1e-3), 0, 1) if n else up
    return (np.sin(0.5 * np.pi * up) * np.sin(0.5 * np.pi * down)) ** 2


def _voice_source(f0_hz: np.ndarray, rate_hz: int, harmonics: int = 30) -> np.ndarray:
    """A band-limited glottal-like source: harmonics falling 12 dB per octave, pitch
    ``f0_hz`` per sample."""
    phase = 2 * np.pi * np.cumsum(f0_hz) / rate_hz
    out = np.zeros_like(phase)
    for k in range(1, harmonics + 1):
        audible = (k * f0_hz) < 0.45 * rate_hz
        out += audible * np.sin(k * phase) / (k * k)
    return out


def render(plan: VoicePlan, rate_hz: int = 22050, seed: int = 0) -> np.ndarray:
    """The plan's non-verbal answer as mono float32 at ``rate_hz``.

    Uses ``plan.nonverbal`` (the kind), ``duration_s`` (default 1 s), ``f0_median_hz``
    and ``contour`` (hum, sigh), ``f0_range_st`` (hum; default 4) and ``energy_db``.

    Raises:
        ValueError: ``plan.nonverbal`` is not one of :data:`KINDS`.
    """
    kind = plan.nonverbal
    if kind not in KINDS:
        raise ValueError(f"nonverbal {kind!r}: choose one of {', '.join(KINDS)}")
    n = round((plan.duration_s or 1.0) * rate_hz)
    if kind == "silence":
        return np.zeros(n, np.float32)
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate_hz
    f0 = plan.f0_median_hz or 110.0
    if kind == "hum":
        x = np.clip(t / max(t[-1], 1e-6), 0, 1)
        pitch = f0 * 2 ** (
            (plan.f0_range_st or 4.0) * contour_shape(plan.contour, x) / 12 + 0.2 * np.sin(2 * np.pi * 5.0 * t) / 12
        )  # a gentle vibrato
        source = _voice_source(pitch, rate_hz)
        nasal = _resonator(source, rate_hz, 250.0, 80.0) + 0.1 * _resonator(source, rate_hz, 2200.0, 300.0)
        out = nasal * _envelope(n, rate_hz, 0.12, 0.35)
    elif kind == "sigh":
        noise = rng.standard_normal(n)
        tract = (
            _resonator(noise, rate_hz, 750.0, 200.0)
            + 0.6 * _resonator(noise, rate_hz, 1250.0, 250.0)
            + 0.3 * _resonator(noise, rate_hz, 2600.0, 400.0)
        )
        pitch = f0 * 2 ** (-6.0 * t / max(t[-1], 1e-6) / 12)
        voice = _resonator(_voice_source(pitch, rate_hz), rate_hz, 700.0, 250.0)
        voice *= np.std(tract) / max(np.std(voice), 1e-9) * 0.5
        envelope = _envelope(n, rate_hz, 0.08, 0.9 * n / rate_hz) * np.exp(-1.5 * t)
        out = (tract + voice) * envelope
    else:  # breath
        noise = rng.standard_normal(n)
        band = _resonator(noise, rate_hz, 1500.0, 1200.0) + 0.4 * _resonator(noise, rate_hz, 3500.0, 1500.0)
        out = band * _envelope(n, rate_hz, 0.45 * n / rate_hz, 0.45 * n / rate_hz)
    level = plan.energy_db if plan.energy_db is not None else -26.0
    if kind == "breath":
        level -= 8.0  # a breath is quieter than the voice around it
    return set_level(out.astype(np.float32), rate_hz, level)

"""A rendered scene's plan against its measured voice, drawn into a PNG.

Top: the measured F0 track against the planned median, the planned range (a band) and
the planned contour of each sentence. Bottom: the measured level against the planned
level. The plan-vs-result numbers (the scene's fidelity) are written in the corner.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.scene import Scene
from modules.voice.analysis import prosody
from modules.voice.io.audio import ASR_RATE_HZ, load_audio, resample
from modules.voice.speak.realiser import contour_shape


def _sentence_spans(voiced_t: np.ndarray, n: int) -> list[tuple[float, float]]:
    """The voiced span cut into ``n`` sentences at its ``n - 1`` longest gaps."""
    if len(voiced_t) == 0:
        return []
    gaps = np.diff(voiced_t)
    cuts = sorted(np.argsort(gaps)[::-1][: max(0, n - 1)]) if len(gaps) else []
    bounds, start = [], 0
    for c in cuts:
        bounds.append((voiced_t[start], voiced_t[c]))
        start = c + 1
    bounds.append((voiced_t[start], voiced_t[-1]))
    return bounds


def plot_scene(scene: Scene, png: Path) -> Path:
    """Draw ``scene`` (a spoken scene whose ``source`` is its WAV) into ``png``.

    Raises:
        ValueError: the scene has no plan or no audio file.
        AudioError: the audio file cannot be read.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    if scene.plan is None or not scene.source or not Path(scene.source).is_file():
        raise ValueError(f"scene {scene.id}: needs a plan and its audio file in 'source' "
                         f"(got {scene.source!r}); plot the JSON that run.py say writes")
    audio = load_audio(scene.source)
    tracks = prosody.measure(resample(audio.mono(), audio.rate_hz, ASR_RATE_HZ), ASR_RATE_HZ)
    plan = scene.plan
    t = tracks.pitch.times_s
    f0 = tracks.pitch.f0_hz
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=(3, 2))
    top.plot(t, f0, ".", ms=3, color="tab:blue", label="measured F0")
    if plan.f0_median_hz:
        top.axhline(plan.f0_median_hz, color="tab:orange", lw=1, ls="--", label="planned median")
        if plan.f0_range_st:
            half = 2 ** (plan.f0_range_st / 24)
            top.axhspan(plan.f0_median_hz / half, plan.f0_median_hz * half, color="tab:orange", alpha=0.08,
                        label="planned range")
        contours = plan.sentence_contours or [plan.contour]
        spans = _sentence_spans(t[~np.isnan(f0)], len(contours))
        for i, ((a, b), contour) in enumerate(zip(spans, contours)):
            x = np.linspace(a, b, 50)
            shape = contour_shape(contour, (x - a) / max(b - a, 1e-6))
            top.plot(x, plan.f0_median_hz * 2 ** ((plan.f0_range_st or 0) * shape / 12), color="tab:orange",
                     lw=2, alpha=0.8, label="planned contour" if i == 0 else None)
    top.set_yscale("log")
    # Hz on the log axis (matplotlib would label only the decades: 10², 10³).
    top.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0),
                                                               numticks=20))
    top.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    top.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    top.set_ylabel("F0 (Hz)")
    top.legend(loc="upper right", fontsize=8)
    bottom.plot(np.arange(len(tracks.level_db)) * prosody.HOP_S, tracks.level_db, color="tab:green",
                lw=1, label="measured level")
    if plan.energy_db is not None:
        bottom.axhline(plan.energy_db, color="tab:orange", ls="--", lw=1, label="planned speech level")
    bottom.set_ylim(max(-90, float(np.percentile(tracks.level_db, 1)) - 5), 0)
    bottom.set_ylabel("level (dBFS)")
    bottom.set_xlabel("time (s)")
    bottom.legend(loc="upper right", fontsize=8)
    text = (scene.text or f"({plan.nonverbal})")
    fig.suptitle(f"{plan.register or ''} / {plan.manner or ''}: {text[:90]}", fontsize=10)
    fid = scene.fidelity
    if fid is not None:
        def fmt(v, spec):
            return "–" if v is None else format(v, spec)
        top.text(0.01, 0.97, f"F0 {fmt(fid.f0_error_st, '+.2f')} st   rate {fmt(fid.rate_error, '+.1%')}   "
                 f"contour {'right' if fid.contour_ok else 'wrong' if fid.contour_ok is False else '–'}   "
                 f"pauses {fmt(fid.pause_ratio_error, '+.3f')}", transform=top.transAxes, va="top", fontsize=8,
                 bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
    fig.tight_layout()
    png = Path(png)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png

"""A rendered scene's plan against its measured voice, drawn into a PNG.

Top: the measured F0 track against the planned median, the planned range (a band) and
the planned contour of each sentence. Bottom: the measured level against the planned
level. The plan-vs-result numbers (the scene's fidelity) are written in the corner.

:func:`plot_request` serves a ``plot`` request: it reads the spoken scene's JSON, finds
its audio beside it (a path read from a file never leads out of the file's folder) and
writes the PNG whole or not at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.codec import SchemaError
from agent.errors import InputError
from agent.files import write_atomically
from agent.scene import Scene
from modules.voice import analysis
from modules.voice.io.audio import OutputPathError, load_audio, resample
from modules.voice.rates import RATE_HZ
from modules.voice.speak.realiser import contour_shape


class PlotError(InputError):
    """The scene to plot cannot be read, has no plan, or has no audio beside it. A
    ``ValueError``; reason ``input.unreadable`` (``input.missing``: the JSON does not
    exist; ``input.malformed``: it is no scene), ``subject`` the JSON file."""

    reason = "input.unreadable"


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


def plot_request(json_path: str | Path, png: str | Path | None = None) -> Path:
    """Draw the spoken scene in ``json_path`` (what ``run.py say`` writes) against its
    audio into ``png`` (default: the JSON's name with ``.png``).

    The audio is the WAV of the JSON's name beside it, else the scene's ``result.path``
    if that resolves inside the JSON's folder: a path from a file never leads elsewhere.

    Returns:
        the PNG written.

    Raises:
        PlotError: the JSON is missing, unreadable or no scene, or no audio is beside it.
        OutputPathError: the PNG's folder does not exist.
        AudioError: the audio cannot be decoded.
        OSError: the PNG cannot be written (a full disk, a read-only folder).
    """
    json_path = Path(json_path)
    try:
        spoken = Scene.from_json(json_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlotError(
            f"cannot plot {json_path}: no such file", reason="input.missing", subject=str(json_path)
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlotError(f"cannot plot {json_path}: {exc}", subject=str(json_path)) from None
    except SchemaError as exc:
        raise PlotError(f"cannot plot {json_path}: {exc}", reason="input.malformed", subject=str(json_path)) from None
    folder = json_path.resolve().parent
    audio = json_path.with_suffix(".wav")
    written = spoken.result.path if spoken.result is not None else None
    if not audio.is_file() and written:
        candidate = (folder / written).resolve()
        if candidate.is_relative_to(folder):
            audio = candidate
    if not audio.is_file():
        raise PlotError(
            f"cannot plot {json_path}: no audio beside it ({json_path.with_suffix('.wav').name})",
            subject=str(json_path),
        )
    png = Path(png) if png else json_path.with_suffix(".png")
    if not png.parent.is_dir():
        raise OutputPathError(f"{png}: the folder {png.parent} does not exist", subject=str(png))
    return plot_scene(spoken, audio, png)


def plot_scene(scene: Scene, wav: Path, png: Path) -> Path:
    """Draw ``scene`` (a spoken scene with its plan) against its audio ``wav`` into ``png``
    (written whole or not at all).

    Raises:
        PlotError: the scene has no plan.
        AudioError: the audio file cannot be read.
        OSError: the PNG cannot be written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    if scene.plan is None:
        raise PlotError(f"scene {scene.id}: has no plan to draw; plot the JSON that run.py say writes")
    audio = load_audio(wav)
    tracks = analysis.measure(resample(audio.mono(), audio.rate_hz, RATE_HZ), RATE_HZ)
    plan = scene.plan
    t = tracks.pitch.times_s
    f0 = tracks.pitch.f0_hz
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=(3, 2))
    top.plot(t, f0, ".", ms=3, color="tab:blue", label="measured F0")
    if plan.f0_median_hz:
        top.axhline(plan.f0_median_hz, color="tab:orange", lw=1, ls="--", label="planned median")
        if plan.f0_range_st:
            half = 2 ** (plan.f0_range_st / 24)
            top.axhspan(
                plan.f0_median_hz / half,
                plan.f0_median_hz * half,
                color="tab:orange",
                alpha=0.08,
                label="planned range",
            )
        contours = plan.sentence_contours or [plan.contour]
        spans = _sentence_spans(t[~np.isnan(f0)], len(contours))
        for i, ((a, b), contour) in enumerate(zip(spans, contours)):
            x = np.linspace(a, b, 50)
            shape = contour_shape(contour, (x - a) / max(b - a, 1e-6))
            top.plot(
                x,
                plan.f0_median_hz * 2 ** ((plan.f0_range_st or 0) * shape / 12),
                color="tab:orange",
                lw=2,
                alpha=0.8,
                label="planned contour" if i == 0 else None,
            )
    top.set_yscale("log")
    # Hz on the log axis (matplotlib would label only the decades: 10², 10³).
    top.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0), numticks=20))
    top.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    top.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    top.set_ylabel("F0 (Hz)")
    top.legend(loc="upper right", fontsize=8)
    bottom.plot(
        np.arange(len(tracks.level_db)) * analysis.HOP_S,
        tracks.level_db,
        color="tab:green",
        lw=1,
        label="measured level",
    )
    if plan.energy_db is not None:
        bottom.axhline(plan.energy_db, color="tab:orange", ls="--", lw=1, label="planned speech level")
    bottom.set_ylim(max(-90, float(np.percentile(tracks.level_db, 1)) - 5), 0)
    bottom.set_ylabel("level (dBFS)")
    bottom.set_xlabel("time (s)")
    bottom.legend(loc="upper right", fontsize=8)
    text = scene.text or f"({plan.nonverbal})"
    fig.suptitle(f"{plan.register or ''} / {plan.manner or ''}: {text[:90]}", fontsize=10)
    fid = scene.fidelity
    if fid is not None:

        def fmt(v, spec):
            return "–" if v is None else format(v, spec)

        top.text(
            0.01,
            0.97,
            f"F0 {fmt(fid.f0_error_st, '+.2f')} st   rate {fmt(fid.rate_error, '+.1%')}   "
            f"contour {'right' if fid.contour_ok else 'wrong' if fid.contour_ok is False else '–'}   "
            f"pauses {fmt(fid.pause_ratio_error, '+.3f')}",
            transform=top.transAxes,
            va="top",
            fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
        )
    fig.tight_layout()
    try:
        return write_atomically(png, lambda partial: fig.savefig(partial, dpi=110, format="png"))
    finally:
        plt.close(fig)

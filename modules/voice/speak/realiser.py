"""The prosody realiser: imposes a voice plan on any engine's speech.

An engine renders the reply chunk by chunk (the plan's pauses split the text); the
realiser then

1. trims each chunk's silent edges and joins them with the planned pauses, exactly;
2. time-stretches the speech (not the pauses) so the whole reaches the planned rate,
   within ``STRETCH_LIMITS`` (natural limits: beyond them speech slurs or drags);
3. moves the pitch to the planned median, range and contour while keeping a share of the
   voice's own micro-melody (``KEEP_DETAIL``) so it does not turn robotic;
4. sets the speech level and brightness.

Steps 2 and 3 are one PSOLA resynthesis through Praat (parselmouth). PSOLA was chosen over
WORLD by measurement on the Piper voice (bench/realiser_choice.py): closer to the planned
pitch, more intelligible, and faster (docs/benchmarks.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

#: slowest and fastest speech-stretch factors (duration multipliers) the realiser applies.
STRETCH_LIMITS = (0.6, 1.6)
#: the longest an unplanned silent gap inside speech (a closure, a breath between words)
#: may last: with margin under the 0.15 s at which the analyser (and a listener) hears a pause.
MAX_GAP_S = 0.10
#: share of the voice's own local pitch movement (its syllable accents, not its overall
#: trend) kept around the planned contour.
KEEP_DETAIL = 0.5
#: the voice's own trend is its pitch smoothed over this many seconds (a moving median).
TREND_S = 0.3
#: over the last this-many seconds the kept detail fades out: the end of an utterance is
#: where intonation is heard, so the planned boundary tone owns it.
BOUNDARY_S = 0.4
PITCH_FLOOR_HZ, PITCH_CEILING_HZ = 60.0, 500.0  # Praat's analysis range for the manipulation
#: Praat's overlap-add draws random numbers for unvoiced stretches; seeding it before each
#: resynthesis makes a rendering reproducible (the same words and plan, the same audio).
PRAAT_SEED = 20261122
#: a chunk's edges quieter than its loud level (90th percentile of 10 ms frames) by this
#: much are trimmed: the analyser's own rule for what is pause (analysis.pauses_s), so an
#: inserted pause measures as planned. ``TRIM_HANGOVER_S`` is kept after the last loud frame.
TRIM_BELOW_DB = 25.0
TRIM_HANGOVER_S = 0.02


@dataclass
class Stretch:
    """How the joined audio's durations change (seconds): sounding ``speech`` spans by
    ``factor``; each unplanned silent gap ``(start, end)`` inside speech to at most
    ``max_gap_s``; planned pauses not at all."""

    speech: list[tuple[float, float]]
    factor: float
    gaps: list[tuple[float, float]] = field(default_factory=list)
    max_gap_s: float = MAX_GAP_S

    def gap_factor(self, start: float, end: float) -> float:
        return min(1.0, self.max_gap_s / max(end - start, 1e-6))

    def gaps_s(self) -> float:
        """How long the gaps last once capped."""
        return sum(min(b - a, self.max_gap_s) for a, b in self.gaps)

    def output_time(self, t: float) -> float:
        """Where input time ``t`` lands after the stretch (the duration tier's integral)."""
        out = t
        for a, b in self.speech:
            out += (self.factor - 1.0) * max(0.0, min(t, b) - a)
        for a, b in self.gaps:
            out += (self.gap_factor(a, b) - 1.0) * max(0.0, min(t, b) - a)
        return out


def _frame_power(samples: np.ndarray, rate_hz: int) -> tuple[np.ndarray, int]:
    """Mean power of consecutive 10 ms frames (the tail shorter than a frame is left out),
    and the frame length in samples."""
    hop = max(1, rate_hz // 100)
    n = len(samples) // hop
    return np.mean(samples[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1), hop


def trim(samples: np.ndarray, rate_hz: int, below_db: float = TRIM_BELOW_DB) -> np.ndarray:
    """``samples`` without leading and trailing stretches quieter than their loud level
    (90th percentile of 10 ms frames) by ``below_db``, keeping ``TRIM_HANGOVER_S`` at the end."""
    power, hop = _frame_power(samples, rate_hz)
    if len(power) == 0:
        return samples
    level = 10 * np.log10(power + 1e-12)
    loud = np.flatnonzero(level > np.percentile(level, 90) - below_db)
    end = min(len(samples), (loud[-1] + 1) * hop + int(TRIM_HANGOVER_S * rate_hz))
    return samples[loud[0] * hop : end]


def _levels_db(samples: np.ndarray, rate_hz: int) -> np.ndarray:
    """The analyser's own level track (30 ms windows every 10 ms, dBFS): sound and silence
    are told apart here exactly as the analyser will tell them apart in the result."""
    from modules.voice.analysis import level_track_db

    return level_track_db(np.asarray(samples, np.float32), rate_hz) if len(samples) else np.zeros(0)


def loud_level_db(chunks: list[np.ndarray], rate_hz: int) -> float:
    """The loud level (90th percentile of 10 ms frames) of a whole reply: the reference the
    analyser uses for what is pause."""
    levels = np.concatenate([_levels_db(c, rate_hz) for c in chunks if len(c)]) if chunks else np.zeros(0)
    return float(np.percentile(levels, 90)) if levels.size else -120.0


def sounding_spans(
    samples: np.ndarray,
    rate_hz: int,
    loud_db: float | None = None,
    below_db: float = TRIM_BELOW_DB,
    bridge_s: float = 0.04,
) -> list[tuple[float, float]]:
    """The sounding stretches of speech (frames of the analyser's level track within
    ``below_db`` of ``loud_db``, by default the samples' own loud level), in seconds;
    silent gaps shorter than ``bridge_s`` are bridged."""
    level = _levels_db(samples, rate_hz)
    if level.size == 0:
        return []
    loud = level > (np.percentile(level, 90) if loud_db is None else loud_db) - below_db
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(np.int8), [0]])))
    spans: list[tuple[float, float]] = []
    step = 0.01  # the level track's hop, seconds
    duration = len(samples) / rate_hz
    for a, b in zip(edges[::2] * step, np.minimum(edges[1::2] * step, duration)):
        if spans and a - spans[-1][1] < bridge_s:
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    return spans


@dataclass
class Joined:
    """Chunks joined with their planned pauses: the ``samples``, the ``spans`` of sound a
    stretch lengthens, the silent ``gaps`` inside speech, and where the planned ``pauses``
    were inserted (all in seconds)."""

    samples: np.ndarray
    spans: list[tuple[float, float]]
    gaps: list[tuple[float, float]]
    pauses: list[tuple[float, float]] = field(default_factory=list)


def join(chunks: list[np.ndarray], pauses_s: list[float], rate_hz: int, loud_db: float | None = None) -> Joined:
    """Trimmed chunks joined by silences of ``pauses_s`` (one fewer than chunks); sound and
    gaps are told apart against ``loud_db`` (the whole reply's loud level)."""
    pieces, spans, gaps, pauses, t = [], [], [], [], 0.0
    for i, chunk in enumerate(chunks):
        speech = trim(np.asarray(chunk, np.float32), rate_hz)
        pieces.append(speech)
        sound = sounding_spans(speech, rate_hz, loud_db)
        spans += [(t + a, t + b) for a, b in sound]
        gaps += [(t + a[1], t + b[0]) for a, b in itertools.pairwise(sound)]
        t += len(speech) / rate_hz
        if i < len(pauses_s):
            gap = np.zeros(round(pauses_s[i] * rate_hz), np.float32)
            pieces.append(gap)
            pauses.append((t, t + len(gap) / rate_hz))
            t += len(gap) / rate_hz
    return Joined(np.concatenate(pieces) if pieces else np.zeros(0, np.float32), spans, gaps, pauses)


def stretch_for_rate(
    spans: list[tuple[float, float]],
    gaps: list[tuple[float, float]],
    pauses_s: list[float],
    n_words: int,
    rate_wps: float | None,
) -> Stretch:
    """The factor for the sounding ``spans`` that makes ``n_words`` over the whole reply
    (sound, the capped ``gaps`` and the planned ``pauses_s``) come out at ``rate_wps``,
    clamped to ``STRETCH_LIMITS``."""
    stretch = Stretch(spans, 1.0, gaps)
    speech_s = sum(b - a for a, b in spans)
    if not rate_wps or speech_s <= 0:
        return stretch
    wanted_speech_s = n_words / rate_wps - sum(pauses_s) - stretch.gaps_s()
    factor = wanted_speech_s / speech_s if wanted_speech_s > 0 else STRETCH_LIMITS[0]
    stretch.factor = float(np.clip(factor, *STRETCH_LIMITS))
    return stretch


def _raw_shape(contour: str | None, x: np.ndarray) -> np.ndarray:
    if contour == "falling":
        return 0.5 - x
    if contour == "rising":
        return np.where(x < 0.6, -0.5 + 0.2 * x / 0.6, -0.3 + 0.8 * (x - 0.6) / 0.4)
    if contour == "rise-fall":
        return np.where(x < 0.4, -0.5 + x / 0.4, 0.5 - (x - 0.4) / 0.6)
    if contour == "fall-rise":
        return np.where(x < 0.6, 0.5 - x / 0.6, -0.5 + (x - 0.6) / 0.4)
    return np.zeros_like(x)


_GRID = np.linspace(0.0, 1.0, 1001)


def contour_shape(contour: str | None, x: np.ndarray) -> np.ndarray:
    """The planned movement, in units of the planned range, at relative positions ``x``
    (0 = first voiced moment, 1 = last): falling from high to low, rising a late rise,
    rise-fall up to a peak at 40 % then down, fall-rise down to a low at 60 % then up, flat.
    Each shape is centred on its own median over the utterance, so the voice's median
    pitch lands on the planned median whatever the contour (a late rise spends most of its
    time low: uncentred, it would pull the median a third of the range down)."""
    x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
    return _raw_shape(contour, x) - float(np.median(_raw_shape(contour, _GRID)))


def planned_st(times_s: np.ndarray, own_hz: np.ndarray, range_st: float | None, contour: str | None) -> np.ndarray:
    """Target pitch in semitones from the planned median at pitch-point ``times_s``: the
    planned contour over ``range_st``, plus ``KEEP_DETAIL`` of the voice's own local
    movement (``own_hz`` minus its ``TREND_S`` moving median), faded out over the last
    ``BOUNDARY_S`` seconds."""
    own_st = 12.0 * np.log2(own_hz / np.median(own_hz))
    step = np.median(np.diff(times_s)) if len(times_s) > 1 else 0.01
    half = max(1, round(TREND_S / max(step, 1e-3) / 2))
    padded = np.pad(own_st, half, mode="edge")
    from numpy.lib.stride_tricks import sliding_window_view

    trend = np.median(sliding_window_view(padded, 2 * half + 1), axis=1)[: len(own_st)]
    x = (times_s - times_s[0]) / max(times_s[-1] - times_s[0], 1e-6)
    keep = KEEP_DETAIL * np.clip((times_s[-1] - times_s) / BOUNDARY_S, 0.0, 1.0)
    return keep * (own_st - trend) + (range_st or 0.0) * contour_shape(contour, x)


def _num(x: float) -> str:
    """A float as Praat's script reads it back exactly (17 significant digits)."""
    return f"{float(x):.17g}"


def _tier_points(tier: object) -> tuple[np.ndarray, np.ndarray]:
    """A Praat tier's (times s, values) in one script run: a ``call`` per point cost
    ~0.2 ms each, ~65 ms of a short sentence's 80 ms realisation (the values come back exact)."""
    from parselmouth.praat import run

    script = "n = Get number of points\nfor i to n\n  t = Get time from index: i\n  v = Get value at index: i\n"
    script += '  appendInfoLine: t, " ", v\nendfor\n'
    rows = [line.split() for line in run(tier, script, capture_output=True)[1].splitlines()]
    return np.array([float(t) for t, _ in rows]), np.array([float(v) for _, v in rows])


def _praat_lines(tier: object, first: list[str], points: Iterable[tuple[float, float]]) -> None:
    """Run the ``first`` commands on a Praat tier, then add ``points`` (time s, value), in one script."""
    from parselmouth.praat import run

    lines = first + [f"Add point: {_num(t)}, {_num(v)}" for t, v in points]
    if lines:
        run(tier, "\n".join(lines))


def impose(
    samples: np.ndarray,
    rate_hz: int,
    f0_hz: float | None,
    range_st: float | None,
    contour: str | None,
    stretch: Stretch,
) -> np.ndarray:
    """One PSOLA resynthesis (Praat): the pitch moved to ``f0_hz`` median with the planned
    ``contour`` over ``range_st`` semitones (keeping ``KEEP_DETAIL`` of the voice's own
    local movement), the sounding spans stretched by ``stretch.factor``, unplanned gaps
    capped at ``MAX_GAP_S``, planned pauses unchanged.
    ``f0_hz=None`` leaves the pitch alone."""
    import parselmouth
    from parselmouth.praat import call

    sound = parselmouth.Sound(samples.astype(np.float64), rate_hz)
    manipulation = call(sound, "To Manipulation", 0.01, PITCH_FLOOR_HZ, PITCH_CEILING_HZ)
    if f0_hz is not None:
        tier = call(manipulation, "Extract pitch tier")
        times, values = _tier_points(tier)
        if len(times) >= 3:
            target = f0_hz * 2.0 ** (planned_st(times, values, range_st, contour) / 12.0)
            points = zip(times, np.clip(target, PITCH_FLOOR_HZ, PITCH_CEILING_HZ))
            _praat_lines(tier, [f"Remove points between: {_num(sound.xmin)}, {_num(sound.xmax)}"], points)
            call([manipulation, tier], "Replace pitch tier")
    segments = [(a, b, stretch.factor) for a, b in stretch.speech]
    segments += [(a, b, stretch.gap_factor(a, b)) for a, b in stretch.gaps if stretch.gap_factor(a, b) < 1.0]
    if any(abs(f - 1.0) > 1e-3 for _, _, f in segments):
        durations = call(manipulation, "Extract duration tier")
        edge = 0.001
        marks: list[tuple[float, float]] = []
        for a, b, f in sorted(segments):
            # Piecewise constant: 1 in the planned pauses, each segment's factor inside it
            # (a duration tier interpolates linearly, so each edge gets two close points).
            if a - edge > sound.xmin:
                marks.append((a - edge, 1.0))
            marks.append((max(a, sound.xmin), f))
            marks.append((min(b, sound.xmax) - (edge if b - a > 2 * edge else 0), f))
            if b + edge < sound.xmax:
                marks.append((b, 1.0))
        _praat_lines(durations, [], marks)
        call([manipulation, durations], "Replace duration tier")
    from parselmouth.praat import run

    run(f"random_initializeWithSeedUnsafelyButPredictably ({PRAAT_SEED})")
    out = call(manipulation, "Get resynthesis (overlap-add)")
    return out.values[0].astype(np.float32)


def shorten_unplanned_pauses(
    samples: np.ndarray,
    rate_hz: int,
    planned_s: list[tuple[float, float]] = (),
    max_gap_s: float = MAX_GAP_S,
    crossfade_s: float = 0.01,
    floor_db: float = -120.0,
) -> np.ndarray:
    """Shorten every pause the analyser would hear (``analysis.pauses_s`` on its own level
    track) that does not overlap a ``planned_s`` interval, to ``max_gap_s``, cutting its
    quiet middle with a short crossfade. This makes the measured pauses those of the plan:
    stretching slow speech can push a weak consonant (/θ/) or a closure over the pause
    threshold. ``floor_db`` is the rendering's noise floor (digital silence), as the
    rendering is measured (``voicing.RENDERED_FLOOR_DB``)."""
    from modules.voice.analysis import HOP_S, level_track_db, pauses_s

    if len(samples) == 0:
        return samples
    level = level_track_db(np.asarray(samples, np.float32), rate_hz)
    duration = len(samples) / rate_hz
    cuts = []
    for start, length in pauses_s(level, 0.0, duration, floor_db):
        a, b = int(start * rate_hz), int((start + length) * rate_hz)
        if any(start < pb and start + length > pa for pa, pb in planned_s):
            continue  # a planned pause
        excess = length - max_gap_s
        if excess > HOP_S:
            middle = (a + b) // 2
            half = int(excess * rate_hz / 2)
            cuts.append((middle - half, middle + half))
    if not cuts:
        return samples
    fade = max(1, int(crossfade_s * rate_hz))
    out, last = [], 0
    for a, b in cuts:
        head = samples[last:a].astype(np.float32)
        tail_start = b
        if len(head) >= fade and b + fade <= len(samples):
            ramp = np.linspace(1.0, 0.0, fade, dtype=np.float32)
            head = head.copy()
            head[-fade:] = head[-fade:] * ramp + samples[b : b + fade] * (1 - ramp)
            tail_start = b + fade
        out.append(head)
        last = tail_start
    out.append(samples[last:].astype(np.float32))
    return np.concatenate(out)


def set_level(samples: np.ndarray, rate_hz: int, energy_db: float | None) -> np.ndarray:
    """Scale so the speech (frames within 40 dB of the loudest) has RMS ``energy_db`` dBFS,
    never clipping (the peak stays at or below −0.5 dBFS)."""
    if energy_db is None or not np.any(samples):
        return samples
    power, _ = _frame_power(samples, rate_hz)
    level = 10 * np.log10(power + 1e-12)
    speech = power[level > level.max() - 40.0]
    gain = 10 ** ((energy_db - 10 * np.log10(speech.mean() + 1e-12)) / 20.0)
    gain = min(gain, 10 ** (-0.5 / 20.0) / max(float(np.abs(samples).max()), 1e-9))
    return (samples * gain).astype(np.float32)


def set_brightness(samples: np.ndarray, rate_hz: int, brightness: float | None) -> np.ndarray:
    """A high shelf at 2 kHz of ``6 × brightness`` dB (−1 dark … +1 bright)."""
    if not brightness:
        return samples
    from scipy.signal import lfilter

    gain_db, f0 = 6.0 * brightness, 2000.0
    a = 10 ** (gain_db / 40.0)
    w0 = 2 * np.pi * f0 / rate_hz
    alpha = np.sin(w0) / 2 * np.sqrt(2.0)
    cos = np.cos(w0)
    b = [
        a * ((a + 1) + (a - 1) * cos + 2 * np.sqrt(a) * alpha),
        -2 * a * ((a - 1) + (a + 1) * cos),
        a * ((a + 1) + (a - 1) * cos - 2 * np.sqrt(a) * alpha),
    ]
    den = [
        (a + 1) - (a - 1) * cos + 2 * np.sqrt(a) * alpha,
        2 * ((a - 1) - (a + 1) * cos),
        (a + 1) - (a - 1) * cos - 2 * np.sqrt(a) * alpha,
    ]
    return lfilter(np.array(b) / den[0], np.array(den) / den[0], samples).astype(np.float32)

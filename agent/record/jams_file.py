"""A JAMS file of a recorded session (``run.py export DIR --to jams``), via ``jams``.

Annotations (each tells what it holds in ``annotation_metadata.annotation_rules``):

``lyrics``          what was heard: one observation per phrase (or utterance), its words;
                    annotator ``heard``.
``lyrics``          what the agent said (replies that could be placed); annotator ``agent``.
``segment_open``    who speaks when: the speaker of each heard utterance (``user`` when
                    not named) and ``agent`` for each reply.
``segment_open``    each heard scene by kind: ``turn``, ``utterance``, ``sound``, ``silence``.
``tag_open``        sounds without words, described (``sound: loud low``).
``pitch_contour``   F0 of the heard speech, measured here from the recorded mic audio
                    with Praat's "To Pitch (ac)" (10 ms step, 75–600 Hz), one contour
                    (``index``) per utterance; unvoiced frames have ``voiced`` false and
                    frequency 0.
``blob``            the analyser's measures per phrase (or utterance): ``f0_median_hz``
                    (Hz), ``f0_range_st`` (semitones), ``contour``, ``energy_db`` (dBFS, the
                    level), ``rate_wps`` (words/s) — what was measured.

``file_metadata.duration`` is the timeline's length (s); the sandbox keeps the folder,
the session's start and every problem and note. Times are on the timeline of
:mod:`agent.record.timeline`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from agent.files import write_text_atomically
from agent.record import RATE_HZ
from agent.record.reader import RecordingError
from agent.record.timeline import Span, Timeline

#: the pitch contour's frame step (s) and search range (Hz): Praat's defaults.
PITCH_STEP_S = 0.01
PITCH_FLOOR_HZ = 75.0
PITCH_CEILING_HZ = 600.0
#: the per-phrase measures the ``blob`` annotation carries.
MEASURES = ("f0_median_hz", "f0_range_st", "contour", "energy_db", "rate_wps")


def pitch_frames(samples: np.ndarray, rate_hz: int = RATE_HZ) -> tuple[np.ndarray, np.ndarray]:
    """Praat's pitch ("To Pitch (ac)", :data:`PITCH_STEP_S` step, 75–600 Hz) of mono
    ``samples``: (frame times from the first sample, s; F0 in Hz, 0 where unvoiced),
    each shape (n_frames,); empty for audio shorter than Praat's window (~40 ms)."""
    import parselmouth

    if len(samples) < round(3 / PITCH_FLOOR_HZ * rate_hz):
        return np.zeros(0), np.zeros(0)
    sound = parselmouth.Sound(np.asarray(samples, np.float64), sampling_frequency=rate_hz)
    pitch = sound.to_pitch_ac(time_step=PITCH_STEP_S, pitch_floor=PITCH_FLOOR_HZ, pitch_ceiling=PITCH_CEILING_HZ)
    return np.asarray(pitch.xs()), np.asarray(pitch.selected_array["frequency"], np.float64)


def _annotation(namespace: str, rules: str, duration_s: float, annotator: str = "scenevoice") -> Any:
    import jams

    meta = jams.AnnotationMetadata(
        annotator={"name": annotator}, annotation_tools="scenevoice", annotation_rules=rules, data_source="scenevoice"
    )
    return jams.Annotation(namespace=namespace, annotation_metadata=meta, time=0.0, duration=duration_s)


def _observe(annotation: Any, spans: list[Span], value: Any) -> None:
    for span in spans:
        if span.duration_s > 0:
            time_s, duration_s = round(span.t_start_s, 4), round(span.duration_s, 4)
            annotation.append(time=time_s, duration=duration_s, value=value(span), confidence=None)


def jams_of(timeline: Timeline) -> tuple[Any, list[str]]:
    """The :class:`jams.JAMS` of ``timeline`` (see the module docstring) and notes on what
    it lacks (utterances whose audio was not recorded have no pitch contour)."""
    import jams

    duration_s = max(timeline.duration_s, 0.001)
    jam = jams.JAMS()
    recording = timeline.recording
    jam.file_metadata.title = recording.folder.name
    jam.file_metadata.duration = duration_s

    heard = _annotation("lyrics", "heard speech: one observation per phrase, its words", duration_s, "heard")
    _observe(heard, timeline.phrases, lambda s: s.text)
    said = _annotation("lyrics", "the agent's replies, their words", duration_s, "agent")
    _observe(said, timeline.replies, lambda s: s.text)
    speakers = _annotation("segment_open", "who speaks when (user: a speaker not named)", duration_s)
    _observe(speakers, sorted([*timeline.speech, *timeline.replies], key=lambda s: s.t_start_s), lambda s: s.who)
    kinds = _annotation("segment_open", "each heard scene by kind", duration_s)
    scenes = [
        Span(t_start_s, t_end_s, scene.kind, "", None, scene)
        for scene in recording.heard()
        if scene.t_start is not None and scene.t_end is not None
        for t_start_s, t_end_s in [(scene.t_start + timeline.offset_of(scene), scene.t_end + timeline.offset_of(scene))]
    ]
    _observe(kinds, scenes, lambda s: s.kind)
    sounds = _annotation("tag_open", "sounds without words, described by the analyser's descriptors", duration_s)
    _observe(sounds, timeline.sounds, lambda s: s.text)
    measures = _annotation(
        "blob", "measures per phrase: f0_median_hz (Hz), f0_range_st (st), energy_db (dBFS), rate_wps", duration_s
    )
    _observe(measures, timeline.phrases, _measures)
    contour, notes = _pitch_contour(timeline, duration_s)
    jam.annotations.extend([heard, said, speakers, kinds, sounds, measures, contour])
    jam.sandbox.scenevoice = {
        "folder": str(recording.folder),
        "started": recording.session.get("started"),
        "problems": list(recording.problems),
        "notes": [*timeline.notes, *notes],
    }
    return jam, notes


def _measures(span: Span) -> dict[str, Any]:
    return {name: getattr(span.sound, name, None) for name in MEASURES}


def _pitch_contour(timeline: Timeline, duration_s: float) -> tuple[Any, list[str]]:
    rules = (
        f"F0 of heard speech from the recorded mic audio: Praat To Pitch (ac), {PITCH_STEP_S * 1000:.0f} ms step, "
        f"{PITCH_FLOOR_HZ:.0f}-{PITCH_CEILING_HZ:.0f} Hz; one index per utterance; unvoiced: frequency 0"
    )
    contour = _annotation("pitch_contour", rules, duration_s, "praat")
    times: list[float] = []
    values: list[dict[str, Any]] = []
    missing = 0
    for index, span in enumerate(timeline.speech):
        try:
            samples = timeline.recording.audio(span.scene)
        except RecordingError:
            missing += 1
            continue
        frame_s, f0_hz = pitch_frames(samples)
        for t_s, hz in zip(frame_s, f0_hz):
            times.append(round(span.t_start_s + float(t_s), 4))
            values.append({"index": index, "frequency": float(hz), "voiced": bool(hz > 0)})
    if times:
        n = len(times)
        contour.append_columns({"time": times, "duration": [0.0] * n, "value": values, "confidence": [None] * n})
    notes = [f"jams: {missing} utterance(s) have no recorded audio: no pitch contour for them"] if missing else []
    return contour, notes


def write_jams(timeline: Timeline, path: str | Path) -> list[str]:
    """Write ``timeline`` to ``path`` as a JAMS file (validated against the JAMS schema
    first), atomically.

    Returns:
        notes on what it lacks (see :func:`jams_of`).

    Raises:
        OSError: ``path`` cannot be written.
        jams.SchemaError: the annotation does not validate (a bug here, not user input).
    """
    jam, notes = jams_of(timeline)
    jam.validate(strict=True)
    write_text_atomically(path, jam.dumps(indent=2))
    return notes

"""Voicing: a voice plan and its words become sound, measured against the plan.

The last step of the scene → melody → voice protocol. The text is split into sentences
(intonation units, each with its planned contour) and each sentence into clauses at the
plan's pauses. The engine speaks every clause; the realiser joins them with the planned
pauses and imposes pitch, contour and rate. The speech of the whole reply is stretched by
one factor, chosen so the reply as a whole (pauses included) comes out at the planned
rate. Each sentence is measured right after it is realised and realised once more with
corrected targets if its pitch or rate missed (the closed loop), then yielded, so the
first sentence can play while the next is realised. Finally the whole reply is measured by
the same analyser that reads the user, and compared with the plan.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from agent.melody import words_of
from agent.sound import Sound
from agent.voiceplan import Fidelity, VoicePlan, fidelity
from agent.words import count_words
from modules.voice import analysis
from modules.voice.io.audio import resample
from modules.voice.rates import RATE_HZ
from modules.voice.speak import nonverbal, praat_worker, realiser

#: a realised sentence this far off its pitch (semitones) or rate (fraction) is redone once.
F0_TOLERANCE_ST = 0.5
RATE_TOLERANCE = 0.05


class SpeechEngine(Protocol):
    """A synthesiser: speaks one clause in the plan's voice, unrealised."""

    name: str
    rate_hz: int
    #: True when the engine voices ``plan.cues`` itself (Bark's text cues).
    voices_cues: bool

    def render(self, text: str, plan: VoicePlan, first: bool) -> np.ndarray:
        """One clause as mono float32 at ``rate_hz``; ``first`` marks the reply's first
        clause (where an engine that voices cues puts them)."""
        ...


@dataclass
class SentencePlan:
    """One sentence: its clauses, the pauses between them, the pause after it, its contour."""

    clauses: list[str]
    clause_pauses_s: list[float]
    pause_after_s: float
    contour: str | None
    n_words: int = 0


def sentence_plans(text: str, plan: VoicePlan) -> list[SentencePlan]:
    """The text cut at the plan's pauses: sentences of clauses; ``n_words`` counts the
    words each sentence is spoken as (:func:`agent.words.count_words`, as the plan does)."""
    words = words_of(text)
    pauses = {p.after_word: p for p in plan.pauses}
    out: list[SentencePlan] = []
    clause: list[str] = []
    current = SentencePlan([], [], 0.0, None)
    for i, word in enumerate(words):
        clause.append(word)
        pause = pauses.get(i)
        if pause is None and i < len(words) - 1:
            continue
        current.clauses.append(" ".join(clause))
        current.n_words += count_words(current.clauses[-1], plan.language or "en")
        clause = []
        if pause is not None and pause.kind == "clause":
            current.clause_pauses_s.append(pause.duration_s)
            continue
        current.pause_after_s = pause.duration_s if pause is not None else 0.0
        index = len(out)
        contours = plan.sentence_contours
        current.contour = contours[index] if index < len(contours) else plan.contour
        out.append(current)
        current = SentencePlan([], [], 0.0, None)
    return out


def speech_span_s(level_db: np.ndarray, below_loud_db: float = 35.0) -> tuple[float, float] | None:
    """(first, last) moment of sound in a rendering: frames within ``below_loud_db`` of the
    95th-percentile level (the agent's own audio: no VAD padding, no word timings)."""
    if len(level_db) == 0:
        return None
    active = np.flatnonzero(level_db > np.percentile(level_db, 95) - below_loud_db)
    if len(active) == 0:
        return None
    return active[0] * analysis.HOP_S, (active[-1] + 1) * analysis.HOP_S


#: the noise floor of a rendering is digital silence, known rather than estimated: the
#: analyser's estimate (the quietest 5 % of frames) assumes background noise, and tightly
#: trimmed synthetic speech has almost none, so weak consonants would be taken for it.
RENDERED_FLOOR_DB = -120.0


def measure(samples: np.ndarray, rate_hz: int, text: str) -> Sound:
    """The listening analyser on a rendering whose words are known: every feature family,
    with rate and pauses over the span from the first sound to the last."""
    y16 = resample(samples, rate_hz, RATE_HZ)
    tracks = analysis.measure(y16, RATE_HZ)
    span = speech_span_s(tracks.level_db)
    return analysis.summarise(tracks, (), [span] if span else None, RENDERED_FLOOR_DB, text=text or None)


#: a first sentence of this many words or more, with a clause pause in it, is voiced clause
#: first when the reply streams (its first clause plays while the rest is rendered).
FIRST_CHUNK_MIN_WORDS = 4


def first_clause_apart(units: list[SentencePlan]) -> list[SentencePlan]:
    """``units`` with a long first sentence's first clause as a unit of its own, spoken
    level (a continuation: the sentence's contour belongs to its end), its pause after it."""
    head = units[0] if units else None
    if head is None or len(head.clauses) < 2 or head.n_words < FIRST_CHUNK_MIN_WORDS:
        return units
    first_words = min(count_words(head.clauses[0]), head.n_words - 1)
    clause = SentencePlan([head.clauses[0]], [], head.clause_pauses_s[0], None, first_words)
    rest = SentencePlan(
        head.clauses[1:], head.clause_pauses_s[1:], head.pause_after_s, head.contour, head.n_words - first_words
    )
    return [clause, rest, *units[1:]]


@dataclass
class SentenceReport:
    """What the closed loop did with one sentence.

    Attributes:
        text: the sentence's words as the engine spoke them.
        contour: its planned contour.
        target_f0_hz: the median pitch it was planned at, Hz (None: left to the engine).
        target_rate_wps: the rate, words/s over its own span, that puts the whole reply on
            the planned rate (None: no planned rate).
        attempts: 1, or 2 when the first rendering missed and was realised again.
        first_f0_error_st: the first rendering's median F0 minus the target, semitones.
        first_rate_error: the first rendering's rate ÷ the target − 1.
    """

    text: str
    contour: str | None
    target_f0_hz: float | None
    target_rate_wps: float | None
    attempts: int = 1
    first_f0_error_st: float | None = None
    first_rate_error: float | None = None


@dataclass
class Voiced:
    """A finished rendering: ``samples`` at ``rate_hz``, the measured ``sound`` and its
    ``fidelity`` to the plan, the closed loop's ``corrections`` (sentences redone) and what
    it did with each sentence (``sentences``, in order)."""

    samples: np.ndarray
    rate_hz: int
    sound: Sound
    fidelity: Fidelity
    corrections: int = 0
    sentences: list[SentenceReport] = field(default_factory=list)


class Voicing:
    """Renders plans with one engine. Iterate :meth:`sentences` to stream; call
    :meth:`render` for the whole reply at once."""

    def __init__(self, engine: SpeechEngine) -> None:
        self.engine = engine
        self.corrections = 0
        #: the closed loop's report on each sentence of the last :meth:`sentences` call.
        self.reports: list[SentenceReport] = []

    def _cue_kind(self, plan: VoicePlan) -> tuple[str, float] | None:
        """The cue the engine cannot voice and that is sounded before the words instead:
        (non-verbal kind, seconds), or None."""
        if self.engine.voices_cues:
            return None
        for cue, kind, seconds in (("breath", "breath", 0.6), ("sighs", "sigh", 0.9)):
            if cue in plan.cues:
                return kind, seconds
        return None

    def sounds_cue(self, plan: VoicePlan) -> bool:
        """True when :meth:`sentences` yields a cue (a breath, a sigh) before the words."""
        return self._cue_kind(plan) is not None

    def _cue(self, plan: VoicePlan) -> np.ndarray | None:
        """That cue as sound (a breath or a sigh and a short gap), or None."""
        cue = self._cue_kind(plan)
        if cue is None:
            return None
        sound = VoicePlan(nonverbal=cue[0], duration_s=cue[1], f0_median_hz=plan.f0_median_hz, energy_db=plan.energy_db)
        return np.concatenate(
            [nonverbal.render(sound, self.engine.rate_hz), np.zeros(int(0.15 * self.engine.rate_hz), np.float32)]
        )

    def sentences(self, text: str, plan: VoicePlan, first_fast: bool = False) -> Iterator[np.ndarray]:
        """The realised reply, one sentence (and the pause after it) at a time.

        Args:
            first_fast: yield the first sentence as soon as it is realised — rendered alone,
                its level and stretch from its own sound, without the closed loop's
                measurement (the whole reply is measured after playing, by :meth:`finish`);
                the other sentences are rendered and corrected while it plays. False: every
                sentence is rendered first and each is corrected before it is yielded.
        """
        rate = self.engine.rate_hz
        self.reports = []
        if plan.nonverbal is not None or not words_of(text):
            yield nonverbal.render(plan if plan.nonverbal else VoicePlan(nonverbal="silence"), rate)
            return
        cue = self._cue(plan)
        if cue is not None:
            yield cue
        units = sentence_plans(text, plan)
        done = 0
        if first_fast:
            units = first_clause_apart(units)
            first = [self.engine.render(c, plan, first=(j == 0)) for j, c in enumerate(units[0].clauses)]
            part = realiser.join(first, units[0].clause_pauses_s, rate, realiser.loud_level_db(first, rate))
            # Its pause after counts with it: the sentences after it are stretched for their own.
            pauses = [*units[0].clause_pauses_s, units[0].pause_after_s if len(units) > 1 else 0.0]
            factor = realiser.stretch_for_rate(part.spans, part.gaps, pauses, units[0].n_words, plan.rate_wps).factor
            sentence = self._realise(part, units[0], factor, plan, check=False)
            yield np.concatenate([sentence, np.zeros(round(units[0].pause_after_s * rate), np.float32)])
            done = 1
        rest = units[done:]
        if not rest:
            return
        raw = [
            [self.engine.render(c, plan, first=(done + i == 0 and j == 0)) for j, c in enumerate(u.clauses)]
            for i, u in enumerate(rest)
        ]
        loud_db = realiser.loud_level_db([c for chunks in raw for c in chunks], rate)
        joined = [realiser.join(chunks, u.clause_pauses_s, rate, loud_db) for chunks, u in zip(raw, rest)]
        n_words = sum(u.n_words for u in rest)
        pauses = [p for u in rest for p in u.clause_pauses_s] + [u.pause_after_s for u in rest[:-1]]
        factor = realiser.stretch_for_rate(
            [s for j in joined for s in j.spans], [g for j in joined for g in j.gaps], pauses, n_words, plan.rate_wps
        ).factor
        for unit, part in zip(rest, joined):
            sentence = self._realise(part, unit, factor, plan)
            yield np.concatenate([sentence, np.zeros(round(unit.pause_after_s * rate), np.float32)])

    def _realise(
        self, part: realiser.Joined, unit: SentencePlan, factor: float, plan: VoicePlan, check: bool = True
    ) -> np.ndarray:
        """One sentence through the realiser (pitch, contour and stretch; level and
        brightness; then any pause the plan did not ask for shortened), measured, and redone
        once with corrected targets when its pitch or rate missed (``check`` = False: not
        measured, not redone)."""
        rate = self.engine.rate_hz
        f0, wanted_rate = plan.f0_median_hz, None
        text = " ".join(unit.clauses)
        out = part.samples
        report = SentenceReport(text, unit.contour, f0, None)
        self.reports.append(report)
        for attempt in range(2):
            stretch = realiser.Stretch(part.spans, float(np.clip(factor, *realiser.STRETCH_LIMITS)), part.gaps)
            if plan.rate_wps and wanted_rate is None:
                sounding_s = sum(b - a for a, b in part.spans)
                gaps_before = sum(b - a for a, b in part.gaps)
                wanted_rate = unit.n_words / (
                    len(part.samples) / rate + sounding_s * (stretch.factor - 1) - gaps_before + stretch.gaps_s()
                )
                report.target_rate_wps = wanted_rate
            planned = [(stretch.output_time(a), stretch.output_time(b)) for a, b in part.pauses]
            out = praat_worker.call(realiser.impose, part.samples, rate, f0, plan.f0_range_st, unit.contour, stretch)
            out = realiser.set_brightness(realiser.set_level(out, rate, plan.energy_db), rate, plan.brightness)
            # Last, on the finished sound: brightness changes how loud a weak /θ/ is.
            out = realiser.shorten_unplanned_pauses(out, rate, planned)
            if attempt == 1 or (f0 is None and wanted_rate is None) or not check:
                break
            got = measure(out, rate, text)
            f0_off = 12 * math.log2(got.f0_median_hz / f0) if f0 and got.f0_median_hz else 0.0
            rate_off = got.rate_wps / wanted_rate - 1 if wanted_rate and got.rate_wps else 0.0
            report.first_f0_error_st = f0_off if f0 and got.f0_median_hz else None
            report.first_rate_error = rate_off if wanted_rate and got.rate_wps else None
            if abs(f0_off) <= F0_TOLERANCE_ST and abs(rate_off) <= RATE_TOLERANCE:
                break
            self.corrections += 1
            report.attempts = 2
            f0 = f0 * 2 ** (-f0_off / 12) if f0 else None
            factor *= 1 + rate_off
        return out

    def render(self, text: str, plan: VoicePlan) -> Voiced:
        """The whole reply, measured: samples, the analyser's ``Sound``, the fidelity."""
        self.corrections = 0
        return self.finish(list(self.sentences(text, plan)), text, plan)

    def finish(self, pieces: list[np.ndarray], text: str, plan: VoicePlan) -> Voiced:
        """Measure what :meth:`sentences` yielded. A cue voiced before the words (a breath)
        is not part of what is measured."""
        samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        spoken = plan.nonverbal is None and bool(words_of(text))
        has_cue = spoken and self._cue_kind(plan) is not None
        measured = np.concatenate(pieces[1:]) if has_cue and len(pieces) > 1 else samples
        sound = measure(measured, self.engine.rate_hz, text if spoken else "")
        return Voiced(samples, self.engine.rate_hz, sound, fidelity(plan, sound), self.corrections, list(self.reports))

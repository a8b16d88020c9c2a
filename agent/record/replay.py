"""What a recorded turn came to, then and now, and whether it changed beyond tolerance
(``run.py replay``).

A turn's *outcome* is read from the scenes of its lineage: the transcript (the ``turn``
itself), the core, mode and register (the mind's ``thought``), the reply's words (the
``reply`` and its streamed ``reply.more`` pieces) and its voice plan (manner, rate, pitch,
level). :func:`compare` sets a recorded outcome against a replayed one field by field; a
field the recording does not hold (a session recorded without a mind has no thought) is not
compared.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from agent.scene import Scene
from agent.wer import normalised_words, word_errors


@dataclass(frozen=True)
class Tolerances:
    """How far a replayed turn may move before it counts as changed.

    Attributes:
        wer: the transcript's word error rate against the recorded one (normalised words).
        reply_similarity: the least share of the reply's words in common (difflib's ratio
            over normalised words; replies that say the time of day or follow a mood that
            decays with the clock differ a little from run to run).
        rate_ratio: the plan's words per second, as a share of the recorded (±).
        f0_st: the plan's median pitch, semitones (±).
        energy_db: the plan's level, dB (±).

    The core (as a set of lexemes), mode, register and manner must be the same.
    """

    wer: float = 0.15
    reply_similarity: float = 0.7
    rate_ratio: float = 0.10
    f0_st: float = 1.0
    energy_db: float = 3.0


@dataclass
class Outcome:
    """What one turn came to (None: not in the scenes)."""

    transcript: str | None = None
    core: str | None = None
    mode: str | None = None
    register: str | None = None
    reply: str | None = None
    manner: str | None = None
    rate_wps: float | None = None
    f0_median_hz: float | None = None
    energy_db: float | None = None


@dataclass(frozen=True)
class Change:
    """One field that differs: ``within`` says whether the tolerance allows it."""

    field: str
    recorded: Any
    now: Any
    within: bool
    by: str = ""


@dataclass
class TurnReport:
    """One recorded turn replayed: its time on its stream, both outcomes, what changed."""

    index: int
    t_start: float | None
    recorded: Outcome
    now: Outcome | None
    changes: list[Change] = field(default_factory=list)
    error: str | None = None

    @property
    def changed(self) -> bool:
        """True when something moved beyond tolerance (or the turn could not be replayed)."""
        return self.error is not None or any(not c.within for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn": self.index,
            "t_start": self.t_start,
            "changed": self.changed,
            "error": self.error,
            "changes": [asdict(c) for c in self.changes],
            "recorded": asdict(self.recorded),
            "now": asdict(self.now) if self.now is not None else None,
        }


def outcome_of(turn: Scene, scenes: list[Scene]) -> Outcome:
    """The outcome of ``turn`` among ``scenes`` (those after it, in the order they came)."""
    thought = next((s for s in scenes if s.kind == "thought" and turn.id in s.parents), None)
    reply = next((s for s in scenes if s.kind == "reply" and turn.id in s.parents), None)
    words = None
    if reply is not None:
        pieces = [s.text or "" for s in scenes if s.kind == "reply.more" and reply.id in s.parents]
        words = " ".join(filter(None, [reply.text or "", *pieces])) or None
    plan = reply.plan if reply is not None else None
    return Outcome(
        transcript=turn.text,
        core=thought.core if thought is not None else None,
        mode=thought.mode if thought is not None else None,
        register=thought.register if thought is not None else None,
        reply=words,
        manner=plan.manner if plan is not None else None,
        rate_wps=plan.rate_wps if plan is not None else None,
        f0_median_hz=plan.f0_median_hz if plan is not None else None,
        energy_db=plan.energy_db if plan is not None else None,
    )


def _same(name: str, was: Any, now: Any) -> Change | None:
    return None if was == now else Change(name, was, now, within=False)


def compare(was: Outcome, now: Outcome, tol: Tolerances) -> list[Change]:
    """The fields of ``now`` that differ from ``was`` (only fields ``was`` holds)."""
    changes: list[Change | None] = []
    if was.transcript is not None and normalised_words(was.transcript) != normalised_words(now.transcript or ""):
        edits, n = word_errors(was.transcript, now.transcript or "")
        rate = edits / n if n else math.inf  # words where there were none
        changes.append(Change("transcript", was.transcript, now.transcript, rate <= tol.wer, f"WER {rate:.2f}"))
    if was.core is not None and set(was.core.split("+")) != set((now.core or "").split("+")):
        changes.append(Change("core", was.core, now.core, within=False))
    for name in ("mode", "register", "manner"):
        if getattr(was, name) is not None:
            changes.append(_same(name, getattr(was, name), getattr(now, name)))
    if was.reply is not None and was.reply != now.reply:
        ratio = difflib.SequenceMatcher(None, normalised_words(was.reply), normalised_words(now.reply or "")).ratio()
        changes.append(Change("reply", was.reply, now.reply, ratio >= tol.reply_similarity, f"{ratio:.0%} alike"))
    if was.rate_wps and was.rate_wps != now.rate_wps:
        moved = abs((now.rate_wps or 0.0) / was.rate_wps - 1.0)
        changes.append(Change("rate_wps", was.rate_wps, now.rate_wps, moved <= tol.rate_ratio, f"{moved:.0%}"))
    if was.f0_median_hz and was.f0_median_hz != now.f0_median_hz:
        st = abs(12 * math.log2((now.f0_median_hz or 1e-9) / was.f0_median_hz))
        changes.append(Change("f0_median_hz", was.f0_median_hz, now.f0_median_hz, st <= tol.f0_st, f"{st:.2f} st"))
    if was.energy_db is not None and was.energy_db != now.energy_db:
        db = abs((now.energy_db if now.energy_db is not None else -math.inf) - was.energy_db)
        changes.append(Change("energy_db", was.energy_db, now.energy_db, db <= tol.energy_db, f"{db:.1f} dB"))
    return [c for c in changes if c is not None]

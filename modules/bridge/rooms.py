"""One room answers: when two rooms hear the same utterance, the one that heard it best.

Two turns from two rooms are one utterance when the speech ended at the same moment in both
(the ``voice.speech_end`` hops: Unix times when the device delivered the audio, on machines
whose clocks NTP keeps within milliseconds; at most ``SAME_END_S`` apart) and they share
words (``SHARED_WORDS`` of the shorter transcript: a far, noisy room mishears some);
without those times, when their transcripts are alike (word error rate at most
``SAME_WER``).

A hub's bridge holds a turn only while another room *may be hearing* it: a room says at once
when it starts hearing speech (``speech.start``, at the voice detector's onset) and when
that speech became no turn (``speech.void``), so a turn heard while the other rooms are
quiet is let through at once. A turn that another room is still hearing waits for that
room's turn, at most ``one_room_s``; with every such room's hearing in, the choice is made
at once, and a ``room.choice`` scene says why:

1. the higher signal-to-noise ratio (``sound.snr_db``), counted up to ``CLEAR_SNR_DB`` —
   beyond it both rooms heard it clearly and SNR says nothing more;
2. then the higher level (``sound.energy_db``): the speaker is nearer;
3. then the turn that arrived first.

Not the room whose scene arrived first: Whisper on a slower satellite finishes later. A
hearing that comes later than ``one_room_s`` is still not answered again: an utterance let
through is remembered for ``remember_s``, and the late room gets a ``room.choice`` saying
where it was answered.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from agent.parts import Heard, RoomChoice
from agent.scene import Scene
from agent.wer import normalised_words, wer

#: two transcripts are one utterance when their word error rate is at most this.
SAME_WER = 0.5
#: two hearings whose speech ended at most this far apart (s, wall clocks) may be one utterance.
SAME_END_S = 0.6
#: ... when they share at least this share of the shorter transcript's words.
SHARED_WORDS = 0.3
#: the hop a hearing module stamps when the speech ended (Unix s).
SPEECH_END_HOP = "voice.speech_end"
#: above this signal-to-noise ratio (dB) a room heard the utterance clearly; rooms that all
#: did are told apart by level.
CLEAR_SNR_DB = 30.0


@dataclass
class _Held:
    """Turns of one utterance from several rooms, held until ``until`` (monotonic s)."""

    until: float
    turns: list[tuple[str, Scene]] = field(default_factory=list)  # (site, turn), in arrival order


def alike(a: str, b: str) -> bool:
    """True when the transcripts ``a`` and ``b`` are one utterance (False when either has
    no words)."""
    return bool(normalised_words(a)) and bool(normalised_words(b)) and wer(a, b) <= SAME_WER


def speech_end_s(turn: Scene) -> float | None:
    """When the speech of ``turn`` ended (Unix s), from its hops; None when not stamped."""
    return next((h.t_unix_s for h in reversed(turn.hops) if h.stage == SPEECH_END_HOP), None)


def same_utterance(a: Scene, b: Scene) -> bool:
    """True when the turns ``a`` and ``b`` (from two rooms) heard one utterance."""
    end_a, end_b = speech_end_s(a), speech_end_s(b)
    if end_a is None or end_b is None:
        return alike(a.text or "", b.text or "")
    if abs(end_a - end_b) > SAME_END_S:
        return False
    words_a, words_b = set(normalised_words(a.text or "")), set(normalised_words(b.text or ""))
    shorter = min(len(words_a), len(words_b))
    return shorter > 0 and len(words_a & words_b) >= SHARED_WORDS * shorter


def hearing(site: str, turn: Scene) -> Heard:
    sound = turn.sound
    return Heard(site, turn.id, sound.energy_db if sound else None, sound.snr_db if sound else None)


def _rank(h: Heard) -> tuple[float, float]:
    snr = -math.inf if h.snr_db is None else min(h.snr_db, CLEAR_SNR_DB)
    level = -math.inf if h.energy_db is None else h.energy_db
    return snr, level


def _said(h: Heard) -> str:
    snr = "?" if h.snr_db is None else f"{h.snr_db:.1f}"
    level = "?" if h.energy_db is None else f"{h.energy_db:.1f}"
    return f"{h.site} SNR {snr} dB, {level} dBFS"


def choose(turns: list[tuple[str, Scene]]) -> tuple[Scene, RoomChoice]:
    """The best heard of one utterance's turns ``[(site, turn)]`` (arrival order) and the
    choice that says why."""
    heard = [hearing(site, turn) for site, turn in turns]
    best = max(range(len(heard)), key=lambda i: (_rank(heard[i]), -i))
    order = [best, *(i for i in range(len(heard)) if i != best)]

    rule = (
        f"best heard in {heard[best].site}: {'; '.join(_said(heard[i]) for i in order)} "
        f"(higher SNR up to {CLEAR_SNR_DB:g} dB, then louder, then first)"
    )
    return turns[best][1], RoomChoice(heard[best].site, [heard[i] for i in order], rule)


@dataclass
class Decision:
    """What the hub does with an utterance: answer ``turn`` (None: nothing — it was
    answered already, in another room), and say ``choice`` (None: heard in one room)."""

    turn: Scene | None
    choice: RoomChoice | None


@dataclass
class _Answered:
    """An utterance let through: its turn, the rooms that heard it, when (monotonic s)."""

    turn: Scene
    hearing: Heard
    sites: set[str]
    at_s: float


class OneRoom:
    """Turns held for the choice.

    Args:
        wait_s: the longest a turn is held for another room's hearing (s).
        remember_s: how long an utterance let through is remembered (s): a hearing of it
            that comes later still (a room far behind) is not answered again.
    """

    def __init__(self, wait_s: float, remember_s: float = 10.0) -> None:
        self.wait_s, self.remember_s = wait_s, remember_s
        self._held: list[_Held] = []
        self._answered: list[_Answered] = []

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, site: str, turn: Scene, others_hearing: set[str]) -> list[Decision]:
        """A turn from ``site``; ``others_hearing``: the other rooms that may be hearing
        speech now. Returns what is decided now: the turn itself when no other room may be
        hearing it; a choice when every such room's hearing is in; for a hearing of an
        utterance already answered, nothing to answer and a choice that says where it was;
        else nothing (it is held; :meth:`due` lets it go)."""
        now = time.monotonic()
        self._answered = [a for a in self._answered if now - a.at_s <= self.remember_s]
        for answered in self._answered:
            if site not in answered.sites and same_utterance(answered.turn, turn):
                answered.sites.add(site)
                late = hearing(site, turn)
                rule = (
                    f"answered in {answered.hearing.site} before {site}'s hearing came; "
                    f"{_said(answered.hearing)}; {_said(late)}"
                )
                return [Decision(None, RoomChoice(answered.hearing.site, [answered.hearing, late], rule))]
        for held in self._held:
            if all(s != site for s, _ in held.turns) and same_utterance(held.turns[0][1], turn):
                held.turns.append((site, turn))
                if {s for s, _ in held.turns} >= others_hearing | {site}:
                    self._held.remove(held)
                    return [self._decide(held)]
                return []
        if not others_hearing or self.wait_s <= 0:
            return [self._decide(_Held(now, [(site, turn)]))]
        self._held.append(_Held(now + self.wait_s, [(site, turn)]))
        return []

    def due(self) -> list[Decision]:
        """The held utterances whose time is up, decided."""
        now = time.monotonic()
        ready = [h for h in self._held if h.until <= now]
        self._held = [h for h in self._held if h.until > now]
        return [self._decide(h) for h in ready]

    def _decide(self, held: _Held) -> Decision:
        if len(held.turns) == 1:
            site, turn = held.turns[0]
            decision = Decision(turn, None)
            chosen = hearing(site, turn)
        else:
            best, choice = choose(held.turns)
            decision, chosen = Decision(best, choice), choice.heard[0]
        assert decision.turn is not None
        sites = {s for s, _ in held.turns}
        self._answered.append(_Answered(decision.turn, chosen, sites, time.monotonic()))
        return decision

"""One room answers: when two rooms hear the same utterance, the one that heard it best.

A hub's bridge holds each turn that comes from a room for up to ``one_room_s`` while
another room is online, waiting for that room's hearing of the same utterance. Two turns
are one utterance when the speech ended at the same moment in both rooms (the
``voice.speech_end`` hops, Unix times of machines whose clocks NTP keeps within
milliseconds, at most ``SAME_END_S`` apart) and they share words (``SHARED_WORDS`` of the
shorter transcript: a far, noisy room mishears some); without those times, when their
transcripts are alike (word error rate at most ``SAME_WER``). Then it lets one turn
through, the best heard, and says why in a ``room.choice`` scene:

1. the higher signal-to-noise ratio (``sound.snr_db``), counted up to ``CLEAR_SNR_DB`` —
   beyond it both rooms heard it clearly and SNR says nothing more;
2. then the higher level (``sound.energy_db``): the speaker is nearer;
3. then the turn that arrived first.

Not the room whose scene arrived first: Whisper on a slower satellite finishes later. A
turn waits only for the rooms that may be hearing it: online, and — for a room that says
when it starts hearing speech (``speech.start``, at the voice detector's onset) — hearing
since its last turn. So a
turn heard in one room while the others are quiet is let through at once; one that another
room is still hearing waits for that room's turn, at most ``one_room_s``; with every such
room's hearing in, the choice is made at once.
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


def choose(turns: list[tuple[str, Scene]]) -> tuple[Scene, RoomChoice]:
    """The best heard of one utterance's turns ``[(site, turn)]`` (arrival order) and the
    choice that says why."""
    heard = [hearing(site, turn) for site, turn in turns]
    best = max(range(len(heard)), key=lambda i: (_rank(heard[i]), -i))
    order = [best, *(i for i in range(len(heard)) if i != best)]

    def said(h: Heard) -> str:
        snr = "?" if h.snr_db is None else f"{h.snr_db:.1f}"
        level = "?" if h.energy_db is None else f"{h.energy_db:.1f}"
        return f"{h.site} SNR {snr} dB, {level} dBFS"

    rule = (
        f"best heard in {heard[best].site}: {'; '.join(said(heard[i]) for i in order)} "
        f"(higher SNR up to {CLEAR_SNR_DB:g} dB, then louder, then first)"
    )
    return turns[best][1], RoomChoice(heard[best].site, [heard[i] for i in order], rule)


class OneRoom:
    """Turns held for the choice. Args: ``wait_s``: the longest a turn is held (s)."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self._held: list[_Held] = []

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, site: str, turn: Scene, others_online: set[str]) -> list[tuple[Scene, RoomChoice | None]]:
        """A turn from ``site``. Returns what is decided now: ``[(turn to answer, its
        choice or None when it was heard in one room only)]`` — the turn itself when no
        other room could have heard it, a choice when every online room's hearing is in,
        else nothing (it is held; :meth:`due` lets it go)."""
        for held in self._held:
            if all(s != site for s, _ in held.turns) and same_utterance(held.turns[0][1], turn):
                held.turns.append((site, turn))
                if {s for s, _ in held.turns} >= others_online | {site}:
                    self._held.remove(held)
                    return [self._decide(held)]
                return []
        if not others_online or self.wait_s <= 0:
            return [(turn, None)]
        self._held.append(_Held(time.monotonic() + self.wait_s, [(site, turn)]))
        return []

    def due(self) -> list[tuple[Scene, RoomChoice | None]]:
        """The held utterances whose time is up, decided."""
        now = time.monotonic()
        ready = [h for h in self._held if h.until <= now]
        self._held = [h for h in self._held if h.until > now]
        return [self._decide(h) for h in ready]

    def next_due_s(self) -> float | None:
        """Seconds until the next held utterance is due (None: nothing held)."""
        return max(0.0, min(h.until for h in self._held) - time.monotonic()) if self._held else None

    @staticmethod
    def _decide(held: _Held) -> tuple[Scene, RoomChoice | None]:
        if len(held.turns) == 1:
            return held.turns[0][1], None
        return choose(held.turns)

"""The field: a slowly drifting mood the mind is coloured by, never told about.

Each heard turn is appraised — **valence** (−1 unpleasant … +1 pleasant) from its words,
by VADER's rated lexicon (negation and intensifiers included), and **arousal** (−1 low …
+1 high) from its measured voice, against the speaker's own earlier turns in the session
where there are some (a loud speaker is not always aroused): level, rate and pitch range,
and the voice's heard mode (``tense``, ``excited`` raise it; ``low-energy``, ``solemn``
lower it). The mood moves toward each appraisal by ``pull`` and, between turns, decays
toward neutral with a half-life in seconds: a tense exchange colours the next few
replies, then fades. A neutral turn moves the mood by a quarter of ``pull`` only, so a plain
remark after a tense exchange does not undo it; time does.

The mood's :attr:`Mood.label` (``tense``, ``low``, ``bright``, ``excited``, ``calm``) picks
how the mind words and voices a reply (``agent/converse.py``, ``[mood_manner]`` in
``assets/melody.toml``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from agent.sound import Sound

#: heard modes (assets/voice_modes.toml) and the arousal and valence they suggest.
_MODE_AROUSAL = {"tense": 0.6, "excited": 0.6, "bright": 0.3, "low-energy": -0.5, "solemn": -0.4, "lingering": -0.2}
_MODE_VALENCE = {"tense": -0.3, "low-energy": -0.2, "bright": 0.2}
#: a typical conversational voice, for a first turn with nothing of the speaker's to compare.
_TYPICAL = {"energy_db": -26.0, "rate_wps": 2.6, "f0_range_st": 6.0}
#: how much one unit away from the baseline moves arousal: per dB, per word/s, per semitone.
_SCALE = {"energy_db": 1 / 12.0, "rate_wps": 1 / 1.5, "f0_range_st": 1 / 8.0}


@cache
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def word_valence(text: str | None) -> float:
    """VADER's compound valence of ``text``, −1…+1 (0 for no text or no rated word)."""
    if not text or not text.strip():
        return 0.0
    return float(_vader().polarity_scores(text)["compound"])


def word_feeling(word: str) -> float:
    """VADER's rating of one word, −4…+4 (0 when unrated): how strongly it is felt."""
    return float(_vader().lexicon.get(word.lower(), 0.0))


def _clip(x: float) -> float:
    return max(-1.0, min(1.0, x))


def voice_arousal(sound: Sound | None, earlier: Sequence[Sound] = (), mode: str | None = None) -> float:
    """Arousal −1…+1 of a measured voice: its level, rate and pitch range against the median
    of ``earlier`` turns of the session (else a typical voice), plus its heard mode."""
    if sound is None:
        return _MODE_AROUSAL.get(mode or "", 0.0)
    total, n = 0.0, 0
    for name, scale in _SCALE.items():
        value = getattr(sound, name)
        if value is None:
            continue
        before = [getattr(s, name) for s in earlier if getattr(s, name) is not None]
        base = statistics.median(before) if before else _TYPICAL[name]
        total += (value - base) * scale
        n += 1
    measured = total / n if n else 0.0
    return _clip(0.6 * measured + _MODE_AROUSAL.get(mode or "", 0.0))


@dataclass
class Mood:
    """The field: ``valence`` and ``arousal`` in −1…+1, moved by each turn.

    Attributes:
        valence, arousal: the mood now.
        pull: how far one turn's appraisal moves it (0…1).
        half_life_s: seconds over which the mood halves toward neutral between turns.
        t_unix_s: when it was last moved (Unix seconds), for the decay.
    """

    valence: float = 0.0
    arousal: float = 0.0
    pull: float = 0.35
    half_life_s: float = 180.0
    t_unix_s: float | None = None

    def decay(self, now_unix_s: float) -> None:
        """Fade toward neutral for the seconds since the last turn."""
        if self.t_unix_s is not None and now_unix_s > self.t_unix_s:
            k = 0.5 ** ((now_unix_s - self.t_unix_s) / self.half_life_s)
            self.valence *= k
            self.arousal *= k
        self.t_unix_s = now_unix_s

    def feel(
        self,
        text: str | None,
        sound: Sound | None,
        now_unix_s: float,
        *,
        earlier: Sequence[Sound] = (),
        mode: str | None = None,
    ) -> tuple[float, float]:
        """Decay, then move toward this turn's appraisal. Returns the appraisal
        (valence, arousal) of the turn itself."""
        self.decay(now_unix_s)
        valence = _clip(word_valence(text) + _MODE_VALENCE.get(mode or "", 0.0))
        arousal = voice_arousal(sound, earlier, mode)
        # Strong words are aroused words too ("furious", "thrilled").
        arousal = _clip(arousal + 0.4 * abs(valence) * (1 if abs(valence) > 0.5 else 0))
        # A charged turn moves the mood by `pull`; a neutral one barely (a quarter of it):
        # a plain remark does not undo a tense exchange, time does (the decay).
        k = self.pull * max(0.25, min(1.0, max(abs(valence), abs(arousal))))
        self.valence += k * (valence - self.valence)
        self.arousal += k * (arousal - self.arousal)
        return valence, arousal

    @property
    def label(self) -> str:
        """``tense`` (unpleasant and aroused), ``low`` (unpleasant, not aroused),
        ``excited`` (aroused, not unpleasant), ``bright`` (pleasant), else ``calm``."""
        if self.valence <= -0.25:
            return "tense" if self.arousal > 0.0 else "low"
        if self.arousal >= 0.35:
            return "excited"
        if self.valence >= 0.25:
            return "bright"
        return "calm"

    def as_text(self) -> str:
        """``tense (valence -0.42, arousal +0.31)``."""
        return f"{self.label} (valence {self.valence:+.2f}, arousal {self.arousal:+.2f})"

    @property
    def strength(self) -> float:
        """How far from neutral, 0…√2."""
        return math.hypot(self.valence, self.arousal)

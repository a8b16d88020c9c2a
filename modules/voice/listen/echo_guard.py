"""Two questions about a short turn heard while the agent speaks: is it only the agent's
own words coming back, and is it only a backchannel?

**Own words.** The echo canceller (``io/echo.py``) takes the agent's voice out of the
microphone; what it leaves (a loud room, a device whose clock drifts) can still reach
Whisper. A turn heard while a reply was audible, or just after, whose words are mostly the
agent's recent words in the same order (``OWN_WORDS_SHARE`` of them, by the longest
common subsequence) is the agent hearing itself, and is dropped. Words are compared by
their dictionary form: Whisper hears an echo as it hears a poor line, and "That sounds
heavy." came back as "That sound therapy." (1 of 3 words the same as written, 2 of 3 as
lemmas), the first reply of a duplex benchmark, before AEC3 had converged.

**Backchannels.** "mm-hm", "yeah", "okay", a laugh: a listener showing they follow. A
turn no longer than ``backchannel_max_s`` of speech whose words are all in
``assets/lexicon/backchannels_en.txt`` (or that has no words at all) does not take the
floor: the reply it overlapped goes on. A hum counts however Whisper spells it ("Mm",
"MmM", "M-M-M", "mhm": letters m and h only, ``HUM``; a hyphenated one is one hum), and
may follow an "and" (Whisper writes one before a hum heard over the agent's speech:
"and MmM.").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from agent.lexicon import lemma, read_word_list
from agent.paths import ASSETS
from agent.words import tokens

BACKCHANNELS = ASSETS / "lexicon" / "backchannels_en.txt"
#: a turn whose words are at least this share of the agent's recent words, in order, is echo.
OWN_WORDS_SHARE = 0.6
#: a backchannel has at most this many words.
BACKCHANNEL_MAX_WORDS = 3
#: a hum as Whisper spells it, in any length: letters m and h only, at least one m.
HUM = re.compile(r"(?=h*m)[mh]+")
#: a word that may come before a backchannel's words without making it a turn.
LEADING = frozenset({"and"})


@cache
def backchannel_words() -> frozenset[str]:
    return read_word_list(BACKCHANNELS)


def words(text: str | None) -> list[str]:
    """Lower-case tokens of ``text`` (hyphenated words split, punctuation dropped)."""
    return [t.lower() for t in tokens(text)]


def is_backchannel(text: str | None) -> bool:
    """True for no words at all, or for at most ``BACKCHANNEL_MAX_WORDS`` words that are
    all backchannels ("mm-hm", "yeah, okay"); a hum is one word however it is spelled
    (``HUM``), and a first word in ``LEADING`` is not counted."""
    heard = words(text)
    if len(heard) > 1 and heard[0] in LEADING:
        heard = heard[1:]
    hums = [HUM.fullmatch(w) is not None for w in heard]
    # a hum's hyphenated parts ("m-m-m") are one hum
    counted = [w for k, w in enumerate(heard) if not (hums[k] and k and hums[k - 1])]
    return len(counted) <= BACKCHANNEL_MAX_WORDS and all(
        hum or w in backchannel_words() for w, hum in zip(heard, hums, strict=True)
    )


def common_in_order(a: Sequence[str], b: Sequence[str]) -> int:
    """The length of the longest common subsequence of two word lists."""
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for x in a:
        row = [0]
        for j, y in enumerate(b):
            row.append(previous[j] + 1 if x == y else max(previous[j + 1], row[j]))
        previous = row
    return previous[-1]


def is_own_words(text: str | None, said: Sequence[str], language: str = "en") -> bool:
    """True when the words of ``text`` are mostly (``OWN_WORDS_SHARE``) the words of
    ``said`` (the agent's recent replies, oldest first) in the same order, each word taken
    in its dictionary form (:func:`~agent.lexicon.lemma`: "sound" is "sounds")."""
    heard = [lemma(w, language) for w in words(text)]
    if not heard:
        return False
    spoken = [lemma(w, language) for reply in said for w in words(reply)]
    return common_in_order(heard, spoken) >= OWN_WORDS_SHARE * len(heard)

"""A model's tokens → the sentences the voice may say, each checked as it completes.

:class:`SentenceCutter` cuts the growing text with the same sentence splitter the voice plan
uses (pysbd, through :func:`agent.melody.sentences_of`): a sentence is complete once the
next one has begun (or the stream ended), so "Dr. Smith" is not cut at its dot, and a line
break ends a sentence.

:func:`refusal` says why a sentence must not be spoken, or None: a small model (SmolLM2-135M
measured, ``docs/benchmarks.md``) echoes its instructions ("Draft: …", "Scene: …"), speaks of
"the user" in the third person, takes the user's name for its own ("I am Lena"), loops on
one sentence, or runs on; a sentence that does any of these ends the reply there (the first:
the rule reply is said instead). It also refuses a chat assistant's stock phrases ("I'm
here to help") and a cheerful sentence to an unhappy user (measured: "I'm really happy about
it" to "My landlord raised the rent again", VADER −0.3 against +0.6).
"""

from __future__ import annotations

import re

from agent.melody import sentences_of
from agent.mood import word_valence

#: the most words one spoken sentence of the model may have.
MAX_WORDS = 32
_LEAKS = re.compile(
    r"\b(?:draft|scene|user|assistant|system prompt|as an ai|language model|smollm)\b|[:#*\[\]{}<>]|^\W", re.I
)
#: a chat assistant's stock phrases, not a companion's ("I'm here to help", "How can I assist you?").
_STOCK = re.compile(r"\b(?:assist|here to help|how can i help|happy to help)\b", re.I)
#: a sentence at least this pleasant (VADER) is not said to a user this unhappy.
CHEERFUL, UNHAPPY = 0.3, -0.25


class SentenceCutter:
    """Feed text as it streams; take the sentences it completes."""

    def __init__(self, language: str = "en") -> None:
        self.language = language
        self.buffer = ""

    def feed(self, text: str) -> list[str]:
        """The sentences completed by ``text`` (in order; possibly none)."""
        self.buffer += text
        done: list[str] = []
        while "\n" in self.buffer:  # a line break ends a sentence
            line, self.buffer = self.buffer.split("\n", 1)
            done.extend(sentences_of(line, self.language))
        parts = sentences_of(self.buffer, self.language)
        if len(parts) >= 2:
            done.extend(parts[:-1])
            self.buffer = self.buffer[self.buffer.rfind(parts[-1]) :] if parts[-1] in self.buffer else parts[-1]
        return [s for s in (d.strip() for d in done) if s]

    def close(self) -> list[str]:
        """The rest, once the stream has ended."""
        rest, self.buffer = self.buffer, ""
        return [s.strip() for s in sentences_of(rest, self.language) if s.strip()]


def refusal(sentence: str, said: list[str], user_name: str | None = None, heard_valence: float = 0.0) -> str | None:
    """Why ``sentence`` must not be said after ``said`` (this reply's sentences so far), or
    None. ``heard_valence``: how pleasant the user's turn and the mood are (−1…+1; the lower
    of the two): a cheerful sentence to an unhappy user is refused."""
    words = sentence.split()
    if not words:
        return "empty"
    if len(words) > MAX_WORDS:
        return f"{len(words)} words"
    if _LEAKS.search(sentence):
        return "it speaks of its instructions"
    if _STOCK.search(sentence):
        return "a chat assistant's stock phrase"
    if sentence.lower() in (s.lower() for s in said):
        return "a repeat"
    if heard_valence <= UNHAPPY and word_valence(sentence) >= CHEERFUL:
        return "cheerful where the user is not"
    if user_name and re.search(rf"\b(?:i am|i'm|my name is)\s+{re.escape(user_name)}\b", sentence, re.I):
        return "it takes the user's name for its own"
    if not re.search(r"[.!?…]$", sentence):
        return "unfinished"
    return None

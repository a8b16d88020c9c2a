"""A wake phrase: the appliance answers only what is addressed to it.

With ``modules.voice.wake_phrase`` set ("hey computer"), a heard turn is taken only when one
of its sentences begins with the phrase (within its first three words, matched loosely:
Whisper writes "Hey, Computer!", "hey computa", or "A computer." for Piper's "Hey
computer."), or comes within ``wake_window_s`` of the last turn that was
taken (a follow-up needs no phrase). Other turns are dropped where they are heard: no
``turn``, no ``partial`` and no ``turn.draft`` reaches the bus, so nothing not addressed to
the agent is answered or remembered. The phrase is recognised offline in the streaming
transcript the agent makes anyway (no keyword model to download). The turn's text becomes
what follows the phrase ("What time is it?"; what came before it in the turn was not
addressed); a turn that is only the phrase is not answered — it opens the window, so that
"Hey computer … what time is it?" said with a pause is one request, not a reply spoken over
the question.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from difflib import SequenceMatcher

#: how alike (difflib ratio) the phrase's last word and the word said must be.
MATCH = 0.8
#: how alike each earlier word must be (a word of three letters or fewer always passes).
LOOSE = 0.5
#: the phrase may begin this many words into the turn ("oh, hey computer").
LEAD_WORDS = 2
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


class WakeGate:
    """Which heard texts are addressed to the agent.

    Args:
        phrase: the wake phrase; ``""`` takes everything.
        window_s: seconds after a taken turn during which the next needs no phrase.
        clock: monotonic seconds (a test passes its own).
    """

    def __init__(self, phrase: str, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.phrase = _words(phrase)
        self.window_s = window_s
        self.clock = clock
        self.open_until = -1.0

    @property
    def enabled(self) -> bool:
        return bool(self.phrase)

    @property
    def awake(self) -> bool:
        """Within the window of the last turn taken (always, without a phrase)."""
        return not self.enabled or self.clock() < self.open_until

    def _find(self, text: str) -> int | None:
        """How many whitespace-separated pieces of ``text`` end the phrase, or None. The
        phrase may begin any sentence of the turn (up to :data:`LEAD_WORDS` words in):
        "… the small dog. Hey computer, what time is it?" is addressed from "Hey" on."""
        pieces = text.split()
        k = len(self.phrase)
        starts = [i for i, piece in enumerate(pieces) if i == 0 or pieces[i - 1].endswith((".", "!", "?", "…"))]
        for first in starts:
            for lead in range(LEAD_WORDS + 1):
                said: list[str] = []
                end = first + lead
                while end < len(pieces) and len(said) < k:
                    said.extend(_words(pieces[end]))
                    end += 1
                if len(said) >= k and self._alike(said[:k]):
                    return end
        return None

    def _alike(self, said: list[str]) -> bool:
        """The phrase's last word said closely (ratio ≥ :data:`MATCH`), each word before it
        loosely (≥ :data:`LOOSE`) or as any short word: Whisper writes Piper's "Hey computer."
        as "A computer." — the greeting is the part it mangles."""
        *lead, last = self.phrase
        if SequenceMatcher(None, said[-1], last).ratio() < MATCH:
            return False
        return all(len(s) <= 3 or SequenceMatcher(None, s, w).ratio() >= LOOSE for s, w in zip(said, lead))

    def addresses(self, text: str | None) -> bool:
        """Would ``text`` (a partial or a draft) be taken, without taking it?"""
        return self.awake or (bool(text) and self._find(text or "") is not None)

    def take(self, text: str | None, commit: bool = True) -> str | None:
        """The text of a heard turn as the agent should answer it (the phrase taken out);
        ``""`` for the phrase alone (awake, nothing to answer yet: what follows comes as the
        next turn); None when it is not addressed to the agent. Taking a turn opens the
        window (``commit`` False: a draft's text, the window left as it is)."""
        if not self.enabled:
            return text
        found = self._find(text or "")
        if found is None and not self.awake:
            return None
        if commit:
            self.open_until = self.clock() + self.window_s
        if found is None:
            return text
        rest = " ".join((text or "").split()[found:]).lstrip(" ,.;:!?-")
        return rest[:1].upper() + rest[1:]

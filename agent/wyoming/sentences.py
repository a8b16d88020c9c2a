"""Text that streams in (``synthesize-chunk``), cut into sentences as they complete, so the
first sentence is spoken while a language model still writes the next."""

from __future__ import annotations

import re

#: a sentence ends at . ! ? or … (with any closing quotes or brackets) followed by space.
_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+")
#: the most text one stream may hold before it is refused (characters).
MAX_TEXT_CHARS = 20_000


class SentenceStream:
    """Collects text chunks; :meth:`add` returns the sentences they completed."""

    def __init__(self) -> None:
        self._text = ""
        self.total_chars = 0

    def add(self, chunk: str) -> list[str]:
        """Append ``chunk``; the sentences now complete, in order (the rest is kept)."""
        self._text += chunk
        self.total_chars += len(chunk)
        sentences, start = [], 0
        for end in _END.finditer(self._text):
            sentences.append(self._text[start : end.end()].strip())
            start = end.end()
        self._text = self._text[start:]
        return [s for s in sentences if s]

    def finish(self) -> str:
        """What is left after the last complete sentence (stripped; "" when nothing)."""
        rest, self._text = self._text.strip(), ""
        return rest

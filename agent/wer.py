"""Word error rate with the field's standard normalisation.

Text is normalised by openai-whisper's ``EnglishTextNormalizer`` (the one the Whisper
paper scores with: lower case, punctuation off, numbers and spellings standardised,
contractions expanded), then compared word by word with a Levenshtein alignment.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _normalizer():
    from whisper.normalizers import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalised_words(text: str) -> list[str]:
    """The words of ``text`` after the standard normalisation (tokens without a letter or
    digit, such as a stray ``.`` from an ellipsis, are left out)."""
    return [t for t in _normalizer()(text).split() if any(c.isalnum() for c in t)]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, number of reference words), both normalised."""
    ref, hyp = normalised_words(reference), normalised_words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1], len(ref)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate (0 = perfect; can exceed 1 when words are invented).

    Raises:
        ValueError: the reference has no words.
    """
    edits, n_words = word_errors(reference, hypothesis)
    if n_words == 0:
        raise ValueError("the reference has no words")
    return edits / n_words

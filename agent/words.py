"""Spoken words: the one rule by which the agent counts the words and syllables of a text.

The voice planner (how long a reply will take at a planned rate), the analyser (how fast
the agent, or a user, actually spoke) and the lexicon (which words a text is about) must
read a text the same way, or a plan of "Meet me at 5 pm, room 12." at 3 words/s is
measured against a different count and the closed loop "corrects" a rate that was right.

One tokeniser, :func:`tokens`: a token is a number (digits with thousands separators or a
decimal point, an optional ordinal suffix), a word (letters with inner apostrophes) or a
symbol that is spoken (``%``, ``$``, ``€``, ``£``, ``&``, ``@``). Hyphens separate words
(``"twenty-six"`` is two). :func:`spoken_words` then reads each token as it is spoken —
numbers spelled out by num2words in the American reading the en_US voice uses (no "and":
``"1,250"`` is five words, "one thousand two hundred fifty"; ``"12"`` one, "twelve";
``"5th"`` one, "fifth"; ``"3.14"`` four; ``"1.2.3"`` five, "one point two point three"),
symbols as their word (``"10%"`` is two). Known gap: years are read as cardinals
(``"1999"`` is five words; espeak says four, "nineteen hundred ninety nine").
"""

from __future__ import annotations

import re
from functools import cache

_VOWEL_GROUPS = re.compile(r"[aeiouy]+")
_LETTERS = r"[^\W\d_]+(?:['’][^\W\d_]+)*"
_NUMBER = r"\d+(?:[.,]\d+)*(?:(?:st|nd|rd|th)(?![^\W\d_]))?"
_SYMBOLS = {"%": "percent", "$": "dollars", "€": "euros", "£": "pounds", "&": "and", "@": "at"}
#: the tokeniser: a number, a word, or a spoken symbol.
_TOKEN = re.compile(rf"{_NUMBER}|{_LETTERS}|[{re.escape(''.join(_SYMBOLS))}]")
_ORDINAL = re.compile(r"^(\d+(?:,\d{3})*)(st|nd|rd|th)$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+$")
_DECIMAL = re.compile(r"^\d+(?:[.,]\d+)?$")
_DIGIT = re.compile(r"\d")


def tokens(text: str | None) -> list[str]:
    """The tokens of ``text`` in order, as written: numbers (``"12"``, ``"1,250"``,
    ``"5th"``), words (``"don't"``) and spoken symbols (``"%"``). Punctuation, and a hyphen
    between words, is not a token, nor is a run of signs without a letter (``"²"``)."""
    return [
        t
        for t in _TOKEN.findall((text or "").replace("-", " "))
        if _DIGIT.match(t) or t in _SYMBOLS or any(c.isalpha() for c in t)
    ]


def is_word(token: str) -> bool:
    """True for a token made of letters (a word as written, not a number or a symbol)."""
    return token[:1].isalpha()


def _num2words(value: float, language: str, to: str) -> str | None:
    """num2words in ``language``, else English; English without "and" (the en_US
    reading); None when neither can spell it."""
    from num2words import num2words

    for lang in (language, "en"):
        try:
            spelled = num2words(value, lang=lang, to=to)
        except (NotImplementedError, OverflowError, ValueError, TypeError, ArithmeticError):
            continue
        return re.sub(r"\band\b", " ", spelled) if lang.startswith("en") else spelled
    return None


@cache
def _spell(number: str, language: str) -> tuple[str, ...]:
    """The words a number token is spoken as, e.g. ``("twelve",)``. A number num2words
    cannot spell (too large) is read digit by digit; a token of several dotted or comma'd
    groups that is no single number ("1.2.3", "12.05.2024") group by group, a dot said
    "point"."""
    spelled: str | None
    ordinal = _ORDINAL.match(number)
    if ordinal or _THOUSANDS.match(number) or _DECIMAL.match(number):
        try:
            if ordinal:
                spelled = _num2words(int(ordinal.group(1).replace(",", "")), language, "ordinal")
            elif _THOUSANDS.match(number):
                spelled = _num2words(int(number.replace(",", "")), language, "cardinal")
            else:
                value = number.replace(",", ".")
                spelled = _num2words(float(value) if "." in value else int(value), language, "cardinal")
        except ValueError:  # more digits than int() reads
            spelled = None
    else:
        spelled = " ".join(
            "point" if part == "." else "" if part == "," else " ".join(_spell(part, language))
            for part in re.split(r"([.,])", number)
        )
    if spelled is None:
        return tuple(w for d in number if _DIGIT.match(d) for w in _spell(d, language))
    return tuple(w for w in _TOKEN.findall(spelled.replace("-", " ")) if is_word(w))


def spoken_words(text: str | None, language: str = "en") -> list[str]:
    """The words ``text`` is spoken as, in order: :func:`tokens` with numbers spelled out
    in ``language`` (a num2words code such as ``"de"``; English where num2words lacks it)
    and symbols as their English word. Punctuation is not a word."""
    words: list[str] = []
    for token in tokens(text):
        if _DIGIT.match(token):
            words.extend(_spell(token, language))
        elif token in _SYMBOLS:
            words.append(_SYMBOLS[token])
        else:
            words.append(token)
    return words


def count_syllables(word: str) -> int:
    """English syllables of one token by vowel groups, minus a silent final -e; at least 1
    for a word with letters, 0 for none. A number or symbol counts as the words it is
    spoken as (``"12"`` → "twelve" → 1)."""
    if _DIGIT.search(word) or any(c in _SYMBOLS for c in word):
        return sum(count_syllables(w) for w in spoken_words(word))
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 0
    count = len(_VOWEL_GROUPS.findall(w))
    if w.endswith("e") and not w.endswith(("le", "ee")) and count > 1:
        count -= 1
    return max(1, count)


def count_words(text: str | None, language: str = "en") -> int:
    """How many words ``text`` is spoken as (:func:`spoken_words`)."""
    return len(spoken_words(text, language))

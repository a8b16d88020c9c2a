"""Words and sounds → lexemes, and lexemes → a scene's core.

A lexeme is one lower-case content word (no function words, no punctuation). The core
is the scene's compressed binding: its most salient 1–3 lexemes, as lemmas (:func:`lemma`:
"dogs" and "dog" are one lexeme), joined by ``+``. Salience is information: a lemma's count
in the text times how rare it is in the language (``8 − Zipf frequency`` from wordfreq, so
"stripe" outweighs "middle", and "dog" outweighs "almost"); ties go to the earlier word.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

from agent.paths import ASSETS
from agent.sound import Sound
from agent.words import is_word
from agent.words import tokens as _all_tokens

STOPWORDS_FILE = ASSETS / "lexicon" / "stopwords_en.txt"
CORE_SIZE = 3


def read_word_list(path: Path) -> frozenset[str]:
    """The words of a word-list file: whitespace-separated, ``#`` starts a comment."""
    words: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        words.update(line.split("#", 1)[0].split())
    return frozenset(words)


@cache
def stopwords() -> frozenset[str]:
    return read_word_list(STOPWORDS_FILE)


def tokens(text: str | None) -> list[str]:
    """Lower-case words of ``text`` in order: the letter tokens of the one tokeniser
    (:func:`agent.words.tokens`, so lexemes and word counts split text alike), with a
    typographic apostrophe written ``'``. Numbers and symbols are not lexemes."""
    return [t.lower().replace("’", "'") for t in _all_tokens(text) if is_word(t)]


def text_lexemes(text: str) -> list[str]:
    """Content words of ``text``, in order of first appearance, without repeats."""
    stop = stopwords()
    seen: dict[str, None] = {}
    for word in tokens(text):
        if word not in stop and len(word) > 2 and "'" not in word:
            seen.setdefault(word, None)
    return list(seen)


@cache
def lemma(word: str, language: str = "en") -> str:
    """The dictionary form of a lower-case ``word`` (simplemma's tables: "dogs" → "dog",
    "went" → "go", "mice" → "mouse"), else the word itself (a language simplemma lacks, a
    word it does not know). Where the lemma is much rarer than the word — at least half a
    Zipf unit, so a participle that is an adjective in its own right — the word stays:
    "tired" is not "tire", while "children" becomes "child"."""
    import simplemma
    from wordfreq import zipf_frequency

    try:
        found = str(simplemma.lemmatize(word, lang=language or "en")).lower()
    except ValueError:  # a language simplemma has no data for
        return word
    if found == word or not found.replace("'", "").replace("-", "").isalpha():
        return word
    if zipf_frequency(word, language or "en") - zipf_frequency(found, language or "en") >= 0.5:
        return word
    return found


def content_lemmas(text: str | None, language: str | None = None) -> list[str]:
    """The lemmas of ``text``'s content words, in order, repeats kept (see :func:`core_of`)."""
    stop = stopwords()
    return [lemma(w, language or "en") for w in tokens(text) if w not in stop and len(w) > 2 and "'" not in w]


def salience(word: str, count: int, language: str = "en") -> float:
    """``count × (8 − Zipf frequency)``: frequent-in-text and rare-in-language words win."""
    from wordfreq import zipf_frequency

    return count * (8.0 - zipf_frequency(word, language or "en"))


def core_of(text: str, size: int = CORE_SIZE, language: str | None = None) -> str | None:
    """The ``size`` most salient lemmas of ``text`` joined by ``+``; None for no lexemes."""
    words = content_lemmas(text, language)
    if not words:
        return None
    counts = Counter(words)
    first = {w: i for i, w in reversed(list(enumerate(words)))}
    ranked = sorted(counts, key=lambda w: (-salience(w, counts[w], language or "en"), first[w]))
    return "+".join(ranked[:size])


def sound_lexemes(sound: Sound) -> list[str]:
    """Lexemes that describe a sound without words, from its measured descriptors:
    loudness (``loud``/``soft``/``faint``), pitch register (``low``/``mid``/``high``),
    length (``brief``/``long``), texture (``rough``/``smooth``) and rhythm
    (``pulsing``/``steady``). Thresholds are in the code and documented by the tests."""
    out: list[str] = []
    if sound.energy_db is not None:
        out.append("loud" if sound.energy_db > -20 else "soft" if sound.energy_db > -40 else "faint")
    if sound.f0_median_hz is not None and (sound.voiced_ratio or 0) > 0.2:
        out.append("low" if sound.f0_median_hz < 150 else "high" if sound.f0_median_hz > 400 else "mid")
    elif sound.centroid_hz is not None:
        out.append("low" if sound.centroid_hz < 800 else "high" if sound.centroid_hz > 3000 else "mid")
    if sound.duration_s is not None:
        out.append("brief" if sound.duration_s < 1.0 else "long" if sound.duration_s > 4.0 else "")
    if sound.roughness is not None:
        out.append("rough" if sound.roughness > 0.35 else "smooth")
    if sound.onset_rate_hz is not None:
        out.append("pulsing" if sound.onset_rate_hz > 2.0 else "steady")
    return [w for w in out if w]

"""Compression (seed 004 §11.1): an utterance, or a fused multimodal scene, → its core.

:func:`compress` reads a heard scene into a :class:`Compressed` scene:

- **core**: 1–4 lemmas by salience — a lemma's count in the words times how rare it is in
  the language (:func:`agent.lexicon.salience`, wordfreq's background frequencies), so
  "the child almost hurt the small dog" is ``hurt+dog+child``, not its first content words.
  From the words, the first lemma always and up to :data:`WORD_LEMMAS` while each is at least
  :data:`KEEP` of the first's salience (a sentence about one thing has a core of one); then
  the most salient of what other channels perceived (a fused scene's sight, smell or gesture
  lexemes, weighed at the words' median), so a fused core holds up to four.
- **mode**: from the measured voice first (``assets/voice_modes.toml``; the listener's
  reading when the scene carries one), and from the words where the voice says nothing (no
  sound, or ``neutral``): a question, a strong unpleasant or pleasant valence (VADER).
- **register**: the voice's (and the words' cues) — how the scene will unfold.
- **context**: the topic the scene continues — the most salient of its lemmas heard in the
  session's earlier turns (newest first) or known from memory; None when it opens a topic.

It is deterministic: the same scene and session give the same compressed scene.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from agent.lexicon import content_lemmas, salience
from agent.mood import word_valence
from agent.register import voice_register
from agent.scene import MAX_CORE_LEXEMES, Scene

#: a lemma of the words joins the core while its salience is at least this share of the first's.
KEEP = 0.8
#: the most lemmas the words give the core; another channel may add one more.
WORD_LEMMAS = 3


@dataclass(frozen=True)
class Compressed:
    """A scene compressed.

    Attributes:
        core: 1–4 lemmas joined by ``+``; None for a scene without content words.
        weights: every content lemma and its salience (count × (8 − Zipf)), most salient first.
        mode: how it was said (a heard mode of ``assets/voice_modes.toml``).
        register: how it unfolds (logical, poetic, emotional, archetypal, bodily).
        context: the topic it continues (a lemma), or None.
        valence: the words' valence, −1…+1 (VADER).
    """

    core: str | None
    weights: dict[str, float] = field(default_factory=dict)
    mode: str = "neutral"
    register: str = "logical"
    context: str | None = None
    valence: float = 0.0

    @property
    def lemmas(self) -> list[str]:
        """The core's lemmas, most salient first."""
        return self.core.split("+") if self.core else []


def weigh(text: str | None, language: str | None = None, extra: Iterable[str] = ()) -> dict[str, float]:
    """Lemma → salience for the content words of ``text``, most salient first (ties: the
    earlier word); ``extra`` lexemes (other channels') join at the words' median salience."""
    words = content_lemmas(text, language)
    counts = Counter(words)
    first = {w: i for i, w in reversed(list(enumerate(words)))}
    weights = {w: salience(w, counts[w], language or "en") for w in counts}
    base = statistics.median(weights.values()) if weights else 4.0
    for i, lexeme in enumerate(extra):
        if lexeme not in weights and lexeme.isalpha():
            weights[lexeme] = base
            first[lexeme] = len(words) + i
    return dict(sorted(weights.items(), key=lambda kv: (-kv[1], first[kv[0]])))


def words_mode(text: str | None, valence: float) -> str | None:
    """A mode the words alone give, or None: ``questioning`` for a question, ``tense`` for a
    strongly unpleasant exclamation, ``low-energy`` for a strongly unpleasant statement,
    ``bright`` for a pleasant one."""
    said = (text or "").strip()
    if said.endswith("?"):
        return "questioning"
    if valence <= -0.5:
        return "tense" if "!" in said else "low-energy"
    if valence >= 0.5:
        return "bright"
    return None


def compress(
    scene: Scene,
    *,
    earlier: Sequence[Iterable[str]] = (),
    known: Iterable[str] = (),
) -> Compressed:
    """Compress a heard ``turn`` (or ``fused``) scene.

    Args:
        scene: its ``text``, ``sound`` and ``language`` are read; a fused scene's lexemes
            beyond its words join the core's candidates.
        earlier: the lemmas of the session's earlier turns, oldest first.
        known: lemmas memory holds (facts, anchors), for the context.
    """
    language = scene.language or "en"
    extra: list[str] = []
    if scene.channel == "fused":  # what the other channels perceived: their core lexemes first
        in_words = set(content_lemmas(scene.text, language))
        extra = [x for x in dict.fromkeys([*(scene.core or "").split("+"), *scene.lexemes]) if x and x not in in_words]
    weights = weigh(scene.text, language, extra)
    ranked = list(weights)
    said = [w for w in ranked if w not in extra]
    core_lemmas = [w for w in said[:WORD_LEMMAS] if weights[w] >= KEEP * weights[said[0]]] if said else []
    core_lemmas += [w for w in ranked if w in extra][: MAX_CORE_LEXEMES - len(core_lemmas)][:1]
    register: str
    if scene.register and scene.mode:  # as the listener heard it
        register, mode = scene.register, scene.mode
    else:
        register, mode = voice_register(scene.sound, scene.text)
    valence = word_valence(scene.text)
    if mode == "neutral" or scene.sound is None:
        mode = words_mode(scene.text, valence) or mode
    context = None
    for before in reversed([set(b) for b in earlier]):
        shared = [w for w in ranked if w in before]
        if shared:
            context = shared[0]
            break
    if context is None:
        memory = set(known)
        context = next((w for w in ranked if w in memory), None)
    return Compressed(
        core="+".join(core_lemmas) or None,
        weights={k: round(v, 3) for k, v in weights.items()},
        mode=mode,
        register=register,
        context=context,
        valence=round(valence, 3),
    )

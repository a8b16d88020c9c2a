"""Recall: which kept facts and scenes a heard sentence calls up, and the scenes that carry them.

A fact is called up by a question that asks for its kind ("What is my name?" → the name,
score 1), by sharing words with the sentence (its value or relation, score = the share of
the fact's words heard), or by sentence embedding (cosine between the sentence and the
fact said as a sentence). A past heard scene is called up by embedding (cosine) or by
shared lexemes (share of the sentence's lexemes it holds). Each item keeps its best score;
those under ``min_similarity`` are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from agent.facts import asked_kinds, sentence
from agent.lexicon import text_lexemes, tokens
from agent.scene import Scene
from modules.memory.store import MemoryStore, StoredFact, StoredScene

_LEXEME = re.compile(r"^[^\s+]+$")


@dataclass(frozen=True)
class Recalled:
    """One recalled item: a fact or a kept scene, and its score (0–1)."""

    score: float
    fact: StoredFact | None = None
    scene: StoredScene | None = None


def fact_words(fact: StoredFact) -> set[str]:
    """The lower-case words of a fact's value and relation."""
    return set(tokens(fact.value)) | ({fact.relation} if fact.relation else set())


def score_facts(
    text: str, facts: list[StoredFact], query: np.ndarray | None, fact_vectors: np.ndarray | None
) -> list[tuple[StoredFact, float]]:
    """Each fact's recall score for ``text`` (see the module docstring), best first.

    Args:
        text: the heard sentence or search query.
        facts: the kept facts.
        query: ``text``'s embedding (unit float32) or None.
        fact_vectors: the embeddings of ``sentence(fact)`` for ``facts``, (len(facts), DIM), or None.
    """
    asked = asked_kinds(text)
    heard = set(tokens(text))
    scored: list[tuple[StoredFact, float]] = []
    for i, fact in enumerate(facts):
        score = 0.0
        if any(fact.kind == kind and relation in ("", fact.relation) for kind, relation in asked):
            score = 1.0
        words = fact_words(fact)
        if words:
            score = max(score, len(words & heard) / len(words))
        if query is not None and fact_vectors is not None:
            score = max(score, float(fact_vectors[i] @ query))
        scored.append((fact, score))
    scored.sort(key=lambda pair: (-pair[1], -pair[0].confirmations))
    return scored


def recall(
    store: MemoryStore,
    text: str,
    *,
    query: np.ndarray | None,
    fact_vectors: np.ndarray | None,
    facts: list[StoredFact],
    max_facts: int,
    max_scenes: int,
    min_score: float,
    exclude_scenes: set[str] = frozenset(),
    exclude_facts: set[int] = frozenset(),
) -> list[Recalled]:
    """The facts and past heard scenes ``text`` calls up, facts first, each group best first.

    Runs on the store's thread. ``facts`` and ``fact_vectors`` are as in :func:`score_facts`;
    ``exclude_*`` leaves out what the sentence itself just stated.
    """
    found: list[Recalled] = []
    for fact, score in score_facts(text, facts, query, fact_vectors):
        if len([r for r in found if r.fact]) >= max_facts:
            break
        if score >= min_score and fact.id not in exclude_facts:
            found.append(Recalled(score, fact=fact))
    best: dict[str, float] = {}
    if query is not None:
        for scene_id, score in store.search_vectors(query, max_scenes, set(exclude_scenes)):
            best[scene_id] = max(best.get(scene_id, 0.0), score)
    lexemes = text_lexemes(text)
    for scene_id, score in store.search_lexemes(lexemes, max_scenes, set(exclude_scenes)):
        best[scene_id] = max(best.get(scene_id, 0.0), score)
    ranked = sorted(((s, i) for i, s in best.items() if s >= min_score), reverse=True)[:max_scenes]
    for score, scene_id in ranked:
        stored = store.stored(scene_id)
        if stored is not None:
            found.append(Recalled(score, scene=stored))
    return found


def _core(words: list[str]) -> str | None:
    kept = [w for w in words if _LEXEME.match(w)][:4]
    return "+".join(kept) or None


def recall_scene(cause: Scene, item: Recalled, anchor_confirmations: int, kind: str = "recall") -> Scene:
    """The ``memory`` scene that carries ``item`` to the mind, a child of ``cause``.

    A fact: ``text`` = its value (``Anna``), ``context`` = its kind (``name``, ``like``,
    ``place``, ``person``), ``speaker`` = whose fact, ``trust`` = ``anchor`` after
    ``anchor_confirmations`` confirmations (else ``hypothesis``), ``source`` =
    ``memory:<scene id it was first heard in>``. A past scene: ``text`` = what was said,
    ``context`` = ``scene``, ``source`` = ``memory:<its id>``, trust ``hypothesis``.
    """
    if item.fact is not None:
        f = item.fact
        words = [w.lower() for w in ([f.kind] + ([f.relation] if f.relation else []) + f.value.split())]
        return cause.derive(
            channel="memory",
            kind=kind,
            text=f.value,
            context=f.kind,
            act="recall",
            speaker=f.subject,
            lexemes=[w for w in words if _LEXEME.match(w)],
            core=_core(words),
            trust="anchor" if f.confirmations >= anchor_confirmations else "hypothesis",
            source=f"memory:{f.source_scene}",
        )
    assert item.scene is not None
    s = item.scene
    return cause.derive(
        channel="memory",
        kind=kind,
        text=s.text,
        context="scene",
        act="recall",
        speaker=s.speaker,
        core=s.core,
        lexemes=text_lexemes(s.text or ""),
        trust="hypothesis",
        source=f"memory:{s.id}",
    )


__all__ = ["Recalled", "recall", "recall_scene", "score_facts", "sentence"]

"""Decompression (seed 004 §11.2): a compressed scene → 3–7 sub-scenes.

Each sub-scene (channel ``mind``, kind ``subscene``, parent the scene it unfolds) is one
active part of the scene with a role, a rhythm phase and a register
(:class:`agent.parts.Unfolding`). They are found four ways:

- **the core**: each core lemma — the one felt most strongly (VADER's rating ≥ :data:`FELT`)
  is the ``tension`` (peak), the most salient of the others the ``figure`` (peak); a lemma
  the mind trusts as an anchor node is an ``anchor`` (onset); the rest, and the one the scene
  continues from the session or memory (its ``context``), are ``background`` (onset).
- **similarity**: remembered turns whose lemma vectors (salience-weighted) have a cosine
  ≥ ``min_cosine`` with this one, each a ``memory`` (onset).
- **Δ-code templates**: a frozen code that shares at least half its lemmas with the scene
  is an ``archetype`` (decay) carrying its whole formula: ``Δ01 = rain + garden`` unfolds
  "rain" toward "garden", and a scene that holds both instantiates it.
- **the field**: a mood far from neutral is a sub-scene of its own (``tension`` when
  unpleasant, else ``background``).

Fewer than three found, a ``question`` (decay) is added: what the scene leaves open about
its figure (and, still short, the field as a ``background``). More than seven, the weakest
go. They are ordered onset → peak → decay. A scene without a core unfolds into nothing.

Registers: a felt lemma unfolds ``emotional``; a lemma among a register's cue words
(``assets/voice_modes.toml``) in that register; an archetype ``archetypal``; a memory
``poetic`` (it comes back as an image); the figure in the scene's own register; the rest
``logical``. Deterministic: the same inputs give the same sub-scenes (ids aside).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from agent.compress import Compressed
from agent.deltas import DeltaCode, expand
from agent.mindstore import PastTurn
from agent.mood import Mood, word_feeling
from agent.parts import Phase, Role, Unfolding, Via
from agent.register import mode_table
from agent.scene import Scene

MIN_SUBSCENES, MAX_SUBSCENES = 3, 7
#: VADER's rating (−4…+4) from which a lemma is felt: a tension.
FELT = 1.5
_PHASE: dict[str, Phase] = {
    "background": "onset",
    "anchor": "onset",
    "memory": "onset",
    "figure": "peak",
    "tension": "peak",
    "archetype": "decay",
    "question": "decay",
}
_ORDER = {"onset": 0, "peak": 1, "decay": 2}


def lemma_register(lemma: str, default: str = "logical") -> str:
    """The register a lemma unfolds in: emotional when felt, a register whose cue words
    hold it, else ``default``."""
    if abs(word_feeling(lemma)) >= FELT:
        return "emotional"
    for register, words in mode_table().words.items():
        if lemma in words:
            return register
    return default


def _sub(scene: Scene, role: Role, via: Via, weight: float, core: str, register: str, **more) -> Scene:
    return scene.derive(
        channel="mind",
        kind="subscene",
        core=core,
        lexemes=core.split("+"),
        register=register,
        language=scene.language,
        unfolding=Unfolding(role=role, phase=_PHASE[role], weight=round(min(1.0, max(0.0, weight)), 3), via=via),
        source="mind",
        **more,
    )


def unfold(
    scene: Scene,
    compressed: Compressed,
    *,
    similar: Sequence[tuple[PastTurn, float]] = (),
    codes: Sequence[DeltaCode] = (),
    anchors: Collection[str] = (),
    mood: Mood | None = None,
) -> list[Scene]:
    """The sub-scenes of ``scene`` (its compressed form ``compressed``).

    Args:
        scene: the compressed scene they unfold (their parent; its register and language).
        similar: remembered turns like it, with their cosine (``MindStore.similar``).
        codes: every frozen Δ-code.
        anchors: lemmas the mind trusts as anchors.
        mood: the mind's field now.
    """
    lemmas = compressed.lemmas
    if not lemmas:
        return []
    subs: list[Scene] = []
    top = compressed.weights[lemmas[0]] or 1.0
    strongest = max(lemmas, key=lambda w: abs(word_feeling(w)))
    felt = strongest if abs(word_feeling(strongest)) >= FELT and len(lemmas) > 1 else None
    figure = next(w for w in lemmas if w != felt)
    own_register = scene.register or "logical"
    for lemma in lemmas:
        role: Role
        via: Via = "core"
        if lemma == figure:
            role = "figure"
        elif lemma == felt:
            role = "tension"
        elif lemma in anchors and lemma != compressed.context:
            role, via = "anchor", "anchor"
        else:
            role = "background"
        register = lemma_register(lemma, own_register if role == "figure" else "logical")
        subs.append(_sub(scene, role, via, compressed.weights[lemma] / top, lemma, register))
    for past, cos in similar:
        subs.append(_sub(scene, "memory", "similar", cos, past.core, "poetic", context=past.wall[:10]))
    held = set(lemmas)
    for code in codes:
        parts = expand(code.code, {c.code: c for c in codes})
        shared = [p for p in parts if p in held]
        if len(shared) * 2 >= len(parts):
            subs.append(
                _sub(
                    scene,
                    "archetype",
                    "delta",
                    len(shared) / len(parts),
                    "+".join(parts[:4]),
                    "archetypal",
                    delta=code.code,
                )
            )
    if mood is not None and mood.strength >= 0.3:
        role = "tension" if mood.valence < 0 else "background"
        subs.append(_sub(scene, role, "field", mood.strength / 1.4143, mood.label, "emotional"))
    if len(subs) < MIN_SUBSCENES:
        subs.append(_sub(scene, "question", "core", 0.3, figure, "logical", act="ask"))
    if len(subs) < MIN_SUBSCENES:
        subs.append(_sub(scene, "background", "field", 0.2, (mood.label if mood else "calm"), "bodily"))
    subs.sort(key=lambda s: -(s.unfolding.weight if s.unfolding else 0))
    subs = subs[:MAX_SUBSCENES]
    subs.sort(key=lambda s: _ORDER[s.unfolding.phase] if s.unfolding else 0)
    return subs

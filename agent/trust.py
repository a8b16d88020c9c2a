"""Trust: which of the mind's nodes are anchors and which stay hypotheses (seed 000 §16).

A node is a combination of lemmas the mind has heard bound in a core: each core lemma
alone, each pair of them, and the whole core. A **short** node (at most
:data:`MAX_ANCHOR_LEMMAS` lemmas), **confirmed** — heard in ``anchor_confirmations`` turns
over more than one session, or in twice as many turns of one — becomes an ``anchor``
(repetition across sessions counts for more than insistence within one); a long one (a
whole 3–4 lemma core) or a new one stays a ``hypothesis``, however often it comes back: a
long binding is a reading, not a fact. Nodes are kept across sessions
(``agent/mindstore.py``), so a node confirmed yesterday is trusted today.
"""

from __future__ import annotations

from itertools import combinations

MAX_ANCHOR_LEMMAS = 2


def nodes_of(lemmas: list[str]) -> list[tuple[str, ...]]:
    """The nodes a core's lemmas confirm: each lemma, each pair, and the whole core (sorted
    tuples, without repeats)."""
    unique = sorted(set(lemmas))
    out: set[tuple[str, ...]] = {(w,) for w in unique}
    out.update(combinations(unique, 2))
    if unique:
        out.add(tuple(unique))
    return sorted(out, key=lambda n: (len(n), n))


def trust_of(size: int, confirmations: int, sessions: int, anchor_confirmations: int = 3) -> str:
    """``anchor`` for a short node heard in ``anchor_confirmations`` turns (counting the
    first) over more than one session, or in twice as many turns within one; else
    ``hypothesis``."""
    if size > MAX_ANCHOR_LEMMAS:
        return "hypothesis"
    if confirmations >= anchor_confirmations and (sessions > 1 or confirmations >= 2 * anchor_confirmations):
        return "anchor"
    return "hypothesis"

"""Δ-codes: recurring lexeme combinations frozen into named formulas (seed 004 §11.1.2).

The mind keeps each turn's core lemmas as an *item set*. :func:`mine` counts, over those
sets, how often two items occur together and how strongly (pointwise mutual information,
``PMI = log2(n_ab · N / (n_a · n_b))``: 0 for a pair that meets by chance, higher for one
that meets more often than its parts' frequencies predict). A pair seen together at least
``min_count`` times with PMI ≥ ``min_pmi`` is frozen as the next code, ``Δ01 = a + b``.
Frozen codes are items themselves: in every item set that holds all of a code's parts, the
parts are replaced by the code, so a code that keeps company with another lexeme freezes in
turn — ``Δ02 = Δ01 + memory`` — and codes compose. A frozen code never thaws; its name is
kept for good (``agent/mindstore.py``).

Nothing is frozen before it recurs: one item set, or a pair that is in every set (PMI 0),
gives no code.

The counts are kept between turns (:class:`Cooccurrence`): a turn that comes is added, a
turn that leaves the window is taken out, and only a new code (which changes what every
item set holds) has them counted again. Counting every kept turn afresh on each turn took
122 ms at 2 000 turns (``bench/turn_upkeep.py``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TypeVar

CODE = re.compile(r"^Δ\d{2,}$")
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class DeltaCode:
    """A frozen formula.

    Attributes:
        code: its name, ``Δ01``.
        parts: what it binds, in order: lemmas or other codes (``("Δ01", "memory")``).
        count: item sets that held all its parts when it froze.
        pmi: the association of its two parts then, bits.
    """

    code: str
    parts: tuple[str, ...]
    count: int
    pmi: float

    @property
    def formula(self) -> str:
        """``Δ02 = Δ01 + memory``."""
        return f"{self.code} = {' + '.join(self.parts)}"


def expand(code: str, codes: dict[str, DeltaCode]) -> list[str]:
    """The lemmas a code stands for, codes within it unfolded: ``Δ02`` → ``[a, b, memory]``."""
    out: list[str] = []
    for part in codes[code].parts:
        out.extend(expand(part, codes) if CODE.match(part) and part in codes else [part])
    return out


def apply_codes(items: Iterable[str], codes: Sequence[DeltaCode]) -> set[str]:
    """``items`` with every code whose parts are all present standing in for those parts
    (codes applied in the order they froze, so a composed code sees its inner code)."""
    held = set(items)
    for c in codes:
        if all(p in held for p in c.parts):
            held.difference_update(c.parts)
            held.add(c.code)
    return held


def pmi(n_ab: int, n_a: int, n_b: int, n: int) -> float:
    """Pointwise mutual information in bits; ``-inf`` when the pair never met."""
    if n_ab <= 0 or n_a <= 0 or n_b <= 0 or n <= 0:
        return -math.inf
    return math.log2(n_ab * n / (n_a * n_b))


def _take_out(counts: Counter[K], keys: Iterable[K]) -> None:
    """One less of each key; a count that reaches 0 goes (the counts are those of the window)."""
    for key in keys:
        counts[key] -= 1
        if not counts[key]:
            del counts[key]


class Cooccurrence:
    """How often each item and each pair of items occur over a window of item sets (one per
    turn, each under a key: the turn's row), with the ``codes`` applied to every set.

    Not thread-safe: one thread keeps it (the mind's remembering thread)."""

    def __init__(self, codes: Sequence[DeltaCode] = ()) -> None:
        self._reset(codes)

    def _reset(self, codes: Sequence[DeltaCode]) -> None:
        self.codes: list[DeltaCode] = list(codes)
        self.single: Counter[str] = Counter()
        self.pairs: Counter[tuple[str, str]] = Counter()
        self._sets: dict[Hashable, frozenset[str]] = {}

    @property
    def n(self) -> int:
        """Item sets counted."""
        return len(self._sets)

    def add(self, key: Hashable, items: Iterable[str]) -> None:
        """Count one item set (a key already counted is left as it was)."""
        if key in self._sets:
            return
        held = frozenset(apply_codes(items, self.codes))
        self._sets[key] = held
        self.single.update(held)
        self.pairs.update(combinations(sorted(held), 2))

    def remove(self, key: Hashable) -> None:
        """Take one item set out of the counts (an unknown key: nothing)."""
        held = self._sets.pop(key, None)
        if held is None:
            return
        _take_out(self.single, held)
        _take_out(self.pairs, combinations(sorted(held), 2))

    def sync(self, window: Sequence[tuple[Hashable, Iterable[str]]], codes: Sequence[DeltaCode]) -> None:
        """Make the counts those of ``window`` ((key, items) of every set now kept) under
        ``codes``: sets gone are taken out, new ones added; new codes count every set again."""
        if list(codes) != self.codes:  # (a name can come back with other parts after an erasure)
            self._reset(codes)
        keys = {key for key, _ in window}
        for key in [k for k in self._sets if k not in keys]:
            self.remove(key)
        for key, items in window:
            self.add(key, items)

    def mine(self, *, min_count: int = 3, min_pmi: float = 1.0, max_new: int = 3) -> list[DeltaCode]:
        """New codes from the counts (see :func:`mine`)."""
        codes, n = self.codes, self.n
        known = {frozenset(c.parts) for c in codes}
        found = []
        for (a, b), n_ab in self.pairs.items():
            if n_ab < min_count or frozenset((a, b)) in known:
                continue
            score = pmi(n_ab, self.single[a], self.single[b], n)
            if score >= min_pmi:
                found.append((n_ab * score, a, b, n_ab, score))
        found.sort(key=lambda f: (-f[0], f[1], f[2]))
        number = max((int(c.code[1:]) for c in codes), default=0)
        new: list[DeltaCode] = []
        used: set[str] = set()
        for _, a, b, n_ab, score in found:
            if len(new) == max_new:
                break
            if a in used or b in used:
                continue
            number += 1
            # a code first, then the lemma: "Δ01 + memory"
            parts = (a, b) if CODE.match(a) or not CODE.match(b) else (b, a)
            new.append(DeltaCode(f"Δ{number:02d}", parts, n_ab, round(score, 3)))
            used.update((a, b))
        return new


def mine(
    item_sets: Sequence[Iterable[str]],
    codes: Sequence[DeltaCode],
    *,
    min_count: int = 3,
    min_pmi: float = 1.0,
    max_new: int = 3,
) -> list[DeltaCode]:
    """New codes from ``item_sets`` (each turn's lemmas), given the ``codes`` frozen so far.

    Returns up to ``max_new`` codes, strongest first (count × PMI), numbered after the
    highest existing code; an item joins at most one new code per call. A pair whose items
    are already bound by one code (or that is a code's own parts) is not frozen again.
    """
    counts = Cooccurrence(codes)
    for i, items in enumerate(item_sets):
        counts.add(i, items)
    return counts.mine(min_count=min_count, min_pmi=min_pmi, max_new=max_new)

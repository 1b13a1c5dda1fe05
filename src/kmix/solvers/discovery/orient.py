"""Orienting a skeleton: background knowledge, colliders from separating sets, Meek's rules.

With ``U`` in every conditioning set, the separating sets of the skeleton
search play the role they play in PC: ``U`` is a parent of every variable,
never a collider between two observed ones, so for an unshielded triple
``X - M - Y`` (``X``, ``Y`` not adjacent) ``M`` is a collider ``X -> M <- Y``
exactly when ``M`` is not in the set that separated ``X`` and ``Y``
(Spirtes, Glymour & Scheines 2000, section 5.4.2; Mazaheri, Gordon, Rabani &
Schulman, arXiv:2311.07454, 2023, the orientation phase). Then Meek's rules
R1-R4 ("Causal inference and causal explanation with background knowledge",
UAI 1995) orient every edge that all DAGs of the class share; R1-R3 are
complete without background knowledge, R4 is needed with it.

The graph is a matrix ``G`` with ``G[a, b] = G[b, a] = True`` for ``a - b``
and ``G[a, b] = True, G[b, a] = False`` for ``a -> b``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = ["Orientation", "equivalence_class", "meek", "orient"]

BoolArray = NDArray[np.bool_]
Pair = tuple[int, int]


@dataclass(frozen=True)
class Orientation:
    """An oriented skeleton and why each edge points where it does.

    Attributes
    ----------
    graph : ndarray of bool, shape (n, n)
        ``G[a, b] and not G[b, a]``: ``a -> b``; both: ``a - b``.
    rule : dict
        ``(a, b) -> "background" | "collider" | "R1" | "R2" | "R3" | "R4"`` for ``a -> b``.
    conflicts : list of (int, int, int)
        Colliders ``(x, m, y)`` that contradicted an edge already oriented the
        other way (by background knowledge or an earlier collider), left out.
    """

    graph: BoolArray
    rule: dict[Pair, str] = field(default_factory=dict)
    conflicts: list[tuple[int, int, int]] = field(default_factory=list)


def _undirected(g: BoolArray, a: int, b: int) -> bool:
    return bool(g[a, b] and g[b, a])


def _directed(g: BoolArray, a: int, b: int) -> bool:
    return bool(g[a, b] and not g[b, a])


def _adjacent(g: BoolArray, a: int, b: int) -> bool:
    return bool(g[a, b] or g[b, a])


def meek(graph: BoolArray, rule: dict[Pair, str] | None = None) -> BoolArray:
    """Apply Meek's rules R1-R4 until none applies; ``rule`` records each new orientation.

    R1: ``a -> b - c``, ``a, c`` not adjacent: ``b -> c``. R2: ``a -> c -> b``
    and ``a - b``: ``a -> b``. R3: ``a - c1 -> b``, ``a - c2 -> b``, ``a - b``,
    ``c1, c2`` not adjacent: ``a -> b``. R4: ``a - b``, ``c -> d -> b``, ``a``
    adjacent to ``c`` and ``d``, ``c, b`` not adjacent: ``a -> b``.
    """
    g = graph.copy()
    rule = {} if rule is None else rule
    n = g.shape[0]
    changed = True
    while changed:
        changed = False
        for a, b in itertools.permutations(range(n), 2):
            if not _undirected(g, a, b):
                continue
            why = None
            others = [c for c in range(n) if c not in (a, b)]
            if any(_directed(g, c, a) and not _adjacent(g, c, b) for c in others):
                why = "R1"
            elif any(_directed(g, a, c) and _directed(g, c, b) for c in others):
                why = "R2"
            else:
                mids = [c for c in others if _undirected(g, a, c) and _directed(g, c, b)]
                if any(not _adjacent(g, c1, c2) for c1, c2 in itertools.combinations(mids, 2)):
                    why = "R3"
                elif any(
                    _directed(g, c, d)
                    and _directed(g, d, b)
                    and _adjacent(g, a, c)
                    and _adjacent(g, a, d)
                    and not _adjacent(g, c, b)
                    for c in others
                    for d in others
                    if c != d
                ):
                    why = "R4"
            if why is not None:
                g[b, a] = False
                rule[(a, b)] = why
                changed = True
    return g


def orient(
    adjacency: BoolArray,
    sepsets: Mapping[Pair, Iterable[int]],
    *,
    required: Iterable[Pair] = (),
    forbidden: Iterable[Pair] = (),
) -> Orientation:
    """Background knowledge, then colliders, then Meek's rules.

    Parameters
    ----------
    adjacency : ndarray of bool, shape (n, n)
        The skeleton.
    sepsets : mapping
        ``(i, j) -> S`` (``i < j``) for every non-adjacent pair that a test
        separated; pairs removed without a test have no entry and form no
        collider.
    required : iterable of (a, b)
        Edges ``a -> b`` that must point so (where adjacent).
    forbidden : iterable of (a, b)
        Directions ``a -> b`` that must not occur: an adjacent pair points ``b -> a``.
    """
    g = adjacency.copy()
    n = g.shape[0]
    rule: dict[Pair, str] = {}
    conflicts: list[tuple[int, int, int]] = []
    fixed: set[Pair] = set()
    for a, b in [*required, *((b, a) for a, b in forbidden)]:
        if g[a, b] and g[b, a]:
            g[b, a] = False
            rule[(a, b)] = "background"
            fixed.add((a, b))
    for x, y in itertools.combinations(range(n), 2):
        if _adjacent(g, x, y) or (x, y) not in sepsets:
            continue
        sep = set(sepsets[(x, y)])
        for m in range(n):
            if m in (x, y) or m in sep or not (_adjacent(g, x, m) and _adjacent(g, y, m)):
                continue
            if _directed(g, m, x) or _directed(g, m, y):
                conflicts.append((x, m, y))
                continue
            for a in (x, y):
                if g[m, a]:
                    g[m, a] = False
                    rule[(a, m)] = "collider"
    g = meek(g, rule)
    return Orientation(g, rule, conflicts)


def equivalence_class(
    parents: Sequence[Sequence[int]],
    *,
    required: Iterable[Pair] = (),
    forbidden: Iterable[Pair] = (),
) -> Orientation:
    """The equivalence class (CPDAG) of a DAG, with background knowledge.

    Two DAGs are Markov equivalent exactly when they share the skeleton and
    the colliders ``a -> m <- b`` with ``a``, ``b`` not adjacent (Verma &
    Pearl, "Equivalence and synthesis of causal models", UAI 1990); ``U``,
    adjacent to every variable, adds none. The colliders are oriented, then
    the background knowledge, then Meek's rules.

    Parameters
    ----------
    parents : sequence of sequences of int
        ``parents[i]``: the parents of ``i`` in the DAG.
    required, forbidden : iterable of (a, b)
        As in :func:`orient`.
    """
    n = len(parents)
    g = np.zeros((n, n), dtype=bool)
    for b, ps in enumerate(parents):
        for a in ps:
            g[a, b] = g[b, a] = True
    rule: dict[Pair, str] = {}
    for m, ps in enumerate(parents):
        for a, b in itertools.combinations(ps, 2):
            if not g[a, b]:
                for x in (a, b):
                    g[m, x] = False
                    rule[(x, m)] = "collider"
    conflicts: list[tuple[int, int, int]] = []
    for a, b in [*required, *((b, a) for a, b in forbidden)]:
        if g[a, b] and g[b, a]:
            g[b, a] = False
            rule[(a, b)] = "background"
    g = meek(g, rule)
    return Orientation(g, rule, conflicts)

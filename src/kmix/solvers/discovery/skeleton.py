"""The skeleton of a DAG under a latent class: PC's search with rank tests on super-variables.

The PC algorithm (Spirtes, Glymour & Scheines, *Causation, Prediction, and
Search*, 2000; the order-independent "stable" form of Colombo & Maathuis,
"Order-independent constraint-based causal structure learning", JMLR 15,
2014) removes the edge ``X - Y`` when some set ``S`` of current neighbours
separates them, with ``|S|`` growing. Under a hidden ``U`` pointing at every
variable no observed ``S`` separates anything; what remains testable is
separation by ``S`` *and* ``U``, whose signature is a joint table of rank at
most ``k`` in every stratum of ``S`` (:mod:`kmix.solvers.discovery.ranktests`;
Mazaheri, Gordon, Rabani & Schulman, arXiv:2311.07454, 2023). A table of two
binary variables has rank at most 2 whatever the graph, so ``X`` and ``Y``
are tested as super-variables ``A = {X} + partners`` and ``B = {Y} +
partners`` with at least ``k + 1`` joint states each: the edge goes when
``rank P(A, B | S = s) <= k`` is not rejected.

Partners must be separated from the other side too, or the rank exceeds
``k`` and the edge stays (a wrong choice costs power, never a false
removal). They are drawn from the variables outside ``S``, those not
adjacent to the other side in the current graph first, then neighbours of
their own variable; :data:`MAX_GROUPINGS` choices are tried per ``S``
(``None``: every choice, as the authors' exhaustive search). The choices
test one hypothesis, so their evidence is pooled: the pair goes when even
the smallest of their p-values, Bonferroni-adjusted, does not reject (the
authors' code removes it at the first choice that does not reject, which
costs a weak edge its place once any choice lacks power).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .ranktests import StratifiedRankTest

__all__ = ["MAX_GROUPINGS", "Skeleton", "groupings", "learn_skeleton"]

BoolArray = NDArray[np.bool_]
Pair = tuple[int, int]
Test = Callable[[Sequence[int], Sequence[int], Sequence[int]], StratifiedRankTest]
#: Super-variable choices tried per pair and conditioning set
MAX_GROUPINGS = 3
#: Partners added to one side at most
MAX_PARTNERS = 3


@dataclass(frozen=True)
class Skeleton:
    """The undirected graph the tests leave, with their evidence.

    Attributes
    ----------
    adjacency : ndarray of bool, shape (n, n)
        Symmetric, ``False`` on the diagonal.
    sepsets : dict
        ``(i, j) -> S`` (``i < j``) for every removed pair: the conditioning
        set of the test that removed it (partners are not in it).
    removed_by : dict
        ``(i, j) -> StratifiedRankTest`` that removed the pair.
    tests : dict
        ``(i, j) -> list of StratifiedRankTest`` run on the pair, in order.
    n_tests : int
    """

    adjacency: BoolArray
    sepsets: dict[Pair, tuple[int, ...]]
    removed_by: dict[Pair, StratifiedRankTest]
    tests: dict[Pair, list[StratifiedRankTest]] = field(default_factory=dict)
    n_tests: int = 0


def _side(
    x: int,
    need: int,
    pool: Sequence[int],
    states: Callable[[Sequence[int]], int],
) -> Iterator[tuple[int, ...]]:
    """Super-variables ``(x, partners...)`` of at least ``need`` states, fewest partners first."""
    if states((x,)) >= need:
        yield (x,)
        return
    for size in range(1, MAX_PARTNERS + 1):
        found = False
        for partners in itertools.combinations(pool, size):
            group = (x, *partners)
            if states(group) >= need:
                found = True
                yield group
        if found:
            return


def groupings(
    i: int,
    j: int,
    cond: Sequence[int],
    adjacency: BoolArray,
    states: Callable[[Sequence[int]], int],
    rank: int,
    limit: int | None = MAX_GROUPINGS,
    priority: Sequence[float] | None = None,
) -> Iterator[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Sides ``A ∋ i``, ``B ∋ j`` with more than ``rank`` joint states each, partners outside
    ``cond``; partners not adjacent to the other side (in ``adjacency``) come first, then
    those of highest ``priority`` (by default neighbours of their own variable)."""
    n = adjacency.shape[0]
    taken = {i, j, *cond}
    need = rank + 1

    def ordered(x: int, others: Sequence[int], avoid: Sequence[int]) -> list[int]:
        # partners not adjacent to the other side first (in the current graph, which starts
        # complete), then neighbours of their own variable
        free = [v for v in range(n) if v not in taken and v not in avoid]
        if priority is not None:
            return sorted(
                free, key=lambda v: (sum(bool(adjacency[v, o]) for o in others), -priority[v], v)
            )
        return sorted(
            free,
            key=lambda v: (sum(bool(adjacency[v, o]) for o in others), not adjacency[v, x], v),
        )

    count = 0
    for a in _side(i, need, ordered(i, (j,), ()), states):
        for b in _side(j, need, ordered(j, a, a[1:]), states):
            yield a, b
            count += 1
            if limit is not None and count >= limit:
                return


def learn_skeleton(
    n_vars: int,
    test: Test,
    states: Callable[[Sequence[int]], int],
    rank: int,
    *,
    alpha: float,
    max_cond: int | None = None,
    required: frozenset[Pair] = frozenset(),
    absent: frozenset[Pair] = frozenset(),
    max_groupings: int | None = MAX_GROUPINGS,
    priority: Sequence[float] | None = None,
) -> Skeleton:
    """PC-stable search: remove ``i - j`` when the rank tests given ``S`` (``|S| = 0, 1, ...``)
    do not reject.

    Parameters
    ----------
    n_vars : int
    test : callable
        ``test(A, B, S) -> StratifiedRankTest`` (e.g. a
        :class:`~kmix.solvers.discovery.ranktests.RankTester`).
    states : callable
        Joint states of a set of variables.
    rank : int
        ``k``.
    alpha : float
        The pair goes at the first ``S`` whose groupings' smallest p-value
        times their number (Bonferroni) is at least ``alpha``.
    max_cond : int, optional
        Largest ``|S|`` (default: until no variable has ``|S| + 1`` neighbours).
    required, absent : frozenset of (i, j) with i < j
        Pairs kept whatever the tests say, and pairs removed before any test.
    max_groupings : int or None
        Super-variable choices per ``(pair, S)``; ``None`` tries every one.
    priority : sequence of float, optional
        Partners of higher priority first (see :func:`groupings`).
    """
    adj = ~np.eye(n_vars, dtype=bool)
    for i, j in absent:
        adj[i, j] = adj[j, i] = False
    sepsets: dict[Pair, tuple[int, ...]] = {}
    removed_by: dict[Pair, StratifiedRankTest] = {}
    tests: dict[Pair, list[StratifiedRankTest]] = {}
    n_tests = 0
    s = 0
    while max_cond is None or s <= max_cond:
        frozen = adj.copy()  # PC-stable: the neighbours of this level, fixed before its tests
        if not np.any(frozen.sum(axis=1) - 1 >= s):
            break
        for i, j in itertools.combinations(range(n_vars), 2):
            if not adj[i, j] or (i, j) in required:
                continue
            removed = False
            for x, y in ((i, j), (j, i)):
                around = [int(v) for v in np.flatnonzero(frozen[x]) if v != y]
                for cond in itertools.combinations(around, s):
                    done = [
                        test(a, b, cond)
                        for a, b in groupings(
                            x, y, cond, frozen, states, rank, max_groupings, priority
                        )
                    ]
                    n_tests += len(done)
                    tests.setdefault((i, j), []).extend(done)
                    judged = [t for t in done if t.conclusive]
                    # the groupings test one hypothesis (x, y separated by cond and U): the
                    # pair goes when their smallest p-value, Bonferroni-adjusted, is >= alpha
                    if judged and min(t.p_value for t in judged) * len(judged) >= alpha:
                        adj[i, j] = adj[j, i] = False
                        sepsets[(i, j)] = tuple(int(c) for c in cond)
                        removed_by[(i, j)] = min(judged, key=lambda t: t.p_value)
                        removed = True
                        break
                if removed:
                    break
        s += 1
    return Skeleton(adj, sepsets, removed_by, tests, n_tests)

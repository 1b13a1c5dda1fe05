"""Causal discovery under a latent class, from unique rows with counts: skeleton, then orientation.

:func:`discover_graph` is the pure entry point: the skeleton by conditional
rank tests on super-variables (:mod:`kmix.solvers.discovery.skeleton`), then
background knowledge, colliders and Meek's rules
(:mod:`kmix.solvers.discovery.orient`). The method is that of Mazaheri,
Gordon, Rabani & Schulman, "Causal discovery under latent class
confounding", arXiv:2311.07454 (2023). With ``method="score"`` (the default
of :func:`kmix.causal.discover`) the tests' graph is one start of a structural
EM search of the mixture of networks' BIC
(:mod:`kmix.solvers.discovery.scoring`), whose best DAG gives the class.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from ...exceptions import DataError
from .fitcheck import FIT_LEVEL, complete_dag
from .orient import Orientation, equivalence_class, orient
from .ranktests import RankTester
from .scoring import ScoredDAG, structural_em
from .skeleton import MAX_GROUPINGS, Skeleton, learn_skeleton

__all__ = ["DiscoveredGraph", "discover_graph", "informativeness"]

Pair = tuple[int, int]


@dataclass(frozen=True)
class DiscoveredGraph:
    """The skeleton search and the orientation of its result."""

    skeleton: Skeleton
    orientation: Orientation
    n_components: int
    alpha: float
    method: str = "rank"
    scored: ScoredDAG | None = None


def extension(graph: NDArray[np.bool_]) -> list[list[int]]:
    """Parents of a DAG that keeps the directed edges of ``graph`` (where they are
    acyclic) and orients its undirected ones along a topological order of them."""
    n = graph.shape[0]
    directed = graph & ~graph.T
    order: list[int] = []
    left = set(range(n))
    while left:
        free = [v for v in sorted(left) if not any(directed[p, v] for p in left if p != v)]
        v = free[0] if free else min(left)
        order.append(v)
        left.remove(v)
    pos = {v: i for i, v in enumerate(order)}
    return [[a for a in range(n) if graph[a, b] and pos[a] < pos[b]] for b in range(n)]


def informativeness(
    values: NDArray[np.integer], counts: NDArray[np.float64], n_levels: Sequence[int]
) -> NDArray[np.float64]:
    """Each variable's mean mutual information with the others (nats), the partners' priority.

    A partner adds power only if its distribution differs across the ``k``
    classes: with ``P(p | u)`` the same for every ``u`` the table of
    ``({x, p}, {y, q})`` factors through ``P(x, y)`` and cannot show a rank
    above ``k``. The hidden ``U`` makes a variable that depends on it
    strongly dependent on every other one, so the mean mutual information
    ranks the candidates by how much they tell about ``U``; it reads the
    two-way margins only, never the tables a test is run on.
    """
    v = np.asarray(values, dtype=np.int64)
    c = np.asarray(counts, dtype=np.float64)
    n = v.shape[1]
    total = float(c.sum())
    out = np.zeros(n)
    for a in range(n):
        for b in range(a + 1, n):
            da, db = int(n_levels[a]), int(n_levels[b])
            cells = np.bincount(v[:, a] * db + v[:, b], weights=c, minlength=da * db)
            joint = cells.reshape(da, db).astype(np.float64) / total
            outer = joint.sum(axis=1)[:, None] * joint.sum(axis=0)[None, :]
            seen = joint > 0
            mi = float((joint[seen] * np.log(joint[seen] / outer[seen])).sum())
            out[a] += mi
            out[b] += mi
    return out / max(n - 1, 1)


def discover_graph(
    values: NDArray[np.integer],
    counts: NDArray[np.float64],
    n_levels: Sequence[int],
    n_components: int,
    *,
    alpha: float,
    max_cond: int | None = None,
    required: Iterable[Pair] = (),
    forbidden: Iterable[Pair] = (),
    max_groupings: int | None = MAX_GROUPINGS,
    pool: bool = True,
    covariance: str = "auto",
    method: str = "rank",
    rng: np.random.Generator | None = None,
    fit_level: float = FIT_LEVEL,
) -> DiscoveredGraph:
    """Equivalence class of the DAG over the columns, ``U`` with ``n_components`` states hidden.

    Parameters
    ----------
    values, counts : ndarray
        Unique rows of integer codes and their counts.
    n_levels : sequence of int
    n_components : int
        ``k >= 1`` (``k = 1``: PC with rank-1, i.e. independence, tests).
    alpha : float
        Per-test level: a pair goes when a conclusive test has ``p >= alpha``.
    max_cond : int, optional
        Largest conditioning set.
    required : iterable of (a, b)
        Directed edges ``a -> b`` known to exist (kept, oriented).
    forbidden : iterable of (a, b)
        Directions known not to exist; a pair forbidden both ways is removed
        before any test.
    max_groupings : int or None
        Super-variable choices per pair and conditioning set.
    pool, covariance
        Of the rank tests (:class:`~kmix.solvers.discovery.ranktests.RankTester`).
    method : {"rank", "score"}
        ``"rank"``: the tests decide the skeleton and the colliders.
        ``"score"``: the tests' graph (a DAG of it) starts
        :func:`~kmix.solvers.discovery.scoring.structural_em` beside its own
        starts, and the class of the DAG of highest BIC is returned (the
        tests stay as evidence).
    rng : numpy Generator, optional
        The score search's restarts (``method="score"``; required there).
    fit_level : float
        ``method="score"``: the goodness-of-fit test's level after the search
        (:mod:`~kmix.solvers.discovery.fitcheck`). When the best graph's
        mixture has the table's dimension, every pair stays joined (the data
        exclude no edge) and the class is that of a complete DAG.
    """
    if method not in ("rank", "score"):
        raise DataError(f"method must be 'rank' or 'score'; got {method!r}")
    if method == "score" and rng is None:
        raise DataError("method='score' needs rng (the structural EM's restarts)")
    k = int(n_components)
    if k < 1:
        raise DataError(f"n_components must be >= 1; got {n_components!r}")
    if not 0.0 < float(alpha) < 1.0:
        raise DataError(f"alpha must be in (0, 1); got {alpha!r}")
    if not 0.0 <= float(fit_level) < 1.0:
        raise DataError(f"fit_level must be in [0, 1) (0: no fit test); got {fit_level!r}")
    n = len(n_levels)
    required = [(int(a), int(b)) for a, b in required]
    forbidden = [(int(a), int(b)) for a, b in forbidden]
    kept = frozenset((min(a, b), max(a, b)) for a, b in required)
    both = {(a, b) for a, b in forbidden} & {(b, a) for a, b in forbidden}
    absent = frozenset((min(a, b), max(a, b)) for a, b in both)
    tester = RankTester(values, counts, n_levels, k, pool=pool, covariance=covariance)
    priority = informativeness(values, counts, n_levels).tolist() if k > 1 else None
    with threadpool_limits(limits=1, user_api="blas"):  # thousands of small tables
        skeleton = learn_skeleton(
            n,
            tester,
            tester.states,
            k,
            alpha=float(alpha),
            max_cond=max_cond,
            required=kept,
            absent=absent,
            max_groupings=max_groupings,
            priority=priority,
        )
    orientation = orient(
        skeleton.adjacency, skeleton.sepsets, required=required, forbidden=forbidden
    )
    if method == "rank":
        return DiscoveredGraph(skeleton, orientation, k, float(alpha))
    assert rng is not None
    scored = structural_em(
        values,
        counts,
        n_levels,
        k,
        rng=rng,
        starts=[extension(orientation.graph)],
        required=required,
        forbidden=forbidden,
        fit_level=fit_level,
    )
    parents = scored.parents
    if scored.check.saturated:
        parents = complete_dag(n, scored.parents, required, forbidden) or parents
    best = equivalence_class(parents, required=required, forbidden=forbidden)
    return DiscoveredGraph(skeleton, best, k, float(alpha), "score", scored)

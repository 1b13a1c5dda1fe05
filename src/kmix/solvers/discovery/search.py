"""Causal discovery under a latent class, from unique rows with counts: skeleton, then orientation.

:func:`discover_graph` is the pure entry point: the skeleton by conditional
rank tests on super-variables (:mod:`kmix.solvers.discovery.skeleton`), then
background knowledge, colliders and Meek's rules
(:mod:`kmix.solvers.discovery.orient`). The method is that of Mazaheri,
Gordon, Rabani & Schulman, "Causal discovery under latent class
confounding", arXiv:2311.07454 (2023).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from ...exceptions import DataError
from .orient import Orientation, orient
from .ranktests import RankTester
from .skeleton import MAX_GROUPINGS, Skeleton, learn_skeleton

__all__ = ["DiscoveredGraph", "discover_graph"]

Pair = tuple[int, int]


@dataclass(frozen=True)
class DiscoveredGraph:
    """The skeleton search and the orientation of its result."""

    skeleton: Skeleton
    orientation: Orientation
    n_components: int
    alpha: float


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
    """
    k = int(n_components)
    if k < 1:
        raise DataError(f"n_components must be >= 1; got {n_components!r}")
    if not 0.0 < float(alpha) < 1.0:
        raise DataError(f"alpha must be in (0, 1); got {alpha!r}")
    n = len(n_levels)
    required = [(int(a), int(b)) for a, b in required]
    forbidden = [(int(a), int(b)) for a, b in forbidden]
    kept = frozenset((min(a, b), max(a, b)) for a, b in required)
    both = {(a, b) for a, b in forbidden} & {(b, a) for a, b in forbidden}
    absent = frozenset((min(a, b), max(a, b)) for a, b in both)
    tester = RankTester(values, counts, n_levels, k, pool=pool, covariance=covariance)
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
        )
    orientation = orient(
        skeleton.adjacency, skeleton.sepsets, required=required, forbidden=forbidden
    )
    return DiscoveredGraph(skeleton, orientation, k, float(alpha))

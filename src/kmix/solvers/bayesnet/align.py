"""Aligning the labels of the runs of the k-MixBND reduction by Hungarian matching.

Two runs sharing a key ``(W, S_W, s)`` return the same ``k`` parameter
vectors in permuted order. The permutation is the Hungarian assignment
(Kuhn 1955) for the cost

.. math:: C_{uv} = \\sum_{\\text{shared keys}} \\lVert\\theta^r_u - \\theta^{r'}_v\\rVert_1,

propagated from the largest run along a spanning tree grown by the largest
margin (second-best assignment cost minus the best, Murty 1968).

References
----------
H. W. Kuhn, "The Hungarian method for the assignment problem", Naval Res.
Logist. Quart. 2, 1955. K. G. Murty, "An algorithm for ranking all the
assignments in order of increasing cost", Oper. Res. 16, 1968. S. L. Gordon,
B. Mazaheri, Y. Rabani, L. J. Schulman, "Causal inference despite limited
global confounding via mixture models", CLeaR 2023.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ..linalg import best_permutation
from .runs import Key, Run

__all__ = ["align_runs"]

FloatArray = NDArray[np.float64]
#: Runs of largest effective sample size that every run is matched with, per shared key
HUBS = 3
#: All permutations of k <= 5 labels, for the alignment margins.
_PERMS = {k: np.array(list(itertools.permutations(range(k)))) for k in range(2, 6)}


def _margin(cost: FloatArray, perm: NDArray[np.intp]) -> float:
    """Second-best assignment cost minus the best (Murty 1968: forbid one pair at a time)."""
    k = cost.shape[0]
    if k == 1:
        return float("inf")
    if k <= 5:  # every permutation at once
        totals = np.sort(cost[np.arange(k), _PERMS[k]].sum(axis=1))
        return float(totals[1] - totals[0])
    best = float(cost[np.arange(k), perm].sum())
    big = 10.0 * float(np.abs(cost).max()) + 1.0
    second = np.inf
    for u in range(k):
        forbidden = cost.copy()
        forbidden[u, perm[u]] = big
        alt = best_permutation(forbidden)
        second = min(second, float(cost[np.arange(k), alt].sum()))
    return second - best


def align_runs(runs: Sequence[Run], n_components: int) -> tuple[list[NDArray[np.intp] | None], int]:
    """Labels of every run relative to the largest one, by Hungarian matching on shared keys.

    Parameters
    ----------
    runs : sequence of Run
        Solved runs (``probs`` set), in their own labellings.
    n_components : int

    Returns
    -------
    perms : list of (ndarray of shape (k,) or None)
        ``perms[r][g]`` is run ``r``'s label of global source ``g``; ``None``
        for runs with no chain of shared keys to the root run.
    conflicts : int
        Off-tree pairs whose own best matching disagrees with the propagated labels.

    Notes
    -----
    Each run is matched with the :data:`HUBS` runs of largest effective
    sample size among those that share a key with it (not with every such
    run: a key held by ``m`` runs would give ``m (m - 1) / 2`` matchings).
    For runs ``r, r'`` sharing keys, ``sigma`` minimises
    ``sum_u C[u, sigma(u)]`` with ``C[u, v] = sum_keys |theta^r_u - theta^r'_v|_1``
    (Kuhn 1955). The spanning tree is grown from the run with the largest
    effective sample size (Prim's order), always by the edge of largest
    margin between the best and second-best assignment, so the least
    ambiguous matchings fix the labels.
    """
    k = int(n_components)
    by_key: dict[Key, list[int]] = {}
    for i, run in enumerate(runs):
        for key in run.keys.values():
            by_key.setdefault(key, []).append(i)
    # pairs to match: every run with the HUBS runs of largest effective sample size that
    # share one of its keys (all pairs would be quadratic: a key held by m runs gives
    # m (m - 1) / 2); their keys in common are the matching's evidence
    candidates: set[tuple[int, int]] = set()
    for idx in by_key.values():
        ranked = sorted(idx, key=lambda i: -runs[i].ess)
        for place, j in enumerate(ranked):
            for i in ranked[: min(place, HUBS)]:
                candidates.add((min(i, j), max(i, j)))
    pairs = sorted(candidates)
    sigmas, margins = _match(runs, pairs, k)
    edges: dict[int, list[tuple[int, float, NDArray[np.intp]]]] = {i: [] for i in range(len(runs))}
    for (i, j), sigma, margin in zip(pairs, sigmas, margins, strict=True):
        inverse = np.empty(k, dtype=np.intp)
        inverse[sigma] = np.arange(k)
        edges[i].append((j, float(margin), sigma))
        edges[j].append((i, float(margin), inverse))
    perms: list[NDArray[np.intp] | None] = [None] * len(runs)
    if not runs:
        return perms, 0
    root = int(np.argmax([r.ess for r in runs]))
    perms[root] = np.arange(k)
    tree: set[frozenset[int]] = set()
    heap = [(-m, next_i, root, s.tolist()) for next_i, m, s in edges[root]]
    heapq.heapify(heap)
    while heap:
        _, j, i, sigma = heapq.heappop(heap)
        parent = perms[i]
        if perms[j] is not None or parent is None:
            continue
        perms[j] = np.asarray(sigma, dtype=np.intp)[parent]
        tree.add(frozenset((i, j)))
        for nxt, m, s in edges[j]:
            if perms[nxt] is None:
                heapq.heappush(heap, (-m, nxt, j, s.tolist()))
    conflicts = 0
    for i, out in edges.items():
        for j, _, sigma in out:
            pi_, pj_ = perms[i], perms[j]
            if i < j and frozenset((i, j)) not in tree and pi_ is not None and pj_ is not None:
                conflicts += int(not np.array_equal(sigma[pi_], pj_))
    return perms, conflicts


def _match(
    runs: Sequence[Run], pairs: Sequence[tuple[int, int]], k: int
) -> tuple[list[NDArray[np.intp]], list[float]]:
    """Hungarian matching and its margin for every pair of runs, on their shared keys.

    ``C[u, v] = sum_keys |theta^i_u - theta^j_v|_1`` is built for all pairs
    at once (the keys grouped by their number of levels); for ``k <= 5`` the
    best and second-best assignments are read from every permutation's cost.
    """
    keys = [set(run.keys.values()) for run in runs]
    by_levels: dict[int, tuple[list[int], list[FloatArray], list[FloatArray]]] = {}
    for p, (i, j) in enumerate(pairs):
        pi, pj = runs[i].answer()[1], runs[j].answer()[1]
        for key in keys[i] & keys[j]:
            a = pi[key.node]
            slot = by_levels.setdefault(a.shape[1], ([], [], []))
            slot[0].append(p)
            slot[1].append(a)
            slot[2].append(pj[key.node])
    cost = np.zeros((len(pairs), k, k))
    for where, left, right in by_levels.values():
        A, B = np.stack(left), np.stack(right)  # (entries, k, levels)
        np.add.at(cost, np.asarray(where), np.abs(A[:, :, None, :] - B[:, None, :, :]).sum(axis=3))
    if 1 < k <= 5 and pairs:
        perms = _PERMS[k]
        totals = cost[:, np.arange(k)[None, :], perms].sum(axis=2)  # (pairs, k!)
        two = np.argsort(totals, axis=1, kind="stable")[:, :2]
        rows = np.arange(len(pairs))
        margins = totals[rows, two[:, 1]] - totals[rows, two[:, 0]]
        return [perms[t].astype(np.intp) for t in two[:, 0]], margins.tolist()
    sigmas = [best_permutation(c) for c in cost]
    return sigmas, [_margin(c, s) for c, s in zip(cost, sigmas, strict=True)]

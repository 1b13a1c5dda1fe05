"""Pooling the aligned runs of the k-MixBND reduction and unzipping them into CPTs.

Every key is averaged over the runs that estimate it, class by class,
weighted by the class's effective sample size in each run. Markov-boundary
conditionals are then unzipped into CPTs in reverse topological order
(children first); for any alphabet

.. math::
   P_u(V = v \\mid pa) \\propto
   \\frac{P_u(V = v \\mid mb)}{\\prod_{C \\in CH(V)} P_u(c \\mid V = v, pa(C) \\setminus V)},

because ``P_u(v | mb) ∝ P_u(v | pa) prod_C P_u(c | v, ...)``; the normalised
log-conditionals are averaged over the assignments of the rest of ``MB(V)``
(Gordon, Mazaheri, Rabani & Schulman 2023, "Bayesian unzipping").

References
----------
S. L. Gordon, B. Mazaheri, Y. Rabani, L. J. Schulman, "Causal inference
despite limited global confounding via mixture models", CLeaR 2023
(arXiv 2112.11602).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from ...params import DAG
from .runs import Key, Run

__all__ = ["CPT_FLOOR", "Pooled", "assemble_cpts", "pool_runs"]

FloatArray = NDArray[np.float64]
#: CPT entries are clipped to [CPT_FLOOR, 1] and renormalised.
CPT_FLOOR = 1e-6
#: A class's share of a run below this is treated as this when weighting estimates.
_SHARE_FLOOR = 1e-9


@dataclass
class Pooled:
    """A key's estimate pooled over runs: per-class weighted mean, weights, runs."""

    mean: FloatArray
    weight: FloatArray
    runs: set[int]
    spread: float


def pool_runs(runs: Sequence[Run]) -> dict[Key, Pooled]:
    """Average every key over the runs that estimate it.

    Class ``u``'s estimate from run ``r`` is weighted by its effective sample
    size there, ``N P(c) P(u | c)``, so a class a run barely contains does not
    pull the average.
    """
    acc: dict[Key, list[tuple[int, FloatArray, FloatArray]]] = {}
    for i, run in enumerate(runs):
        weights, probs = run.answer()
        share = run.ess * np.maximum(weights, _SHARE_FLOOR)
        for w, key in run.keys.items():
            acc.setdefault(key, []).append((i, probs[w], share))
    out: dict[Key, Pooled] = {}
    for key, items in acc.items():
        thetas = np.array([t for _, t, _ in items])  # (R, k, d)
        wts = np.array([s for _, _, s in items])  # (R, k)
        mean = (wts[:, :, None] * thetas).sum(axis=0) / wts.sum(axis=0)[:, None]
        spread = float(np.abs(thetas - mean[None]).max())
        out[key] = Pooled(mean, wts.sum(axis=0), {i for i, _, _ in items}, spread)
    return out


def assemble_cpts(
    dag: DAG, levels: Mapping[str, int], k: int, pooled: Mapping[Key, Pooled]
) -> tuple[list[FloatArray], dict[str, int], list[tuple[str, tuple[int, ...]]]]:
    """CPTs from parents keys directly and from Markov-boundary keys by unzipping.

    Nodes are processed in reverse topological order, so every child's CPT is
    final before its parent is unzipped. A row with a parents-key estimate
    takes it; otherwise the unzipped rows of every boundary assignment with
    these parent levels are averaged in log space, weighted per class by the
    pooled effective sample sizes, and renormalised.
    """
    order = {v: i for i, v in enumerate(dag.nodes)}
    mb = {v: tuple(sorted(dag.markov_boundary(v), key=order.__getitem__)) for v in dag.nodes}
    by_node: dict[str, list[tuple[Key, Pooled]]] = {v: [] for v in dag.nodes}
    for key, est in pooled.items():
        by_node[key.node].append((key, est))
    cpts: dict[str, FloatArray] = {}
    support: dict[str, int] = {}
    uncovered: list[tuple[str, tuple[int, ...]]] = []
    for v in reversed(dag.nodes):
        pa = dag.parents[v]
        shape = (k, *[levels[p] for p in pa], levels[v])
        table = np.full(shape, np.nan)
        log_acc = np.zeros(shape)
        w_acc = np.zeros(shape[:-1])
        used: set[int] = set()
        for key, est in by_node[v]:
            if key.given == pa:
                here: tuple[Any, ...] = (slice(None), *key.assignment)
                table[here] = est.mean
                used |= est.runs
        for key, est in by_node[v]:
            if key.given != mb[v] or mb[v] == pa:
                continue
            a = dict(zip(key.given, key.assignment, strict=True))
            row: tuple[Any, ...] = (slice(None), *(a[p] for p in pa))
            if not np.isnan(table[row][0, 0]):
                continue
            logq = np.log(np.maximum(est.mean, CPT_FLOOR))  # (k, d_v)
            for c in dag.children(v):
                index = [a[p] if p != v else slice(None) for p in dag.parents[c]]
                at: tuple[Any, ...] = (slice(None), *index, a[c])
                logq -= np.log(cpts[c][at])  # (k, d_v): V's levels are the free axis
            logq -= logsumexp(logq, axis=1, keepdims=True)
            log_acc[row] += est.weight[:, None] * logq
            w_acc[row] += est.weight
            used |= est.runs
        unzip = (w_acc > 0) & np.isnan(table[..., 0])
        if np.any(unzip):
            mean_log = log_acc / np.where(w_acc > 0, w_acc, 1.0)[..., None]
            soft = np.exp(mean_log - logsumexp(mean_log, axis=-1, keepdims=True))
            table[unzip] = soft[unzip]
        for combo in itertools.product(*(range(levels[p]) for p in pa)):
            cell: tuple[Any, ...] = (slice(None), *combo)
            if np.isnan(table[cell][0, 0]):
                uncovered.append((v, combo))
                table[cell] = 1.0 / levels[v]
        table = np.clip(table, CPT_FLOOR, 1.0)
        cpts[v] = table / table.sum(axis=-1, keepdims=True)
        support[v] = len(used)
    return [cpts[v] for v in dag.nodes], {v: support[v] for v in dag.nodes}, uncovered

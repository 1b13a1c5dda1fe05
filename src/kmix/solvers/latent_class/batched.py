"""EM for many small latent class problems at once: one start per problem, each on its own rows.

The reduction of a mixture of Bayesian networks to latent class models
(:mod:`kmix.solvers.bayesnet.reduction`) solves thousands of runs, most on a
few dozen distinct rows. One EM map of such a run costs less than the Python
calls around it, so :func:`em_latent_class_batched` lays the rows of all runs
that share their members' numbers of levels end to end and takes one map of
every run in a handful of array operations: the log densities and the
expected level counts are each one product with the sparse 0/1 matrix of the
rows' levels. The map of each problem is exactly the EM map of
:func:`kmix.solvers.latent_class.em.em_latent_class` (Goodman, "Exploratory
latent structure analysis using both identifiable and unidentifiable models",
Biometrika 61, 1974; Dempster, Laird & Rubin 1977),

.. math::
   r_{su} \\propto \\pi_u \\prod_j P(x_{sj} \\mid u), \\qquad
   \\pi_u \\leftarrow \\frac{\\sum_s c_s r_{su}}{\\sum_s c_s}, \\qquad
   P(X_j = v \\mid u) \\leftarrow
   \\frac{\\sum_s c_s r_{su} [x_{sj} = v]}{\\sum_s c_s r_{su}},

and every problem stops by the same rule, so each ends where its own
sequential run would (to rounding). Problems that have stopped leave the
layout once they are more than a third of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from ...components.base import safe_log
from ...exceptions import DataError
from ..em.squarem import accelerated_em
from .design import stack_starts
from .em import LatentClassFit

__all__ = ["em_latent_class_batched"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
#: The rows are laid out afresh for the running problems once fewer than this share run
KEEP_SHARE = 2.0 / 3.0


class _Problems:
    """The rows of many problems end to end, and one EM map of all of them at once."""

    def __init__(
        self,
        problems: Sequence[tuple[IntArray, FloatArray]],
        n_levels: Sequence[int],
        k: int,
        held: NDArray[np.bool_] | None,
    ) -> None:
        self.k = k
        self.n_levels = np.asarray(n_levels, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.n_levels)[:-1]]).astype(np.int64)
        self.width = int(self.n_levels.sum())
        self.cols = [np.asarray(v, dtype=np.int64) + self.offsets for v, _ in problems]
        self.counts = [np.asarray(c, dtype=np.float64) for _, c in problems]
        self.totals = np.array([float(c.sum()) for c in self.counts])
        self.held = held
        self.layout(np.arange(len(problems)))

    def layout(self, starts: NDArray[np.intp]) -> None:
        """Lay out the rows of ``starts`` (in that order)."""
        self.starts = starts
        self.pos = np.full(len(self.cols), -1, dtype=np.intp)
        self.pos[starts] = np.arange(starts.size)
        sizes = np.array([self.cols[c].shape[0] for c in starts], dtype=np.intp)
        self.seg = np.repeat(np.arange(starts.size), sizes)
        self.bounds = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        cols = np.concatenate([self.cols[c] for c in starts], axis=0)
        self.cnt = np.concatenate([self.counts[c] for c in starts])
        # row s's level of item j, in the flattened (problem, level) layout, as a 0/1 matrix:
        # the log densities are one product with it, the expected level counts one with its
        # transpose
        cell = self.seg[:, None] * self.width + cols
        n = starts.size
        rows = np.repeat(np.arange(cell.shape[0]), cell.shape[1])
        self.onehot = sparse.csr_matrix(
            (np.ones(rows.shape[0]), (rows, cell.ravel())), shape=(cell.shape[0], n * self.width)
        )
        self.onehot_t = self.onehot.T.tocsr()
        self.W = np.full((n, self.k), 1.0 / self.k)
        self.P = np.full((n, self.k, self.width), 0.5)
        self.here = np.arange(n)

    def on_active(self, active: NDArray[np.intp]) -> None:
        """The maps that follow receive the parameters of ``active``, in order."""
        if active.size < KEEP_SHARE * self.starts.size:
            self.layout(active)
        self.here = self.pos[active]

    def em_map(self, Wa: FloatArray, Pa: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """One EM map of the active problems; the log-likelihood at the input."""
        W, P = self.W, self.P
        W[self.here], P[self.here] = Wa, Pa
        n, k, width = P.shape
        logP = safe_log(P).transpose(0, 2, 1).reshape(n * width, k)
        joint = np.asarray(self.onehot @ logP)  # (rows, k)
        with np.errstate(divide="ignore"):
            joint += np.log(W)[self.seg]
        # reductions over the k classes column by column (numpy reduces a short last axis slowly)
        top = joint[:, 0].copy()
        for u in range(1, k):
            np.maximum(top, joint[:, u], out=top)
        top[~np.isfinite(top)] = 0.0
        joint -= top[:, None]
        np.exp(joint, out=joint)
        total = joint[:, 0].copy()
        for u in range(1, k):
            total += joint[:, u]
        with np.errstate(divide="ignore"):
            ll = np.bincount(
                self.seg, weights=self.cnt * (np.log(total) + top), minlength=n
            ).astype(np.float64)
        joint *= (self.cnt / np.maximum(total, 1e-300))[:, None]
        nk = np.add.reduceat(joint, self.bounds, axis=0)  # (n, k)
        stats = np.asarray(self.onehot_t @ joint).reshape(n, width, k).transpose(0, 2, 1)
        W_new = nk / self.totals[self.starts][:, None]
        P_new = P.copy()
        filled = nk > 0
        P_new[filled] = stats[filled] / nk[filled][:, None]
        if self.held is not None:
            P_new = np.where(self.held[self.starts][:, None, :], P, P_new)
        here = self.here
        return W_new[here], P_new[here], ll[here]


def em_latent_class_batched(
    problems: Sequence[tuple[IntArray, FloatArray]],
    n_levels: Sequence[int] | Sequence[Sequence[int]],
    starts: Sequence[tuple[FloatArray, Sequence[FloatArray]]],
    *,
    tol: float = 1e-10,
    max_iter: int = 1000,
    accelerate: bool = True,
    fixed: Sequence[Sequence[int]] | None = None,
) -> list[LatentClassFit]:
    """EM of one latent class model per problem, all at once.

    Parameters
    ----------
    problems : sequence of (values, counts)
        Each problem's unique rows, integer codes ``0 .. n_levels[j] - 1``
        (no missing values), and their counts; at least one row of positive
        count each. The same rows may be given twice, as two problems.
    n_levels : sequence of int, or one sequence of int per problem
        Levels of every variable: shared, or each problem's own. Problems
        with the same number of variables run together, their levels padded
        to the largest (levels of probability 0, which change neither their
        likelihood nor their EM path).
    starts : sequence of (weights, probs)
        One start per problem, all with the same number of classes.
    tol, max_iter, accelerate
        As in :func:`kmix.solvers.latent_class.em.em_latent_class`, per problem.
    fixed : sequence of sequence of int, optional
        Per problem, the variables whose ``P(X_j | u)`` stay at their start.

    Returns
    -------
    list of LatentClassFit
        One per problem, in order (never ``merged``), with its ``history``.
    """
    if len(problems) != len(starts):
        raise DataError(
            f"one start per problem: got {len(starts)} starts for {len(problems)} problems"
        )
    if not problems:
        return []
    own: list[list[int]] = (
        [[int(np.asarray(d)) for d in n_levels]] * len(problems)
        if np.ndim(n_levels[0]) == 0
        else [[int(d) for d in np.atleast_1d(levels)] for levels in n_levels]
    )
    for c, (v, cnt) in enumerate(problems):
        if np.asarray(v).shape[0] == 0 or not float(np.sum(cnt)) > 0:
            raise DataError(f"problem {c} has no rows of positive count")
        if np.any(np.asarray(v) < 0):
            raise DataError(f"problem {c} has missing values; em_latent_class handles them")
    # problems of the same number of variables run together, padded to their largest levels
    buckets: dict[int, list[int]] = {}
    for c, levels in enumerate(own):
        buckets.setdefault(len(levels), []).append(c)
    out: list[LatentClassFit | None] = [None] * len(problems)
    for group in buckets.values():
        shared = [max(own[c][j] for c in group) for j in range(len(own[group[0]]))]
        padded_problems, padded_starts = [], []
        for c in group:
            w, probs = starts[c]
            blocks = []
            for j, d in enumerate(shared):
                block = np.zeros((len(w), d))
                block[:, : own[c][j]] = np.asarray(probs[j], dtype=np.float64)
                blocks.append(block)
            padded_starts.append((np.asarray(w, dtype=np.float64), blocks))
            v, cnt = problems[c]
            padded_problems.append(
                (np.asarray(v, dtype=np.int64), np.asarray(cnt, dtype=np.float64))
            )
        held = [list(fixed[c]) if fixed is not None else [] for c in group]
        fits = _run(padded_problems, shared, padded_starts, tol, max_iter, accelerate, held)
        for c, fit in zip(group, fits, strict=True):
            out[c] = dataclasses.replace(
                fit, probs=[fit.probs[j][:, :d] for j, d in enumerate(own[c])]
            )
    return [fit for fit in out if fit is not None]


def _run(
    problems: Sequence[tuple[IntArray, FloatArray]],
    n_levels: Sequence[int],
    starts: Sequence[tuple[FloatArray, Sequence[FloatArray]]],
    tol: float,
    max_iter: int,
    accelerate: bool,
    fixed: Sequence[Sequence[int]],
) -> list[LatentClassFit]:
    """The batched EM of problems that share their variables' levels."""
    width = int(np.sum(n_levels))
    W, P = stack_starts(starts, width)
    held = None
    if any(len(f) for f in fixed):
        offsets = np.concatenate([[0], np.cumsum(n_levels)[:-1]])
        held = np.zeros((len(problems), width), dtype=bool)
        for c, variables in enumerate(fixed):
            for j in variables:
                held[c, offsets[j] : offsets[j] + int(n_levels[j])] = True
    layout = _Problems(problems, n_levels, W.shape[1], held)
    history: list[list[float]] = [[] for _ in range(len(problems))]

    def record(active: NDArray[np.intp], ll: FloatArray) -> None:
        for c, val in zip(active.tolist(), ll.tolist(), strict=True):
            history[c].append(val)

    def project(Pe: FloatArray, _fallback: FloatArray) -> FloatArray:
        Pe = np.maximum(Pe, 0.0)
        sums = np.add.reduceat(Pe, layout.offsets, axis=-1)
        sums = np.where(sums > 0, sums, 1.0)
        out: FloatArray = Pe / np.repeat(sums, layout.n_levels, axis=-1)
        return out

    runs = accelerated_em(
        W,
        P,
        layout.em_map,
        project,
        tol=tol,
        max_iter=max_iter,
        accelerate=accelerate,
        merge=False,
        record=record,
        on_active=layout.on_active,
    )
    layout.layout(np.arange(len(problems)))
    ll_final = layout.em_map(runs.weights, runs.probs)[2]
    return [
        LatentClassFit(
            runs.weights[c],
            np.split(runs.probs[c], layout.offsets[1:], axis=1),
            float(ll_final[c]),
            bool(runs.converged[c]),
            int(runs.n_iter[c]),
            history=(*history[c], float(ll_final[c])),
        )
        for c in range(len(problems))
    ]

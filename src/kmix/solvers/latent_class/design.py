"""The unique rows of a latent class model in the form its E- and M-steps need.

The model is ``P(x) = sum_u pi_u prod_j P(X_j = x_j | u)`` over discrete
variables (Goodman, "Exploratory latent structure analysis using both
identifiable and unidentifiable models", Biometrika 61, 1974). Every
computation here runs over the ``m`` unique rows with counts ``c_s`` and
over ``C`` stacked parameter sets at once: their classes are stacked, so one
product of the rows' design with the stacked log-probabilities serves every
start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from ...components.base import safe_log
from ...exceptions import DataError

__all__ = [
    "RowDesign",
    "log_likelihoods",
    "pairwise_misfit",
    "responsibilities",
    "stack_starts",
]

FloatArray = NDArray[np.float64]


class RowDesign:
    """The unique rows in the form the E- and M-steps need.

    Binary items use the dense 0/1 matrix (one BLAS product gives every log
    density); others a sparse one-hot design with one 1 per variable.
    ``codes`` holds the rows as int64; ``integral`` says whether the counts
    (if given) are whole numbers, i.e. sampled data rather than a population
    table.
    """

    def __init__(
        self, values: NDArray[Any], n_levels: Sequence[int], counts: FloatArray | None = None
    ) -> None:
        self.n_levels = np.asarray([int(d) for d in n_levels], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.n_levels)[:-1]]).astype(np.int64)
        self.width = int(self.n_levels.sum())
        self.binary = bool(np.all(self.n_levels == 2))
        m, n = values.shape
        self.codes = np.asfortranarray(values, dtype=np.int64)  # contiguous columns
        self.integral = bool(np.all(counts == np.round(counts))) if counts is not None else True
        if self.binary:
            self.x = np.ascontiguousarray(values, dtype=np.float64)
            self.xt = np.ascontiguousarray(self.x.T)
        else:
            cols = (self.codes + self.offsets[None, :]).reshape(-1)
            self.onehot = sparse.csr_matrix(
                (np.ones(m * n), cols, np.arange(0, m * n + 1, n)), shape=(m, self.width)
            )
            self.onehot_t = self.onehot.T.tocsr()

    def log_f(self, P: FloatArray) -> FloatArray:
        """``(R, m)`` log densities of the ``R`` stacked classes ``P`` of shape (R, width)."""
        logP = safe_log(P)
        if self.binary:
            lo, hi = logP[:, 0::2], logP[:, 1::2]
            out: FloatArray = (hi - lo) @ self.xt
            out += lo.sum(axis=1)[:, None]
            return out
        return np.ascontiguousarray(np.asarray(self.onehot @ logP.T).T)

    def level_counts(self, resp_w: FloatArray) -> FloatArray:
        """``(R, width)`` expected counts of every level from row weights ``(R, m)``."""
        if self.binary:
            ones = (self.xt @ resp_w.T).T  # (R, n); this orientation avoids a slow BLAS path
            out = np.empty((resp_w.shape[0], self.width))
            out[:, 1::2] = ones
            out[:, 0::2] = resp_w.sum(axis=1)[:, None] - ones
            return out
        return np.asarray(self.onehot_t @ resp_w.T).T

    def normalise(self, P: FloatArray) -> FloatArray:
        """Rows of ``P`` clipped at 0 and renormalised within every variable's block."""
        P = np.maximum(P, 0.0)
        sums = np.add.reduceat(P, self.offsets, axis=-1)
        sums = np.where(sums > 0, sums, 1.0)
        return P / np.repeat(sums, self.n_levels, axis=-1)


def responsibilities(
    design: RowDesign, counts: FloatArray, W: FloatArray, P: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``c_s r_su`` of shape (C, k, m) and the log-likelihoods (C,) of ``C`` stacked starts.

    Rows run along the last, contiguous axis, so every step is a pass over
    contiguous memory.
    """
    C, k, width = P.shape
    joint = design.log_f(P.reshape(C * k, width)).reshape(C, k, -1)
    with np.errstate(divide="ignore"):
        joint += np.log(W)[:, :, None]
    top = joint[:, 0, :].copy()
    for u in range(1, k):
        np.maximum(top, joint[:, u, :], out=top)
    top[~np.isfinite(top)] = 0.0
    joint -= top[:, None, :]
    np.exp(joint, out=joint)
    total = joint.sum(axis=1)  # (C, m)
    with np.errstate(divide="ignore"):
        ll = (np.log(total) + top) @ counts
    joint *= (counts[None, :] / np.maximum(total, 1e-300))[:, None, :]
    return joint, ll


def pairwise_misfit(
    design: RowDesign,
    counts: FloatArray,
    weights: FloatArray,
    probs: Sequence[FloatArray],
) -> float:
    """Largest standardised residual of the two-way margins of distinct variables.

    .. math::
       z = \\frac{\\hat P(X_j = a, X_l = b) - \\sum_u \\pi_u P(X_j = a \\mid u)
               P(X_l = b \\mid u)}{\\sqrt{\\hat P (1 - \\hat P) / N}},
       \\qquad j \\ne l.

    At the maximum-likelihood fit of a model with enough classes these are
    about standard normal (a little narrower, the fit having used the data),
    so a maximum of 5 or more over a few hundred margins is a misfit: a local
    maximum far from the global one, or too few classes. The same second
    moments drive the tensor method. Binary items cost one product of the
    design with itself; other items go pair by pair, each pair's table
    ``d_j x d_l`` at a time, so memory never grows with the square of all
    levels.
    """
    total = float(counts.sum())

    def worst(emp: FloatArray, model: FloatArray) -> float:
        se = np.sqrt(np.maximum(emp * (1.0 - emp), 1.0 / total**2) / total)
        return float((np.abs(emp - model) / se).max())

    n = design.n_levels.shape[0]
    if n < 2:
        return 0.0
    if design.binary:
        ones = design.xt @ (design.x * (counts / total)[:, None])  # (n, n): P(X_j = 1, X_l = 1)
        P1 = np.stack([p[:, 1] for p in probs], axis=1)  # (k, n)
        model = (P1 * weights[:, None]).T @ P1
        off = ~np.eye(n, dtype=bool)
        return worst(ones[off], model[off])
    share = counts / total
    out = 0.0
    for j in range(n):
        dj = int(design.n_levels[j])
        left = probs[j] * weights[:, None]  # (k, d_j)
        for m in range(j + 1, n):
            dm = int(design.n_levels[m])
            cell = design.codes[:, j] * dm + design.codes[:, m]
            emp = np.bincount(cell, weights=share, minlength=dj * dm).astype(np.float64)
            out = max(out, worst(emp.reshape(dj, dm), left.T @ probs[m]))
    return out


def log_likelihoods(
    values: FloatArray,
    counts: FloatArray,
    n_levels: Sequence[int],
    candidates: Sequence[tuple[FloatArray, Sequence[FloatArray]]],
    *,
    design: RowDesign | None = None,
) -> FloatArray:
    """``sum_s c_s log sum_u pi_u prod_j P(X_j = x_sj | u)`` of every candidate at once.

    ``design``: the rows' :class:`RowDesign`, when the caller has it already.
    """
    if design is None:
        design = RowDesign(values, n_levels)
    W, P = stack_starts(candidates, design.width)
    return responsibilities(design, np.asarray(counts, dtype=np.float64), W, P)[1]


def stack_starts(
    starts: Sequence[tuple[FloatArray, Sequence[FloatArray]]], width: int
) -> tuple[FloatArray, FloatArray]:
    """Weights (C, k) and concatenated probabilities (C, k, width) of ``C`` starts."""
    ws = [np.asarray(w, dtype=np.float64) for w, _ in starts]
    ps = [np.concatenate([np.asarray(p, dtype=np.float64) for p in pr], axis=1) for _, pr in starts]
    k = ws[0].shape
    if any(w.shape != k for w in ws) or any(p.shape != (*k, width) for p in ps):
        raise DataError(
            f"starts must share one number of classes and {width} levels in all; got "
            f"weights of shapes {sorted({w.shape for w in ws})} and probabilities of shapes "
            f"{sorted({p.shape for p in ps})}"
        )
    return np.array(ws), np.array(ps)

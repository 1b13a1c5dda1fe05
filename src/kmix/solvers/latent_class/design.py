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
#: Categorical designs of at most this many cells (unique rows x levels) are kept dense
DENSE_CELLS = 100_000


class RowDesign:
    """The unique rows in the form the E- and M-steps need.

    Binary items use the dense 0/1 matrix (one BLAS product gives every log
    density); others a sparse one-hot design with one 1 per observed cell.
    ``codes`` holds the rows as int64; ``integral`` says whether the counts
    (if given) are whole numbers, i.e. sampled data rather than a population
    table.

    A code of ``-1`` marks a missing value. Its cell contributes nothing to
    the row's density, ``P(x_obs | u) = prod_{j observed} P(X_j = x_j | u)``,
    which is the full-information likelihood of the observed items under
    missingness at random (Little & Rubin, "Statistical Analysis with Missing
    Data", 2nd ed., 2002, ch. 6 and 8); the M-step divides each item's
    expected level counts by the expected count of the rows that observe it.
    """

    def __init__(
        self, values: NDArray[Any], n_levels: Sequence[int], counts: FloatArray | None = None
    ) -> None:
        self.n_levels = np.asarray([int(d) for d in n_levels], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.n_levels)[:-1]]).astype(np.int64)
        self.width = int(self.n_levels.sum())
        self.binary = bool(np.all(self.n_levels == 2))
        m = values.shape[0]
        self.codes = np.asfortranarray(values, dtype=np.int64)  # contiguous columns
        observed = self.codes >= 0
        self.complete = bool(observed.all())
        self.integral = bool(np.all(counts == np.round(counts))) if counts is not None else True
        if self.binary:
            self.x = np.ascontiguousarray(self.codes > 0, dtype=np.float64)
            self.xt = np.ascontiguousarray(self.x.T)
            if not self.complete:
                self.obs = np.ascontiguousarray(observed, dtype=np.float64)
                self.obst = np.ascontiguousarray(self.obs.T)
        else:
            rows, cols = np.nonzero(observed)
            at = self.codes[rows, cols] + self.offsets[cols]
            if m * self.width <= DENSE_CELLS:
                # small tables (the runs of the Bayesian-network reduction): a dense product
                # costs less than a sparse one's call overhead
                self.onehot: Any = np.zeros((m, self.width))
                self.onehot[rows, at] = 1.0
                self.onehot_t: Any = np.ascontiguousarray(self.onehot.T)
            else:
                self.onehot = sparse.csr_matrix(
                    (np.ones(rows.shape[0]), (rows, at)), shape=(m, self.width)
                )
                self.onehot_t = self.onehot.T.tocsr()

    def observed(self) -> NDArray[np.bool_]:
        """``(m, n)``: which cells are observed."""
        out: NDArray[np.bool_] = self.codes >= 0
        return out

    def log_f(self, P: FloatArray) -> FloatArray:
        """``(R, m)`` log densities of the ``R`` stacked classes ``P`` of shape (R, width)."""
        logP = safe_log(P)
        if self.binary:
            lo, hi = logP[:, 0::2], logP[:, 1::2]
            out: FloatArray = (hi - lo) @ self.xt
            if self.complete:
                out += lo.sum(axis=1)[:, None]
            else:
                out += lo @ self.obst
            return out
        return np.ascontiguousarray(np.asarray(self.onehot @ logP.T).T)

    def level_counts(self, resp_w: FloatArray) -> FloatArray:
        """``(R, width)`` expected counts of every level from row weights ``(R, m)``."""
        if self.binary:
            ones = (self.xt @ resp_w.T).T  # (R, n); this orientation avoids a slow BLAS path
            out = np.empty((resp_w.shape[0], self.width))
            out[:, 1::2] = ones
            seen = resp_w.sum(axis=1)[:, None] if self.complete else (self.obst @ resp_w.T).T
            # (a difference of two sums: rounding could leave it just below 0)
            out[:, 0::2] = np.maximum(seen - ones, 0.0)
            return out
        return np.asarray(self.onehot_t @ resp_w.T).T

    def block_sums(self, P: FloatArray) -> FloatArray:
        """Sums of ``P`` within every variable's block, repeated over the block's levels."""
        return np.repeat(np.add.reduceat(P, self.offsets, axis=-1), self.n_levels, axis=-1)

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
       z = \\frac{\\hat P - P}{\\sqrt{\\max(\\hat P (1 - \\hat P), P (1 - P)) / N}},
       \\qquad \\hat P = \\hat P(X_j = a, X_l = b),\\;
       P = \\sum_u \\pi_u P(X_j = a \\mid u) P(X_l = b \\mid u),\\; j \\ne l.

    With missing values each pair's margin is taken over the rows that
    observe both variables (its own ``N``). At the maximum-likelihood fit of
    a model with enough classes these are
    about standard normal (a little narrower, the fit having used the data),
    so a maximum of 5 or more over a few hundred margins is a misfit: a local
    maximum far from the global one, or too few classes. The same second
    moments drive the tensor method. Binary items cost one product of the
    design with itself; other items go pair by pair, each pair's table
    ``d_j x d_l`` at a time, so memory never grows with the square of all
    levels.
    """
    total = float(counts.sum())

    def worst(emp: FloatArray, model: FloatArray, n_pair: FloatArray | float) -> float:
        # the larger of the model's and the data's variance: a cell the data leave empty, or
        # fill once, is not a misfit by itself (both are sampling noise on sparse tables)
        var = np.maximum(np.maximum(emp * (1.0 - emp), model * (1.0 - model)), 1.0 / total**2)
        se = np.sqrt(var / np.maximum(n_pair, 1.0))
        return float((np.abs(emp - model) / se).max())

    n = design.n_levels.shape[0]
    if n < 2:
        return 0.0
    if design.binary:
        off = ~np.eye(n, dtype=bool)
        ones = design.xt @ (design.x * counts[:, None])  # (n, n): rows with X_j = X_l = 1
        if design.complete:
            pair: FloatArray = np.full((n, n), total)
        else:
            pair = design.obst @ (design.obs * counts[:, None])  # rows observing both
        keep = off & (pair > 0)
        P1 = np.stack([p[:, 1] for p in probs], axis=1)  # (k, n)
        model = (P1 * weights[:, None]).T @ P1
        if not keep.any():
            return 0.0
        return worst(ones[keep] / pair[keep], model[keep], pair[keep])
    out = 0.0
    observed = design.observed()
    for j in range(n):
        dj = int(design.n_levels[j])
        left = probs[j] * weights[:, None]  # (k, d_j)
        for m in range(j + 1, n):
            dm = int(design.n_levels[m])
            both = observed[:, j] & observed[:, m]
            n_pair = float(counts[both].sum())
            if n_pair <= 0:
                continue
            cell = design.codes[both, j] * dm + design.codes[both, m]
            emp = np.bincount(cell, weights=counts[both] / n_pair, minlength=dj * dm).astype(
                np.float64
            )
            out = max(out, worst(emp.reshape(dj, dm), left.T @ probs[m], n_pair))
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

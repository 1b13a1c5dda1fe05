"""EM for latent class models from many starts at once, accelerated by SQUAREM.

The model is ``P(x) = sum_u pi_u prod_j P(X_j = x_j | u)`` over discrete
variables. One EM map ``F`` (Dempster, Laird & Rubin 1977; for latent class
models Goodman, "Exploratory latent structure analysis using both
identifiable and unidentifiable models", Biometrika 61, 1974) is

.. math::
   r_{su} \\propto \\pi_u \\prod_j P(x_{sj} \\mid u), \\qquad
   \\pi_u \\leftarrow \\frac{\\sum_s c_s r_{su}}{N}, \\qquad
   P(X_j = v \\mid u) \\leftarrow
   \\frac{\\sum_s c_s r_{su} [x_{sj} = v]}{\\sum_s c_s r_{su}},

over the unique rows ``s`` with counts ``c_s``. EM converges linearly, and
slowly where the likelihood is flat (nearly saturated tables, ``n = 2k - 1``).
SQUAREM (Varadhan & Roland, "Simple and globally convergent methods for
accelerating the convergence of any EM algorithm", Scand. J. Statist. 35,
2008) extrapolates two EM steps at a time without ever lowering the
likelihood; the driver, shared with :mod:`kmix.solvers.bayesnet.em`, is
:func:`kmix.solvers.em.squarem.accelerated_em`.

All starts run together: their classes are stacked, so one product of the
rows' design with the stacked log-probabilities serves every start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from ...exceptions import DataError
from ..em.squarem import accelerated_em
from .design import RowDesign, responsibilities, stack_starts

__all__ = [
    "LatentClassFit",
    "em_latent_class",
    "polish_latent_class",
    "random_starts",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class LatentClassFit:
    """One EM run.

    Attributes
    ----------
    weights : ndarray of shape (k,)
    probs : list of ndarray
        ``probs[j][u, v] = P(X_j = v | u)``.
    log_likelihood : float
        ``sum_s c_s log P(x_s)`` at the returned parameters.
    converged : bool
        The log-likelihood rose by at most ``tol * |log-likelihood|`` over
        the last cycle.
    n_iter : int
        EM maps evaluated (three per SQUAREM cycle).
    merged : bool
        Stopped early because it came within ``squarem.MERGE_TOL`` of a start with
        a higher log-likelihood (both climb to the same maximum).
    history : tuple of float
        Log-likelihood at the start of every cycle (every map, for plain EM),
        then at the returned point (``log_likelihood``); a quasi-Newton finish
        that moved the fit appends its value. SQUAREM keeps an extrapolation
        only where it does not lose, so the entries never decrease (to
        rounding). Empty for a fit that did not come from EM.
    """

    weights: FloatArray
    probs: list[FloatArray]
    log_likelihood: float
    converged: bool
    n_iter: int
    merged: bool = False
    history: tuple[float, ...] = ()


def _em_map(
    design: RowDesign,
    counts: FloatArray,
    W: FloatArray,
    P: FloatArray,
    held: NDArray[np.bool_] | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """One EM map for ``C`` starts at once.

    ``W`` (C, k) weights, ``P`` (C, k, width) probabilities; ``held`` marks
    the design columns whose probabilities stay where they are. Returns the
    new ``(W, P)`` and the log-likelihood of each start at the *input* point.
    """
    C, k, width = P.shape
    resp, ll = responsibilities(design, counts, W, P)
    resp_w = resp.reshape(C * k, -1)
    nk = resp_w.sum(axis=1)
    W_new = (nk / counts.sum()).reshape(C, k)
    stats = design.level_counts(resp_w)  # (C * k, width)
    flat = P.reshape(C * k, width).copy()
    if design.complete:
        filled = nk > 0
        flat[filled] = stats[filled] / nk[filled, None]
    else:
        # each item's levels over the class's expected rows that observe the item
        seen = design.block_sums(stats)
        filled_cells = seen > 0
        flat[filled_cells] = stats[filled_cells] / seen[filled_cells]
    P_new = flat.reshape(C, k, width)
    if held is not None:
        P_new[:, :, held] = P[:, :, held]
    return W_new, P_new, ll


def random_starts(
    n_levels: Sequence[int], n_components: int, n_starts: int, rng: np.random.Generator
) -> list[tuple[FloatArray, list[FloatArray]]]:
    """Starts drawn uniformly: weights and every ``P(X_j | u)`` from flat Dirichlets."""
    out = []
    for _ in range(int(n_starts)):
        w = rng.dirichlet(np.ones(n_components))
        probs = [rng.dirichlet(np.ones(int(d)), size=n_components) for d in n_levels]
        out.append((w, probs))
    return out


def em_latent_class(
    values: NDArray[Any],
    counts: FloatArray,
    n_levels: Sequence[int],
    starts: Sequence[tuple[FloatArray, Sequence[FloatArray]]],
    *,
    tol: float = 1e-10,
    max_iter: int = 1000,
    accelerate: bool = True,
    design: RowDesign | None = None,
    fixed: Sequence[int] = (),
) -> list[LatentClassFit]:
    """Maximum-likelihood EM for a latent class model from several starts at once.

    The EM of Goodman ("Exploratory latent structure analysis using both
    identifiable and unidentifiable models", Biometrika 61, 1974) with the
    responsibilities of Dempster, Laird & Rubin (1977): for every start,
    ``pi_u <- N_u / N`` and ``P(X_j = l | u) <- n_ujl / N_u`` with
    ``N_u = sum_s c_s r_su`` and ``n_ujl = sum_s c_s r_su [x_sj = l]``,
    accelerated by SQUAREM (:func:`kmix.solvers.em.squarem.accelerated_em`).

    Parameters
    ----------
    values : ndarray of shape (m, n_features)
        Unique rows of integer codes ``0 .. n_levels[j] - 1``.
    counts : ndarray of shape (m,)
        Their counts (or weights).
    n_levels : sequence of int
    starts : sequence of (weights, probs)
        Starting points, each ``weights`` of shape (k,) and ``probs`` one
        (k, n_levels_j) array per variable.
    tol : float
        A start stops when one plain EM map raises its log-likelihood by at
        most ``tol * |log-likelihood|`` (the rule of unaccelerated EM), or a
        whole cycle does.
    max_iter : int
        EM maps per start (checked after each cycle, so an accelerated run
        may take up to two maps more).
    accelerate : bool
        SQUAREM (default) or plain EM.
    design : RowDesign, optional
        The rows' design, when the caller has built it already.
    fixed : sequence of int
        Variables whose ``P(X_j | u)`` stay at their starting values (EM then
        maximises over the weights and the other variables only; e.g. runs
        of the Bayesian-network reduction whose shared parameters are known).

    Returns
    -------
    list of LatentClassFit
        One per start, in the order given.
    """
    if not starts:
        raise DataError("em_latent_class needs at least one start")
    counts = np.asarray(counts, dtype=np.float64)
    if design is None:
        design = RowDesign(values, n_levels)
    W, P = stack_starts(starts, design.width)
    held = None
    if len(fixed):
        held = np.zeros(design.width, dtype=bool)
        for j in fixed:
            held[design.offsets[j] : design.offsets[j] + design.n_levels[j]] = True

    def em_map(Wa: FloatArray, Pa: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        return _em_map(design, counts, Wa, Pa, held)

    history: list[list[float]] = [[] for _ in range(W.shape[0])]

    def record(active: NDArray[np.intp], ll: FloatArray) -> None:
        for c, val in zip(active.tolist(), ll.tolist(), strict=True):
            history[c].append(val)

    runs = accelerated_em(
        W,
        P,
        em_map,
        lambda Pe, _fallback: design.normalise(Pe),
        tol=tol,
        max_iter=max_iter,
        accelerate=accelerate,
        record=record,
    )
    W, P = runs.weights, runs.probs
    C = W.shape[0]
    # the log-likelihood at the returned point
    ll_final = responsibilities(design, counts, W, P)[1]
    fits = []
    for c in range(C):
        probs = np.split(P[c], design.offsets[1:], axis=1)
        fits.append(
            LatentClassFit(
                W[c],
                probs,
                float(ll_final[c]),
                bool(runs.converged[c]),
                int(runs.n_iter[c]),
                bool(runs.merged[c]),
                (*history[c], float(ll_final[c])),
            )
        )
    return fits


def polish_latent_class(
    values: NDArray[Any],
    counts: FloatArray,
    n_levels: Sequence[int],
    start: tuple[FloatArray, Sequence[FloatArray]],
    *,
    max_iter: int = 2000,
    design: RowDesign | None = None,
) -> LatentClassFit:
    """Quasi-Newton finish of an EM fit, for likelihoods too flat for EM to settle.

    Where the maximum lies on the boundary (a probability or weight of 0) or
    on a nearly flat ridge, EM converges sublinearly. L-BFGS-B (Byrd, Lu,
    Nocedal & Zhu, "A limited memory algorithm for bound constrained
    optimization", SIAM J. Sci. Comput. 16, 1995) on unnormalised positive
    parameters ``pi_u = v_u / sum v`` and ``P(X_j = l | u) = q_ujl / sum_l q_ujl``
    reaches the boundary and crosses the ridge in a few dozen steps. The
    gradient needs only EM's expected counts ``N_u = sum_s c_s r_su`` and
    ``n_ujl = sum_s c_s r_su [x_sj = l]``:

    .. math::
       \\frac{\\partial \\ell}{\\partial v_u} = \\frac{N_u / \\pi_u - N}{\\sum v},
       \\qquad
       \\frac{\\partial \\ell}{\\partial q_{ujl}}
       = \\frac{n_{ujl} / P(X_j = l \\mid u) - \\sum_{l'} n_{ujl'}}{\\sum_{l'} q_{ujl'}}

    (``sum_l' n_ujl' = N_u`` when every row observes item ``j``).

    Returns the polished fit when its log-likelihood is not lower than the
    start's, else the start; ``converged`` is L-BFGS-B's own verdict
    (projected gradient below its tolerance).
    """
    counts = np.asarray(counts, dtype=np.float64)
    if design is None:
        design = RowDesign(values, n_levels)
    W0, P0 = stack_starts([start], design.width)
    k, width = P0.shape[1], design.width
    total = float(counts.sum())
    lower = 1e-12

    def unpack(z: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        v, q = z[:k], z[k:].reshape(k, width)
        vs = v.sum()
        sums = np.repeat(np.add.reduceat(q, design.offsets, axis=1), design.n_levels, axis=1)
        return v / vs, q / sums, np.full(k, vs), sums

    def objective(z: FloatArray) -> tuple[float, FloatArray]:
        w, P, vs, sums = unpack(z)
        resp, ll = responsibilities(design, counts, w[None], P[None])
        resp_w = resp.reshape(k, -1)
        nk = resp_w.sum(axis=1)
        n = design.level_counts(resp_w)
        gv = (nk / w - total) / vs
        seen = nk[:, None] if design.complete else design.block_sums(n)
        gq = (n / P - seen) / sums
        grad = np.concatenate([gv, gq.ravel()])
        return -float(ll[0]) / total, -grad / total

    z0 = np.concatenate([W0[0], P0[0].ravel()])
    z0 = np.maximum(z0, lower)
    ll0 = float(responsibilities(design, counts, W0, P0)[1][0])
    res = optimize.minimize(
        objective,
        z0,
        jac=True,
        method="L-BFGS-B",
        bounds=[(lower, None)] * z0.shape[0],
        options={"maxiter": int(max_iter), "ftol": 1e-15, "gtol": 1e-10},
    )
    w, P, _, _ = unpack(np.asarray(res.x, dtype=np.float64))
    ll = float(responsibilities(design, counts, w[None], P[None])[1][0])
    if not np.isfinite(ll) or ll < ll0:
        probs0 = np.split(P0[0], design.offsets[1:], axis=1)
        return LatentClassFit(W0[0], probs0, ll0, False, 0)
    probs = np.split(P, design.offsets[1:], axis=1)
    return LatentClassFit(w, probs, ll, bool(res.success), int(res.nit))

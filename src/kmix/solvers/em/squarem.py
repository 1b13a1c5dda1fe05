"""EM from many starts at once, accelerated by SQUAREM, with starts that join a better one stopped.

Shared by the latent class models (:mod:`kmix.solvers.latent_class`) and the
mixtures of Bayesian networks (:mod:`kmix.solvers.bayesnet.em`): each supplies one
EM map over stacked starts and a projection onto its parameter space.

SQUAREM (Varadhan & Roland, "Simple and globally convergent methods for
accelerating the convergence of any EM algorithm", Scand. J. Statist. 35,
2008; scheme S3) extrapolates two EM steps,

.. math::
   r = F(\\theta) - \\theta, \\quad v = F(F(\\theta)) - 2F(\\theta) + \\theta, \\quad
   \\alpha = -\\lVert r \\rVert / \\lVert v \\rVert, \\quad
   \\theta' = \\theta - 2\\alpha r + \\alpha^2 v,

projects ``theta'`` back onto the parameter space, takes one stabilising EM
step from it, and keeps the plain two-step point instead whenever the
extrapolation would lower the objective, so the objective never decreases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..linalg import best_permutation

__all__ = ["MERGE_TOL", "AcceleratedRuns", "accelerated_em", "near_twins"]

FloatArray = NDArray[np.float64]
#: Extrapolated weights are kept at least this large (a class at weight 0 never returns).
WEIGHT_FLOOR = 1e-12
#: A start this close (largest parameter difference after matching classes) to a start
#: with a higher objective is in the same basin: it stops and defers to that one.
MERGE_TOL = 1e-4

#: ``em_map(W, P) -> (W', P', objective at (W, P))`` for ``C`` stacked starts.
EMMap = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray, FloatArray]]


@dataclass(frozen=True)
class AcceleratedRuns:
    """Where every start ended.

    Attributes
    ----------
    weights : ndarray of shape (C, k)
    probs : ndarray of shape (C, k, width)
    converged : ndarray of bool, shape (C,)
        One plain EM map (or a whole cycle) gained at most ``tol`` (relative).
    n_iter : ndarray of int, shape (C,)
        EM maps evaluated (three per SQUAREM cycle).
    merged : ndarray of bool, shape (C,)
        Stopped on coming within ``MERGE_TOL`` of a start with a higher objective.
    """

    weights: FloatArray
    probs: FloatArray
    converged: NDArray[np.bool_]
    n_iter: NDArray[np.int64]
    merged: NDArray[np.bool_]


def near_twins(W: FloatArray, P: FloatArray, objective: FloatArray) -> NDArray[np.bool_]:
    """Starts within ``MERGE_TOL`` of the start with the highest objective."""
    lead = int(np.argmax(objective))
    out = np.zeros(W.shape[0], dtype=bool)
    for c in range(W.shape[0]):
        if c == lead:
            continue
        cost = np.abs(P[lead][:, None, :] - P[c][None, :, :]).max(axis=2)
        perm = best_permutation(cost)
        gap = max(
            float(np.abs(W[lead] - W[c][perm]).max()), float(np.abs(P[lead] - P[c][perm]).max())
        )
        out[c] = gap <= MERGE_TOL
    return out


def accelerated_em(
    W: FloatArray,
    P: FloatArray,
    em_map: EMMap,
    project: Callable[[FloatArray, FloatArray], FloatArray],
    *,
    tol: float,
    max_iter: int,
    accelerate: bool = True,
    record: Callable[[NDArray[np.intp], FloatArray], None] | None = None,
    merge: bool = True,
    on_active: Callable[[NDArray[np.intp]], None] | None = None,
) -> AcceleratedRuns:
    """Run EM (SQUAREM-accelerated by default) from ``C`` stacked starts.

    Parameters
    ----------
    W, P : ndarray of shape (C, k) and (C, k, width)
        Starting weights and stacked component parameters.
    em_map : callable
        One EM map of the active starts, returning the objective at its input.
    project : callable
        ``project(P_extrapolated, P_fallback)``: extrapolated parameters back
        onto the parameter space (the fallback fills what cannot be projected).
    tol, max_iter : float, int
        A start stops when one plain EM map raises its objective by at most
        ``tol * |objective|``, or a whole cycle does; ``max_iter`` caps the EM
        maps per start (checked after each cycle).
    accelerate : bool
        SQUAREM (default) or plain EM.
    record : callable, optional
        ``record(active, objective)`` after every cycle's first map (histories).
    merge : bool
        Stop a start that comes within :data:`MERGE_TOL` of one with a higher
        objective (off when the starts are different problems).
    on_active : callable, optional
        ``on_active(active)`` before every cycle: the starts whose parameters
        the cycle's maps receive, in order (for maps that lay out each start's
        own data).
    """
    W, P = W.copy(), P.copy()
    C, k = W.shape
    obj = np.full(C, -np.inf)
    done = np.zeros(C, dtype=bool)
    merged = np.zeros(C, dtype=bool)
    n_iter = np.zeros(C, dtype=np.int64)
    active = np.arange(C)
    while active.size:
        if on_active is not None:
            on_active(active)
        Wa, Pa = W[active], P[active]
        W1, P1, obj0 = em_map(Wa, Pa)
        n_iter[active] += 1
        # the stopping rule of plain EM: one map gains at most tol * |objective|
        settled = (obj0 - obj[active]) <= tol * np.abs(obj0)
        obj[active] = obj0
        if record is not None:
            record(active, obj0)
        if not accelerate:
            W[active], P[active] = W1, P1
        else:
            W2, P2, obj1 = em_map(W1, P1)
            n_iter[active] += 1
            settled |= (obj1 - obj0) <= tol * np.abs(obj1)
            n = len(active)
            theta0 = np.concatenate([Wa, Pa.reshape(n, -1)], axis=1)
            theta1 = np.concatenate([W1, P1.reshape(n, -1)], axis=1)
            theta2 = np.concatenate([W2, P2.reshape(n, -1)], axis=1)
            r = theta1 - theta0
            v = theta2 - 2.0 * theta1 + theta0
            rn, vn = np.linalg.norm(r, axis=1), np.linalg.norm(v, axis=1)
            step = np.where(vn > 0, -rn / np.where(vn > 0, vn, 1.0), -1.0)
            step = np.minimum(step, -1.0)  # step = -1 is the plain two-step point
            ext = theta0 - 2.0 * step[:, None] * r + (step**2)[:, None] * v
            We = np.maximum(ext[:, :k], WEIGHT_FLOOR)
            We /= We.sum(axis=1, keepdims=True)
            Pe = project(ext[:, k:].reshape(n, k, -1), P2)
            W3, P3, obj_e = em_map(We, Pe)
            n_iter[active] += 1
            # keep the extrapolation only where it does not lose against plain EM
            good = np.isfinite(obj_e) & (obj_e >= obj1)
            W[active] = np.where(good[:, None], W3, W2)
            P[active] = np.where(good[:, None, None], P3, P2)
        finished = settled | (n_iter[active] >= max_iter)
        done[active] = settled
        if merge and active.size > 1:
            twins = near_twins(W[active], P[active], obj[active])
            merged[active[twins]] = True
            finished |= twins
        active = active[~finished]
    return AcceleratedRuns(W, P, done, n_iter, merged)

"""The weights-only problem: concave, so Newton steps finish what EM starts."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["polish_weights", "weights_are_optimal"]

FloatArray = NDArray[np.float64]


def polish_weights(
    log_prob: FloatArray, counts: FloatArray, weights: FloatArray, *, max_steps: int = 50
) -> FloatArray:
    r"""Maximise the weights-only log-likelihood by constrained Newton steps.

    With the components fixed, ``l(pi) = sum_s c_s log sum_u pi_u f_su`` is
    concave on the simplex. On the face where the weights are positive, each
    step solves the equality-constrained Newton system

    .. math:: \begin{pmatrix} H & 1 \\ 1^\top & 0 \end{pmatrix}
              \begin{pmatrix} d \\ \lambda \end{pmatrix} =
              \begin{pmatrix} -g \\ 0 \end{pmatrix},\qquad
              g = F^\top (c / F\pi),\quad H = -F^\top \operatorname{diag}(c / (F\pi)^2) F,

    then backtracks to stay in the simplex and to increase ``l`` (Boyd &
    Vandenberghe, *Convex Optimization*, 2004, section 10.2). Weights that reach
    zero leave the face. Rows of ``F = exp(log_prob)`` are rescaled by their
    maxima, which leaves the maximiser unchanged.
    """
    F = np.exp(log_prob - log_prob.max(axis=1, keepdims=True))
    pi = weights.copy()

    def value(w: FloatArray) -> float:
        with np.errstate(divide="ignore"):
            return float(counts @ np.log(F @ w))

    current = value(pi)
    for _ in range(max_steps):
        active = np.flatnonzero(pi > 0)
        if active.size < 2:
            break
        Fa = F[:, active]
        mix = Fa @ pi[active]
        grad = Fa.T @ (counts / mix)
        hess = -(Fa * (counts / mix**2)[:, None]).T @ Fa
        n = active.size
        kkt = np.zeros((n + 1, n + 1))
        kkt[:n, :n], kkt[:n, n], kkt[n, :n] = hess, 1.0, 1.0
        step = np.linalg.lstsq(kkt, np.concatenate([-grad, [0.0]]), rcond=None)[0][:n]
        shrink = step < 0
        t = min(1.0, float(np.min(-pi[active][shrink] / step[shrink]))) if shrink.any() else 1.0
        improved = False
        while t > 1e-12:
            trial = pi.copy()
            trial[active] = np.maximum(pi[active] + t * step, 0.0)
            trial /= trial.sum()
            new = value(trial)
            if new >= current:
                improved = new > current
                pi, current = trial, new
                break
            t *= 0.5
        if not improved or np.abs(step).max() * t < 1e-15:
            break
    return pi


def weights_are_optimal(
    log_prob: FloatArray, counts: FloatArray, weights: FloatArray, *, rtol: float = 1e-7
) -> bool:
    """Karush-Kuhn-Tucker check for the weights-only maximum.

    With ``g_u = sum_s c_s f_su / (F pi)_s`` one has ``sum_u pi_u g_u = sum_s c_s = N``;
    ``pi`` maximises ``l`` on the simplex iff ``g_u = N`` where ``pi_u > 0`` and
    ``g_u <= N`` where ``pi_u = 0``.
    """
    F = np.exp(log_prob - log_prob.max(axis=1, keepdims=True))
    g = F.T @ (counts / (F @ weights)) / counts.sum()
    active = weights > 0
    return bool(np.all(np.abs(g[active] - 1.0) <= rtol) and np.all(g[~active] <= 1.0 + rtol))

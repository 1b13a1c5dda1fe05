"""The weights-only problem: concave, so Newton steps finish what EM starts."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

__all__ = ["polish_weights", "weight_gradient", "weights_are_optimal"]

FloatArray = NDArray[np.float64]
#: Relative tolerance of the Karush-Kuhn-Tucker conditions.
KKT_RTOL = 1e-7


def _scaled_densities(log_prob: FloatArray) -> FloatArray:
    """``F = exp(log_prob)`` with each row divided by its maximum (same maximiser)."""
    top = log_prob.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return np.exp(log_prob - top)


def weight_gradient(log_prob: FloatArray, counts: FloatArray, weights: FloatArray) -> FloatArray:
    r"""Normalised gradient ``g_u = sum_s c_s f_su / (F pi)_s / N`` of the weights-only likelihood.

    ``sum_u pi_u g_u = 1``; at the maximum ``g_u = 1`` where ``pi_u > 0`` and
    ``g_u <= 1`` where ``pi_u = 0``.
    """
    F = _scaled_densities(log_prob)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(F.T @ (counts / (F @ weights)) / counts.sum(), dtype=np.float64)


def _newton_step(
    Fa: FloatArray, counts: FloatArray, mix: FloatArray, grad: FloatArray
) -> FloatArray:
    """Newton direction on the face of the weights in ``Fa``'s columns (sums to 0)."""
    hess = -(Fa * (counts / mix**2)[:, None]).T @ Fa
    n = grad.shape[0]
    kkt = np.zeros((n + 1, n + 1))
    kkt[:n, :n], kkt[:n, n], kkt[n, :n] = hess, 1.0, 1.0
    step: FloatArray = np.linalg.lstsq(kkt, np.concatenate([-grad, [0.0]]), rcond=None)[0][:n]
    return step


def _line_search(
    value: Callable[[FloatArray], float],
    pi: FloatArray,
    idx: NDArray[np.intp],
    step: FloatArray,
    current: float,
) -> tuple[FloatArray | None, float]:
    """Backtrack along ``pi[idx] + t * step`` inside the simplex until ``l`` does not drop.

    The longest step stops at the first weight to reach 0; that weight is then
    set to exactly 0. Returns ``(None, current)`` when no step keeps ``l``.
    """
    start = pi[idx]
    ratios = np.full(idx.shape[0], np.inf)
    shrink = step < 0
    ratios[shrink] = -start[shrink] / step[shrink]
    blocking = int(np.argmin(ratios))
    t = min(1.0, float(ratios[blocking]))
    while t > 1e-12:
        trial = pi.copy()
        trial[idx] = np.maximum(start + t * step, 0.0)
        if t == ratios[blocking]:
            trial[idx[blocking]] = 0.0  # the blocked weight sits exactly on the boundary
        trial /= trial.sum()
        new = value(trial)
        if new >= current and not np.array_equal(trial, pi):
            return trial, new
        t *= 0.5
    return None, current


def polish_weights(
    log_prob: FloatArray,
    counts: FloatArray,
    weights: FloatArray,
    *,
    max_steps: int = 100,
    rtol: float = KKT_RTOL,
) -> FloatArray:
    r"""Maximise the weights-only log-likelihood by an active-set Newton method.

    With the components fixed, ``l(pi) = sum_s c_s log sum_u pi_u f_su`` is
    concave on the simplex. On the face of the active (positive) weights, each
    step solves the equality-constrained Newton system

    .. math:: \begin{pmatrix} H & 1 \\ 1^\top & 0 \end{pmatrix}
              \begin{pmatrix} d \\ \lambda \end{pmatrix} =
              \begin{pmatrix} -g \\ 0 \end{pmatrix},\qquad
              g = F^\top (c / F\pi),\quad H = -F^\top \operatorname{diag}(c / (F\pi)^2) F,

    then backtracks to stay in the simplex and to increase ``l`` (Boyd &
    Vandenberghe, *Convex Optimization*, 2004, section 10.2; Nocedal & Wright,
    *Numerical Optimization*, 2006, section 16.5 for the active set). A weight
    that the step drives to the boundary is set to exactly 0 and leaves the
    face; a zero weight whose normalised gradient (:func:`weight_gradient`)
    exceeds 1 can raise ``l`` and re-enters it, so EM's blind spot (it never
    moves a weight that is exactly 0) is covered (``rtol`` is the margin by
    which its gradient must exceed 1). The loop stops when no step raises
    ``l`` any more, which once the active set is right takes a few steps of
    Newton's quadratic convergence to the maximum in floating point (the
    Karush-Kuhn-Tucker conditions, :func:`weights_are_optimal`, then hold), or
    after ``max_steps`` steps. Rows of
    ``F = exp(log_prob)`` are rescaled by their maxima, which leaves the
    maximiser unchanged.
    """
    F = _scaled_densities(log_prob)
    total = float(counts.sum())
    pi = np.asarray(weights, dtype=np.float64).copy()

    def value(w: FloatArray) -> float:
        with np.errstate(divide="ignore"):
            return float(counts @ np.log(F @ w))

    current = value(pi)
    if not np.isfinite(current):
        return pi  # a row no positive weight explains: nothing to polish from here
    for _ in range(max_steps):
        mix = F @ pi
        g = F.T @ (counts / mix) / total
        active = pi > 0
        entering = ~active & (g > 1.0 + rtol)
        enter = int(np.argmax(np.where(entering, g, -np.inf))) if entering.any() else -1
        if enter >= 0:  # the zero weight with the steepest ascent joins the face
            active[enter] = True
        idx = np.flatnonzero(active)
        step = _newton_step(F[:, idx], counts, mix, total * g[idx]) if idx.size > 1 else None
        if step is None or np.any((pi[idx] == 0) & (step < 0)):
            if enter < 0:
                break
            # the Newton step would push the entering weight below 0: move mass
            # towards it instead, along e_u - pi, an ascent direction since g_u > 1
            idx = np.arange(pi.shape[0])
            step = -pi.copy()
            step[enter] += 1.0
        trial_pi, new = _line_search(value, pi, idx, step, current)
        if trial_pi is None:
            break
        moved = float(np.abs(trial_pi - pi).max())
        pi, current = trial_pi, new
        if moved < 1e-15:
            break
    return pi


def weights_are_optimal(
    log_prob: FloatArray, counts: FloatArray, weights: FloatArray, *, rtol: float = KKT_RTOL
) -> bool:
    """Karush-Kuhn-Tucker check for the weights-only maximum.

    With ``g_u = sum_s c_s f_su / (F pi)_s / N`` (:func:`weight_gradient`) one
    has ``sum_u pi_u g_u = 1``; ``pi`` maximises ``l`` on the simplex iff
    ``g_u = 1`` where ``pi_u > 0`` and ``g_u <= 1`` where ``pi_u = 0``.
    """
    g = weight_gradient(log_prob, counts, weights)
    active = weights > 0
    if not np.all(np.isfinite(g)):
        return False
    return bool(np.all(np.abs(g[active] - 1.0) <= rtol) and np.all(g[~active] <= 1.0 + rtol))

"""Latent class regression: class shares that follow a multinomial logit in covariates.

The model (Dayton & Macready, "Concomitant-variable latent-class models",
J. Amer. Statist. Assoc. 83, 1988; Bandeen-Roche, Miglioretti, Zeger &
Rathouz, "Latent variable regression for multiple discrete outcomes",
J. Amer. Statist. Assoc. 92, 1997) for rows ``x_s`` with covariates ``z_s``
(a leading 1 for the intercept) is

.. math::
   P(x_s \\mid z_s) = \\sum_u \\pi_u(z_s) \\prod_j \\theta_{u j x_{sj}}, \\qquad
   \\pi_u(z) = \\frac{e^{z^\\top \\beta_u}}{\\sum_v e^{z^\\top \\beta_v}}, \\quad
   \\beta_0 = 0,

class 0 the reference. EM (Dempster, Laird & Rubin 1977) takes the
posteriors ``r_su ∝ pi_u(z_s) prod_j theta_{u j x_sj}``; the item M-step is
the latent class model's closed form, and the class part maximises

.. math:: Q(\\beta) = \\sum_s c_s \\sum_u r_{su} \\log \\pi_u(z_s),

a multinomial logit with fractional responses, concave in ``beta``, by
Newton's method with step halving (each step raises ``Q``). A missing item
(code ``-1``) drops out of its row's product (full-information likelihood
under missingness at random; Little & Rubin, *Statistical Analysis with
Missing Data*, 2nd ed., 2002).

Standard errors come from the inverse of an information matrix in the free
parameters ``phi = (beta_u for u >= 1, eta_ujl = log theta_ujl / theta_uj0
for l >= 1)``, built from the observed-data score (Fisher's identity:
``d l_s / d beta_u = (r_su - pi_u(z_s)) z_s``,
``d l_s / d eta_ujl = r_su ([x_sj = l] - theta_ujl)``; Louis, "Finding the
observed information matrix when using the EM algorithm", JRSS-B 44, 1982):

* ``"observed"``: minus the Jacobian of the total score, by central
  differences (the observed information);
* ``"empirical"``: ``sum_s c_s g_s g_s^T`` of the per-row scores, the
  choice of R's poLCA (Linzer & Lewis, "poLCA: an R package for polytomous
  variable latent class analysis", J. Stat. Softw. 42(10), 2011).

The ``beta`` block of either inverse does not depend on how the item
probabilities are parametrised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...exceptions import DataError
from .design import RowDesign

__all__ = [
    "LCRegressionFit",
    "class_shares",
    "em_lc_regression",
    "lc_regression_covariance",
    "lc_regression_posteriors",
    "newton_class_logit",
]

FloatArray = NDArray[np.float64]
#: Newton steps at most per M-step of the class part (each raises Q; a few suffice)
NEWTON_STEPS = 25
#: Halvings of a Newton step before the M-step gives up on raising Q
HALVINGS = 30
#: Item probabilities are kept at least this far from 0 in the logit parametrisation
LOGIT_FLOOR = 1e-12


@dataclass(frozen=True)
class LCRegressionFit:
    """One EM run of a latent class regression.

    Attributes
    ----------
    probs : list of ndarray
        ``probs[j][u, v] = P(X_j = v | U = u)``.
    beta : ndarray of shape (p, k)
        Coefficients of ``z`` per class; column 0 (the reference class) is 0.
    log_likelihood : float
        ``sum_s c_s log P(x_s | z_s)``.
    converged : bool
    n_iter : int
    history : ndarray
        Log-likelihood at every E-step.
    """

    probs: list[FloatArray]
    beta: FloatArray
    log_likelihood: float
    converged: bool
    n_iter: int
    history: FloatArray = field(repr=False)


def class_shares(Z: FloatArray, beta: FloatArray) -> FloatArray:
    """``pi_u(z_s)`` (m, k): the softmax of ``Z beta`` per row, computed stably."""
    eta = Z @ beta
    eta -= eta.max(axis=1, keepdims=True)
    np.exp(eta, out=eta)
    eta /= eta.sum(axis=1, keepdims=True)
    return eta


def _posteriors(
    design: RowDesign, Z: FloatArray, P: FloatArray, beta: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Posteriors ``r`` (m, k), class shares ``pi`` (m, k) and ``log P(x_s | z_s)`` (m,)."""
    pi = class_shares(Z, beta)
    with np.errstate(divide="ignore"):
        joint = design.log_f(P).T + np.log(pi)  # (m, k)
    top = joint.max(axis=1)
    top[~np.isfinite(top)] = 0.0
    joint -= top[:, None]
    np.exp(joint, out=joint)
    total = joint.sum(axis=1)
    with np.errstate(divide="ignore"):
        log_p = np.log(total) + top
    joint /= np.maximum(total, 1e-300)[:, None]
    return joint, pi, log_p


def lc_regression_posteriors(
    values: NDArray[Any],
    Z: FloatArray,
    n_levels: Sequence[int],
    probs: Sequence[FloatArray],
    beta: FloatArray,
) -> FloatArray:
    """``P(U = u | x_s, z_s)`` (m, k) under item probabilities ``probs`` and ``beta``."""
    design = RowDesign(np.asarray(values), n_levels)
    P = np.concatenate([np.asarray(p, dtype=np.float64) for p in probs], axis=1)
    return _posteriors(design, np.asarray(Z, dtype=np.float64), P, beta)[0]


def _class_objective(Z: FloatArray, beta: FloatArray, W: FloatArray) -> float:
    """``Q(beta) = sum_s sum_u W_su log pi_u(z_s)`` with ``W = c r``."""
    eta = Z @ beta
    top = eta.max(axis=1, keepdims=True)
    lse = np.log(np.exp(eta - top).sum(axis=1, keepdims=True)) + top
    return float((W * (eta - lse)).sum())


def newton_class_logit(Z: FloatArray, beta: FloatArray, W: FloatArray, n: FloatArray) -> FloatArray:
    """Maximise ``Q`` over ``beta_u`` (``u >= 1``) from ``beta``: Newton steps with halving.

    ``W = c r`` (m, k) are the weighted posteriors, ``n = c`` (m,) the counts;
    the gradient is ``Z^T (W_u - n pi_u)`` and the Hessian block ``(u, v)``
    is ``-Z^T diag(n pi_u ([u = v] - pi_v)) Z``.
    """
    p, k = Z.shape[1], beta.shape[1]
    if k == 1:
        return beta
    current = _class_objective(Z, beta, W)
    for _ in range(NEWTON_STEPS):
        pi = class_shares(Z, beta)
        grad = (Z.T @ (W[:, 1:] - n[:, None] * pi[:, 1:])).T.reshape(-1)  # (k-1) p
        H = np.empty((k - 1, p, k - 1, p))
        for u in range(1, k):
            for v in range(u, k):
                w = n * pi[:, u] * ((u == v) - pi[:, v])
                block = -(Z.T * w) @ Z
                H[u - 1, :, v - 1, :] = block
                H[v - 1, :, u - 1, :] = block.T
        H2 = H.reshape((k - 1) * p, (k - 1) * p)
        try:
            step = np.linalg.solve(H2, -grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(H2, -grad, rcond=None)[0]
        size = 1.0
        for _ in range(HALVINGS):
            trial = beta.copy()
            trial[:, 1:] += size * step.reshape(k - 1, p).T
            value = _class_objective(Z, trial, W)
            if value >= current:
                break
            size *= 0.5
        else:
            return beta  # no step raises Q: at its maximum to rounding
        gain = value - current
        beta, current = trial, value
        if gain <= 1e-12 * max(abs(current), 1.0):
            break
    return beta


def _check(
    values: NDArray[Any], counts: FloatArray, Z: FloatArray, n_levels: Sequence[int]
) -> tuple[NDArray[Any], FloatArray, FloatArray]:
    x = np.asarray(values)
    c = np.asarray(counts, dtype=np.float64).reshape(-1)
    z = np.asarray(Z, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(n_levels):
        raise DataError(f"values must have shape (m, {len(n_levels)}); got {x.shape}")
    if z.ndim != 2 or z.shape[0] != x.shape[0]:
        raise DataError(f"Z must have one row per row of values ({x.shape[0]}); got {z.shape}")
    if c.shape != (x.shape[0],) or np.any(c < 0) or not np.all(np.isfinite(c)):
        raise DataError(f"counts must be {x.shape[0]} finite non-negative numbers")
    if not np.all(np.isfinite(z)):
        raise DataError("Z must be finite (drop or impute rows with a missing covariate)")
    return x, c, z


def em_lc_regression(
    values: NDArray[Any],
    counts: FloatArray,
    Z: FloatArray,
    n_levels: Sequence[int],
    probs_start: Sequence[FloatArray],
    beta_start: FloatArray,
    *,
    tol: float = 1e-10,
    max_iter: int = 5000,
) -> LCRegressionFit:
    """EM for a latent class regression from one start.

    Parameters
    ----------
    values : ndarray of shape (m, n_items)
        Level codes ``0 .. n_levels[j] - 1``; ``-1`` marks a missing answer.
    counts : ndarray of shape (m,)
        Frequency of each row (1 for raw rows).
    Z : ndarray of shape (m, p)
        Covariates of each row, the intercept's column of ones included.
    n_levels : sequence of int
    probs_start : sequence of ndarray
        ``probs_start[j][u, v]``, the item probabilities to start from.
    beta_start : ndarray of shape (p, k)
        Coefficients to start from (column 0 is set to 0).
    tol, max_iter : float, int
        Stop when the log-likelihood rises by at most ``tol * |l|``, or after
        ``max_iter`` iterations.

    Returns
    -------
    LCRegressionFit
    """
    x, c, z = _check(values, counts, Z, n_levels)
    design = RowDesign(x, n_levels, c)
    k = int(np.asarray(probs_start[0]).shape[0])
    P = np.concatenate([np.asarray(p, dtype=np.float64) for p in probs_start], axis=1)
    beta = np.array(beta_start, dtype=np.float64, copy=True)
    if beta.shape != (z.shape[1], k):
        raise DataError(f"beta_start must have shape ({z.shape[1]}, {k}); got {beta.shape}")
    beta -= beta[:, :1]
    history: list[float] = []
    converged, n_iter = False, 0
    while True:
        r, _, log_p = _posteriors(design, z, P, beta)
        ll = float(np.where(c > 0, log_p, 0.0) @ c)
        history.append(ll)
        if n_iter > 0 and ll - history[-2] <= tol * abs(ll):
            converged = True
            break
        if n_iter >= max_iter:
            break
        W = r * c[:, None]
        P = design.normalise(design.level_counts(W.T))
        beta = newton_class_logit(z, beta, W, c)
        n_iter += 1
    probs = [P[:, o : o + d].copy() for o, d in zip(design.offsets, design.n_levels, strict=True)]
    return LCRegressionFit(probs, beta, history[-1], converged, n_iter, np.asarray(history))


def _free(fit_probs: Sequence[FloatArray], beta: FloatArray) -> FloatArray:
    """The free parameters: ``beta_u`` (u >= 1, each over ``p``), then every ``eta_ujl``."""
    etas = []
    for p in fit_probs:
        q = np.maximum(p, LOGIT_FLOOR)
        etas.append((np.log(q[:, 1:]) - np.log(q[:, :1])).reshape(-1))
    return np.concatenate([beta[:, 1:].T.reshape(-1), *etas])


def _unpack(
    phi: FloatArray, p: int, k: int, n_levels: Sequence[int]
) -> tuple[FloatArray, FloatArray]:
    """``(P (k, width), beta (p, k))`` from the free parameters."""
    beta = np.zeros((p, k))
    beta[:, 1:] = phi[: p * (k - 1)].reshape(k - 1, p).T
    at, blocks = p * (k - 1), []
    for d in n_levels:
        eta = np.zeros((k, d))
        eta[:, 1:] = phi[at : at + k * (d - 1)].reshape(k, d - 1)
        at += k * (d - 1)
        eta -= eta.max(axis=1, keepdims=True)
        e = np.exp(eta)
        blocks.append(e / e.sum(axis=1, keepdims=True))
    return np.concatenate(blocks, axis=1), beta


def _row_scores(design: RowDesign, Z: FloatArray, P: FloatArray, beta: FloatArray) -> FloatArray:
    """Per-row observed-data scores (m, n_free) in the order of :func:`_free`."""
    r, pi, _ = _posteriors(design, Z, P, beta)
    m = r.shape[0]
    parts = [((r - pi)[:, 1:, None] * Z[:, None, :]).reshape(m, -1)]
    seen = design.observed()
    for j, (o, d) in enumerate(zip(design.offsets, design.n_levels, strict=True)):
        theta = P[:, o : o + d]  # (k, d)
        onehot = np.zeros((m, d))
        ok = seen[:, j]
        onehot[np.flatnonzero(ok), design.codes[ok, j]] = 1.0
        # r_su ([x = l] - theta_ul) over observed rows, l >= 1
        g = r[:, :, None] * (onehot[:, None, 1:] - theta[None, :, 1:])
        g *= ok[:, None, None]
        parts.append(g.reshape(m, -1))
    return np.concatenate(parts, axis=1)


def lc_regression_covariance(
    values: NDArray[Any],
    counts: FloatArray,
    Z: FloatArray,
    n_levels: Sequence[int],
    fit: LCRegressionFit,
    *,
    method: str = "observed",
    step: float = 1e-5,
) -> FloatArray:
    """Covariance ``(p (k - 1), p (k - 1))`` of the coefficients ``beta_u``, ``u >= 1``, in
    that order (class by class, covariates within), at ``fit``.

    ``method``: ``"observed"`` (the observed information, by central
    differences of the total score with relative ``step``) or ``"empirical"``
    (the sum of the rows' score outer products, as R's poLCA). The full
    information is inverted (a pseudo-inverse where it is singular, e.g. an
    item probability at 0 or 1) and the coefficients' block returned.
    """
    if method not in ("observed", "empirical"):
        raise DataError(f"method must be 'observed' or 'empirical'; got {method!r}")
    x, c, z = _check(values, counts, Z, n_levels)
    design = RowDesign(x, n_levels, c)
    p, k = fit.beta.shape
    phi = _free(fit.probs, fit.beta)
    if method == "empirical":
        P, beta = _unpack(phi, p, k, n_levels)
        g = _row_scores(design, z, P, beta)
        info = np.asarray((g * c[:, None]).T @ g, dtype=np.float64)
    else:
        info = np.empty((phi.size, phi.size))
        for i in range(phi.size):
            h = step * max(1.0, abs(phi[i]))
            up, down = phi.copy(), phi.copy()
            up[i] += h
            down[i] -= h
            s_up = c @ _row_scores(design, z, *_unpack(up, p, k, n_levels))
            s_down = c @ _row_scores(design, z, *_unpack(down, p, k, n_levels))
            info[:, i] = -(s_up - s_down) / (2.0 * h)
        info = 0.5 * (info + info.T)
    cov = np.asarray(np.linalg.pinv(info, hermitian=True), dtype=np.float64)
    nb = p * (k - 1)
    out: FloatArray = cov[:nb, :nb]
    return out

"""What the classes predict: a distal outcome's mean or distribution per latent class.

Given the posteriors ``P(u | x_i)`` of a fitted measurement model and an
outcome ``y_i`` that was not among the items, three-step estimation assigns
each row to a class (step 2) and relates the assignments to ``y`` (step 3).
Hard (modal) assignment misclassifies, which biases the per-class estimates
toward each other; the corrections use the classification error matrix

.. math:: D_{us} = P(W = s \\mid U = u)
   = \\frac{\\sum_i P(u \\mid x_i) \\, W_{is}}{\\sum_i P(u \\mid x_i)},

with ``W_is`` the assignment (modal: 0/1; proportional: the posterior)
(Vermunt, "Latent class modeling with covariates: two improved three-step
approaches", Political Analysis 18, 2010; Bakk, Tekle & Vermunt, "Estimating
the association between latent class membership and external variables using
bias-adjusted three-step approaches", Sociological Methodology 43, 2013):

* ``"bch"`` (Bolck, Croon & Hagenaars, "Estimating latent structure models
  with categorical variables: one-step versus three-step estimators",
  Political Analysis 12, 2004): each row weighs ``w_iu = sum_s W_is
  (D^{-1})_{su}`` in class ``u``, and the class's mean (or level shares) is
  the ``w``-weighted one. Weights may be negative; each row's sum to 1.
  Standard errors are the sandwich of the weighted means (the step-1
  uncertainty left out, as in Bakk et al. 2013).
* ``"ml"`` (Vermunt 2010): the modal classes ``s_i`` are observed
  indicators with the fixed error rates ``D``; ``P(y_i, s_i) = sum_u pi_u
  D_{u s_i} f(y_i | u)`` is maximised by EM over ``pi`` and the class
  distributions of ``y`` (Gaussian with a variance per class, or categorical);
  standard errors from the observed information (numerical Hessian).
* ``"modal"``: the means of the modal classes, the naive estimate.
* ``"one-step"``: the outcome joins the items as one more indicator and the
  whole model is refitted by EM (the reference the three-step estimators
  approximate; the classes may move, since the outcome now shapes them);
  standard errors from the empirical information of the per-row scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from ...exceptions import DataError
from .design import RowDesign

__all__ = [
    "DistalEstimate",
    "bch_weights",
    "classification_matrix",
    "distal_by_weights",
    "distal_ml",
    "distal_one_step",
    "equality_test",
]

FloatArray = NDArray[np.float64]
#: Rows per class below which a class's estimate is not reported (too few to weigh)
MIN_WEIGHT = 1e-8


@dataclass(frozen=True)
class DistalEstimate:
    """Per-class estimates of a distal outcome.

    Attributes
    ----------
    estimates : ndarray of shape (k,) or (k, L)
        Mean per class (continuous ``y``), or the share of each of ``L``
        levels per class (categorical ``y``).
    std_errors : ndarray, same shape
    covariance : ndarray of shape (k, k) or (k L, k L)
        Of the flattened estimates.
    method : str
    log_likelihood : float
        The step-3 log-likelihood (``"ml"`` only; NaN otherwise).
    """

    estimates: FloatArray
    std_errors: FloatArray
    covariance: FloatArray = field(repr=False)
    method: str
    log_likelihood: float = float("nan")


def classification_matrix(post: FloatArray, W: FloatArray, counts: FloatArray) -> FloatArray:
    """``D[u, s] = P(W = s | U = u)`` from posteriors (n, k), assignments (n, k), counts (n,)."""
    num = (post * counts[:, None]).T @ W
    den = (post * counts[:, None]).sum(axis=0)
    if np.any(den <= 0):
        raise DataError("a class has no posterior mass; it cannot be related to an outcome")
    out: FloatArray = num / den[:, None]
    return out


def bch_weights(W: FloatArray, D: FloatArray) -> FloatArray:
    """``w_iu = sum_s W_is (D^{-1})_{su}`` (n, k); each row sums to 1."""
    if np.linalg.cond(D) > 1e12:
        raise DataError(
            "the classification error matrix is singular (classes the items cannot tell "
            "apart); the BCH correction needs it invertible"
        )
    out: FloatArray = W @ np.linalg.inv(D)
    return out


def distal_by_weights(
    Y: FloatArray, weights: FloatArray, counts: FloatArray, method: str
) -> DistalEstimate:
    """Weighted per-class means of the columns of ``Y`` (n, q): ``q = 1`` a continuous
    outcome, ``q = L`` level indicators of a categorical one.

    The covariance is the sandwich of the weighted means: with ``W_u = sum_i c_i w_iu`` and
    residuals ``e_iuq = y_iq - m_uq``, ``Cov(m_uq, m_vr) = sum_i c_i w_iu w_iv e_iuq e_ivr
    / (W_u W_v)``.
    """
    cw = weights * counts[:, None]
    total = cw.sum(axis=0)  # (k,)
    if np.any(np.abs(total) < MIN_WEIGHT):
        raise DataError("a class carries no weight; its outcome cannot be estimated")
    means = (cw.T @ Y) / total[:, None]  # (k, q)
    k, q = means.shape
    resid = Y[:, None, :] - means[None, :, :]  # (n, k, q)
    score = (weights[:, :, None] * resid / total[None, :, None]).reshape(len(Y), k * q)
    cov = (score * counts[:, None]).T @ score
    se = np.sqrt(np.maximum(np.diag(cov), 0.0)).reshape(k, q)
    est = means[:, 0] if q == 1 else means
    return DistalEstimate(est, se[:, 0] if q == 1 else se, cov, method)


def _ml_loglik(
    y: FloatArray, s: NDArray[np.intp], D: FloatArray, counts: FloatArray, theta: FloatArray,
    categorical: bool, k: int, fixed_log_pi: FloatArray | None,
) -> float:  # fmt: skip
    """Step-3 log-likelihood at ``theta = (logits of pi (k - 1; absent when fixed), class
    parameters)``."""
    if fixed_log_pi is None:
        logits = np.concatenate([[0.0], theta[: k - 1]])
        log_pi = logits - np.logaddexp.reduce(logits)
        rest = theta[k - 1 :]
    else:
        log_pi, rest = fixed_log_pi, theta
    if categorical:
        L = int(rest.size // k) + 1
        eta = np.concatenate([np.zeros((k, 1)), rest.reshape(k, L - 1)], axis=1)
        log_f = (eta - np.logaddexp.reduce(eta, axis=1, keepdims=True))[:, y.astype(np.intp)].T
    else:
        mu, log_var = rest[:k], rest[k:]
        log_f = stats.norm.logpdf(y[:, None], mu[None, :], np.exp(0.5 * log_var)[None, :])
    with np.errstate(divide="ignore"):
        joint = log_pi[None, :] + np.log(D[:, s].T) + log_f
    return float(np.logaddexp.reduce(joint, axis=1) @ counts)


def distal_ml(
    y: FloatArray,
    modal: NDArray[np.intp],
    D: FloatArray,
    counts: FloatArray,
    *,
    categorical: bool,
    n_levels: int = 0,
    weights: FloatArray | None = None,
    tol: float = 1e-10,
    max_iter: int = 5000,
) -> DistalEstimate:
    """Vermunt's ML three-step estimate: EM for ``sum_u pi_u D[u, s_i] f(y_i | u)``.

    ``y`` holds the outcome (level codes ``0 .. n_levels - 1`` when
    ``categorical``), ``modal`` the modal classes, ``D`` the classification
    error matrix, ``counts`` the rows' frequencies. ``pi`` is estimated with
    the class distributions, or held at ``weights`` (the step-1 class shares,
    as StepMix's ML correction holds them) when given.
    """
    k = D.shape[0]
    n = float(counts.sum())
    with np.errstate(divide="ignore"):
        logD = np.log(D[:, modal].T)  # (n, k)
    # start: the modal classes' estimates
    hard = np.zeros((len(y), k))
    hard[np.arange(len(y)), modal] = 1.0
    resp = hard
    pi = np.full(k, 1.0 / k)
    history: list[float] = []
    fixed = None if weights is None else np.asarray(weights, dtype=np.float64)
    for _ in range(max_iter):
        w = resp * counts[:, None]
        nk = np.maximum(w.sum(axis=0), 1e-300)
        pi = nk / n if fixed is None else fixed
        if categorical:
            onehot = np.zeros((len(y), n_levels))
            onehot[np.arange(len(y)), y.astype(np.intp)] = 1.0
            probs = np.maximum((w.T @ onehot) / nk[:, None], 1e-300)
            log_f = np.log(probs)[:, y.astype(np.intp)].T
        else:
            mu = (w.T @ y) / nk
            var = np.maximum((w * (y[:, None] - mu[None, :]) ** 2).sum(axis=0) / nk, 1e-12)
            log_f = stats.norm.logpdf(y[:, None], mu[None, :], np.sqrt(var)[None, :])
        joint = np.log(pi)[None, :] + logD + log_f
        lse = np.logaddexp.reduce(joint, axis=1)
        history.append(float(lse @ counts))
        resp = np.exp(joint - lse[:, None])
        if len(history) > 1 and history[-1] - history[-2] <= tol * abs(history[-1]):
            break
    # observed information in (logits of pi, class parameters) by a numerical Hessian
    free = [] if fixed is not None else [np.log(pi[1:] / pi[0])]
    if categorical:
        eta = np.log(probs[:, 1:]) - np.log(probs[:, :1])
        theta = np.concatenate([*free, eta.reshape(-1)])
    else:
        theta = np.concatenate([*free, mu, np.log(var)])
    fixed_log_pi = None if fixed is None else np.log(fixed)

    def f(t: FloatArray) -> float:
        return _ml_loglik(y, modal, D, counts, t, categorical, k, fixed_log_pi)

    H = _hessian(f, theta)
    cov_theta = np.linalg.pinv(-H, hermitian=True)
    at = 0 if fixed is not None else k - 1  # where the class parameters start
    if categorical:
        est = probs
        J = _categorical_jacobian(probs)  # d probs / d eta, block per class
        idx = slice(at, None)
        cov: FloatArray = np.asarray(J @ cov_theta[idx, idx] @ J.T, dtype=np.float64)
        se = np.sqrt(np.maximum(np.diag(cov), 0.0)).reshape(k, n_levels)
    else:
        est = mu
        cov = np.asarray(cov_theta[at : at + k, at : at + k], dtype=np.float64)
        se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return DistalEstimate(est, se, cov, "ml", history[-1])


def _hessian(fn: Callable[[FloatArray], float], x: FloatArray, step: float = 1e-4) -> FloatArray:
    """Central-difference Hessian of a scalar function."""
    m = x.size
    H = np.empty((m, m))
    h = step * np.maximum(1.0, np.abs(x))
    for i in range(m):
        for j in range(i, m):
            e_i, e_j = np.zeros(m), np.zeros(m)
            e_i[i], e_j[j] = h[i], h[j]
            value = (
                fn(x + e_i + e_j) - fn(x + e_i - e_j) - fn(x - e_i + e_j) + fn(x - e_i - e_j)
            ) / (4.0 * h[i] * h[j])
            H[i, j] = H[j, i] = value
    return H


def _categorical_jacobian(probs: FloatArray) -> FloatArray:
    """``d probs[u, l] / d eta[u, l']`` (``l' >= 1``) for every class, block-diagonal."""
    k, L = probs.shape
    J = np.zeros((k * L, k * (L - 1)))
    for u in range(k):
        p = probs[u]
        block = np.diag(p) - np.outer(p, p)  # d p / d eta (all levels)
        J[u * L : (u + 1) * L, u * (L - 1) : (u + 1) * (L - 1)] = block[:, 1:]
    return J


def equality_test(estimate: DistalEstimate) -> tuple[float, int, float]:
    """Wald test that every class has the same mean (or level shares): ``(chi2, df, p)``."""
    est = np.atleast_2d(estimate.estimates.T).T  # (k, q)
    k, q = est.shape
    if q > 1:  # shares sum to 1: test the first L - 1 levels
        keep = [u * q + lev for u in range(k) for lev in range(q - 1)]
        cov = estimate.covariance[np.ix_(keep, keep)]
        est, q = est[:, : q - 1], q - 1
    else:
        cov = estimate.covariance
    C = np.zeros(((k - 1) * q, k * q))
    for u in range(1, k):
        for lev in range(q):
            C[(u - 1) * q + lev, u * q + lev] = 1.0
            C[(u - 1) * q + lev, lev] = -1.0
    diff = C @ est.reshape(-1)
    V = C @ cov @ C.T
    chi2 = float(diff @ np.linalg.pinv(V, hermitian=True) @ diff)
    df = (k - 1) * q
    return chi2, df, float(stats.chi2.sf(chi2, df))


def _y_log_f(y: FloatArray, categorical: bool, params: tuple[FloatArray, ...]) -> FloatArray:
    """``log f(y_i | u)`` (n, k): Gaussian (means, variances) or categorical (probs)."""
    if categorical:
        return np.log(np.maximum(params[0], 1e-300))[:, y.astype(np.intp)].T
    mu, var = params
    out: FloatArray = stats.norm.logpdf(y[:, None], mu[None, :], np.sqrt(var)[None, :])
    return out


def distal_one_step(
    values: NDArray[np.integer],
    counts: FloatArray,
    y: FloatArray,
    n_levels: list[int],
    probs_start: list[FloatArray],
    weights_start: FloatArray,
    *,
    categorical: bool,
    n_y_levels: int = 0,
    tol: float = 1e-10,
    max_iter: int = 5000,
) -> tuple[DistalEstimate, list[FloatArray], FloatArray]:
    """The one-step estimate: EM for ``sum_u pi_u prod_j P(x_j | u) f(y | u)``.

    ``values`` are the items' codes (``-1`` missing), started at the
    measurement model ``probs_start`` and ``weights_start``. Returns the
    outcome's estimate and the refitted item probabilities and class shares.
    """
    design = RowDesign(values, n_levels, counts)
    P = np.concatenate(probs_start, axis=1)
    k = P.shape[0]
    pi = np.asarray(weights_start, dtype=np.float64)
    n = float(counts.sum())
    with np.errstate(divide="ignore"):
        items = design.log_f(P).T + np.log(pi)[None, :]
    r = np.exp(items - np.logaddexp.reduce(items, axis=1, keepdims=True))
    onehot = np.zeros((len(y), max(n_y_levels, 1)))
    if categorical:
        onehot[np.arange(len(y)), y.astype(np.intp)] = 1.0
    history: list[float] = []
    params: tuple[FloatArray, ...] = ()
    for _ in range(max_iter):
        W = r * counts[:, None]
        nk = np.maximum(W.sum(axis=0), 1e-300)
        pi = nk / n
        P = design.normalise(design.level_counts(W.T))
        if categorical:
            params = (np.maximum((W.T @ onehot) / nk[:, None], 1e-300),)
        else:
            mu = (W.T @ y) / nk
            params = (mu, np.maximum((W * (y[:, None] - mu) ** 2).sum(axis=0) / nk, 1e-12))
        with np.errstate(divide="ignore"):
            joint = design.log_f(P).T + np.log(pi)[None, :] + _y_log_f(y, categorical, params)
        lse = np.logaddexp.reduce(joint, axis=1)
        history.append(float(lse @ counts))
        r = np.exp(joint - lse[:, None])
        if len(history) > 1 and history[-1] - history[-2] <= tol * abs(history[-1]):
            break
    # per-row scores of the free parameters (Fisher's identity), then the empirical
    # information; the outcome's block of its inverse
    parts = [r[:, 1:] - pi[None, 1:]]
    seen = design.observed()
    for j, (o, d) in enumerate(zip(design.offsets, design.n_levels, strict=True)):
        theta = P[:, o : o + d]
        hot = np.zeros((len(y), d))
        ok = seen[:, j]
        hot[np.flatnonzero(ok), design.codes[ok, j]] = 1.0
        g = r[:, :, None] * (hot[:, None, 1:] - theta[None, :, 1:]) * ok[:, None, None]
        parts.append(g.reshape(len(y), -1))
    if categorical:
        probs = params[0]
        g_y = r[:, :, None] * (onehot[:, None, 1:] - probs[None, :, 1:])
        parts.append(g_y.reshape(len(y), -1))
    else:
        mu, var = params
        z = (y[:, None] - mu[None, :]) / var[None, :]
        parts += [r * z, r * 0.5 * (z * (y[:, None] - mu[None, :]) - 1.0)]
    G = np.concatenate(parts, axis=1)
    cov_all = np.linalg.pinv((G * counts[:, None]).T @ G, hermitian=True)
    n_y = k * (n_y_levels - 1) if categorical else 2 * k
    block = cov_all[-n_y:, -n_y:]
    if categorical:
        J = _categorical_jacobian(params[0])
        cov = np.asarray(J @ block @ J.T, dtype=np.float64)
        est = params[0]
        se = np.sqrt(np.maximum(np.diag(cov), 0.0)).reshape(k, n_y_levels)
    else:
        cov = np.asarray(block[:k, :k], dtype=np.float64)
        est = params[0]
        se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    items_out = [
        P[:, o : o + d].copy() for o, d in zip(design.offsets, design.n_levels, strict=True)
    ]
    return DistalEstimate(est, se, cov, "one-step", history[-1]), items_out, pi

"""The EM benchmark's one scoring function and its tolerance translation.

Each tool's fitted weights and parameters are converted into plain arrays
(:class:`MixtureArrays`) and scored by :func:`loglik_rows` in float64, so "equal or
better" compares like with like whatever precision or parametrisation the tool used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from em_config import COVARIANCE_FLOOR, FAMILIES, REL_TOL

__all__ = [
    "FloatArray",
    "MixtureArrays",
    "component_log_prob",
    "loglik_rows",
    "one_component",
    "tolerances",
]

FloatArray = NDArray[np.float64]
_TINY = float(np.finfo(np.float64).tiny)


@dataclass
class MixtureArrays:
    """A fitted mixture as plain float64 arrays, whatever tool produced it.

    Attributes
    ----------
    weights : ndarray of shape (k,)
    arrays : dict
        ``{"p": (k, d)}`` (bernoulli), ``{"probs": (k, d, L)}`` (categorical, indexed by
        the level's integer code) or ``{"means": (k, d), "covariances": (k, d, d)}``.
    """

    weights: FloatArray
    arrays: dict[str, FloatArray]


def _log(x: FloatArray) -> FloatArray:
    """``log(x)`` with 0 mapped to the log of the smallest normal double (about -708)."""
    return np.log(np.maximum(x, _TINY))


def component_log_prob(family: str, X: NDArray[Any], mix: MixtureArrays) -> FloatArray:
    """``log f(x_n; theta_u)`` of every row and component, shape (N, k).

    Parameters
    ----------
    family : {"bernoulli", "categorical", "gaussian"}
    X : ndarray of shape (N, d)
        0/1 values, integer level codes, or reals.
    mix : MixtureArrays
    """
    if family == "bernoulli":
        p = mix.arrays["p"]
        Xf = np.asarray(X, dtype=np.float64)
        return Xf @ _log(p).T + (1.0 - Xf) @ _log(1.0 - p).T
    if family == "categorical":
        log_probs = _log(mix.arrays["probs"])  # (k, d, L)
        codes = np.asarray(X, dtype=np.intp)
        out = np.zeros((codes.shape[0], log_probs.shape[0]))
        for j in range(codes.shape[1]):
            out += log_probs[:, j, codes[:, j]].T
        return out
    if family == "gaussian":
        Xf = np.asarray(X, dtype=np.float64)
        n, d = Xf.shape
        means, covs = mix.arrays["means"], mix.arrays["covariances"]
        out = np.empty((n, means.shape[0]))
        for u in range(means.shape[0]):
            chol = np.linalg.cholesky(covs[u])
            # whitened residuals: solve L z = (x - mu) for all rows at once
            z = np.linalg.solve(chol, (Xf - means[u]).T)
            maha = np.einsum("ij,ij->j", z, z)
            log_det = 2.0 * np.log(np.diag(chol)).sum()
            out[:, u] = -0.5 * (d * np.log(2.0 * np.pi) + log_det + maha)
        return out
    raise ValueError(f"unknown family {family!r}; choose one of {FAMILIES}")


def loglik_rows(family: str, X: NDArray[Any], mix: MixtureArrays) -> FloatArray:
    """``log p(x_n) = logsumexp_u(log w_u + log f(x_n; theta_u))`` of every row, in float64.

    .. math:: \\log p(x_n) = \\log \\sum_u w_u f(x_n; \\theta_u)

    The single scoring function of the benchmark: every tool's fitted parameters go
    through it, so their log-likelihoods are directly comparable.
    """
    joint = component_log_prob(family, X, mix) + _log(np.asarray(mix.weights))[None, :]
    return np.asarray(logsumexp(joint, axis=1), dtype=np.float64)


def one_component(family: str, X: NDArray[Any]) -> MixtureArrays:
    """Closed-form maximum-likelihood fit of a single component (the tolerance scale)."""
    if family == "bernoulli":
        return MixtureArrays(np.ones(1), {"p": np.asarray(X, dtype=np.float64).mean(axis=0)[None]})
    if family == "categorical":
        codes = np.asarray(X, dtype=np.intp)
        n_levels = int(codes.max()) + 1
        probs = np.stack(
            [np.bincount(c, minlength=n_levels) / c.shape[0] for c in codes.T]
        )  # (d, L)
        return MixtureArrays(np.ones(1), {"probs": probs[None]})
    Xf = np.asarray(X, dtype=np.float64)
    cov = np.cov(Xf.T, bias=True) + COVARIANCE_FLOOR * np.eye(Xf.shape[1])
    return MixtureArrays(np.ones(1), {"means": Xf.mean(axis=0)[None], "covariances": cov[None]})


def tolerances(ll_scale: float, n_samples: int) -> dict[str, float]:
    """``REL_TOL`` in each tool's stopping rule.

    * kmix ``tol``: relative, stop when the total log-likelihood rises by at most
      ``tol * |LL|`` (native).
    * StepMix ``rel_tol`` (with ``abs_tol=0``): stop when ``|change / LL|`` of the mean
      log-likelihood is below ``rel_tol`` (native; the same ratio).
    * pomegranate ``tol``: absolute rise of the total log-likelihood, so
      ``REL_TOL * |LL_1|`` with ``LL_1`` the log-likelihood of a single component fitted in
      closed form (a scale known before any mixture is fitted; ``|LL_1| >= |LL|`` as the
      mixture fits better, so this is never tighter than kmix's rule).
    * scikit-learn ``tol``: absolute change of the mean log-likelihood per row, so
      ``REL_TOL * |LL_1| / N``.
    """
    scale = abs(ll_scale)
    return {
        "kmix_tol": REL_TOL,
        "stepmix_rel_tol": REL_TOL,
        "stepmix_abs_tol": 0.0,
        "pomegranate_tol": REL_TOL * scale,
        "sklearn_tol": REL_TOL * scale / n_samples,
    }

"""Mixtures whose weights follow a multinomial logit in covariates (concomitant variables).

The model (Dayton & Macready, "Concomitant-variable latent-class models",
J. Amer. Statist. Assoc. 83, 1988; Grün & Leisch, "FlexMix version 2: finite
mixtures with concomitant variables and varying and constant parameters",
J. Stat. Softw. 28(4), 2008) is

.. math:: p(x_s \\mid z_s) = \\sum_u \\pi_u(z_s) f(x_s; \\theta_u), \\qquad
   \\pi_u(z) = \\mathrm{softmax}(z^\\top \\beta)_u, \\quad \\beta_0 = 0,

for any component family. EM: the posteriors ``r_su ∝ pi_u(z_s) f(x_s;
theta_u)``; the family's own M-step for ``theta``; Newton steps with halving
for ``beta`` (:func:`kmix.solvers.latent_class.regression.newton_class_logit`).

Standard errors of ``beta`` come from the profile likelihood ``l_p(beta) =
max_theta l(beta, theta)``, whose inverse negative Hessian is the ``beta``
block of the inverse observed information. Its gradient is analytic at the
inner maximum (the envelope theorem: ``d l_p / d beta_u = sum_s c_s (r_su -
pi_u(z_s)) z_s`` at ``theta_hat(beta)``), so the Hessian is taken by central
differences of that gradient, each point refitting ``theta`` by EM with
``beta`` held, from the fit: any family, no family-specific score needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...params import ComponentParams
from ..latent_class.regression import class_shares, newton_class_logit

__all__ = [
    "ConcomitantFit",
    "concomitant_posteriors",
    "em_concomitant",
    "profile_beta_covariance",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ConcomitantFit:
    """One EM run: ``beta`` (p, k) with column 0 zero, the components, the log-likelihood."""

    beta: FloatArray
    params: ComponentParams
    log_likelihood: float
    converged: bool
    n_iter: int
    history: FloatArray = field(repr=False)


def concomitant_posteriors(
    family: Any, prepared: Any, Z: FloatArray, beta: FloatArray, params: ComponentParams
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``r`` (m, k), ``pi`` (m, k) and ``log p(x_s | z_s)`` (m,)."""
    pi = class_shares(Z, beta)
    with np.errstate(divide="ignore"):
        joint = family.log_prob(prepared, params) + np.log(pi)
    lse = np.logaddexp.reduce(joint, axis=1)
    return np.exp(joint - lse[:, None]), pi, lse


def em_concomitant(
    family: Any,
    prepared: Any,
    counts: FloatArray,
    Z: FloatArray,
    beta: FloatArray,
    params: ComponentParams,
    *,
    tol: float = 1e-10,
    max_iter: int = 5000,
    learn_beta: bool = True,
) -> ConcomitantFit:
    """EM from ``(beta, params)``; ``learn_beta=False`` holds ``beta`` (the profile's inner
    fit)."""
    beta = np.array(beta, dtype=np.float64, copy=True)
    beta -= beta[:, :1]
    history: list[float] = []
    converged, n_iter = False, 0
    while True:
        r, _, lse = concomitant_posteriors(family, prepared, Z, beta, params)
        history.append(float(lse @ counts))
        if n_iter > 0 and history[-1] - history[-2] <= tol * abs(history[-1]):
            converged = True
            break
        if n_iter >= max_iter:
            break
        W = r * counts[:, None]
        params = family.m_step(prepared, W, W.sum(axis=0), current=params)
        if learn_beta:
            beta = newton_class_logit(Z, beta, W, counts)
        n_iter += 1
    return ConcomitantFit(beta, params, history[-1], converged, n_iter, np.asarray(history))


def _profile_gradient(
    family: Any, prepared: Any, counts: FloatArray, Z: FloatArray, beta: FloatArray,
    params: ComponentParams,
) -> FloatArray:  # fmt: skip
    """``d l_p / d beta_u`` (u >= 1), class by class, at ``theta`` refitted with ``beta``."""
    inner = em_concomitant(
        family, prepared, counts, Z, beta, params, tol=1e-14, max_iter=5000, learn_beta=False
    )
    r, pi, _ = concomitant_posteriors(family, prepared, Z, beta, inner.params)
    return np.asarray(((r - pi)[:, 1:] * counts[:, None]).T @ Z, dtype=np.float64).reshape(-1)


def profile_beta_covariance(
    family: Any,
    prepared: Any,
    counts: FloatArray,
    Z: FloatArray,
    fit: ConcomitantFit,
    *,
    step: float = 1e-4,
) -> FloatArray:
    """Covariance ``(p (k - 1), p (k - 1))`` of ``beta_u``, ``u >= 1`` (class by class): the
    inverse negative Hessian of the profile log-likelihood."""
    p, k = fit.beta.shape
    flat = fit.beta[:, 1:].T.reshape(-1)
    H = np.empty((flat.size, flat.size))
    for i in range(flat.size):
        h = step * max(1.0, abs(flat[i]))
        cols = []
        for sign in (1.0, -1.0):
            moved = flat.copy()
            moved[i] += sign * h
            beta = np.zeros((p, k))
            beta[:, 1:] = moved.reshape(k - 1, p).T
            cols.append(_profile_gradient(family, prepared, counts, Z, beta, fit.params))
        H[:, i] = (cols[0] - cols[1]) / (2.0 * h)
    H = 0.5 * (H + H.T)
    out: FloatArray = np.asarray(np.linalg.pinv(-H, hermitian=True), dtype=np.float64)
    return out

"""``FiniteMixture.fit(X, covariates=Z)``: mixture weights that follow a logit in covariates.

Any component family whose rows are numbers (gaussian, bernoulli, binomial,
poisson): the weights are ``softmax(z^T beta)`` with component 0 (the
largest) the reference, fitted with the components by EM
(:mod:`kmix.solvers.em.concomitant`, Dayton & Macready 1988; Grün & Leisch
2008) from the fit without covariates; standard errors of ``beta`` from the
profile likelihood. Rows must be complete, and covariates recorded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..data import is_source
from ..exceptions import DataError
from ..solvers.em.concomitant import (
    concomitant_posteriors,
    em_concomitant,
    profile_beta_covariance,
)
from ._checks import take_fitted, variant
from ._covariates import CovariateDesign

__all__ = ["fit_finite_with_covariates"]

FloatArray = NDArray[np.float64]


def fit_finite_with_covariates(
    model: Any, X: Any, covariates: Any, sample_weight: Any, n_trials: Any
) -> None:
    """Fit ``model`` (a FiniteMixture) with its weights regressed on ``covariates``."""
    if is_source(X):
        raise DataError("covariates need the rows in memory; pass arrays or DataFrames")
    if model.fixed_params is not None or model.fixed_weights is not None:
        raise DataError(
            "covariates replace the weights: fixed_params and fixed_weights do not apply"
        )
    family_name = str(model.family).strip().lower()
    if family_name == "categorical":
        raise DataError(
            "covariates with the categorical family: use ProductMixture(k).fit(X, covariates=Z), "
            "the latent class regression"
        )
    design = CovariateDesign.learn(covariates)
    Zm, _, first = design.matrix(covariates)
    if first is not None:
        raise DataError(
            f"covariate {first[1]!r} is missing at row {first[0]}; drop those rows (from X and "
            "the covariates) or impute them"
        )
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != Zm.shape[0]:
        raise DataError(f"covariates have {Zm.shape[0]} rows but X has shape {arr.shape}")
    if np.isnan(arr).any():
        r, c = (int(i) for i in np.argwhere(np.isnan(arr))[0])
        raise DataError(f"X row {r}, column {c} is missing; covariates need complete rows")
    starter = variant(model, callback=None)
    starter.fit(X, sample_weight=sample_weight, n_trials=n_trials)
    take_fitted(model, starter)
    family = starter.family_
    ctx = {"n_trials": model.n_trials if n_trials is None else n_trials}
    prepared = family.prepare(family.encode(arr, **ctx), **ctx)
    counts = np.ones(arr.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    k = starter.weights_.shape[0]
    beta0 = np.zeros((Zm.shape[1], k))
    beta0[0] = np.log(np.maximum(starter.weights_, 1e-300) / starter.weights_[0])
    fit = em_concomitant(
        family, prepared, counts, Zm, beta0, starter.params_,
        tol=float(model.tol), max_iter=max(int(model.max_iter), 1),
    )  # fmt: skip
    post = concomitant_posteriors(family, prepared, Zm, fit.beta, fit.params)[0]
    shares = (post * counts[:, None]).sum(axis=0) / counts.sum()
    order = np.argsort(-shares, kind="stable")
    fit_beta = fit.beta[:, order] - fit.beta[:, order[:1]]
    params = fit.params.permute(order)
    ordered = type(fit)(fit_beta, params, fit.log_likelihood, fit.converged, fit.n_iter,
                        fit.history)  # fmt: skip
    cov = profile_beta_covariance(family, prepared, counts, Zm, ordered)
    p = Zm.shape[1]
    model.covariate_design_ = design
    model.covariate_terms_ = list(design.terms)
    model.n_covariate_rows_dropped_ = 0  # rows with a missing covariate are refused
    model.coef_ = fit_beta[:, 1:].T.copy()
    model.coef_cov_ = cov
    model.coef_se_ = np.sqrt(np.maximum(np.diag(cov), 0.0)).reshape(k - 1, p)
    model.weights_ = shares[order]
    model.params_ = params
    model.log_likelihood_ = float(fit.log_likelihood)
    model.converged_, model.n_iter_ = bool(fit.converged), int(fit.n_iter)
    model.history_ = fit.history
    model.log_likelihood_history_ = np.array(fit.history, dtype=np.float64)  # plain: no prior
    model.n_parameters_ = int(family.n_free_parameters(params)) + int(model.coef_.size)

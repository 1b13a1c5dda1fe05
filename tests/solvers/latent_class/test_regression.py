"""Latent class regression (class shares a multinomial logit in covariates).

References: the published poLCA fits of the 2000 ANES ``election`` data (the poLCA user's
manual v1.4, bundled with their source in ``kmix/datasets/data/SOURCES.md``: log-likelihood,
coefficients and poLCA's empirical-information standard errors as printed); the score
equations (Fisher's identity) at the maximum; a brute-force maximisation of the class part
by scipy; the latent class model itself when the only covariate is the intercept.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from kmix import ProductMixture
from kmix.datasets import election
from kmix.solvers.latent_class import regression as lcr
from kmix.solvers.latent_class.design import RowDesign

LEVELS = [4] * 12


def _rows(terms: str):
    data = election()
    party, age = data.covariate("PARTY"), data.covariate("AGE")
    keep = data.complete() & ~np.isnan(party)
    columns = [np.ones(len(party)), party]
    if terms == "PARTY*AGE":
        keep &= ~np.isnan(age)
        columns += [age, party * age]
    Z = np.column_stack(columns)[keep]
    return data.items[keep].astype(np.int64), Z, data.published_covariate_models[terms]


def _fit(X, Z, seeds=range(3)):
    """Best of a few starts: each from a three-class latent class fit, shares as intercepts."""
    best = None
    for seed in seeds:
        pm = ProductMixture(3, random_state=seed).fit(X)
        beta = np.zeros((Z.shape[1], 3))
        beta[0] = np.log(pm.weights_ / pm.weights_[0])
        fit = lcr.em_lc_regression(
            X, np.ones(len(X)), Z, LEVELS, [np.asarray(p) for p in pm.probs_], beta, tol=1e-12
        )
        if best is None or fit.log_likelihood > best.log_likelihood:
            best = fit
    assert best is not None and best.converged
    return best


def _by_share(fit, X, Z):
    """The fit with its classes ordered by decreasing mean posterior (poLCA's order)."""
    design = RowDesign(X, LEVELS)
    r, _, _ = lcr._posteriors(design, Z, np.concatenate(fit.probs, axis=1), fit.beta)
    order = np.argsort(-r.mean(axis=0))
    beta = fit.beta[:, order] - fit.beta[:, order[:1]]
    probs = [p[order] for p in fit.probs]
    return lcr.LCRegressionFit(probs, beta, fit.log_likelihood, True, fit.n_iter, fit.history)


@pytest.mark.parametrize("terms", ["PARTY", "PARTY*AGE"])
def test_the_published_election_regressions_are_reproduced(terms):
    """Printed to 2 decimals (log-likelihood) and 5 (coefficients, standard errors)."""
    X, Z, published = _rows(terms)
    assert len(X) == (1300 if terms == "PARTY" else 1294)  # poLCA's rows (SOURCES.md)
    fit = _by_share(_fit(X, Z), X, Z)
    assert fit.log_likelihood == pytest.approx(published["log_likelihood"], abs=5e-3)
    coef = fit.beta[:, 1:].T  # (class 2, class 3) x terms
    np.testing.assert_allclose(coef, published["coefficients"], rtol=0, atol=1e-3)
    cov = lcr.lc_regression_covariance(X, np.ones(len(X)), Z, LEVELS, fit, method="empirical")
    se = np.sqrt(np.diag(cov)).reshape(2, -1)
    np.testing.assert_allclose(se, published["std_errors"], rtol=0, atol=2e-4)


def test_the_maximum_solves_the_score_equations_and_observed_se_are_close():
    """At the maximum the total score is 0 (Fisher's identity); the observed information's
    standard errors are within 5% of the empirical ones here (both estimate the same
    asymptotic covariance, and the model fits)."""
    X, Z, _ = _rows("PARTY")
    fit = _fit(X, Z, seeds=[0])
    design = RowDesign(X, LEVELS)
    scores = lcr._row_scores(design, Z, np.concatenate(fit.probs, axis=1), fit.beta)
    total = np.ones(len(X)) @ scores
    obs = lcr.lc_regression_covariance(X, np.ones(len(X)), Z, LEVELS, fit)
    # the coefficients' equations: a Newton step from here, g / information, moves each
    # coefficient by about g * se^2, i.e. by g * se of its standard errors: < 1e-3 se
    assert np.max(np.abs(total[: 2 * Z.shape[1]]) * np.sqrt(np.diag(obs))) < 1e-3
    emp = lcr.lc_regression_covariance(X, np.ones(len(X)), Z, LEVELS, fit, method="empirical")
    np.testing.assert_allclose(np.sqrt(np.diag(obs)), np.sqrt(np.diag(emp)), rtol=0.05)


def test_newton_m_step_matches_a_generic_optimiser():
    """Reference: scipy's BFGS on Q(beta) with fractional responses."""
    rng = np.random.default_rng(0)
    m, p, k = 400, 3, 3
    Z = np.column_stack([np.ones(m), rng.normal(size=(m, p - 1))])
    W = rng.dirichlet(np.ones(k), size=m) * rng.integers(1, 4, m)[:, None]
    n = W.sum(axis=1)
    got = lcr.newton_class_logit(Z, np.zeros((p, k)), W, n)

    def negative(b):
        beta = np.zeros((p, k))
        beta[:, 1:] = b.reshape(p, k - 1)
        return -lcr._class_objective(Z, beta, W)

    ref = optimize.minimize(negative, np.zeros(p * (k - 1)), method="BFGS", tol=1e-12).x
    np.testing.assert_allclose(got[:, 1:], ref.reshape(p, k - 1), atol=1e-5)
    assert np.all(got[:, 0] == 0)


def test_intercept_only_is_the_latent_class_model():
    """With z = 1 the shares are constant: the maximum is ProductMixture's (-16714.66 on the
    1,311 complete rows, poLCA's election.Rd), with shares exp(beta_u) / sum exp(beta_v)."""
    data = election()
    X = data.items[data.complete()].astype(np.int64)
    Z = np.ones((len(X), 1))
    fit = _fit(X, Z, seeds=[0])
    assert fit.log_likelihood == pytest.approx(data.published[3]["log_likelihood"], abs=5e-3)
    shares = lcr.class_shares(Z[:1], fit.beta)[0]
    pm = ProductMixture(3, random_state=0).fit(X)
    np.testing.assert_allclose(np.sort(shares), np.sort(pm.weights_), atol=1e-4)


def test_bad_input_is_refused():
    X, Z, _ = _rows("PARTY")
    probs = [np.full((3, 4), 0.25)] * 12
    with pytest.raises(Exception, match="Z must be finite"):
        Zb = Z.copy()
        Zb[0, 1] = np.nan
        lcr.em_lc_regression(X, np.ones(len(X)), Zb, LEVELS, probs, np.zeros((2, 3)))
    with pytest.raises(Exception, match=r"beta_start must have shape \(2, 3\)"):
        lcr.em_lc_regression(X, np.ones(len(X)), Z, LEVELS, probs, np.zeros((3, 3)))

"""FiniteMixture with covariates: weights a multinomial logit in concomitant variables.

References: the latent class regression of ProductMixture (an independent solver whose
standard errors come from the full observed information, not the profile likelihood) on
the same binary data; a simulation's true coefficients for Gaussian components.
"""

from __future__ import annotations

import numpy as np
import pytest

from kmix import FiniteMixture, ProductMixture
from kmix.exceptions import DataError

BETA = np.array([[-0.5, 0.8, -0.6], [-0.8, -0.5, 1.0]])
ITEMS = np.array(
    [
        [0.15, 0.2, 0.25, 0.2, 0.15, 0.3],
        [0.8, 0.75, 0.7, 0.2, 0.25, 0.3],
        [0.75, 0.8, 0.85, 0.8, 0.75, 0.7],
    ]
)


def _classes(rng, n, beta):
    Z = np.column_stack([rng.normal(size=n), (rng.random(n) < 0.5).astype(float)])
    eta = np.column_stack([np.zeros(n), np.column_stack([np.ones(n), Z]) @ beta.T])
    pi = np.exp(eta)
    pi /= pi.sum(axis=1, keepdims=True)
    return Z, (rng.random(n)[:, None] > np.cumsum(pi, axis=1)).sum(axis=1)


def test_bernoulli_components_are_the_latent_class_regression():
    rng = np.random.default_rng(3)
    Z, u = _classes(rng, 5000, BETA)
    X = (rng.random((5000, 6)) < ITEMS[u]).astype(int)
    a = FiniteMixture(3, family="bernoulli", random_state=0, tol=1e-12).fit(X, covariates=Z)
    b = ProductMixture(3, random_state=0, tol=1e-12).fit(X, covariates=Z)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, abs=1e-6)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-4)
    # profile-likelihood standard errors against the full observed information
    np.testing.assert_allclose(a.coef_se_, b.coef_se_, rtol=1e-2)
    assert a.covariate_terms_ == ["(Intercept)", "z0", "z1"]
    assert a.n_parameters() == 3 * 6 + 2 * 3
    np.testing.assert_allclose(
        a.predict_proba(X[:50], covariates=Z[:50]), b.predict_proba(X[:50], covariates=Z[:50]),
        atol=1e-5,
    )  # fmt: skip
    with pytest.raises(DataError, match="pass covariates="):
        a.predict_proba(X[:5])


def test_gaussian_components_recover_the_coefficients():
    """Two 1-d normal components (means -2 and 2) whose weights follow the covariates."""
    rng = np.random.default_rng(5)
    beta = np.array([[0.3, -1.0, 0.8]])
    Z, u = _classes(rng, 6000, beta)
    X = np.array([-2.0, 2.0])[u][:, None] + rng.normal(size=(6000, 1))
    model = FiniteMixture(2, family="gaussian", random_state=0).fit(X, covariates=Z)
    mean_order = np.argsort(model.params_.means[:, 0])
    coef = model.coef_[0] if mean_order[0] == 0 else -model.coef_[0]  # truth: class 0 at -2
    assert np.all(np.abs(coef - beta[0]) <= 4 * model.coef_se_[0])
    table = model.covariate_table()
    assert table["term"].tolist() == ["(Intercept)", "z0", "z1"]


def test_what_does_not_apply_is_refused():
    X = np.random.default_rng(0).normal(size=(50, 2))
    Z = np.random.default_rng(1).normal(size=(50, 1))
    with pytest.raises(DataError, match="use ProductMixture"):
        FiniteMixture(2, family="categorical").fit(X.round(), covariates=Z)
    gappy = Z.copy()
    gappy[3, 0] = np.nan
    with pytest.raises(DataError, match="covariate 'z0' is missing at row 3"):
        FiniteMixture(2).fit(X, covariates=gappy)
    with pytest.raises(DataError, match="fixed_params and fixed_weights do not apply"):
        FiniteMixture(2, fixed_weights=[0.5, 0.5]).fit(X, covariates=Z)


def test_a_saved_fit_keeps_its_covariates(tmp_path):
    """Reference: the fitted model (identical posteriors after the round trip)."""
    from kmix.io import load, save

    rng = np.random.default_rng(3)
    Z, u = _classes(rng, 800, BETA)
    X = (rng.random((800, 6)) < ITEMS[u]).astype(int)
    model = FiniteMixture(3, family="bernoulli", random_state=0).fit(X, covariates=Z)
    back = load(save(model, tmp_path / "fm.json"))
    np.testing.assert_array_equal(back.coef_, model.coef_)
    rows, z = X[:20], Z[:20]
    np.testing.assert_allclose(
        back.predict_proba(rows, covariates=z), model.predict_proba(rows, covariates=z)
    )

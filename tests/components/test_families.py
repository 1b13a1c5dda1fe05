"""Component families against independent references.

References:
* log-densities: ``scipy.stats`` (bernoulli, binom, poisson, multivariate_normal)
  and a direct product of categorical probabilities, summed with numpy;
* Dirichlet smoothing: the closed-form MAP estimate of one component,
  ``p = (n_1 + alpha - 1) / (n + 2 (alpha - 1))`` and
  ``theta_v = (c_v + alpha - 1) / (n + L (alpha - 1))`` (spec F1);
* free-parameter counts for BIC by hand for every family.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from kmix import FiniteMixture
from kmix.datasets import make_mixture


def _fit_single(family, X, **kw):
    n_trials = kw.pop("n_trials_fit", None)
    return FiniteMixture(1, family=family, **kw).fit(X, n_trials=n_trials)


def test_bernoulli_log_density_matches_scipy():
    X, truth = make_mixture("bernoulli", 300, 2, 4, random_state=0)
    model = FiniteMixture(2, family="bernoulli", fixed_params={"p": truth.params.p}).fit(X)
    p, w = truth.params.p, model.weights_
    comp = np.stack([stats.bernoulli.logpmf(X, p[u]).sum(axis=1) for u in range(2)], axis=1)
    expected = np.log(np.exp(comp) @ w)
    np.testing.assert_allclose(model.score_samples(X), expected, rtol=1e-12)


def test_binomial_log_density_matches_scipy_with_per_row_trials():
    rng = np.random.default_rng(1)
    trials = rng.integers(0, 9, size=200)
    p = np.array([[0.2, 0.6], [0.7, 0.1]])
    X = rng.binomial(trials[:, None], p[rng.integers(0, 2, 200)])
    model = FiniteMixture(2, family="binomial", fixed_params={"p": p}).fit(X, n_trials=trials)
    comp = np.stack(
        [stats.binom.logpmf(X, trials[:, None], p[u]).sum(axis=1) for u in range(2)], axis=1
    )
    expected = np.log(np.exp(comp) @ model.weights_)
    # rows with zero trials have log-density exactly 0, hence the absolute tolerance
    np.testing.assert_allclose(
        model.score_samples(X, n_trials=trials), expected, rtol=1e-12, atol=1e-12
    )


def test_poisson_log_density_matches_scipy():
    X, truth = make_mixture("poisson", 300, 2, 3, random_state=2)
    rate = truth.params.rate
    model = FiniteMixture(2, family="poisson", fixed_params={"rate": rate}).fit(X)
    comp = np.stack([stats.poisson.logpmf(X, rate[u]).sum(axis=1) for u in range(2)], axis=1)
    expected = np.log(np.exp(comp) @ model.weights_)
    np.testing.assert_allclose(model.score_samples(X), expected, rtol=1e-12)


def test_categorical_log_density_is_the_product_of_level_probabilities():
    X, truth = make_mixture("categorical", 300, 2, 3, n_levels=[2, 3, 4], random_state=3)
    probs = truth.params.probs
    model = FiniteMixture(2, family="categorical", fixed_params={"probs": probs}).fit(X)
    comp = np.stack([sum(np.log(probs[j][u, X[:, j]]) for j in range(3)) for u in range(2)], axis=1)
    expected = np.log(np.exp(comp) @ model.weights_)
    np.testing.assert_allclose(model.score_samples(X), expected, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_gaussian_log_density_matches_scipy(covariance_type):
    X, truth = make_mixture("gaussian", 300, 2, 3, covariance_type=covariance_type, random_state=4)
    params = truth.params
    fixed = {"means": params.means, "covariances": params.covariances}
    model = FiniteMixture(2, covariance_type=covariance_type, fixed_params=fixed).fit(X)
    covs = (
        params.covariances
        if covariance_type == "full"
        else [np.diag(v) for v in params.covariances]
    )
    comp = np.stack(
        [stats.multivariate_normal.logpdf(X, params.means[u], covs[u]) for u in range(2)], axis=1
    )
    expected = np.log(np.exp(comp) @ model.weights_)
    np.testing.assert_allclose(model.score_samples(X), expected, rtol=1e-10)


def test_dirichlet_smoothing_bernoulli_closed_form():
    X = np.array([[1, 0], [1, 0], [1, 1], [1, 0], [0, 0]])  # n = 5; ones per column: 4, 1
    model = _fit_single("bernoulli", X, alpha=2.0)
    np.testing.assert_allclose(model.params_.p[0], [(4 + 1) / (5 + 2), (1 + 1) / (5 + 2)])
    # without smoothing: the sample proportions
    np.testing.assert_allclose(_fit_single("bernoulli", X).params_.p[0], [0.8, 0.2])


def test_dirichlet_smoothing_categorical_closed_form():
    X = np.array([[0], [0], [1], [2], [0], [0]])  # counts 4, 1, 1 of L = 3 levels; n = 6
    model = _fit_single("categorical", X, alpha=3.0)
    np.testing.assert_allclose(model.params_.probs[0][0], np.array([6, 3, 3]) / (6 + 3 * 2))


def test_dirichlet_smoothing_binomial_closed_form():
    X = np.array([[3], [5], [0]])  # 8 successes in 15 trials
    model = _fit_single("binomial", X, alpha=2.5, n_trials=5)
    np.testing.assert_allclose(model.params_.p[0], (8 + 1.5) / (15 + 3.0))


def test_smoothing_keeps_posteriors_defined_for_unseen_values():
    X = np.array([[1, 1], [1, 0], [1, 1], [1, 0]])  # column 0 is always 1
    plain = _fit_single("bernoulli", X)
    assert plain.score_samples(np.array([[0, 1]]))[0] == -np.inf
    smoothed = _fit_single("bernoulli", X, alpha=2.0)
    assert np.isfinite(smoothed.score_samples(np.array([[0, 1]]))[0])


@pytest.mark.parametrize(
    ("family", "extra", "count"),
    [
        ("bernoulli", {}, 3 * 5 + 2),
        ("binomial", {"n_trials": 5}, 3 * 5 + 2),
        ("poisson", {}, 3 * 5 + 2),
        ("categorical", {"n_levels": [2, 3, 4, 5, 2]}, 3 * (1 + 2 + 3 + 4 + 1) + 2),
        ("gaussian", {"covariance_type": "full"}, 3 * (5 + 15) + 2),
        ("gaussian", {"covariance_type": "diag"}, 3 * (5 + 5) + 2),
    ],
)
def test_free_parameter_counts(family, extra, count):
    """k * (free parameters of one component) + (k - 1) weights, with k = 3 and 5 features."""
    X, _ = make_mixture(family, 2000, 3, 5, random_state=5, **extra)
    options = {k: v for k, v in extra.items() if k != "n_levels"}
    model = FiniteMixture(3, family=family, random_state=0, max_iter=5000, **options).fit(X)
    assert model.n_parameters() == count
    ll = model.score_samples(X).sum()
    assert model.bic(X) == pytest.approx(-2 * ll + count * np.log(2000))
    assert model.aic(X) == pytest.approx(-2 * ll + 2 * count)

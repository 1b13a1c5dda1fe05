"""Missing cells in the component families: the observed-data likelihood and its M-step.

References:
* ``log f(x_obs; theta_u)`` at given parameters against brute-force
  marginalisation of the complete-data density over every value the missing
  cells can take (bernoulli, categorical, binomial: all completions; poisson:
  counts up to 150, where the tail below rates of at most 6 is below 1e-100)
  and, for gaussian components, against ``scipy.stats.multivariate_normal`` on
  the observed block;
* the M-step against sums written row by row: each coordinate's expected
  counts divided by the responsibilities of the rows that observe it
  (discrete, gaussian diag), and for full covariances the conditional
  expectations ``E[x_mis | x_obs, u]`` and ``Cov[x_mis | x_obs, u]`` of each
  row computed with ``numpy.linalg.inv`` of its own observed block.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats
from scipy.special import gammaln, logsumexp

from kmix.components import get_family
from kmix.params import (
    BernoulliParams,
    BinomialParams,
    CategoricalParams,
    GaussianParams,
    PoissonParams,
)

K = 3


def _with_gaps(X, rng, share=0.35):
    X = np.asarray(X, dtype=np.float64).copy()
    X[rng.random(X.shape) < share] = np.nan
    X[0] = np.nan  # a row without any observed cell
    X[1] = X[2]  # and one without gaps, for good measure
    X[1, 0] = 1.0 if np.isnan(X[1, 0]) else X[1, 0]
    return X


def _brute_force(X, log_density, support):
    """``log sum over completions of exp(log_density(full row))`` per row and component.

    ``support[j]`` lists the values column ``j`` can take.
    """
    out = np.empty((X.shape[0], K))
    for s, row in enumerate(X):
        gaps = np.flatnonzero(np.isnan(row))
        terms = [[] for _ in range(K)]
        for fill in itertools.product(*(support[j] for j in gaps)):
            full = row.copy()
            full[gaps] = fill
            for u in range(K):
                terms[u].append(log_density(full, u))
        out[s] = [logsumexp(t) for t in terms]
    return out


def _check(family, X, params, expected, **ctx):
    got = family.log_prob(family.prepare(family.encode(X, **ctx), **ctx), params)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    assert np.all(got[0] == 0.0)  # nothing observed: log 1


def test_bernoulli_sums_the_observed_coordinates():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, size=(K, 4))
    X = _with_gaps(rng.random((40, 4)) < 0.5, rng)

    def log_density(x, u):
        return float(np.sum(x * np.log(p[u]) + (1 - x) * np.log(1 - p[u])))

    expected = _brute_force(X, log_density, [[0.0, 1.0]] * 4)
    _check(get_family("bernoulli"), X, BernoulliParams(p), expected)


def test_categorical_sums_the_observed_coordinates():
    rng = np.random.default_rng(1)
    levels = [2, 3, 4]
    probs = tuple(rng.dirichlet(np.ones(n), size=K) for n in levels)
    X = _with_gaps(np.stack([rng.integers(0, n, 40) for n in levels], axis=1), rng)

    def log_density(x, u):
        return float(sum(np.log(probs[j][u, int(x[j])]) for j in range(3)))

    expected = _brute_force(X, log_density, [list(range(n)) for n in levels])
    _check(get_family("categorical"), X, CategoricalParams(probs), expected, n_levels=levels)


def test_binomial_sums_the_observed_coordinates():
    rng = np.random.default_rng(2)
    trials = rng.integers(1, 6, size=40)
    trials[1] = trials[2]  # (row 1 copies row 2's counts)
    p = rng.uniform(0.05, 0.95, size=(K, 3))
    X = _with_gaps(rng.binomial(trials[:, None], 0.4, size=(40, 3)), rng)
    s_trials = {}

    def log_density(x, u):
        return float(stats.binom.logpmf(x, s_trials["n"], p[u]).sum())

    expected = np.empty((40, K))
    for s in range(40):  # each row has its own trials, hence its own support
        s_trials["n"] = trials[s]
        support = [list(range(trials[s] + 1))] * 3
        expected[s] = _brute_force(X[s : s + 1], log_density, support)[0]
    _check(get_family("binomial"), X, BinomialParams(p), expected, n_trials=trials)


def test_poisson_sums_the_observed_coordinates():
    rng = np.random.default_rng(3)
    rate = rng.uniform(0.5, 6.0, size=(K, 2))
    X = _with_gaps(rng.poisson(3.0, size=(30, 2)), rng)

    def log_density(x, u):
        return float(np.sum(x * np.log(rate[u]) - rate[u] - gammaln(x + 1)))

    expected = _brute_force(X, log_density, [list(range(151))] * 2)
    _check(get_family("poisson"), X, PoissonParams(rate), expected)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_gaussian_is_the_density_of_the_observed_block(covariance_type):
    rng = np.random.default_rng(4)
    d = 4
    means = rng.normal(size=(K, d)) * 3
    if covariance_type == "full":
        A = rng.normal(size=(K, d, d))
        covs = A @ A.transpose(0, 2, 1) + 0.5 * np.eye(d)
        full = covs
    else:
        covs = rng.uniform(0.3, 3.0, size=(K, d))
        full = np.stack([np.diag(v) for v in covs])
    X = _with_gaps(rng.normal(size=(60, d)) * 3, rng, share=0.4)
    expected = np.zeros((60, K))
    for s, row in enumerate(X):
        o = ~np.isnan(row)
        if not o.any():
            continue
        for u in range(K):
            expected[s, u] = stats.multivariate_normal.logpdf(
                row[o], means[u, o], full[u][np.ix_(o, o)]
            )
    family = get_family("gaussian", covariance_type=covariance_type)
    _check(family, X, GaussianParams(means, covs, covariance_type), expected)


def _responsibilities(rng, n):
    resp = rng.dirichlet(np.ones(K), size=n)
    return resp * rng.uniform(0.5, 2.0, size=(n, 1))  # weighted, as EM hands them over


def test_discrete_m_steps_divide_by_the_rows_that_observe_each_coordinate():
    rng = np.random.default_rng(5)
    n, d = 50, 3
    resp_w = _responsibilities(rng, n)
    nk = resp_w.sum(axis=0)
    for name, X in [
        ("bernoulli", (rng.random((n, d)) < 0.4).astype(float)),
        ("poisson", rng.poisson(2.5, size=(n, d)).astype(float)),
    ]:
        X = _with_gaps(X, rng)
        num, den = np.zeros((K, d)), np.zeros((K, d))
        for s in range(n):  # row by row
            for j in range(d):
                if not np.isnan(X[s, j]):
                    num[:, j] += resp_w[s] * X[s, j]
                    den[:, j] += resp_w[s]
        family = get_family(name)
        params = family.m_step(family.prepare(X), resp_w, nk)
        np.testing.assert_allclose(np.ravel(params.flat()), (num / den).ravel(), rtol=1e-12)


def test_categorical_m_step_counts_each_column_over_its_observed_rows():
    rng = np.random.default_rng(6)
    levels = [3, 2]
    n = 50
    X = _with_gaps(np.stack([rng.integers(0, m, n) for m in levels], axis=1), rng)
    resp_w = _responsibilities(rng, n)
    counts = [np.zeros((K, m)) for m in levels]
    for s in range(n):
        for j in range(2):
            if not np.isnan(X[s, j]):
                counts[j][:, int(X[s, j])] += resp_w[s]
    family = get_family("categorical")
    params = family.m_step(family.prepare(X, n_levels=levels), resp_w, resp_w.sum(axis=0))
    for j in range(2):
        np.testing.assert_allclose(
            params.probs[j], counts[j] / counts[j].sum(axis=1, keepdims=True), rtol=1e-12
        )


def test_gaussian_diag_m_step_averages_each_coordinate_over_its_observed_rows():
    rng = np.random.default_rng(7)
    n, d = 60, 3
    X = _with_gaps(rng.normal(size=(n, d)) + 5.0, rng)
    resp_w = _responsibilities(rng, n)
    mean, var = np.zeros((K, d)), np.zeros((K, d))
    for u in range(K):
        for j in range(d):
            seen = ~np.isnan(X[:, j])
            w, x = resp_w[seen, u], X[seen, j]
            mean[u, j] = np.sum(w * x) / np.sum(w)
            var[u, j] = np.sum(w * (x - mean[u, j]) ** 2) / np.sum(w)
    family = get_family("gaussian", covariance_type="diag")
    params = family.m_step(family.prepare(X), resp_w, resp_w.sum(axis=0))
    np.testing.assert_allclose(params.means, mean, rtol=1e-12)
    np.testing.assert_allclose(params.covariances, var, rtol=1e-10)


def test_gaussian_full_m_step_takes_conditional_expectations():
    rng = np.random.default_rng(8)
    n, d = 60, 4
    X = _with_gaps(rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 2.0, rng)
    resp_w = _responsibilities(rng, n)
    nk = resp_w.sum(axis=0)
    A = rng.normal(size=(K, d, d))
    current = GaussianParams(rng.normal(size=(K, d)), A @ A.transpose(0, 2, 1) + np.eye(d), "full")
    means, covs = np.zeros((K, d)), np.zeros((K, d, d))
    for u in range(K):  # E[x] and E[x x^T] of every row, then the weighted moments
        mu, sigma = current.means[u], current.covariances[u]
        first, second = np.zeros(d), np.zeros((d, d))
        for s in range(n):
            o, m = ~np.isnan(X[s]), np.isnan(X[s])
            x_hat, cond = X[s].copy(), np.zeros((d, d))
            if m.any():
                gain = sigma[np.ix_(m, o)] @ np.linalg.inv(sigma[np.ix_(o, o)]) if o.any() else 0
                x_hat[m] = mu[m] + (gain @ (X[s, o] - mu[o]) if o.any() else 0.0)
                cond[np.ix_(m, m)] = sigma[np.ix_(m, m)] - (
                    gain @ sigma[np.ix_(o, m)] if o.any() else 0.0
                )
            first += resp_w[s, u] * x_hat
            second += resp_w[s, u] * (np.outer(x_hat, x_hat) + cond)
        means[u] = first / nk[u]
        covs[u] = second / nk[u] - np.outer(means[u], means[u])
    family = get_family("gaussian", covariance_type="full", var_floor=0.0)
    params = family.m_step(family.prepare(X), resp_w, nk, current=current)
    np.testing.assert_allclose(params.means, means, rtol=1e-10)
    np.testing.assert_allclose(params.covariances, covs, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(
    ("name", "ctx"),
    [("bernoulli", {}), ("poisson", {}), ("gaussian", {}), ("categorical", {"n_levels": [2] * 3})],
)
def test_complete_rows_keep_the_complete_data_path(name, ctx):
    """Reference: the prepared form of complete data is the plain array, as before gaps."""
    X = (np.random.default_rng(9).random((20, 3)) < 0.5).astype(float)
    prepared = get_family(name).prepare(X, **ctx)
    kind = {"bernoulli": np.ndarray, "gaussian": np.ndarray, "poisson": tuple}.get(name)
    if kind is not None:
        assert type(prepared) is kind
        first = prepared[0] if name == "poisson" else prepared
        assert type(first) is np.ndarray
    else:
        assert prepared.design.nnz == X.size  # one 1 per cell

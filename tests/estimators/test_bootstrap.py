"""Bootstrap refits of the estimators (kmix.estimators._bootstrap).

References: the spread of estimates over independent data sets from the same
model; the fit's own estimates, which each interval must hold and each
replicate's matched sources must lie near.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from kmix import ProductMixture
from kmix.datasets import bayesnet_mixture, random_sparse_dag
from kmix.estimators.bayesnet import BayesNetMixture
from kmix.exceptions import DataError
from kmix.solvers.linalg import best_permutation


def test_bootstrap_interval_covers_the_estimate(fitted_bayesnet):
    model, _, _ = fitted_bayesnet
    x, y = next(iter(model.dag_.edges))
    boot = model.bootstrap(n_boot=8, random_state=0)
    # eight replicates: a 95% interval is their range, and says so
    with pytest.warns(UserWarning, match=r"95% percentile interval from 8 .* only their range"):
        est, lo, hi = boot.ate(x, y)
    assert lo <= est <= hi and hi - lo < 0.2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 2 replicates beyond each bound: no warning
        w, wlo, whi = boot.weights(level=0.5)
    # the percentile interval of the replicates' shares (the estimate itself may fall
    # outside a 50% interval of eight replicates)
    draws = np.array([rep.weights for rep in boot.replicates])
    np.testing.assert_allclose(wlo, np.quantile(draws, 0.25, axis=0))
    np.testing.assert_allclose(whi, np.quantile(draws, 0.75, axis=0))
    np.testing.assert_array_equal(w, model.weights_)
    # every replicate's sources are matched to the fit's: each CPT entry near the fit's own
    # (a swapped replicate would be off by the sources' separation, 0.2 or more)
    for rep in boot.replicates:
        for v, cpt in zip(model.columns_, rep.cpts, strict=True):
            assert np.abs(cpt - model.cpds_[v]).max() < 0.15, v


def test_bootstrap_redraws_as_many_rows_as_were_fitted():
    """Weights on any scale: the resamples have the data's row count, not the weights' sum."""
    dag = random_sparse_dag(6, 2, random_state=3)
    X, truth = bayesnet_mixture(dag, 2, 8_000, separation=0.2, random_state=4)
    w = np.full(X.shape[0], 1.0 / X.shape[0])  # weights summing to 1
    model = BayesNetMixture(dag, 2, random_state=0).fit(
        X, columns=list(truth.columns), sample_weight=w
    )
    assert model.n_rows_ == 8_000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boot = model.bootstrap(n_boot=3, random_state=0)
    assert len(boot.replicates) == 3


def test_bootstrap_standard_errors_match_monte_carlo():
    """Reference: the spread of estimates over independent data sets from the same model."""
    rng = np.random.default_rng(4)
    k, n, N = 2, 5, 4000
    P = np.array([[0.85, 0.8, 0.7, 0.9, 0.75], [0.2, 0.3, 0.25, 0.1, 0.35]])
    w = np.array([0.6, 0.4])

    def draw():
        z = rng.choice(k, size=N, p=w)
        return (rng.random((N, n)) < P[z]).astype(int)

    estimates = []
    for _ in range(40):
        m = ProductMixture(2, random_state=0).fit(draw())
        perm = best_permutation(np.abs(P[:, None, :] - m.probs_[None]).max(axis=2))
        estimates.append(np.concatenate([m.weights_[perm], m.probs_[perm].ravel()]))
    mc_sd = np.std(estimates, axis=0, ddof=1)
    X = draw()
    model = ProductMixture(2, random_state=0).fit(X)
    boot = model.bootstrap(X, n_boot=60, random_state=1)
    assert boot.weights.shape == (60, 2) and boot.probs_se.shape == (2, 5)
    perm = best_permutation(np.abs(P[:, None, :] - model.probs_[None]).max(axis=2))
    se = np.concatenate([boot.weights_se[perm], boot.probs_se[perm].ravel()])
    ratio = se / mc_sd
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio


def test_a_level_outside_0_1_is_refused(fitted_bayesnet):
    model, _, _ = fitted_bayesnet
    boot = model.bootstrap(n_boot=4, random_state=0)
    with pytest.raises(DataError, match=r"level must be between 0 and 1 \(e.g. 0.95\); got 95"):
        boot.weights(level=95)

"""Weights of known components: EM, then the Newton polish (kmix.solvers.em.weights).

References:
* the seed's two-factory example: with known components and single draws the
  MLE of P(F1) has the closed form ``(p_red - 0.3) / 0.5``;
* with ``t`` draws per bag the weight likelihood is concave, so an independent
  optimiser (scipy SLSQP on the simplex) must reach the same maximum.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize

from kmix import FiniteMixture
from kmix.datasets import marbles
from kmix.exceptions import ConvergenceWarning
from kmix.solvers.em.weights import polish_weights, weights_are_optimal
from tests.helpers.marbles import MARBLES_P, marbles_closed_form


@pytest.mark.parametrize("seed", range(5))
def test_fixed_components_reach_the_closed_form(seed):
    X, truth = marbles(10_000, random_state=seed)
    p_red = X.mean()
    closed_form = (p_red - 0.3) / 0.5
    assert 0.0 < closed_form < 1.0  # interior: the MLE is the unclipped formula
    # default settings: EM, then Newton polishing of the concave weight likelihood
    model = FiniteMixture(2, family="bernoulli", fixed_params={"p": [[0.8], [0.3]]}).fit(X)
    assert model.converged_
    assert abs(model.weights_[0] - closed_form) < 1e-6
    # the components were not touched
    np.testing.assert_array_equal(model.params_.p, [[0.8], [0.3]])
    assert abs(model.weights_[0] - truth.weights[0]) < 0.03


@pytest.mark.parametrize("seed", range(3))
def test_fixed_components_at_the_boundary(seed):
    """Spec F3: with P(red) below 0.3 the MLE is clip(., 0, 1) = 0."""
    # bags from a third factory, redder-blue than either known one
    X, _ = marbles(10_000, p_red=[0.8, 0.25], weights=[0.0, 1.0], random_state=seed)
    assert X.mean() < 0.3
    model = FiniteMixture(2, family="bernoulli", fixed_params={"p": [[0.8], [0.3]]}).fit(X)
    assert model.weights_[0] < 1e-6
    # the log-likelihood at the boundary point is the supremum over the simplex
    best = X.sum() * np.log(0.3) + (len(X) - X.sum()) * np.log(0.7)
    assert model.log_likelihood_ == pytest.approx(best, abs=1e-6)


def test_fixed_components_with_several_draws_match_an_independent_optimiser():
    p_red = [0.85, 0.5, 0.15]
    X, _ = marbles(3000, p_red=p_red, weights=[0.5, 0.3, 0.2], n_draws=5, random_state=7)
    fixed = {"p": np.repeat(np.asarray(p_red)[:, None], 5, axis=1)}
    model = FiniteMixture(3, family="bernoulli", fixed_params=fixed).fit(X)
    # independent route: maximise sum_s log sum_u pi_u prod_j f_u(x_sj) with SLSQP
    h = X.sum(axis=1)
    pr = np.asarray(p_red)
    lik = pr[None, :] ** h[:, None] * (1 - pr[None, :]) ** (5 - h[:, None])

    def negll(w):
        return -np.log(lik @ w).sum()

    res = minimize(
        negll,
        np.full(3, 1 / 3),
        method="SLSQP",
        bounds=[(0, 1)] * 3,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    assert res.success
    np.testing.assert_allclose(model.weights_, res.x, atol=1e-5)
    assert -negll(model.weights_) >= -res.fun - 1e-7


def _weights_loglik(log_prob: np.ndarray, counts: np.ndarray, w: np.ndarray) -> float:
    """``sum_s c_s log sum_u w_u f_su``, computed independently of kmix."""
    with np.errstate(divide="ignore"):
        return float(counts @ np.log(np.exp(log_prob) @ w))


def _slsqp_weights(log_prob: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Independent optimiser: scipy SLSQP on the simplex, renormalised to sum to 1."""
    k = log_prob.shape[1]
    total = counts.sum()
    res = minimize(
        lambda w: -_weights_loglik(log_prob, counts, w) / total,
        np.full(k, 1 / k),
        method="SLSQP",
        bounds=[(0, 1)] * k,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    assert res.success, res.message
    x = np.maximum(res.x, 0.0)
    return np.asarray(x / x.sum())  # SLSQP meets the equality only to ~1e-10


def test_weights_only_likelihood_is_never_lowered_by_polishing():
    """Reference: the objective at the starting point, and SLSQP's maximum."""
    rng = np.random.default_rng(0)
    log_prob = np.log(rng.dirichlet(np.ones(4), size=50))
    counts = rng.integers(1, 5, size=50).astype(float)
    best = _weights_loglik(log_prob, counts, _slsqp_weights(log_prob, counts))
    starts = [np.full(4, 0.25), np.array([1.0, 0.0, 0.0, 0.0]), np.array([0.0, 0.5, 0.5, 0.0])]
    starts += list(rng.dirichlet(np.ones(4), size=5))
    for start in starts:
        polished = polish_weights(log_prob, counts, start)
        assert polished.sum() == pytest.approx(1.0, abs=1e-14)
        assert np.all(polished >= 0)
        before = _weights_loglik(log_prob, counts, start)
        after = _weights_loglik(log_prob, counts, polished)
        assert after >= before  # never lowered
        assert after >= best - 1e-9 * abs(best)  # and no worse than SLSQP's maximum
        assert weights_are_optimal(log_prob, counts, polished)
        assert not weights_are_optimal(log_prob, counts, start)


@pytest.mark.parametrize("weights_init", [None, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
@pytest.mark.parametrize("seed", range(3))
def test_fixed_components_at_the_boundary_k3(seed, weights_init):
    """Reference: SLSQP on the simplex; the middle factory's share is 0 at the MLE.

    Bags of 5 draws from factories of P(red) 0.9 and 0.1 only, fitted with known
    factories of 0.85, 0.5 and 0.15: the 0.5 factory explains the middle counts
    that the data lack, so its weight sits on the boundary (its gradient is
    about 0.67 < 1 at the maximum). Starting from weights that are exactly 0
    (which EM alone never moves) must reach the same maximum.
    """
    X, _ = marbles(
        3000, p_red=[0.9, 0.5, 0.1], weights=[0.5, 0.0, 0.5], n_draws=5, random_state=seed
    )
    p_red = np.array([0.85, 0.5, 0.15])
    model = FiniteMixture(
        3,
        family="bernoulli",
        fixed_params={"p": np.repeat(p_red[:, None], 5, axis=1)},
        weights_init=weights_init,
    ).fit(X)
    h = X.sum(axis=1)
    log_prob = h[:, None] * np.log(p_red) + (5 - h[:, None]) * np.log(1 - p_red)
    counts = np.ones(X.shape[0])
    reference = _slsqp_weights(log_prob, counts)
    assert reference[1] < 1e-6  # the reference optimum is on the boundary
    assert model.weights_[1] == 0.0  # exactly: the polish sets blocked weights to 0
    np.testing.assert_allclose(model.weights_, reference, atol=1e-6)
    ours = _weights_loglik(log_prob, counts, model.weights_)
    assert ours >= _weights_loglik(log_prob, counts, reference) - 1e-9
    assert model.converged_ and weights_are_optimal(log_prob, counts, model.weights_)


# --------------------------------------- EM review 2: zero weights with fixed components
@pytest.mark.parametrize("weights_init", [[1.0, 0.0], [0.0, 1.0]])
@pytest.mark.parametrize("seed", range(3))
def test_a_zero_starting_weight_still_reaches_the_closed_form(seed, weights_init):
    """Reference: the seed's closed form pi_A = (p_red - 0.3) / 0.5 (interior here).

    EM never moves a weight that is exactly 0 and stopped at once, yet
    reported converged_ = True with weights_ = weights_init.
    """
    X, _ = marbles(10_000, random_state=seed)
    closed_form = marbles_closed_form(X)
    assert 0.0 < closed_form < 1.0
    model = FiniteMixture(2, family="bernoulli", fixed_params=MARBLES_P, weights_init=weights_init)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X)
    assert model.weights_[0] == pytest.approx(closed_form, abs=1e-9)
    assert model.converged_


def test_polish_lets_a_zero_weight_back_and_blocks_one_exactly():
    """Reference: the closed form; and the boundary MLE clip(., 0, 1) = 0 held exactly."""
    X, _ = marbles(5000, random_state=3)
    log_prob, counts = _marbles_log_prob(X)
    for start in ([1.0, 0.0], [0.0, 1.0], [0.5, 0.5]):
        polished = polish_weights(log_prob, counts, np.array(start))
        assert polished[0] == pytest.approx(marbles_closed_form(X), abs=1e-10)
        assert weights_are_optimal(log_prob, counts, polished)
    # p(red) below 0.3: the MLE is pi_A = 0, reached exactly (not 1e-17) from inside
    X, _ = marbles(5000, p_red=[0.8, 0.25], weights=[0.0, 1.0], random_state=3)
    log_prob, counts = _marbles_log_prob(X)
    assert marbles_closed_form(X) == 0.0
    for start in ([0.5, 0.5], [1.0, 0.0], [0.0, 1.0]):
        polished = polish_weights(log_prob, counts, np.array(start))
        np.testing.assert_array_equal(polished, [0.0, 1.0])


def _marbles_log_prob(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log P(colour | factory)`` of the two distinct colours and their counts."""
    red = int(X.sum())
    log_prob = np.log([[0.8, 0.3], [0.2, 0.7]])
    return log_prob, np.array([red, X.shape[0] - red], dtype=float)

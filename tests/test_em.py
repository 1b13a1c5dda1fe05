"""The EM engine.

References:
* monotonicity of EM (Dempster, Laird & Rubin 1977): the objective never
  decreases, checked as a Hypothesis property over random data, families,
  numbers of components and smoothing;
* the seed's two-factory example: with known components and single draws the
  MLE of P(F1) has the closed form ``(p_red - 0.3) / 0.5``;
* with ``t`` draws per bag the weight likelihood is concave, so an independent
  optimiser (scipy SLSQP on the simplex) must reach the same maximum.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from kmix import FiniteMixture
from kmix.components import get_family
from kmix.datasets import make_mixture, marbles
from kmix.exceptions import ConvergenceWarning, DataError
from kmix.params import BernoulliParams
from kmix.solvers.em.loop import run_em
from kmix.solvers.em.seeding import kmeans_pp_labels
from kmix.solvers.em.weights import polish_weights, weights_are_optimal
from kmix.stats import compress_rows

FAMILY_CASES = [
    ("bernoulli", {}),
    ("categorical", {}),
    ("binomial", {"n_trials": 6}),
    ("poisson", {}),
    ("gaussian", {"covariance_type": "full"}),
    ("gaussian", {"covariance_type": "diag"}),
]


@given(
    case=st.sampled_from(FAMILY_CASES),
    k=st.integers(1, 4),
    n=st.integers(8, 150),
    d=st.integers(1, 4),
    alpha=st.sampled_from([1.0, 1.5]),
    init=st.sampled_from(["kmeans++", "random"]),
    fix_weights=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_em_never_decreases_the_objective(case, k, n, d, alpha, init, fix_weights, seed):
    family, extra = case
    rng = np.random.default_rng(seed)
    X, _ = make_mixture(family, n, min(k, 2), d, random_state=rng, **extra)
    if family == "gaussian":
        X = X + rng.normal(scale=0.5, size=X.shape)  # not exactly a mixture
    else:
        # arbitrary count data of the family's support, not drawn from the model
        X = rng.permutation(X.ravel()).reshape(X.shape)
    n_unique = compress_rows(X)[0].shape[0]
    if family not in ("bernoulli", "categorical", "binomial"):
        alpha = 1.0  # smoothing applies to the discrete probability families only
    k = min(k, n_unique)
    fixed = (rng.dirichlet(np.ones(k)) + 0.01) / (1 + 0.01 * k)  # no weight at 0
    model = FiniteMixture(
        k,
        family=family,
        alpha=alpha,
        init=init,
        fixed_weights=fixed if fix_weights else None,
        tol=0.0,
        max_iter=40,
        random_state=seed,
        **extra,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter / re-seeding warnings are not the point
        model.fit(X)
    hist = model.history_
    steps = np.diff(hist)
    # an empty component's re-seed is the one allowed drop (see run_em)
    allowed = np.zeros(steps.shape, dtype=bool)
    allowed[list(model.reseed_iterations_)] = True
    scale = 1e-9 * np.maximum(1.0, np.abs(hist[1:]))
    assert np.all((steps >= -scale) | allowed), (steps.min(), family, k)


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


def test_max_iter_warns_convergence_warning():
    X, _ = make_mixture("bernoulli", 2000, 3, 6, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        model = FiniteMixture(3, family="bernoulli", max_iter=2, random_state=0).fit(X)
    assert not model.converged_
    assert model.n_iter_ == 2


def test_empty_component_is_reseeded_with_a_warning():
    rng = np.random.default_rng(0)
    X = (rng.random((500, 4)) < 0.5).astype(float)
    X[X.sum(axis=1) == 0, 0] = 1.0  # every row has a one
    values, counts, _ = compress_rows(X)
    fam = get_family("bernoulli")
    # component 1 puts probability zero on every 1: it explains no row
    start = BernoulliParams([[0.5, 0.5, 0.5, 0.5], [0.0, 0.0, 0.0, 0.0]])
    with pytest.warns(UserWarning, match="re-seeded"):
        result = run_em(
            fam, fam.prepare(values), counts, 2, rng=rng, params_init=start, max_iter=200
        )
    assert result.reseed_iterations[0] == 0
    assert result.weights.min() > 0.01
    assert np.all(np.diff(result.history[1:]) >= -1e-9 * np.abs(result.history[2:]))


def test_restarts_keep_the_best_objective():
    X, _ = make_mixture("bernoulli", 3000, 3, 8, random_state=3)
    model = FiniteMixture(
        3, family="bernoulli", n_init=6, init="random", max_iter=15, random_state=0
    )
    with pytest.warns(ConvergenceWarning):
        model.fit(X)
    finals = model.restart_log_likelihoods_
    assert len(finals) == 6
    assert np.ptp(finals) > 1e-3  # the restarts really differ after 15 iterations
    # the returned parameters are those of the best restart
    assert model.score_samples(X).sum() == pytest.approx(finals.max(), rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_kmeans_pp_seeding_uses_the_counts(seed):
    """Reference: the same seeding on the rows repeated ``count`` times.

    k-means++ draws rows with probability proportional to ``count * D^2`` and
    Lloyd steps average with the counts, so integer counts must act exactly
    like repeated rows: under the same generator every copy of a row gets the
    label its counted original gets. The order of the rows must not matter.
    """
    rng = np.random.default_rng(100 + seed)
    features = np.concatenate([rng.normal(c, 0.7, size=(15, 2)) for c in (0.0, 3.0, 6.0)])
    counts = rng.integers(1, 6, size=features.shape[0])
    on_counts = kmeans_pp_labels(
        features, counts.astype(float), 3, np.random.default_rng(seed), lloyd_steps=3
    )
    repeated = np.repeat(features, counts, axis=0)
    on_rows = kmeans_pp_labels(
        repeated, np.ones(repeated.shape[0]), 3, np.random.default_rng(seed), lloyd_steps=3
    )
    np.testing.assert_array_equal(on_rows, np.repeat(on_counts, counts))
    assert len(set(on_counts.tolist())) == 3
    # the seeding depends on the multiset of rows, not on their order
    order = np.random.default_rng(3).permutation(features.shape[0])
    a = kmeans_pp_labels(features, counts.astype(float), 3, np.random.default_rng(5))
    b = kmeans_pp_labels(features[order], counts[order].astype(float), 3, np.random.default_rng(5))
    np.testing.assert_array_equal(a[order], b)


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


def test_zero_probability_rows_under_fixed_components_are_an_error():
    X = np.array([[1], [0], [1]])
    with pytest.raises(DataError, match="X row 1 has probability zero under every component"):
        FiniteMixture(2, family="bernoulli", fixed_params={"p": [[1.0], [1.0]]}).fit(X)


def test_the_impossible_row_is_named_by_its_place_in_x():
    X = np.array([[0]] * 5 + [[1]] + [[0]] * 3)  # only row 5 holds a 1
    with pytest.raises(DataError, match="X row 5 has probability zero"):
        FiniteMixture(2, family="bernoulli", fixed_params={"p": [[0.0], [0.0]]}).fit(X)
    w = np.ones(9)
    w[0] = 0.0  # a zero-weight row does not shift the numbering
    with pytest.raises(DataError, match="X row 5 has probability zero"):
        FiniteMixture(2, family="bernoulli", fixed_params={"p": [[0.0], [0.0]]}).fit(
            X, sample_weight=w
        )

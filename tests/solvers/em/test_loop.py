"""The EM engine (kmix.solvers.em.loop).

References:
* monotonicity of EM (Dempster, Laird & Rubin 1977): the objective never
  decreases, checked as a Hypothesis property over random data, families,
  numbers of components and smoothing;
* the regression tests from the code review of the EM layer state their
  reference each; each failed before its fix.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmix import FiniteMixture
from kmix.components import get_family
from kmix.datasets import make_mixture, marbles
from kmix.exceptions import ConvergenceWarning, DataError
from kmix.params import BernoulliParams
from kmix.solvers.em import loop as em
from kmix.solvers.em.loop import run_em
from kmix.stats import compress_rows
from tests.helpers.marbles import MARBLES_P, marbles_closed_form

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
        allow_unidentified=True,  # monotonicity holds whether or not the fit is unique
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


def test_max_iter_warns_convergence_warning():
    X, _ = make_mixture("bernoulli", 2000, 3, 6, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        model = FiniteMixture(3, family="bernoulli", init="random", max_iter=2, random_state=0).fit(
            X
        )
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


# --------------------------------------- EM review 2: zero weights with fixed components
def test_a_row_only_a_zero_weight_component_explains_is_named():
    """Reference: row 3 (the only 1) has P = 0 under component 0, the only weighted one."""
    X = np.array([[0], [0], [0], [1], [0]])
    model = FiniteMixture(
        2, family="bernoulli", fixed_params={"p": [[0.0], [0.5]]}, weights_init=[1.0, 0.0]
    )
    with pytest.raises(DataError, match=r"X row 3 .*positive weights_init"):
        model.fit(X)


# --------------------------------------------------------- EM review 8: zero-weight rows
def test_impossible_row_is_named_among_rows_with_positive_weight():
    """Reference: row 4 is the first 1 with positive weight; row 0 (a 1) has weight 0."""
    X = np.array([[1], [0], [0], [0], [1], [0]])
    w = np.array([0.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    with pytest.raises(DataError, match=r"X row 4 has probability zero"):
        FiniteMixture(2, family="bernoulli", fixed_params={"p": [[0.0], [0.0]]}).fit(
            X, sample_weight=w
        )


# -------------------------------------------------- EM review 9: options that do nothing
def test_polish_is_kept_only_if_the_objective_with_prior_does_not_drop(monkeypatch):
    """Reference: EM's history; a polish that lowers the log-likelihood must be rejected.

    With alpha = 2 the history holds log-likelihood + log-prior (the prior of
    the fixed components, about -3.4), and the check compared the polished
    log-likelihood without the prior against it, so a polish that lowered the
    log-likelihood by less than 3.4 was accepted.
    """
    X, _ = marbles(10_000, random_state=0)
    values, counts, _ = compress_rows(X)
    family = get_family("bernoulli", alpha=2.0)
    fixed = BernoulliParams(MARBLES_P["p"])
    worse: list[np.ndarray] = []

    def bad_polish(log_prob, counts, weights, **kw):
        worse.append(weights + np.array([0.01, -0.01]))  # lowers the log-likelihood by ~1
        return worse[-1]

    monkeypatch.setattr(em, "polish_weights", bad_polish)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = em.run_em(
            family,
            family.prepare(values),
            counts,
            2,
            rng=np.random.default_rng(0),
            params_init=fixed,
            learn_params=False,
        )
    assert worse and not np.allclose(result.weights, worse[0])
    assert np.all(np.diff(result.history) >= 0)
    assert result.objective == result.history[-1]


# ---------------------------------------- EM review 10: restart records after the polish
def test_restart_records_match_the_polished_fit():
    """Reference: log_likelihood_ of the returned fit, and history_[-1] (no prior here).

    EM stops after 2 iterations; the Newton polish finishes the job, and the
    restart's recorded log-likelihood used to be the pre-polish value.
    """
    X, _ = marbles(10_000, random_state=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # the polish reaches the maximum
        model = FiniteMixture(2, family="bernoulli", fixed_params=MARBLES_P, max_iter=2).fit(X)
    assert model.converged_
    assert model.weights_[0] == pytest.approx(marbles_closed_form(X), abs=1e-9)
    assert model.restart_log_likelihoods_.tolist() == [model.log_likelihood_]
    assert model.history_[-1] == model.log_likelihood_
    assert len(model.history_) == model.n_iter_ + 2  # E-steps, then the polished value


def test_restart_log_likelihoods_exclude_the_prior():
    """Reference: log_likelihood_ (= history_[-1] minus the log-prior) with alpha = 2."""
    X, _ = make_mixture("bernoulli", 2000, 2, 5, random_state=0)
    model = FiniteMixture(2, family="bernoulli", alpha=2.0, random_state=0).fit(X)
    prior = model.family_.log_prior(model.params_)
    assert prior < -1.0  # the prior is really there
    assert model.restart_log_likelihoods_.tolist() == [model.log_likelihood_]
    assert model.history_[-1] == pytest.approx(model.log_likelihood_ + prior, rel=1e-15)


def test_more_empty_components_than_distinct_rows_do_not_crash():
    """Reference: one distinct row cannot feed three components; EM must still end (the
    extra components stay empty) rather than fail on its re-seeding."""
    from kmix.components import get_family
    from kmix.params import BinomialParams
    from kmix.solvers.em.loop import run_em

    family = get_family("binomial")
    prepared = family.prepare(np.array([[2.0, 5.0]]))
    start = BinomialParams(np.array([[0.01], [0.4], [0.99]]))  # as CoinMixture starts EM
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_em(
            family,
            prepared,
            np.array([200.0]),
            3,
            rng=np.random.default_rng(0),
            params_init=start,
            weights_init=np.array([0.45, 0.1, 0.45]),
        )
    assert np.isfinite(result.objective)
    assert result.objective == pytest.approx(200 * np.log(10 * 0.4**2 * 0.6**3), rel=1e-6)


# ------------------------------------------------ several starts: em-EM and Aitken
def test_a_climb_that_cannot_catch_up_is_hopeless():
    """Reference: geometric gains g_t = g a^t, whose sum is known in closed form."""
    climb = [-100.0 + 10.0 * (1 - 0.5 ** (t + 1)) for t in range(15)]  # limit -90
    assert em._hopeless(climb, best=-70.0)  # even twice the remaining climb ends near -90
    assert not em._hopeless(climb, best=-90.0 + 1e-9)  # it may still reach a best just above
    assert not em._hopeless(climb[: em.ABANDON_AFTER], best=-70.0)  # too early to judge
    speeding = [-100.0 + 0.01 * 2**t for t in range(15)]  # gains grow: a plateau ending
    assert not em._hopeless(speeding, best=0.0)


def _overlapping_gaussians(seed: int, n: int = 20_000) -> tuple[np.ndarray, dict, np.ndarray]:
    """Three 5-d gaussians, random covariances, means N(0, 4^2 I); weights Dirichlet(2).

    Returns the rows and the true parameters (means, covariances) and weights.
    """
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=4.0, size=(3, 5))
    factors = np.stack([rng.normal(size=(5, 5)) / np.sqrt(5) + 0.3 * np.eye(5) for _ in range(3)])
    weights = rng.dirichlet(2 * np.ones(3))
    z = rng.choice(3, n, p=weights)
    X = means[z] + np.einsum("sij,sj->si", factors[z], rng.normal(size=(n, 5)))
    covs = np.einsum("uij,ukj->uik", factors, factors)
    return X, {"means": means, "covariances": covs}, weights


@pytest.mark.parametrize("seed", [301, 302, 352, 369])
def test_default_gaussian_starts_reach_the_maximum(seed):
    """Reference: EM started at the true parameters, to convergence (the maximum near the
    truth, which with 5,000 rows is the global one). Instances of a family not used to tune
    the starts: on 352 and 369 one k-means start ends 0.55 and 0.17 nats/row lower (of seeds
    300-399 the default misses one, 390, whose 0.3% component only 1 random start in 12 finds).
    """
    X, truth, weights = _overlapping_gaussians(seed, 5000)
    reference = FiniteMixture(
        3, params_init=truth, weights_init=weights, n_init=1, max_iter=5000, tol=1e-12
    ).fit(X)
    default = FiniteMixture(3, random_state=0).fit(X)
    assert default.log_likelihood_ >= reference.log_likelihood_ - 1e-6 * X.shape[0]


def test_hopeless_restarts_stop_early():
    """Reference: the same starts without early stopping reach the same maximum with 40 times
    the EM iterations (instance 129 of the family, where four of six starts crawl)."""
    X, _, _ = _overlapping_gaussians(129, 5000)

    def fit(after: int) -> tuple[float, int]:
        steps: list[int] = []
        with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            patch.setattr(em, "ABANDON_AFTER", after)
            model = FiniteMixture(
                3, n_init=6, random_state=1, max_iter=2000, callback=lambda p: steps.append(1)
            ).fit(X)
        return model.log_likelihood_, len(steps)

    (early, n_early), (full, n_full) = fit(em.ABANDON_AFTER), fit(10**9)
    assert early == pytest.approx(full, abs=1e-6)
    assert n_early * 10 < n_full

"""CoinMixture: the k-coin estimator, its inputs, outputs and bad input.

References: scipy.stats.binom for every likelihood and posterior; the
empirical histogram (the MLE fits it exactly when t = 2k - 1); EM from
random starts through the same estimator; the closed-form BIC.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import binom
from sklearn.base import clone

import kmix
from kmix import CoinMixture
from kmix.datasets import coin_flips, random_coins
from kmix.exceptions import DataError, IdentifiabilityError
from kmix.metrics import parameter_errors
from kmix.stats import CoinCounts, CoinMoments

TRUTH = random_coins(3, separation=0.2, min_weight=0.15, random_state=0)
P_TRUE = TRUTH.params.p[:, 0]


def heads(n=200_000, t=5, seed=1):
    return coin_flips(TRUTH, n, t, random_state=seed)


def mixture_pmf(w, p, h, t):
    return sum(wi * binom.pmf(h, t, pi) for wi, pi in zip(w, p, strict=True))


@pytest.mark.parametrize("seed", range(5))
def test_recovers_the_coins(seed):
    h = heads(seed=seed)
    model = CoinMixture(3).fit(h, n_trials=5)
    err = parameter_errors(TRUTH, model.mixture_)
    assert max(err.weights, err.params) < 0.03
    assert np.all(np.diff(model.weights_) <= 0)  # kmix's label order: largest weight first
    assert model.moments_valid_ and model.converged_


def test_with_t_equal_2k_minus_1_the_moment_solution_is_the_mle():
    # 2k - 1 free parameters, 2k - 1 free histogram cells: a valid moment solution
    # reproduces the empirical histogram, which no other parameter can beat
    h = heads(n=100_000)
    model = CoinMixture(3, refine=None).fit(h, n_trials=5)
    assert model.moments_valid_
    empirical = np.bincount(h, minlength=6) / h.size
    fitted = mixture_pmf(model.weights_, model.biases_, np.arange(6), 5)
    np.testing.assert_allclose(fitted, empirical, atol=1e-9)
    best_em = max(
        CoinMixture(3, init="random", random_state=r).fit(h, n_trials=5).log_likelihood_
        for r in range(20)
    )
    assert model.log_likelihood_ >= best_em - 1e-8 * abs(best_em)


def test_refinement_matches_the_best_of_random_em_starts():
    # t > 2k - 1: the moment start and the best of 20 random EM starts reach the same
    # maximum (benchmarks/bench_kcoin.py runs the 50-instance version)
    for seed in range(4):
        truth = random_coins(3, separation=0.1, min_weight=0.05, random_state=seed)
        h = coin_flips(truth, 100_000, 7, random_state=seed)
        stats = CoinCounts.from_arrays(h, 7)
        ours = CoinMixture(3).fit(stats)
        runs = [CoinMixture(3, init="random", random_state=r).fit(stats) for r in range(20)]
        best = max(runs, key=lambda m: m.log_likelihood_)
        assert ours.log_likelihood_ >= best.log_likelihood_ - 1e-8 * abs(best.log_likelihood_)
        e_ours = parameter_errors(truth, ours.mixture_)
        e_best = parameter_errors(truth, best.mixture_)
        assert max(e_ours.weights, e_ours.params) <= max(e_best.weights, e_best.params) + 1e-5


def test_likelihood_posteriors_and_bic_match_scipy():
    h = heads(n=5000)
    model = CoinMixture(3).fit(h, n_trials=5)
    pmf = mixture_pmf(model.weights_, model.biases_, h, 5)
    assert model.log_likelihood_ == pytest.approx(np.log(pmf).sum(), rel=1e-12)
    assert model.score(h, n_trials=5) == pytest.approx(np.log(pmf).mean(), rel=1e-12)
    joint = np.stack(
        [w * binom.pmf(h, 5, p) for w, p in zip(model.weights_, model.biases_, strict=True)], 1
    )
    np.testing.assert_allclose(model.predict_proba(h, n_trials=5), joint / pmf[:, None], atol=1e-12)
    np.testing.assert_array_equal(model.predict(h, n_trials=5), np.argmax(joint, axis=1))
    assert model.bic() == pytest.approx(-2 * np.log(pmf).sum() + 5 * np.log(5000))
    assert model.aic() == pytest.approx(-2 * np.log(pmf).sum() + 10)
    assert model.bic(h[:100], n_trials=5) == pytest.approx(
        -2 * np.log(pmf[:100]).sum() + 5 * np.log(100)
    )


def test_input_forms_agree():
    h = heads(n=20_000)
    t = np.full_like(h, 5)
    ref = CoinMixture(3).fit(h, n_trials=5)
    flips = (np.arange(5)[None, :] < h[:, None]).astype(float)  # any order of the flips
    for model in (
        CoinMixture(3).fit(h, n_trials=t),
        CoinMixture(3).fit(np.column_stack([h, t])),
        CoinMixture(3).fit(CoinCounts.from_arrays(h, 5)),
        CoinMixture(3).fit(CoinCounts.from_flips(flips)),
        CoinMixture(3).fit(h[:, None], n_trials=5),
    ):
        np.testing.assert_allclose(model.biases_, ref.biases_, atol=1e-12)
        np.testing.assert_allclose(model.weights_, ref.weights_, atol=1e-12)


@pytest.mark.filterwarnings("ignore:the data support only")
def test_sample_weight_equals_repetition():
    h = np.array([0, 1, 2, 3, 3, 5, 4, 1, 0, 5, 2, 2])
    w = np.array([1, 2, 1, 3, 1, 1, 2, 1, 1, 4, 1, 2])
    a = CoinMixture(2).fit(h, n_trials=5, sample_weight=w)
    b = CoinMixture(2).fit(np.repeat(h, w), n_trials=5)
    np.testing.assert_allclose(a.biases_, b.biases_, atol=1e-10)


def test_mixed_numbers_of_flips():
    rng = np.random.default_rng(0)
    t = rng.integers(1, 10, size=200_000)
    labels = rng.choice(3, size=t.size, p=TRUTH.weights)
    h = rng.binomial(t, P_TRUE[labels])
    model = CoinMixture(3).fit(h, n_trials=t)
    err = parameter_errors(TRUTH, model.mixture_)
    assert max(err.weights, err.params) < 0.03
    assert model.moments_.order == 6  # 2k: enough to test for a (k+1)-th coin
    assert model.moments_.n_samples[6] < model.moments_.n_samples[1]


def test_fit_from_moments_alone():
    moments = CoinMoments.from_params(TRUTH.weights, P_TRUE, 5)
    model = CoinMixture(3).fit(moments)
    # the same coins, listed by kmix's label order (largest weight first)
    order = np.argsort(-TRUTH.weights, kind="stable")
    np.testing.assert_allclose(model.biases_, P_TRUE[order], atol=1e-12)
    np.testing.assert_allclose(model.weights_, TRUTH.weights[order], atol=1e-12)
    assert model.log_likelihood_ is None
    with pytest.raises(DataError, match="moments only"):
        model.bic()
    with pytest.raises(DataError, match="need the head counts"):
        CoinMixture(3, n_init=3).fit(moments)


def test_sample_draws_from_the_fitted_mixture():
    model = CoinMixture(3, random_state=0).fit(heads(n=50_000), n_trials=5)
    h, labels = model.sample(100_000)
    assert h.shape == labels.shape == (100_000,) and h.max() <= 5
    share = np.bincount(labels, minlength=3) / labels.size
    se = np.sqrt(model.weights_ * (1 - model.weights_) / labels.size)
    assert np.all(np.abs(share - model.weights_) < 5 * se)
    h2, _ = model.sample(10, n_trials=20)
    assert h2.max() <= 20


def test_select_k_finds_the_number_of_coins():
    h = coin_flips(TRUTH, 500_000, 7, random_state=3)
    sel = kmix.select_k_coins(h, n_trials=7)
    assert sel.best == 3 and sel.hankel_k == 3 and sel.hankel_conclusive
    assert sel.bic_k == 3
    assert [row["k"] for row in sel.table] == [1, 2, 3, 4]
    assert sel.table[3]["hankel_z"] < 3 < sel.table[2]["hankel_z"]
    same = CoinMixture.select_k(h, n_trials=7)
    assert same.best == sel.best


def test_estimator_contract():
    model = CoinMixture(4, tol=1e-8, n_init=2, random_state=3)
    params = clone(model).get_params()
    assert params["n_components"] == 4 and params["n_init"] == 2 and params["tol"] == 1e-8
    assert not hasattr(clone(model), "weights_")


# ---------------------------------------------------------------- bad input
def test_too_few_flips_for_k_coins():
    with pytest.raises(IdentifiabilityError, match=r"2k-1 = 7 flips.*at most 5.*at most 3"):
        CoinMixture(4).fit(heads(n=1000), n_trials=5)


def test_all_trials_without_flips():
    with pytest.raises(DataError, match="every trial has 0 flips"):
        CoinMixture(1).fit(np.zeros(10, int), n_trials=0)


@pytest.mark.parametrize(
    ("h", "t", "match"),
    [
        ([1, 7], 5, r"heads\[1\] = 7 exceeds its number of flips 5"),
        ([1, -2], 5, r"heads\[1\] = -2 is negative"),
        ([1, 2.5], 5, r"heads\[1\] = 2.5 is not a whole number"),
        ([1, 2], 2.5, r"n_trials\[0\] = 2.5 is not a whole number|not a whole number"),
    ],
)
def test_bad_counts(h, t, match):
    with pytest.raises(DataError, match=match):
        CoinMixture(1).fit(np.array(h), n_trials=t)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_components": 0}, "n_components must be >= 1; got 0"),
        ({"method": "newton"}, "method='newton' is not valid"),
        ({"refine": "lbfgs"}, "refine='lbfgs' is not valid"),
        ({"init": "kmeans"}, "init='kmeans' is not valid"),
        ({"init": "random", "refine": None}, "needs refine='em'"),
    ],
)
def test_bad_hyper_parameters(kwargs, match):
    with pytest.raises(DataError, match=match):
        CoinMixture(**kwargs).fit(heads(n=100), n_trials=5)


def test_table_without_n_trials_must_have_two_columns():
    with pytest.raises(DataError, match="two-column table"):
        CoinMixture(1).fit(np.zeros((5, 3), int))


def test_degenerate_data_warn_with_the_supported_k():
    h = binom.rvs(5, 0.4, size=100_000, random_state=np.random.default_rng(0))
    with pytest.warns(UserWarning, match=r"support only 1 distinct coin bias.*n_components=1"):
        model = CoinMixture(2).fit(h, n_trials=5)
    assert model.n_supported_ == 1
    assert np.all((model.biases_ >= 0) & (model.biases_ <= 1))


def test_no_warning_on_well_separated_data():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CoinMixture(3).fit(heads(n=100_000), n_trials=5)


def test_no_variation_at_all_still_gives_a_valid_mixture():
    # every trial all tails: the data support one coin with bias exactly 0
    with pytest.warns(UserWarning, match="support only 1 distinct"):
        model = CoinMixture(2).fit(np.zeros(1000, int), n_trials=5)
    assert model.n_supported_ == 1
    np.testing.assert_allclose(model.biases_[model.weights_ > 0], 0.0)
    assert model.log_likelihood_ == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"init": "random", "n_init": 3, "random_state": 0},
        {"init": "random", "max_iter": 3, "random_state": 0},
    ],
    ids=["moments", "random", "polished"],
)
def test_log_likelihood_history_climbs_to_log_likelihood(options):
    """Reference: EM never lowers the log-likelihood (Dempster, Laird & Rubin 1977) and the
    quasi-Newton finish keeps only a higher point: the winning start's history climbs (to
    rounding) to log_likelihood_, one entry per E-step (``n_iter_ + 1``) and one more when
    the finish moved the coins (EM from a random start stopped after 3 iterations is
    short of the maximum, and the finish climbs)."""
    h = heads(n=20_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = CoinMixture(3, **options).fit(h, n_trials=5)
    hist = model.log_likelihood_history_
    assert isinstance(hist, np.ndarray) and hist.dtype == np.float64 and hist.ndim == 1
    assert hist[-1] == model.log_likelihood_
    assert np.all(np.diff(hist) >= -1e-9 * abs(hist[-1]))
    assert len(hist) in (model.n_iter_ + 1, model.n_iter_ + 2)
    if "max_iter" in options:
        assert model.n_iter_ == 3 and len(hist) == 5
        assert hist[-1] > hist[-2]


def test_log_likelihood_history_without_em():
    """Reference: no EM, no iterations: the moment solution's log-likelihood alone, and
    nothing from moments alone (which have no likelihood)."""
    model = CoinMixture(3, refine=None).fit(heads(n=5000), n_trials=5)
    np.testing.assert_array_equal(model.log_likelihood_history_, [model.log_likelihood_])
    assert model.n_iter_ == 0
    exact = CoinMixture(2).fit(CoinMoments.from_params([0.4, 0.6], [0.2, 0.7], 3))
    assert exact.log_likelihood_history_.shape == (0,) and exact.log_likelihood_ is None

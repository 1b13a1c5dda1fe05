"""FiniteMixture: agreement with independent implementations and recovery.

References:
* scikit-learn's GaussianMixture, started from the same parameters, is an
  independent implementation of Gaussian EM: the fitted log-likelihoods must
  agree to 1e-6 relative;
* Bayes' rule by hand for the posterior of the seed's example;
* BIC/AIC from their definitions with the free-parameter count by hand;
* simulated data with known parameters for recovery;
* bad input: every case gets a DataError naming the value and the fix;
  nothing may be dropped or clipped silently;
* missing cells: the fit of the complete rows (``missing="drop"``, rows with
  every cell missing), the fit of the same data with the missing markers
  written as NaN (None, pandas' NA, empty CSV fields), Bayes' rule on the
  observed cells for posteriors, and the true parameters of simulated data
  (full-information maximum likelihood against listwise deletion);
* the regression tests from the code review of the EM layer state their
  reference each; each failed before its fix.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from kmix import FiniteMixture, io
from kmix.data import as_source
from kmix.datasets import make_mixture, marbles
from kmix.exceptions import ConvergenceWarning, DataError, IdentifiabilityError
from kmix.metrics import parameter_errors
from kmix.params import Mixture
from tests.helpers.finite import BERNOULLI, fit_finite
from tests.helpers.marbles import MARBLES_P


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gaussian_matches_sklearn_from_the_same_start(covariance_type, seed):
    X, _ = make_mixture("gaussian", 2000, 3, 3, random_state=seed)
    rng = np.random.default_rng(seed + 100)
    start = X[rng.choice(X.shape[0], 3, replace=False)]
    var = X.var(axis=0)
    if covariance_type == "full":
        covs = np.stack([np.diag(var)] * 3)
        precisions = np.stack([np.diag(1 / var)] * 3)
    else:
        covs = precisions = None
        covs, precisions = np.tile(var, (3, 1)), np.tile(1 / var, (3, 1))
    weights = np.full(3, 1 / 3)
    ref = GaussianMixture(
        3,
        covariance_type=covariance_type,
        weights_init=weights,
        means_init=start,
        precisions_init=precisions,
        reg_covar=0.0,
        tol=1e-12,
        max_iter=5000,
    ).fit(X)
    ours = FiniteMixture(
        3,
        family="gaussian",
        covariance_type=covariance_type,
        params_init={"means": start, "covariances": covs},
        weights_init=weights,
        var_floor=0.0,
        tol=1e-14,
        max_iter=5000,
        n_init=1,  # the one start scikit-learn is given
    ).fit(X)
    ref_ll = ref.score(X) * X.shape[0]
    assert ours.log_likelihood_ == pytest.approx(ref_ll, rel=1e-6)
    assert ours.score(X) == pytest.approx(ref.score(X), rel=1e-6)
    order = np.argsort(ours.params_.means[:, 0])
    ref_order = np.argsort(ref.means_[:, 0])
    np.testing.assert_allclose(ours.params_.means[order], ref.means_[ref_order], atol=1e-4)
    np.testing.assert_allclose(ours.weights_[order], ref.weights_[ref_order], atol=1e-5)


@pytest.mark.parametrize("seed", range(20))
def test_bernoulli_recovery_k3_d10(seed):
    X, truth = make_mixture("bernoulli", 100_000, 3, 10, random_state=seed)
    model = FiniteMixture(3, family="bernoulli", n_init=3, random_state=seed).fit(X)
    err = parameter_errors(truth, Mixture(model.weights_, model.params_))
    assert err.weights < 0.02
    assert err.params < 0.02


@pytest.mark.parametrize(
    ("family", "extra"),
    [
        ("categorical", {"n_levels": 4}),
        ("binomial", {"n_trials": 8}),
        ("poisson", {}),
        ("gaussian", {"covariance_type": "diag"}),
        ("gaussian", {"covariance_type": "full"}),
    ],
)
def test_recovery_of_other_families(family, extra):
    X, truth = make_mixture(family, 50_000, 3, 5, random_state=11, **extra)
    options = {k: v for k, v in extra.items() if k != "n_levels"}
    model = FiniteMixture(3, family=family, n_init=3, random_state=0, **options).fit(X)
    err = parameter_errors(truth, Mixture(model.weights_, model.params_))
    # sampling error bounds: probabilities ~ 1/sqrt(n), rates and means scale with themselves
    scale = {"poisson": 0.2, "gaussian": 0.15}.get(family, 0.03)
    assert err.weights < 0.02
    assert err.params < scale


def test_binomial_with_per_row_trials():
    rng = np.random.default_rng(5)
    n = 40_000
    labels = rng.choice(2, size=n, p=[0.35, 0.65])
    trials = rng.integers(3, 12, size=n)
    p = np.array([0.2, 0.7])
    X = rng.binomial(trials, p[labels])[:, None]
    model = FiniteMixture(2, family="binomial", random_state=0).fit(X, n_trials=trials)
    order = np.argsort(model.params_.p[:, 0])
    np.testing.assert_allclose(model.params_.p[order, 0], p, atol=0.01)
    np.testing.assert_allclose(model.weights_[order], [0.35, 0.65], atol=0.01)
    proba = model.predict_proba(X, n_trials=trials)
    assert proba.shape == (n, 2)


def test_categorical_with_string_levels_round_trips_labels():
    # three features: a latent class model with two classes needs at least three
    rng = np.random.default_rng(0)
    n = 6000
    z = rng.random(n) < 0.5
    colours = np.array(["red", "green", "blue"])
    sizes = np.array(["S", "L"])
    shapes = np.array(["round", "square", "star", "oval"])
    X = np.empty((n, 3), dtype=object)
    X[:, 0] = np.where(
        z,
        colours[rng.choice(3, n, p=[0.8, 0.1, 0.1])],
        colours[rng.choice(3, n, p=[0.1, 0.1, 0.8])],
    )
    X[:, 1] = np.where(
        z, sizes[(rng.random(n) < 0.9).astype(int)], sizes[(rng.random(n) < 0.2).astype(int)]
    )
    X[:, 2] = np.where(
        z,
        shapes[rng.choice(4, n, p=[0.7, 0.1, 0.1, 0.1])],
        shapes[rng.choice(4, n, p=[0.1, 0.1, 0.1, 0.7])],
    )
    model = FiniteMixture(2, family="categorical", n_init=2, random_state=0).fit(X)
    assert [c.tolist() for c in model.categories_] == [
        ["blue", "green", "red"],
        ["L", "S"],
        ["oval", "round", "square", "star"],
    ]
    sample, labels = model.sample(50, random_state=1)
    assert set(sample[:, 0]) <= {"red", "green", "blue"}
    assert labels.shape == (50,)
    red = model.params_.probs[0][:, 2]  # P(colour = red | u), levels are sorted
    assert sorted(red) == pytest.approx([0.1, 0.8], abs=0.04)


def test_posterior_matches_bayes_rule_for_the_seed():
    X, _ = marbles(2000, random_state=1)
    model = FiniteMixture(2, family="bernoulli", fixed_params={"p": [[0.8], [0.3]]}).fit(X)
    pi = model.weights_[0]
    proba = model.predict_proba(np.array([[1], [0]]))
    red = 0.8 * pi / (0.8 * pi + 0.3 * (1 - pi))
    blue = 0.2 * pi / (0.2 * pi + 0.7 * (1 - pi))
    np.testing.assert_allclose(proba[:, 0], [red, blue], rtol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert model.predict(np.array([[1], [0]])).tolist() == [int(red < 0.5), int(blue < 0.5)]


def test_bic_and_aic_from_their_definitions():
    X, _ = make_mixture("bernoulli", 5000, 3, 6, random_state=2)
    model = FiniteMixture(3, family="bernoulli", random_state=0).fit(X)
    ll = model.score_samples(X).sum()
    n_params = 3 * 6 + 2  # k * d probabilities + (k - 1) weights
    assert model.n_parameters() == n_params
    assert model.bic(X) == pytest.approx(-2 * ll + n_params * np.log(5000))
    assert model.aic(X) == pytest.approx(-2 * ll + 2 * n_params)
    assert model.score(X) == pytest.approx(ll / 5000)
    assert model.log_likelihood_ == pytest.approx(ll, rel=1e-9)
    fixed = FiniteMixture(3, family="bernoulli", fixed_params={"p": model.params_.p}).fit(X)
    assert fixed.n_parameters() == 2  # only the weights are free


@pytest.mark.parametrize("family", ["bernoulli", "gaussian"])
def test_integer_weights_equal_repeated_rows(family):
    """Frequency weights mean repetition (gaussian rows are not compressed, so this
    exercises the weighted path and the order-free seeding)."""
    X, _ = make_mixture(family, 400, 2, 5, random_state=4)
    w = np.random.default_rng(0).integers(0, 4, size=400)
    a = FiniteMixture(2, family=family, random_state=3).fit(X, sample_weight=w)
    b = FiniteMixture(2, family=family, random_state=3).fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(a.params_.flat(), b.params_.flat(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=1e-8)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-10)


def test_fractional_weights_only_their_ratios_matter():
    X, _ = make_mixture("poisson", 500, 2, 3, random_state=6)
    w = np.random.default_rng(1).uniform(0.1, 2.0, size=500)
    a = FiniteMixture(2, family="poisson", random_state=0).fit(X, sample_weight=w)
    b = FiniteMixture(2, family="poisson", random_state=0).fit(X, sample_weight=w * 1e-3)
    np.testing.assert_allclose(a.params_.rate, b.params_.rate, rtol=1e-7)
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=1e-7)


def test_merged_chunk_statistics_fit_like_the_whole_data():
    """Out-of-core route: map chunks to UniqueRows, merge, fit values with counts."""
    from kmix.stats import UniqueRows

    X, _ = make_mixture("bernoulli", 6000, 2, 6, random_state=8)
    stat = UniqueRows.empty(6)
    for chunk in np.array_split(X, 5):
        stat.update(chunk)
    a = FiniteMixture(2, family="bernoulli", random_state=1).fit(
        stat.values, sample_weight=stat.counts
    )
    b = FiniteMixture(2, family="bernoulli", random_state=1).fit(X)
    np.testing.assert_allclose(a.params_.p, b.params_.p, rtol=1e-10)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-12)


def test_sample_follows_the_fitted_model():
    X, _ = marbles(5000, random_state=0)
    model = FiniteMixture(2, family="bernoulli", fixed_params={"p": [[0.8], [0.3]]}).fit(X)
    draws, labels = model.sample(200_000, random_state=0)
    assert draws.shape == (200_000, 1)
    # frequencies of labels and reds within 5 standard errors of the model's values
    se = 0.5 / np.sqrt(200_000)
    assert abs(labels.mean() - model.weights_[1]) < 5 * se
    p_red = 0.8 * model.weights_[0] + 0.3 * model.weights_[1]
    assert abs(draws.mean() - p_red) < 5 * se


def _spy_fit(monkeypatch, estimator, X, **fit_kw):
    """Fit while recording what the estimator hands to run_em."""
    import kmix.estimators.finite as finite

    seen: dict[str, object] = {}
    real_run_em = finite.run_em

    def spy_run_em(family, prepared, counts, k, **kw):
        seen.update(kw, k=k, family=family, prepared=prepared)
        seen["rng_state"] = kw["rng"].bit_generator.state
        return real_run_em(family, prepared, counts, k, **kw)

    monkeypatch.setattr(finite, "run_em", spy_run_em)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # not what this test is about
        estimator.fit(X, **fit_kw)
    return seen


def test_every_hyper_parameter_reaches_the_solver(monkeypatch):
    """Each constructor argument must change what fit() hands to the solver."""
    X = np.random.default_rng(0).normal(size=(60, 2))
    checks: dict[str, bool] = {}

    def callback(progress):
        return None

    start = {"means": [[-1.0, 0.0], [1.0, 0.0]], "covariances": [[1.0, 1.0], [1.0, 1.0]]}
    seen = _spy_fit(
        monkeypatch,
        FiniteMixture(
            2,
            family="gaussian",
            covariance_type="diag",
            var_floor=1e-3,
            init="random",
            n_init=2,
            tol=1e-5,
            max_iter=50,
            random_state=3,
            callback=callback,
            params_init=start,
            weights_init=[0.4, 0.6],
        ),
        X,
    )
    fam = seen["family"]
    checks["n_components"] = seen["k"] == 2
    checks["family"] = fam.name == "gaussian"
    checks["covariance_type"] = fam.covariance_type == "diag"
    checks["var_floor"] = fam.var_floor == 1e-3
    checks["init"] = seen["init"] == "random"
    checks["n_init"] = seen["n_init"] == 2
    checks["tol"] = seen["tol"] == 1e-5
    checks["max_iter"] = seen["max_iter"] == 50
    checks["callback"] = seen["callback"] is callback
    checks["weights_init"] = np.allclose(seen["weights_init"], [0.4, 0.6])
    checks["params_init"] = np.allclose(seen["params_init"].means, start["means"])
    checks["random_state"] = seen["rng_state"] == np.random.default_rng(3).bit_generator.state

    bits = (np.random.default_rng(1).random((80, 3)) < 0.5).astype(int)
    seen = _spy_fit(monkeypatch, FiniteMixture(2, family="bernoulli", alpha=1.5), bits)
    checks["alpha"] = seen["family"].alpha == 1.5
    fixed = {"p": [[0.2, 0.5, 0.7], [0.6, 0.5, 0.1]]}
    seen = _spy_fit(monkeypatch, FiniteMixture(2, family="bernoulli", fixed_params=fixed), bits)
    checks["fixed_params"] = not seen["learn_params"] and np.allclose(
        seen["params_init"].p, fixed["p"]
    )
    seen = _spy_fit(
        monkeypatch, FiniteMixture(2, family="bernoulli", fixed_weights=[0.3, 0.7]), bits
    )
    checks["fixed_weights"] = not seen["learn_weights"] and np.allclose(
        seen["weights_init"], [0.3, 0.7]
    )
    seen = _spy_fit(monkeypatch, FiniteMixture(2, family="binomial", n_trials=7), bits)
    checks["n_trials"] = bool(np.all(seen["prepared"][1] == 7))  # the trials column
    one = bits[:, :1]  # one binary column: two classes are not identified
    with pytest.raises(IdentifiabilityError, match=r"3 parameters exceed the 1 free cells"):
        _spy_fit(monkeypatch, FiniteMixture(2, family="bernoulli"), one)
    with pytest.warns(UserWarning, match="not identifiable"):
        seen = _spy_fit(
            monkeypatch, FiniteMixture(2, family="bernoulli", allow_unidentified=True), one
        )
    checks["allow_unidentified"] = seen["k"] == 2
    gappy = X.copy()
    gappy[[3, 7], 1] = np.nan
    with pytest.warns(UserWarning, match="dropped 2 of 60 rows"):
        seen = _spy_fit(monkeypatch, FiniteMixture(2, missing="drop", random_state=0), gappy)
    checks["missing"] = seen["prepared"].shape == (58, 2)

    assert set(FiniteMixture().get_params()) == set(checks)
    assert all(checks.values()), {k: v for k, v in checks.items() if not v}


def test_options_that_do_not_apply_to_the_family_are_errors():
    bits = np.array([[0, 1], [1, 1], [1, 0]])
    with pytest.raises(DataError, match=r"alpha=2\.0 does not apply to the gaussian family"):
        FiniteMixture(1, alpha=2.0).fit(bits)
    with pytest.raises(DataError, match=r"var_floor=0\.1 does not apply to the bernoulli"):
        FiniteMixture(1, family="bernoulli", var_floor=0.1).fit(bits)
    with pytest.raises(DataError, match="n_trials=5 applies to the binomial family only"):
        FiniteMixture(1, family="bernoulli", n_trials=5).fit(bits)
    with pytest.raises(DataError, match="params_init has no use when fixed_params is given"):
        FiniteMixture(
            2, family="bernoulli", fixed_params={"p": [[0.5] * 2] * 2}, params_init={"p": 1}
        ).fit(bits)
    with pytest.raises(DataError, match=r"fixed_weights\[1\] = 0"):
        FiniteMixture(2, family="bernoulli", fixed_weights=[1.0, 0.0]).fit(bits)


def test_fixed_weights_learn_only_components():
    X, truth = make_mixture("bernoulli", 20_000, 2, 6, weights=[0.3, 0.7], random_state=9)
    model = FiniteMixture(
        2, family="bernoulli", fixed_weights=[0.3, 0.7], n_init=3, random_state=0
    ).fit(X)
    np.testing.assert_array_equal(model.weights_, [0.3, 0.7])
    err = parameter_errors(truth, Mixture(model.weights_, model.params_))
    assert err.params < 0.03


def test_n_trials_option_is_used_by_fit_and_predict():
    X, _ = make_mixture("binomial", 3000, 2, 3, n_trials=5, random_state=1)
    model = FiniteMixture(2, family="binomial", n_trials=5, random_state=0).fit(X)
    assert model.predict_proba(X).shape == (3000, 2)
    explicit = FiniteMixture(2, family="binomial", random_state=0).fit(X, n_trials=5)
    np.testing.assert_allclose(model.params_.p, explicit.params_.p)


def test_auto_init_picks_random_for_discrete_and_kmeanspp_for_gaussian(monkeypatch):
    bits = (np.random.default_rng(1).random((80, 3)) < 0.5).astype(int)
    assert _spy_fit(monkeypatch, FiniteMixture(2, family="bernoulli"), bits)["init"] == "random"
    reals = np.random.default_rng(2).normal(size=(80, 2))
    assert _spy_fit(monkeypatch, FiniteMixture(2), reals)["init"] == "kmeans++"


# ----------------------------------------------------------------------------- bad input
def test_empty_data():
    with pytest.raises(DataError, match="0 sample"):
        fit_finite(np.empty((0, 3)))


@pytest.mark.parametrize("X", [np.array([0, 1, 1, 0]), np.zeros((2, 2, 2))])
def test_wrong_dimensionality(X):
    with pytest.raises(DataError, match=r"2D|2-d|dim"):
        fit_finite(X)


def test_predict_with_other_number_of_features():
    model = fit_finite(BERNOULLI)
    with pytest.raises(DataError, match="X has 2 features, but FiniteMixture is expecting 3"):
        model.predict(BERNOULLI[:, :2])


@pytest.mark.parametrize("k", [0, -1])
def test_n_components_below_one(k):
    with pytest.raises(DataError, match=f"n_components must be >= 1; got {k}"):
        fit_finite(BERNOULLI, n_components=k)


def test_n_components_not_an_integer():
    with pytest.raises(DataError, match=r"n_components must be an integer; got 2\.5"):
        fit_finite(BERNOULLI, n_components=2.5)


def test_more_components_than_unique_rows():
    X = np.array([[0, 1]] * 10 + [[1, 1]] * 5)
    with pytest.raises(DataError, match="n_components=3 exceeds the 2 distinct rows"):
        fit_finite(X, n_components=3)


def test_fixed_params_of_the_wrong_shape():
    with pytest.raises(DataError, match=r"fixed_params: p must have shape \(2, 3\); got \(2, 1\)"):
        fit_finite(BERNOULLI, fixed_params={"p": [[0.8], [0.3]]})


def test_fixed_params_outside_unit_interval():
    p = [[0.8, 0.5, 1.3], [0.3, 0.5, 0.5]]
    with pytest.raises(DataError, match=r"p\[0, 2\] = 1.3 lies outside \[0, 1\]"):
        fit_finite(BERNOULLI, fixed_params={"p": p})


def test_fixed_params_with_the_wrong_key():
    with pytest.raises(DataError, match="need key 'p'; got keys \\['mean'\\]"):
        fit_finite(BERNOULLI, fixed_params={"mean": [[0.5] * 3] * 2})


def test_fixed_weights_not_on_the_simplex():
    with pytest.raises(DataError, match="fixed_weights: weights must sum to 1"):
        fit_finite(BERNOULLI, fixed_weights=[0.5, 0.6])


def test_both_parts_fixed():
    with pytest.raises(DataError, match="nothing is left to learn"):
        fit_finite(BERNOULLI, fixed_weights=[0.5, 0.5], fixed_params={"p": [[0.5] * 3] * 2})


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("family", "gamma", "family='gamma' is not valid; choose one of 'bernoulli'"),
        (
            "init",
            "spectral",
            "init='spectral' is not valid; choose one of 'auto', 'kmeans\\+\\+', 'random'",
        ),
        ("covariance_type", "tied", "covariance_type='tied' is not valid"),
        ("alpha", 0.5, "alpha must be a finite number >= 1.0; got 0.5"),
        ("tol", -1.0, "tol must be a finite number >= 0.0"),
        ("max_iter", 0, "max_iter must be >= 1; got 0"),
        ("n_init", 0, "n_init must be >= 1; got 0"),
        ("var_floor", float("nan"), "var_floor must be a finite number"),
        (
            "random_state",
            "seed",
            "random_state must be None, a non-negative int or a numpy Generator",
        ),
    ],
)
def test_bad_options_are_named(option, value, match):
    with pytest.raises(DataError, match=match):
        fit_finite(BERNOULLI, **{option: value})


def test_unfitted_model_cannot_predict():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        FiniteMixture(2).predict(np.zeros((2, 2)))


# --------------------------------------------- EM review 5: a fitted weight of exactly 0
def test_zero_weight_component_has_posterior_exactly_zero(tmp_path):
    """Reference: Bayes' rule, P(u | x) = pi_u f_u(x) / p(x) = 0 when pi_u = 0."""
    X, _ = marbles(2000, random_state=0)
    model = FiniteMixture(2, family="bernoulli", fixed_params=MARBLES_P).fit(X)
    document = json.loads(io.dumps(model))
    document["fitted"]["weights_"] = [1.0, 0.0]
    document["sha256"] = io.document_checksum(document)
    loaded = io.from_document(document)
    proba = loaded.predict_proba(np.array([[1], [0]]))
    assert not np.isnan(proba).any()
    np.testing.assert_array_equal(proba, [[1.0, 0.0], [1.0, 0.0]])
    # the density is that of component 0 alone
    np.testing.assert_allclose(loaded.score_samples(np.array([[1], [0]])), np.log([0.8, 0.2]))


def test_boundary_fit_gives_an_exact_zero_and_a_zero_posterior():
    """Reference: the closed form clip((p_red - 0.3) / 0.5, 0, 1) = 0 of the seed."""
    X, _ = marbles(10_000, p_red=[0.8, 0.25], weights=[0.0, 1.0], random_state=1)
    model = FiniteMixture(2, family="bernoulli", fixed_params=MARBLES_P).fit(X)
    assert model.weights_[0] == 0.0
    proba = model.predict_proba(np.array([[1], [0]]))
    assert not np.isnan(proba).any()
    np.testing.assert_array_equal(proba[:, 0], [0.0, 0.0])


# --------------------------------------------------------- EM review 8: zero-weight rows
def test_zero_weight_rows_drop_their_per_row_trials_too():
    """Reference: the binomial fit on X and n_trials without the zero-weight rows."""
    rng = np.random.default_rng(4)
    trials = rng.integers(2, 9, size=400)
    X = rng.binomial(trials, np.where(rng.random(400) < 0.4, 0.2, 0.7))[:, None]
    w = (rng.random(400) < 0.8).astype(float)
    a = FiniteMixture(2, family="binomial", random_state=0).fit(X, sample_weight=w, n_trials=trials)
    keep = w > 0
    b = FiniteMixture(2, family="binomial", random_state=0).fit(X[keep], n_trials=trials[keep])
    np.testing.assert_allclose(a.params_.p, b.params_.p, rtol=1e-10)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-12)


def test_zero_weight_rows_are_still_checked():
    """Reference: the family's rules; a 2 is not a bernoulli value whatever its weight."""
    X = np.array([[0], [1], [2]])
    with pytest.raises(DataError, match=r"X\[2, 0\] = 2"):
        FiniteMixture(1, family="bernoulli").fit(X, sample_weight=[1.0, 1.0, 0.0])


# -------------------------------------------------- EM review 9: options that do nothing
def test_alpha_with_fixed_params_warns():
    """Reference: with fixed components no probability is smoothed, so alpha does nothing."""
    X, _ = marbles(500, random_state=0)
    with pytest.warns(UserWarning, match=r"alpha=2 has no effect with fixed_params"):
        smoothed = FiniteMixture(2, family="bernoulli", alpha=2.0, fixed_params=MARBLES_P).fit(X)
    plain = FiniteMixture(2, family="bernoulli", fixed_params=MARBLES_P).fit(X)
    np.testing.assert_allclose(smoothed.weights_, plain.weights_, rtol=1e-12)


def test_n_trials_for_another_family_is_an_error():
    """Reference: n_trials has a meaning for the binomial family only."""
    bits = np.array([[0, 1], [1, 1], [1, 0]])
    model = FiniteMixture(1, family="bernoulli")
    with pytest.raises(DataError, match="n_trials was passed but applies to the binomial"):
        model.fit(bits, n_trials=5)
    model.fit(bits)
    with pytest.raises(DataError, match="n_trials was passed but applies to the binomial"):
        model.predict(bits, n_trials=5)


# ------------------------------------------------------------ identifiability
def test_one_binary_column_cannot_identify_two_classes():
    """Reference: P(x = 1) is one number; two classes have three parameters. ProductMixture's
    identifiability check and message apply to the bernoulli family as they are."""
    from kmix import ProductMixture

    X = (np.random.default_rng(0).random((500, 1)) < 0.4).astype(int)
    with pytest.raises(IdentifiabilityError) as finite:
        FiniteMixture(2, family="bernoulli").fit(X)
    with pytest.raises(IdentifiabilityError) as product:
        ProductMixture(2).fit(X)
    assert str(finite.value) == str(product.value)
    assert "3 parameters exceed the 1 free cells of the table" in str(finite.value)
    # known components leave only the weight, which one column identifies
    fixed = FiniteMixture(2, family="bernoulli", fixed_params={"p": [[0.8], [0.3]]}).fit(X)
    assert fixed.weights_.shape == (2,)


def test_one_binomial_feature_needs_2k_minus_1_trials():
    """Reference: the k-coin bound (Teicher 1963): k coins need 2k - 1 flips per trial."""
    X = np.random.default_rng(1).binomial(4, 0.3, size=(500, 1))
    with pytest.raises(
        IdentifiabilityError, match=r"one binomial feature of 4 trials: t < 2k - 1 = 5"
    ):
        FiniteMixture(3, family="binomial", n_trials=4).fit(X)
    FiniteMixture(2, family="binomial", n_trials=4, random_state=0).fit(X)  # 4 >= 3


def test_poisson_and_gaussian_mixtures_are_identified_from_one_column():
    """Reference: Teicher (1961) for Poisson, Yakowitz & Spragins (1968) for gaussian mixtures."""
    rng = np.random.default_rng(2)
    counts = np.concatenate([rng.poisson(2, 300), rng.poisson(9, 300)])[:, None]
    FiniteMixture(2, family="poisson", random_state=0).fit(counts)
    FiniteMixture(2, family="gaussian", random_state=0).fit(counts.astype(float))


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_a_class_of_one_row_in_a_thousand_is_found(seed):
    """Reference: EM started at the true parameters, to convergence. Eight binary features,
    weights 0.999 / 0.001 (about 100 rows of 100,000): random starts end up to 250 nats
    below the maximum with the rare class merged away; the latent class start finds it."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, size=(2, 8))
    z = (rng.random(100_000) < 0.001).astype(int)
    X = (rng.random((100_000, 8)) < p[z]).astype(int)
    reference = FiniteMixture(
        2,
        family="bernoulli",
        params_init={"p": p},
        weights_init=[0.999, 0.001],
        n_init=1,
        max_iter=50_000,
    ).fit(X)
    model = FiniteMixture(2, family="bernoulli", random_state=0).fit(X)
    assert model.log_likelihood_ >= reference.log_likelihood_ - 1e-6 * X.shape[0]
    # the rare class (its maximum-likelihood weight is 0.004 to 0.03 here, the likelihood being
    # flat), not a 0.3 / 0.7 split of the large one
    assert model.weights_[1] < 0.05


def test_small_random_tables_fit_or_are_refused_cleanly():
    """Reference: kmix's own validation. Small random bernoulli/categorical tables with zero
    weights, smoothing and few iterations either fit or are refused with a KmixError; the
    latent class start's probabilities (a rounding error above 1 on seed 287) must not
    trip the parameter checks."""
    from kmix.exceptions import KmixError

    for seed in range(270, 300):
        r = np.random.default_rng(seed)
        n, d, k = int(r.integers(3, 60)), int(r.integers(1, 8)), int(r.integers(2, 5))
        family = str(r.choice(["bernoulli", "categorical"]))
        if family == "bernoulli":
            X = (r.random((n, d)) < r.random(d)).astype(int)
        else:
            X = np.array(["a", "b", "c", "d"])[r.integers(0, int(r.integers(1, 5)), (n, d))]
        weight = None
        if r.random() < 0.4:
            weight = r.integers(0, 3, n).astype(float)
            weight[0] = 1
        options = {
            "family": family,
            "random_state": seed,
            "allow_unidentified": bool(r.random() < 0.3),
            "alpha": float(r.choice([1.0, 1.0, 2.5])),
            "n_init": int(r.choice([1, 1, 3])),
            "max_iter": int(r.choice([1, 5, 200])),
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                FiniteMixture(k, **options).fit(X, sample_weight=weight)
            except KmixError as exc:
                assert "lies outside" not in str(exc), (seed, exc)


# ------------------------------------------------------------------------- missing cells
def _gappy(family="gaussian", n=600, share=0.2, seed=0, **extra):
    X, truth = make_mixture(family, n, 2, 3, random_state=seed, **extra)
    X = X.astype(np.float64)
    X[np.random.default_rng(seed).random(X.shape) < share] = np.nan
    X[:, 0][np.isnan(X).all(axis=1)] = 1.0  # no row without an observed cell
    return X, truth


@pytest.mark.parametrize("family", ["gaussian", "bernoulli", "categorical", "poisson"])
def test_complete_data_fit_alike_under_every_missing_option(family):
    """Reference: the default fit; complete data never meet the missing-value policy."""
    X, _ = make_mixture(family, 800, 2, 4, random_state=3)
    fits = [
        FiniteMixture(2, family=family, missing=m, random_state=1).fit(X)
        for m in ("fiml", "drop", "error")
    ]
    for other in fits[1:]:
        assert other.log_likelihood_ == fits[0].log_likelihood_
        np.testing.assert_array_equal(other.params_.flat(), fits[0].params_.flat())
    assert fits[0].n_missing_.tolist() == [0] * 4 and fits[1].n_rows_dropped_ == 0


@pytest.mark.parametrize("family", ["gaussian", "bernoulli"])
def test_drop_fits_the_complete_rows(family):
    """Reference: the same model fitted to the complete rows alone."""
    X, _ = _gappy(family)
    complete = ~np.isnan(X).any(axis=1)
    with pytest.warns(UserWarning, match=f"dropped {int((~complete).sum())} of 600 rows"):
        model = FiniteMixture(2, family=family, missing="drop", random_state=0).fit(X)
    ref = FiniteMixture(2, family=family, random_state=0).fit(X[complete])
    assert model.log_likelihood_ == pytest.approx(ref.log_likelihood_, rel=1e-12)
    assert model.n_rows_dropped_ == int((~complete).sum())
    assert model.n_samples_ == complete.sum()
    np.testing.assert_array_equal(model.n_missing_, np.isnan(X).sum(axis=0))
    # rows with gaps are still scored, by their observed cells
    assert np.all(np.isfinite(model.score_samples(X)))


def test_rows_without_an_observed_cell_count_but_add_nothing():
    """Reference: the fit without those rows, from the same start."""
    X, truth = _gappy()
    blank = np.full((3, 3), np.nan)
    start = {"params_init": truth.params.to_dict(), "weights_init": [0.5, 0.5], "n_init": 1}
    ref = FiniteMixture(2, **start).fit(X)
    with pytest.warns(UserWarning, match=r"3 row\(s\) of X have every value missing") as got:
        model = FiniteMixture(2, **start).fit(np.vstack([X[:5], blank, X[5:]]))
    assert len([w for w in got if "every value missing" in str(w.message)]) == 1
    assert model.log_likelihood_ == pytest.approx(ref.log_likelihood_, rel=1e-12)
    np.testing.assert_allclose(model.params_.means, ref.params_.means, rtol=1e-12)
    assert model.n_samples_ == X.shape[0] + 3  # counted...
    lse = model.score_samples(blank)
    np.testing.assert_array_equal(lse, 0.0)  # ...with likelihood 1
    np.testing.assert_allclose(model.predict_proba(blank), np.tile(model.weights_, (3, 1)))
    assert model.bic() == pytest.approx(model.bic(np.vstack([X, blank])), rel=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_posteriors_of_rows_with_gaps_use_the_observed_cells(covariance_type):
    """Reference: Bayes' rule with scipy's density of each row's observed block."""
    from scipy import stats

    X, _ = _gappy(covariance_type=covariance_type)
    model = FiniteMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    p = model.params_
    covs = p.covariances if covariance_type == "full" else [np.diag(v) for v in p.covariances]
    rows = X[:40]
    joint = np.empty((40, 2))
    for s, row in enumerate(rows):
        o = ~np.isnan(row)
        for u in range(2):
            joint[s, u] = np.log(model.weights_[u]) + stats.multivariate_normal.logpdf(
                row[o], p.means[u, o], covs[u][np.ix_(o, o)]
            )
    lse = np.logaddexp(joint[:, 0], joint[:, 1])
    np.testing.assert_allclose(model.score_samples(rows), lse, rtol=1e-10)
    np.testing.assert_allclose(model.predict_proba(rows), np.exp(joint - lse[:, None]), atol=1e-12)


def test_sample_draws_complete_rows():
    """Reference: the model's weights; sampling does not depend on the training gaps."""
    X, _ = _gappy(share=0.3)
    model = FiniteMixture(2, random_state=0).fit(X)
    draws, labels = model.sample(20_000, random_state=1)
    assert not np.isnan(draws).any()
    assert abs(labels.mean() - model.weights_[1]) < 5 * 0.5 / np.sqrt(20_000)


@pytest.mark.parametrize("family", ["gaussian", "bernoulli"])
def test_fiml_estimates_are_no_worse_than_listwise_deletion(family):
    """Reference: the true parameters. Cells of columns 1.. missing at random (MAR): 45% of
    them in rows whose column 0 lies above its mean, 5% elsewhere, so that the complete rows
    under-represent one component; the parameter error of full-information maximum
    likelihood must not exceed that of listwise deletion on at least 8 of 10 seeds."""
    n, d = (2000, 4) if family == "gaussian" else (4000, 6)
    wins = []
    for seed in range(10):
        X, truth = make_mixture(family, n, 2, d, random_state=seed)
        X = X.astype(np.float64)
        rng = np.random.default_rng(seed)
        gaps = rng.random(X.shape) < np.where(X[:, 0] > X[:, 0].mean(), 0.45, 0.05)[:, None]
        gaps[:, 0] = False
        X[gaps] = np.nan
        errors = []
        for missing in ("fiml", "drop"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # the rows dropped
                model = FiniteMixture(2, family=family, missing=missing, random_state=0).fit(X)
            errors.append(parameter_errors(truth, Mixture(model.weights_, model.params_)).params)
        wins.append(errors[0] <= errors[1])
    assert sum(wins) >= 8, wins


def test_missing_markers_are_read_as_gaps(tmp_path):
    """Reference: the same table with NaN in the missing cells (None in an object array,
    pandas' NA in nullable and object columns, empty fields of a CSV file)."""
    import pandas as pd

    from kmix.data import read_table

    X, _ = _gappy("poisson", n=300)
    ref = FiniteMixture(2, family="poisson", random_state=0).fit(X)
    gaps = np.isnan(X)
    with_none = X.astype(object)
    with_none[gaps] = None
    nullable = pd.DataFrame({f"c{j}": pd.array(X[:, j], dtype="Float64") for j in range(3)})
    nullable = nullable.mask(pd.DataFrame(gaps, columns=nullable.columns), pd.NA)
    as_objects = pd.DataFrame(with_none.copy(), columns=["a", "b", "c"])
    as_objects[as_objects.isna()] = pd.NA
    csv = tmp_path / "gaps.csv"
    lines = [",".join("" if np.isnan(v) else str(int(v)) for v in row) for row in X]
    csv.write_text("a,b,c\n" + "\n".join(lines) + "\n", encoding="utf-8")
    for data in (with_none, nullable, as_objects, read_table(csv).values):
        model = FiniteMixture(2, family="poisson", random_state=0).fit(data)
        assert model.log_likelihood_ == pytest.approx(ref.log_likelihood_, rel=1e-12)
        np.testing.assert_array_equal(model.n_missing_, gaps.sum(axis=0))
    assert list(FiniteMixture(2, family="poisson").fit(as_objects).feature_names_in_) == [
        "a",
        "b",
        "c",
    ]


def test_categorical_labels_with_gaps():
    """Reference: the levels seen in the observed cells; a gap (None, NaN, pandas' NA) is no
    level."""
    import pandas as pd

    X = np.array(
        [["a", "x", None], ["b", pd.NA, "u"], [np.nan, "y", "v"], ["a", "x", "u"], ["b", "y", "v"]]
        * 40,
        dtype=object,
    )
    model = FiniteMixture(2, family="categorical", random_state=0).fit(X)
    assert [c.tolist() for c in model.categories_] == [["a", "b"], ["x", "y"], ["u", "v"]]
    np.testing.assert_array_equal(model.n_missing_, [40, 40, 40])
    assert np.all(np.isfinite(model.score_samples(X)))


def test_weight_zero_rows_leave_the_missing_counts():
    X, _ = _gappy()
    w = np.ones(X.shape[0])
    w[:100] = 0.0
    model = FiniteMixture(2, random_state=0).fit(X, sample_weight=w)
    np.testing.assert_array_equal(model.n_missing_, np.isnan(X[100:]).sum(axis=0))


def test_missing_error_names_the_first_cell_and_the_options():
    X, _ = _gappy()
    i, j = (int(v) for v in np.argwhere(np.isnan(X))[0])
    with pytest.raises(
        DataError, match=rf"X\[{i}, {j}\] \(column {j}\) is a missing value.*missing='fiml'"
    ):
        FiniteMixture(2, missing="error").fit(X)
    model = FiniteMixture(2, missing="error", random_state=0).fit(X[~np.isnan(X).any(axis=1)])
    with pytest.raises(DataError, match="fitted with missing='error'; refit with missing='fiml'"):
        model.predict(X)


def test_a_column_without_any_observed_value_is_named():
    X, _ = _gappy()
    X[:, 2] = np.nan
    for missing in ("fiml", "drop"):
        with pytest.raises(DataError, match="column 2 of X has no observed value"):
            FiniteMixture(2, missing=missing).fit(X)
    import pandas as pd

    frame = pd.DataFrame(X, columns=["height", "weight", "age"])
    with pytest.raises(DataError, match=r"column 2 \('age'\) of X has no observed value"):
        FiniteMixture(2).fit(frame)


def test_drop_with_no_complete_row_and_bad_option_values():
    X, _ = _gappy(share=0.9)
    with pytest.raises(DataError, match="missing='drop' leaves no row to fit"):
        FiniteMixture(2, missing="drop").fit(X)
    with pytest.raises(DataError, match=r"missing='impute' is not valid; choose one of 'drop'"):
        FiniteMixture(2, missing="impute").fit(X)


def test_infinite_values_are_no_missing_values():
    X, _ = _gappy()
    X[5, 1] = np.inf
    with pytest.raises(DataError, match=r"X\[5, 1\] \(column 1\) = inf: infinite values"):
        FiniteMixture(2).fit(X)


def test_several_starts_with_gaps_return_the_best():
    """Reference: the restarts' own final log-likelihoods (em-EM schedule over gappy data)."""
    X, _ = _gappy(n=1500, share=0.3, seed=4)
    model = FiniteMixture(2, n_init=5, random_state=2).fit(X)
    assert model.log_likelihood_ == pytest.approx(max(model.restart_log_likelihoods_), abs=1e-9)
    assert np.all(np.diff(model.history_) >= -1e-9 * abs(model.history_[-1]))


@pytest.mark.parametrize(("seed", "share"), [(3, 0.2), (4, 0.4), (7, 0.4)])
def test_latent_class_start_from_complete_rows_is_not_trapped(seed, share):
    """Reference: the best of ten random starts. The latent class start fitted to the complete
    rows alone held probabilities of exactly 0 or 1 that EM over every row can never leave
    (these cases ended 4.6 to 116 nats below that reference before such probabilities were
    pulled towards uniform)."""
    X, _ = make_mixture("bernoulli", 5000, 3, 8, random_state=seed)
    X = X.astype(np.float64)
    X[np.random.default_rng(seed).random(X.shape) < share] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rows with every cell missing
        model = FiniteMixture(3, family="bernoulli", random_state=seed).fit(X)
        ref = FiniteMixture(3, family="bernoulli", init="random", n_init=10, random_state=seed).fit(
            X
        )
    assert len(model.restart_log_likelihoods_) == 1  # the latent class start alone
    assert model.log_likelihood_ >= ref.log_likelihood_ - 0.05


def test_too_few_complete_rows_for_a_latent_class_start_take_random_starts():
    """Reference: the n_init="auto" policy of the families without a latent class start."""
    X, _ = make_mixture("bernoulli", 400, 2, 4, random_state=1)
    X = X.astype(np.float64)
    X[np.arange(400), np.arange(400) % 4] = np.nan  # every row has a gap
    model = FiniteMixture(2, family="bernoulli", random_state=0).fit(X)
    assert len(model.restart_log_likelihoods_) == 4
    assert model.log_likelihood_ == pytest.approx(max(model.restart_log_likelihoods_))


def _climbs(history: np.ndarray, rtol: float = 1e-9) -> bool:
    """Whether ``history`` never falls by more than ``rtol`` of its last value's size."""
    return bool(np.all(np.diff(history) >= -rtol * abs(history[-1])))


@pytest.mark.parametrize(
    "options",
    [
        {"family": "gaussian", "n_init": 3},
        {"family": "bernoulli", "init": "random", "n_init": 2},
        {"family": "bernoulli"},  # EM from the latent class start
        {"family": "bernoulli", "fixed_params": {"p": [[0.8, 0.7, 0.6], [0.3, 0.2, 0.4]]}},
    ],
    ids=["gaussian", "bernoulli-random", "bernoulli-latent-start", "fixed-params"],
)
def test_log_likelihood_history_climbs_to_log_likelihood(options):
    """Reference: EM never lowers the log-likelihood (Dempster, Laird & Rubin 1977), so the
    kept start's history climbs (to rounding) to log_likelihood_; one entry per E-step,
    ``n_iter_ + 1``, plus the Newton polish's value when it moved fixed_params' weights."""
    rng = np.random.default_rng(5)
    if options["family"] == "gaussian":
        X = np.concatenate([rng.normal(0.0, 1.0, (300, 2)), rng.normal(2.5, 1.0, (200, 2))])
    else:
        p = np.where(rng.random(600) < 0.4, 0.75, 0.25)[:, None]
        X = (rng.random((600, 3)) < p).astype(int)
    model = FiniteMixture(2, random_state=0, **options).fit(X)
    h = model.log_likelihood_history_
    assert isinstance(h, np.ndarray) and h.dtype == np.float64 and h.ndim == 1
    assert h[-1] == model.log_likelihood_
    assert _climbs(h)
    np.testing.assert_array_equal(h, model.history_)  # alpha = 1: no log-prior
    if "fixed_params" in options:
        assert len(h) in (model.n_iter_ + 1, model.n_iter_ + 2)
    else:
        assert len(h) == model.n_iter_ + 1


def test_log_likelihood_history_leaves_out_the_log_prior():
    """Reference: the Dirichlet log-prior of the returned parameters, by which history_
    (the objective EM climbs when alpha > 1) ends above log_likelihood_history_, whose
    last entry is log_likelihood_."""
    rng = np.random.default_rng(6)
    X = (rng.random((600, 4)) < np.where(rng.random(600) < 0.4, 0.85, 0.15)[:, None]).astype(int)
    model = FiniteMixture(2, family="bernoulli", alpha=2.0, init="random", random_state=0)
    model.fit(X)
    h = model.log_likelihood_history_
    assert h[-1] == model.log_likelihood_ and len(h) == len(model.history_) == model.n_iter_ + 1
    prior = model.family_.log_prior(model.params_)
    assert model.history_[-1] == pytest.approx(h[-1] + prior, rel=1e-14)
    assert _climbs(model.history_)


def test_log_likelihood_history_of_the_covariate_and_pass_paths(tmp_path):
    """Reference: the EM of each path, one entry per E-step (``n_iter_ + 1``), climbing
    to log_likelihood_ (for the covariates, EM with a Newton step for the logit is a
    generalised EM: it still never lowers the log-likelihood)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")

    rng = np.random.default_rng(7)
    z = rng.normal(size=500)
    u = rng.random(500) < 1.0 / (1.0 + np.exp(-1.5 * z))
    X = rng.normal(size=(500, 2)) + 3.0 * u[:, None]
    covariates = FiniteMixture(2, random_state=0).fit(X, covariates=z[:, None])
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"a": X[:, 0], "b": X[:, 1]}), path, row_group_size=100)
    passes = FiniteMixture(2, random_state=0).fit(as_source(path))
    for model in (covariates, passes):
        h = model.log_likelihood_history_
        assert h.dtype == np.float64 and h[-1] == model.log_likelihood_
        assert len(h) == model.n_iter_ + 1 and _climbs(h)

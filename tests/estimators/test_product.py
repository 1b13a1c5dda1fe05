"""ProductMixture: the latent class estimator (kmix.estimators.product).

References: exact population tables (every response pattern with its exact
probability as the row weight); independent EM fits (FiniteMixture) for the
likelihood; the 2k - 1 identifiability bound; the published maximum-likelihood
estimates of the bundled surveys.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from kmix import FiniteMixture, ProductMixture
from kmix.exceptions import DataError, IdentifiabilityError
from kmix.solvers.linalg import best_permutation
from tests.helpers.latent_class import max_error, population, separated


@pytest.fixture(scope="module")
def survey():
    rng = np.random.default_rng(11)
    k, n, N = 3, 8, 60_000
    P, w = separated(k, n, rng, sep=0.25), np.array([0.5, 0.3, 0.2])
    z = rng.choice(k, size=N, p=w)
    X = (rng.random((N, n)) < P[z]).astype(int)
    return X, P, w


def test_product_mixture_recovers_and_matches_em(survey):
    X, P, w = survey
    model = ProductMixture(3, random_state=0).fit(X)
    assert model.probs_.shape == (3, 8)
    assert max_error(w, P, model.weights_, model.probs_) < 0.03
    assert np.all(np.diff(model.weights_) <= 0)  # largest class first
    # the same maximum as the best of several random-start EM runs
    best = max(
        (
            FiniteMixture(3, family="bernoulli", init="random", random_state=r).fit(X)
            for r in range(5)
        ),
        key=lambda m: m.log_likelihood_,
    )
    assert model.log_likelihood_ >= best.log_likelihood_ - 1e-6 * abs(best.log_likelihood_)
    assert model.views_ and model.singular_values_.shape[0] >= 3
    assert "2k - 1" in model.identifiability_


def test_inference_methods(survey):
    X, _, _ = survey
    model = ProductMixture(3, random_state=0).fit(X)
    proba = model.predict_proba(X[:100])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # independent: log sum_u pi_u prod_j p^x (1 - p)^(1 - x)
    x = X[:100]
    lik = np.prod(np.where(x[:, None, :] == 1, model.probs_[None], 1 - model.probs_[None]), axis=2)
    np.testing.assert_allclose(model.score_samples(x), np.log(lik @ model.weights_), atol=1e-10)
    assert model.bic() == pytest.approx(
        -2 * model.log_likelihood_ + model.n_parameters() * np.log(X.shape[0])
    )
    assert model.n_parameters() == 2 + 3 * 8
    Xs, _labels = model.sample(2000)
    assert Xs.shape == (2000, 8) and set(np.unique(Xs)) <= {0, 1}
    table = model.class_table()
    assert len(table["probability"]) == 3 * 8 * 2


def test_string_labels_and_categories():
    rng = np.random.default_rng(2)
    z = rng.random(20_000) < 0.4
    cols = [np.where(rng.random(20_000) < np.where(z, 0.8, 0.2), "yes", "no") for _ in range(5)]
    X = np.stack(cols, axis=1).astype(object)
    model = ProductMixture(2, random_state=0).fit(X)
    assert [c.tolist() for c in model.categories_] == [["no", "yes"]] * 5
    assert sorted(np.round(model.probs_[:, 0], 1).tolist()) == [0.2, 0.8]


# ----------------------------------------------------------------------------- bad input
@pytest.mark.filterwarnings("ignore::kmix.exceptions.ConvergenceWarning")
def test_too_many_classes_for_the_items():
    # reference: 4 binary items, 3 classes: 14 parameters but the Jacobian of the cell
    # probabilities has rank 13 everywhere (Carreira-Perpinan & Renals 2000)
    X = np.random.default_rng(0).integers(0, 2, size=(500, 4))
    with pytest.raises(IdentifiabilityError, match=r"rank 13 of 14 parameters.*at most 2 class"):
        ProductMixture(3).fit(X)
    with pytest.warns(UserWarning, match="not unique"):
        ProductMixture(3, allow_unidentified=True, random_state=0).fit(X)


def test_constant_column_is_named():
    X = np.random.default_rng(0).integers(0, 2, size=(200, 4))
    X[:, 2] = 1
    with pytest.raises(DataError, match=r"column 2 is constant"):
        ProductMixture(2).fit(X)


def test_level_seen_once_warns():
    X = np.random.default_rng(0).integers(0, 2, size=(200, 4))
    X[5, 1] = 2
    with pytest.warns(UserWarning, match=r"column 1 level 2"):
        ProductMixture(2, random_state=0).fit(X)


def test_missing_values_error_or_drop():
    X = np.random.default_rng(0).integers(0, 2, size=(300, 4)).astype(float)
    X[[3, 10], 1] = np.nan
    with pytest.raises(
        DataError, match=r"missing values \(NaN, None or empty\) in 2 row\(s\) \(first at row 3"
    ):
        ProductMixture(2, missing="error").fit(X)
    with pytest.warns(UserWarning, match="dropped 2 of 300 rows"):
        model = ProductMixture(2, missing="drop", random_state=0).fit(X)
    assert model.n_rows_dropped_ == 2


def test_float_data_that_is_not_integer_coded():
    X = np.random.default_rng(0).integers(0, 2, size=(100, 4)).astype(float)
    X[7, 3] = 0.5
    with pytest.raises(DataError, match=r"column 3 holds 0.5 at row 7.*integer-coded"):
        ProductMixture(2).fit(X)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_components": 0}, "n_components must be >= 1"),
        ({"init": "kmeans"}, "init='kmeans' is not valid"),
        ({"missing": "impute"}, "missing='impute' is not valid"),
        ({"init": "random", "refine": None}, "needs refine='em'"),
    ],
)
def test_bad_options(kwargs, match):
    X = np.random.default_rng(0).integers(0, 2, size=(100, 5))
    with pytest.raises(DataError, match=match), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ProductMixture(**kwargs).fit(X)


@pytest.mark.parametrize(("name", "k"), [("stouffer_toby", 2), ("carcinoma", 2), ("carcinoma", 3)])
def test_published_latent_class_estimates_are_reproduced(name, k):
    """Reference: the published MLEs (poLCA's printed output; Goodman 2002, Agresti 2002)."""
    import kmix.datasets as ds

    data = getattr(ds, name)()
    assert data.counts.sum() == {"stouffer_toby": 216, "carcinoma": 118}[name]
    model = ProductMixture(k, random_state=0).fit(data.patterns, sample_weight=data.counts)
    pub = data.published[k]
    # published to 4 significant decimals
    assert model.log_likelihood_ == pytest.approx(pub["log_likelihood"], abs=1e-3)
    w, P = np.array(pub["weights"]), np.array(pub["probs"])
    perm = best_permutation(np.abs(P[:, None, :] - model.probs_[None]).max(axis=2))
    assert np.abs(model.probs_[perm] - P).max() < 1.5e-4
    assert np.abs(model.weights_[perm] - w).max() < 1.5e-4


def test_near_duplicate_classes_warn_with_the_separation():
    # population table of two classes 0.01 apart, weighted as 10,000 respondents: the
    # moment step recovers them exactly, but 0.01 is within the noise of 5,000 rows per class
    P = np.array([[0.30, 0.60, 0.40, 0.50, 0.20], [0.31, 0.61, 0.41, 0.51, 0.21]])
    rows, probs = population(np.array([0.5, 0.5]), P)
    with pytest.warns(UserWarning, match=r"near duplicates.*differ by at most 0.01 "):
        model = ProductMixture(2, refine=None, random_state=0).fit(rows, sample_weight=1e4 * probs)
    assert model.separation()[0, 1] == pytest.approx(0.01, abs=1e-8)
    # the same classes 0.2 apart are told apart without a warning
    P[1] = P[0] + 0.2
    rows, probs = population(np.array([0.5, 0.5]), P)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ProductMixture(2, refine=None, random_state=0).fit(rows, sample_weight=1e4 * probs)


@pytest.mark.parametrize(
    "options",
    [{}, {"n_init": 4}, {"init": "random", "n_init": 3}, {"refine": None}],
    ids=["auto", "n_init-4", "random", "moments-only"],
)
def test_log_likelihood_history_climbs_to_log_likelihood(options):
    """Reference: EM never lowers the log-likelihood (Dempster, Laird & Rubin 1977); SQUAREM
    keeps an extrapolation only where it does not lose against two plain EM maps (Varadhan
    & Roland 2008) and the quasi-Newton finish only a higher point, so the kept run's
    history climbs (to rounding) to log_likelihood_. Entries: one per SQUAREM cycle (three
    EM maps of n_iter_), the end point, and each finish that moved it (at most two); the
    moment step alone has no EM: its log-likelihood is the one entry."""
    from kmix.datasets import carcinoma

    data = carcinoma()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # near-duplicate classes of some random starts
        model = ProductMixture(3, random_state=0, **options).fit(
            data.patterns, sample_weight=data.counts
        )
    h = model.log_likelihood_history_
    assert isinstance(h, np.ndarray) and h.dtype == np.float64 and h.ndim == 1
    assert h[-1] == model.log_likelihood_
    assert np.all(np.diff(h) >= -1e-9 * abs(h[-1]))
    if options.get("refine", "em") is None:
        assert model.n_iter_ == 0 and len(h) == 1
    else:
        cycles = model.n_iter_ // 3
        assert model.n_iter_ == 3 * cycles and cycles + 1 <= len(h) <= cycles + 3


def test_log_likelihood_history_of_a_long_climb(survey):
    """Reference: as above, on a table where EM takes many cycles. A start EM settled is
    not finished before the best is chosen, so its entries are one per cycle, the end
    point, and the final finish's value when that moved it (n_polish_iter_ > 0)."""
    X, _, _ = survey
    model = ProductMixture(3, init="random", n_init=1, random_state=0).fit(X)
    h = model.log_likelihood_history_
    assert model.converged_
    assert len(h) > 3 and h[-1] == model.log_likelihood_
    assert np.all(np.diff(h) >= -1e-9 * abs(h[-1]))
    assert len(h) == model.n_iter_ // 3 + 1 + (model.n_polish_iter_ > 0)

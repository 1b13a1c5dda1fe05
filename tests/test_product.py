"""Latent class models: the tensor method (kmix.solvers.latent_class.moments) and ProductMixture.

References: exact population tables (every response pattern with its exact
probability as the row weight), for which the moment step must be exact;
independent EM fits (FiniteMixture) for the likelihood; the Kruskal-type
and 2k - 1 identifiability bounds stated in their papers.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from kmix import FiniteMixture, ProductMixture
from kmix.exceptions import DataError, IdentifiabilityError
from kmix.solvers.latent_class.identifiability import check_identifiability
from kmix.solvers.latent_class.moments import Views, fit_product_mixture, solve_triple
from kmix.solvers.linalg import best_permutation
from kmix.stats.tables import joint_table


def separated(k, n, rng, sep=0.1, lo=0.05, hi=0.95):
    """P(X_j = 1 | u) with every variable's k values at least ``sep`` apart."""
    room = (hi - lo) - (k - 1) * sep
    P = np.empty((k, n))
    for j in range(n):
        P[:, j] = rng.permutation(lo + np.sort(rng.uniform(0, room, k)) + sep * np.arange(k))
    return P


def population(w, P):
    _k, n = P.shape
    rows = np.array(list(itertools.product([0, 1], repeat=n)), float)
    lik = np.prod(np.where(rows[:, None, :] == 1, P[None], 1 - P[None]), axis=2) @ w
    return rows, lik


def max_error(w, P, w_hat, P_hat):
    perm = best_permutation(np.abs(P[:, None, :] - P_hat[None]).max(axis=2))
    return max(np.abs(P_hat[perm] - P).max(), np.abs(w_hat[perm] - w).max())


def test_joint_table_counts_combined_levels():
    v = np.array([[0, 1, 2], [1, 0, 0], [0, 1, 2]], float)
    c = np.array([1.0, 2.0, 3.0])
    t = joint_table(v, c, [[0, 1], [2]], [2, 2, 3], normalize=False)
    assert t.shape == (4, 3)
    assert t[1, 2] == 4.0 and t[2, 0] == 2.0 and t.sum() == 6.0


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_moment_step_is_exact_on_population_tables(k):
    rng = np.random.default_rng(k)
    n = 2 * k - 1
    for _ in range(5):
        P = separated(k, n, rng)
        w = rng.dirichlet(2 * np.ones(k))
        rows, probs = population(w, P)
        res = fit_product_mixture(rows, probs, [2] * n, k, rng=rng)
        P_hat = np.array([p[:, 1] for p in res.probs]).T
        assert max_error(w, P, res.weights, P_hat) < 1e-8
        assert res.out_of_range < 1e-10


def test_every_variable_comes_out_in_one_labelling():
    # more variables than views need: the extra ones are read through the same eigenvectors
    rng = np.random.default_rng(0)
    k, n = 3, 9
    P, w = separated(k, n, rng), np.array([0.5, 0.3, 0.2])
    rows, probs = population(w, P)
    fit = solve_triple(rows, probs, [2] * n, Views((0, 1), (2, 3), (4,)), k, rng=rng)
    P_hat = np.array([p[:, 1] for p in fit.probs]).T
    assert max_error(w, P, fit.weights, P_hat) < 1e-9


def test_categorical_variables_with_generic_views():
    # four 3-level items carry k = 3 (Kruskal-type condition), views of one item each
    rng = np.random.default_rng(5)
    k, n, d = 3, 4, 3
    probs = [rng.dirichlet(np.ones(d), size=k) for _ in range(n)]
    w = np.array([0.45, 0.35, 0.2])
    rows = np.array(list(itertools.product(range(d), repeat=n)), float)
    lik = np.ones((rows.shape[0], k))
    for j in range(n):
        lik *= probs[j][:, rows[:, j].astype(int)].T
    res = fit_product_mixture(rows, lik @ w, [d] * n, k, rng=rng, guaranteed=False)
    est = np.concatenate(res.probs, axis=1)
    truth = np.concatenate(probs, axis=1)
    perm = best_permutation(np.abs(truth[:, None, :] - est[None]).max(axis=2))
    assert np.abs(est[perm] - truth).max() < 1e-8
    assert np.abs(res.weights[perm] - w).max() < 1e-8


def test_identifiability_conditions():
    assert not check_identifiability([2] * 4, 3).ok  # 4 binary items cannot carry 3 classes
    assert check_identifiability([2] * 4, 3).max_components == 2
    assert check_identifiability([2] * 5, 3).ok
    three = check_identifiability([3] * 4, 3)
    assert three.ok and "2k + 2 = 8" in three.condition


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


# ---------------------------------------------------------------- bad input
@pytest.mark.filterwarnings("ignore::kmix.exceptions.ConvergenceWarning")
def test_too_many_classes_for_the_items():
    X = np.random.default_rng(0).integers(0, 2, size=(500, 4))
    with pytest.raises(IdentifiabilityError, match=r"n = 4 < 2k - 1 = 5.*at most 2 class"):
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
        DataError, match=r"missing values \(NaN or None\) in 2 row\(s\) \(first at row 3"
    ):
        ProductMixture(2).fit(X)
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


def test_expand_gives_one_row_per_respondent():
    from kmix.datasets import stouffer_toby

    data = stouffer_toby()
    X = data.expand()
    assert X.shape == (216, 4)
    a = ProductMixture(2, random_state=0).fit(X)
    b = ProductMixture(2, random_state=0).fit(data.patterns, sample_weight=data.counts)
    np.testing.assert_allclose(a.probs_, b.probs_, atol=1e-8)


def test_demo_latent_class_section():
    import io

    from kmix.cli.demo import run_demo

    buffer = io.StringIO()
    res = run_demo(buffer, seed=0, sections=["latent-classes"])["latent-classes"]
    assert res["published_loglik_gap"] < 1e-3
    assert res["error"] < 0.03
    assert "published" in buffer.getvalue()


def test_select_k_classes_by_rank_test_and_bic():
    """Reference: the simulation's k; the published BIC ranking for the carcinoma data."""
    import kmix
    from kmix.datasets import carcinoma

    rng = np.random.default_rng(0)
    k, n, N = 3, 10, 50_000
    P, w = rng.uniform(0.05, 0.95, (k, n)), np.array([0.5, 0.3, 0.2])
    z = rng.choice(k, size=N, p=w)
    X = (rng.random((N, n)) < P[z]).astype(int)
    sel = kmix.select_k_classes(X, max_components=4, random_state=0)
    p = [row["rank_p_value"] for row in sel["table"]]
    assert p[1] < 1e-6 < 1e-3 < p[2]
    assert sel["rank_k"] == 3 and sel["bic_k"] == 3
    data = carcinoma()
    sel = kmix.select_k_classes(data.patterns, sample_weight=data.counts, random_state=0)
    # published (poLCA): BIC 706.0739 for k = 2, 697.1357 for k = 3
    bic = {row["k"]: row["bic"] for row in sel["table"]}
    assert bic[2] == pytest.approx(706.0739, abs=2e-3)
    assert bic[3] == pytest.approx(697.1357, abs=2e-3)
    assert sel["bic_k"] == 3


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

"""One contract for the four estimators (``kmix.estimators._base``), checked on each.

References: scikit-learn's own estimator checks (``parametrize_with_checks``);
the contract's own rules (signatures, attributes, label order, model
selection) checked against direct computations on the same fit.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from kmix import BayesNetMixture, CoinMixture, ConvergenceWarning, FiniteMixture, ProductMixture
from kmix.causal import isolated_nodes
from kmix.datasets import HOSPITALS_DAG, carcinoma, coin_flips, make_mixture, random_coins
from kmix.datasets import two_hospitals as hospitals
from kmix.estimators._base import MixtureEstimator

# ----------------------------------------------------------- scikit-learn's checks
#: Checks whose data are real numbers where these estimators read integer codes or labels.
_REAL_VALUED = {
    "check_sample_weight_equivalence_on_dense_data": "draws real-valued X: the model reads "
    "integer codes or labels, and a fraction is refused",
}
#: A cell holding a dict among integers is refused as a column of mixed label types.
_LABELS = {
    **_REAL_VALUED,
    "check_dtype_object": "puts a dict among integer labels: refused as mixed label types "
    "(each column must hold labels of one type)",
}
#: Reading missing values (allow_nan), ProductMixture and BayesNetMixture get their codes
#: as floats from scikit-learn, and this check subtracts their real-valued mean from them.
_BAYESNET = {
    **_LABELS,
    "check_positive_only_tag_during_fit": "subtracts a real-valued mean from float codes "
    "(the dtype scikit-learn gives an estimator that reads missing values): a fraction is "
    "refused",
}
_BERNOULLI = "its integer data hold values above 1; the bernoulli family reads 0/1 columns"
_BERNOULLI_CHECKS = [
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_estimators_dtypes",
    "check_estimators_fit_returns_self",
    "check_estimators_overwrite_params",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1feature",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
    "check_sample_weights_not_an_array",
    "check_sample_weights_not_overwritten",
    "check_sample_weights_pandas_series",
    "check_sample_weights_shape",
]
_COIN = "passes an (n, d > 2) array: CoinMixture reads one head count per trial"
_COIN_CHECKS = [
    "check_all_zero_sample_weights_error",
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimators_dtypes",
    "check_estimators_fit_returns_self",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
    "check_sample_weights_list",
    "check_sample_weights_not_an_array",
    "check_sample_weights_not_overwritten",
    "check_sample_weights_pandas_series",
    "check_sample_weights_shape",
]
ESTIMATORS = [
    FiniteMixture(n_components=1, random_state=0),
    FiniteMixture(n_components=2, covariance_type="diag", random_state=0),
    FiniteMixture(n_components=1, family="bernoulli", random_state=0),
    FiniteMixture(n_components=1, family="categorical", random_state=0),
    FiniteMixture(n_components=2, family="binomial", n_trials=1000, random_state=0),
    FiniteMixture(n_components=2, family="poisson", random_state=0),
    # missing="error" refuses NaN (scikit-learn's NaN/inf check); the other options read NaN
    # as a missing cell (allow_nan: the pickle check fits and predicts data with NaN)
    FiniteMixture(n_components=1, missing="error", random_state=0),
    FiniteMixture(n_components=2, family="poisson", missing="drop", random_state=0),
    CoinMixture(n_components=1, n_trials=1000, random_state=0),
    ProductMixture(n_components=1, random_state=0),
    BayesNetMixture(isolated_nodes, n_components=1, random_state=0),
]


def _expected_failures(estimator):
    if isinstance(estimator, CoinMixture):
        return {**dict.fromkeys(_COIN_CHECKS, _COIN), **_REAL_VALUED}
    if isinstance(estimator, FiniteMixture):
        family = estimator.family
        if family == "bernoulli":
            return {**dict.fromkeys(_BERNOULLI_CHECKS, _BERNOULLI), **_REAL_VALUED}
        if family == "categorical":
            return _LABELS
        return {} if family == "gaussian" else _REAL_VALUED
    if isinstance(estimator, (BayesNetMixture, ProductMixture)):
        return _BAYESNET
    return _LABELS


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures)
def test_scikit_learn_checks(estimator, check):
    check(estimator)


# ------------------------------------------------------------- data for each model
def _finite():
    X, _ = make_mixture("bernoulli", 3000, 2, 6, random_state=0)
    return FiniteMixture(family="bernoulli", random_state=0), X, {}


def _coins():
    heads = coin_flips(random_coins(2, separation=0.3, random_state=0), 3000, 5, random_state=1)
    return CoinMixture(n_trials=5, random_state=0), heads, {}


def _product():
    X, _ = make_mixture("bernoulli", 3000, 2, 6, random_state=2)
    return ProductMixture(random_state=0), X, {}


def _bayesnet():
    X, truth = hospitals(6000, random_state=0)
    return BayesNetMixture(HOSPITALS_DAG, random_state=0), X, {"columns": list(truth.columns)}


MODELS = {"finite": _finite, "coins": _coins, "product": _product, "bayesnet": _bayesnet}


@pytest.fixture(params=sorted(MODELS), scope="module")
def fitted(request):
    model, X, data = MODELS[request.param]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, **data)
    return model, X, data


# --------------------------------------------------------------------- the contract
def test_every_estimator_shares_the_base():
    for cls in (FiniteMixture, CoinMixture, ProductMixture, BayesNetMixture):
        assert issubclass(cls, MixtureEstimator)
        fit = inspect.signature(cls.fit).parameters
        assert list(fit)[:3] == ["self", "X", "y"]
        assert fit["sample_weight"].kind is inspect.Parameter.KEYWORD_ONLY
        for name in list(fit)[4:]:  # the model's own data inputs: keyword-only
            assert fit[name].kind is inspect.Parameter.KEYWORD_ONLY, (cls.__name__, name)
        for method in ("bic", "aic"):
            params = inspect.signature(getattr(cls, method)).parameters
            assert params["X"].default is None and params["sample_weight"].default is None


def test_fitted_attributes_and_label_order(fitted):
    model, X, data = fitted
    for name in ("weights_", "params_", "log_likelihood_", "n_samples_", "converged_"):
        assert hasattr(model, name), name
    assert model.n_features_in_ >= 1
    # one documented label order: largest weight first
    assert np.all(np.diff(model.weights_) <= 0)
    proba = model.predict_proba(X, **data)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(model.predict(X, **data), proba.argmax(axis=1))


def test_bic_and_aic_of_the_training_data_agree_with_the_rows(fitted):
    """Reference: ``-2 sum log P(x) + p log N`` from score_samples on the same rows."""
    model, X, data = fitted
    lse = model.score_samples(X, **data)
    p = model.n_parameters()
    assert model.bic() == pytest.approx(-2 * lse.sum() + p * np.log(lse.size), rel=1e-9)
    assert model.bic(X, **data) == pytest.approx(model.bic(), rel=1e-9)
    assert model.aic(X, **data) == pytest.approx(-2 * lse.sum() + 2 * p, rel=1e-9)
    w = np.full(lse.size, 2.0)
    assert model.bic(X, sample_weight=w, **data) == pytest.approx(
        -4 * lse.sum() + p * np.log(2 * lse.size), rel=1e-9
    )
    assert model.score(X, **data) == pytest.approx(lse.mean(), rel=1e-12)


def test_product_bic_counts_frequency_weights():
    """The carcinoma survey as 20 patterns with counts: BIC on the 118 slides, not 20 rows.

    Reference: the same model scored on the 118 expanded rows.
    """
    data = carcinoma()
    model = ProductMixture(3, random_state=0).fit(data.patterns, sample_weight=data.counts)
    rows = np.repeat(data.patterns, data.counts.astype(int), axis=0)
    assert model.bic() == pytest.approx(model.bic(rows), rel=1e-12)
    assert model.bic(data.patterns, sample_weight=data.counts) == pytest.approx(model.bic())
    assert model.n_samples_ == 118


@pytest.mark.parametrize("name", sorted(MODELS))
def test_grid_search_over_n_components_scores_every_fold(name):
    model, X, data = MODELS[name]()
    search = GridSearchCV(model, {"n_components": [1, 2]}, cv=3, error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, **data)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)), scores
    assert search.best_params_["n_components"] == 2  # every data set has two classes


def test_finite_mixture_allows_nan_unless_missing_is_error():
    """Reference: the ``missing`` option (full-information maximum likelihood, listwise
    deletion, or refusal); the tag decides which of scikit-learn's checks feed NaN."""
    from sklearn.utils import get_tags

    for missing, allowed in (("fiml", True), ("drop", True), ("error", False)):
        assert get_tags(FiniteMixture(missing=missing)).input_tags.allow_nan is allowed
    X = np.random.default_rng(0).normal(size=(40, 2))
    X[[1, 5], 0], X[[2, 9], 1] = np.nan, np.nan
    assert np.isfinite(FiniteMixture(random_state=0).fit(X).score(X))


def test_one_meaning_for_n_init_and_alpha():
    for cls in (FiniteMixture, CoinMixture, ProductMixture, BayesNetMixture):
        params = cls().get_params()
        if "alpha" in params:
            assert params["alpha"] == 1.0  # 1 is maximum likelihood everywhere
        # EM starts in all; "auto": the model's own policy (latent class fit, em-EM starts)
        assert params["n_init"] == ("auto" if cls in (FiniteMixture, ProductMixture) else 1)
    X, truth = hospitals(3000, random_state=1)
    cols = list(truth.columns)
    a = BayesNetMixture(HOSPITALS_DAG, random_state=0).fit(X, columns=cols)
    b = BayesNetMixture(HOSPITALS_DAG, alpha=1.0, random_state=0).fit(X, columns=cols)
    assert a.log_likelihood_ == b.log_likelihood_
    smooth = BayesNetMixture(HOSPITALS_DAG, alpha=2.0, random_state=0).fit(X, columns=cols)
    assert smooth.log_likelihood_ < a.log_likelihood_  # smoothing moves off the maximum


def test_a_scalar_y_is_a_misplaced_data_argument():
    heads = np.array([0, 1, 2, 3, 3, 2])
    with pytest.raises(ValueError, match=r"y=3.*n_trials="):
        CoinMixture(1).fit(heads, 3)


def test_kmix_convergence_warning_is_scikit_learns():
    assert issubclass(ConvergenceWarning, SklearnConvergenceWarning)
    X, _ = make_mixture("bernoulli", 500, 2, 6, random_state=0)
    with pytest.warns(SklearnConvergenceWarning):
        FiniteMixture(2, family="bernoulli", init="random", max_iter=1, random_state=0).fit(X)


def test_clone_keeps_every_hyper_parameter(fitted):
    model, _, _ = fitted
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert not hasattr(twin, "weights_")

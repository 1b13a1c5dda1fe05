"""Bad input: every case gets a DataError naming the value and the fix.

Nothing may be dropped or clipped silently, so each case asserts the error and
the part of its message that tells the user what was wrong and what to do.
"""

from __future__ import annotations

import numpy as np
import pytest

from kmix import FiniteMixture
from kmix.exceptions import DataError, KmixError

BERNOULLI = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0], [0, 0, 1]])


def _fit(X, **kw):
    family = kw.pop("family", "bernoulli")
    n_trials = kw.pop("n_trials_fit", None)
    return FiniteMixture(kw.pop("n_components", 2), family=family, **kw).fit(X, n_trials=n_trials)


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (
            np.array([[0.0, np.nan], [1.0, 0.0]]),
            r"NaN or inf \(1 entries; first at row 0, column 1",
        ),
        (np.array([[0.0, 1.0], [np.inf, 0.0]]), r"first at row 1, column 0: inf"),
    ],
)
def test_nan_and_inf_are_rejected(X, match):
    with pytest.raises(DataError, match=match):
        _fit(X, family="gaussian", n_components=1)
    with pytest.raises(DataError, match="remove or impute"):
        _fit(X, family="gaussian", n_components=1)


def test_empty_data():
    with pytest.raises(DataError, match="0 sample"):
        _fit(np.empty((0, 3)))


@pytest.mark.parametrize("X", [np.array([0, 1, 1, 0]), np.zeros((2, 2, 2))])
def test_wrong_dimensionality(X):
    with pytest.raises(DataError, match=r"2D|2-d|dim"):
        _fit(X)


def test_predict_with_other_number_of_features():
    model = _fit(BERNOULLI)
    with pytest.raises(DataError, match="X has 2 features, but FiniteMixture is expecting 3"):
        model.predict(BERNOULLI[:, :2])


def test_bernoulli_needs_zeros_and_ones():
    X = BERNOULLI.copy()
    X[2, 1] = 2
    with pytest.raises(DataError, match=r"X\[2, 1\] = 2.0 but the bernoulli family needs 0/1"):
        _fit(X)
    with pytest.raises(DataError, match="family='categorical'"):
        _fit(X)


def test_bernoulli_values_are_not_rounded():
    X = BERNOULLI.astype(float)
    X[0, 0] = 0.5
    with pytest.raises(DataError, match=r"X\[0, 0\] = 0.5"):
        _fit(X)


def test_binomial_negative_counts():
    X = np.array([[3], [-1], [2], [4]])
    with pytest.raises(DataError, match=r"X\[1, 0\] = -1.0: binomial counts must be non-negative"):
        _fit(X, family="binomial", n_trials=5)


def test_binomial_counts_above_trials():
    X = np.array([[3], [6], [2], [4]])
    with pytest.raises(DataError, match=r"X\[1, 0\] = 6.0 exceeds n_trials = 5.0"):
        _fit(X, family="binomial", n_trials=5)


def test_binomial_without_trials():
    with pytest.raises(DataError, match="needs n_trials"):
        _fit(np.array([[1], [2], [3]]), family="binomial")


def test_binomial_per_row_trials_of_wrong_length():
    with pytest.raises(DataError, match="does not match X"):
        _fit(np.array([[1], [2], [3]]), family="binomial", n_trials_fit=[4, 5])


def test_poisson_non_integer_counts():
    with pytest.raises(DataError, match=r"X\[0, 0\] = 1.5: poisson counts"):
        _fit(np.array([[1.5], [2.0], [0.0]]), family="poisson", n_components=1)


@pytest.mark.parametrize("k", [0, -1])
def test_n_components_below_one(k):
    with pytest.raises(DataError, match=f"n_components must be >= 1; got {k}"):
        _fit(BERNOULLI, n_components=k)


def test_n_components_not_an_integer():
    with pytest.raises(DataError, match=r"n_components must be an integer; got 2\.5"):
        _fit(BERNOULLI, n_components=2.5)


def test_more_components_than_unique_rows():
    X = np.array([[0, 1]] * 10 + [[1, 1]] * 5)
    with pytest.raises(DataError, match="n_components=3 exceeds the 2 distinct rows"):
        _fit(X, n_components=3)


def test_more_gaussian_components_than_distinct_rows():
    X = np.array([[0.0, 1.0]] * 10 + [[1.0, 1.0]] * 5)
    with pytest.raises(DataError, match="only 2 distinct rows, fewer than n_components=3"):
        _fit(X, family="gaussian", n_components=3)


def test_fixed_params_of_the_wrong_shape():
    with pytest.raises(DataError, match=r"fixed_params: p must have shape \(2, 3\); got \(2, 1\)"):
        _fit(BERNOULLI, fixed_params={"p": [[0.8], [0.3]]})


def test_fixed_params_outside_unit_interval():
    p = [[0.8, 0.5, 1.3], [0.3, 0.5, 0.5]]
    with pytest.raises(DataError, match=r"p\[0, 2\] = 1.3 lies outside \[0, 1\]"):
        _fit(BERNOULLI, fixed_params={"p": p})


def test_fixed_params_with_the_wrong_key():
    with pytest.raises(DataError, match="need key 'p'; got keys \\['mean'\\]"):
        _fit(BERNOULLI, fixed_params={"mean": [[0.5] * 3] * 2})


def test_fixed_weights_not_on_the_simplex():
    with pytest.raises(DataError, match="fixed_weights: weights must sum to 1"):
        _fit(BERNOULLI, fixed_weights=[0.5, 0.6])


def test_both_parts_fixed():
    with pytest.raises(DataError, match="nothing is left to learn"):
        _fit(BERNOULLI, fixed_weights=[0.5, 0.5], fixed_params={"p": [[0.5] * 3] * 2})


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
        ("random_state", "seed", "random_state must be None, an int or a numpy Generator"),
    ],
)
def test_bad_options_are_named(option, value, match):
    with pytest.raises(DataError, match=match):
        _fit(BERNOULLI, **{option: value})


def test_sample_weight_problems():
    with pytest.raises(DataError, match=r"sample_weight\[1\] = -1.0"):
        FiniteMixture(2, family="bernoulli").fit(BERNOULLI, sample_weight=[1, -1, 1, 1])
    with pytest.raises(DataError, match="sample_weight has 2 entries but X has 4 rows"):
        FiniteMixture(2, family="bernoulli").fit(BERNOULLI, sample_weight=[1, 1])


def test_unseen_categorical_level_at_predict():
    X = np.array([["a", "x"], ["b", "y"], ["a", "y"], ["b", "x"]], dtype=object)
    model = FiniteMixture(1, family="categorical").fit(X)
    with pytest.raises(DataError, match=r"X\[0, 1\] = 'z' is a level not seen in fit"):
        model.predict(np.array([["a", "z"]], dtype=object))


def test_missing_categorical_values():
    X = np.array([["a", "x"], [None, "y"], ["a", "y"]], dtype=object)
    with pytest.raises(
        DataError,
        match=r"missing or infinite values \(NaN, None or inf\) in column 0 \(first at row 1",
    ):
        FiniteMixture(1, family="categorical").fit(X)


def test_errors_are_catchable_as_value_error_and_kmix_error():
    with pytest.raises(KmixError):
        _fit(BERNOULLI, n_components=0)
    with pytest.raises(ValueError):
        _fit(BERNOULLI, n_components=0)


def test_unfitted_model_cannot_predict():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        FiniteMixture(2).predict(np.zeros((2, 2)))

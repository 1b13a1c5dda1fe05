"""Validation of the data handed to the estimators (kmix.estimators._checks).

Every case gets a DataError naming the value and the fix.
Nothing may be dropped or clipped silently, so each case asserts the error and
the part of its message that tells the user what was wrong and what to do.

The regression tests from the code review of the EM layer state their
reference each; each failed before its fix.
"""

from __future__ import annotations

import numpy as np
import pytest

from kmix import FiniteMixture
from kmix.datasets import make_mixture
from kmix.estimators._checks import _levels
from kmix.exceptions import DataError
from tests.helpers.finite import BERNOULLI, fit_finite


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
        fit_finite(X, family="gaussian", n_components=1)
    with pytest.raises(DataError, match="remove or impute"):
        fit_finite(X, family="gaussian", n_components=1)


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


# --------------------------------------------------- EM review 4: uint64 labels >= 2**63
@pytest.mark.parametrize(
    "labels", [[0, 2**63 + 5], [2**63 + 5, 2**63 + 6, 2**63 + 5], [2**64 - 1, 2**64 - 3]]
)
def test_uint64_levels_beyond_intp(labels):
    """Reference: numpy.unique (the fast path must agree with it or step aside)."""
    col = np.array(labels, dtype=np.uint64)
    levels, codes = _levels(col)
    expected, inverse = np.unique(col, return_inverse=True)
    assert levels.dtype == np.uint64
    np.testing.assert_array_equal(levels, expected)
    np.testing.assert_array_equal(codes, inverse)


def test_categorical_fit_with_huge_uint64_labels():
    """Reference: the labels themselves; the fit used to crash with OverflowError."""
    base = np.array([2**63 + 5, 2**63 + 6], dtype=np.uint64)
    rng = np.random.default_rng(0)
    X = base[rng.integers(0, 2, size=(60, 3))]
    model = FiniteMixture(2, family="categorical", random_state=0).fit(X)
    for levels in model.categories_:
        assert levels.tolist() == [2**63 + 5, 2**63 + 6]


# --------------------------------------------------------- EM review 8: zero-weight rows
def test_zero_weight_rows_define_no_categorical_level():
    """Reference: the fit on X without the zero-weight rows."""
    X, _ = make_mixture("categorical", 500, 2, 3, n_levels=3, random_state=2)
    X = X.astype(int)
    extra = np.array([[7, 0, 1], [0, 9, 2]])  # levels 7 and 9 occur only here
    w = np.concatenate([np.ones(500), [0.0, 0.0]])
    a = FiniteMixture(2, family="categorical", random_state=0).fit(
        np.vstack([X, extra]), sample_weight=w
    )
    b = FiniteMixture(2, family="categorical", random_state=0).fit(X)
    assert [c.tolist() for c in a.categories_] == [[0, 1, 2]] * 3
    for pa, pb in zip(a.params_.probs, b.params_.probs, strict=True):
        np.testing.assert_allclose(pa, pb, rtol=1e-12)
    with pytest.raises(DataError, match="is a level not seen in fit"):
        a.predict(extra)

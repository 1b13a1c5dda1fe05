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
            r"X\[0, 1\] \(column 1\) is a missing value \(nan.*pass missing='fiml'",
        ),
        (np.array([[0.0, 1.0], [np.inf, 0.0]]), r"X\[1, 0\] \(column 0\) = inf: infinite"),
    ],
)
def test_nan_and_inf_are_rejected(X, match):
    """Reference: the cell written in X; inf is refused whatever ``missing`` says."""
    with pytest.raises(DataError, match=match):
        fit_finite(X, family="gaussian", n_components=1, missing="error")
    if np.isinf(X).any():
        with pytest.raises(DataError, match="neither data nor missing values"):
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
    with pytest.raises(DataError, match=r"X\[1, 0\] \(column 0\) is a missing value \(None"):
        FiniteMixture(1, family="categorical", missing="error").fit(X)


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


# ------------------------------------------------ pandas' NA, identifiers, seeds
def _frame_with_na(n: int = 300):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, size=(n, 5))
    frame = pd.DataFrame(
        {
            f"c{j}": pd.array(np.where(bits[:, j] == 1, "yes", "no"), dtype="string")
            for j in range(5)
        }
    )
    frame.iloc[3, 1] = pd.NA
    frame["n"] = pd.array(bits[:, 0], dtype="Int64")
    frame.loc[7, "n"] = pd.NA
    return frame


def test_pandas_na_is_a_missing_value_for_finite_mixture():
    """Reference: the cell set to pd.NA; comparing it raises, so it must be found by type."""
    match = r"X\[3, 1\] \(column 1 \('c1'\)\) is a missing value \(<NA>"
    with pytest.raises(DataError, match=match):
        FiniteMixture(2, family="categorical", missing="error").fit(_frame_with_na())


def test_pandas_na_is_a_missing_value_for_product_mixture():
    from kmix import ProductMixture

    frame = _frame_with_na()
    with pytest.raises(
        DataError, match=r"missing values \(NaN, None or empty\) in 2 row\(s\) \(first at row 3"
    ):
        ProductMixture(2, missing="error").fit(frame)
    with pytest.warns(UserWarning, match="dropped 2 of 300 rows"):
        model = ProductMixture(2, missing="drop", random_state=0).fit(frame)
    assert model.n_rows_dropped_ == 2 and model.n_samples_ == 298


def test_pandas_na_is_a_missing_value_for_bayesnet_mixture():
    from kmix import BayesNetMixture
    from kmix.causal import isolated_nodes

    with pytest.raises(DataError, match=r"node 'c1' is missing \(<NA>\) at row 3"):
        BayesNetMixture(isolated_nodes, 2, missing="error").fit(_frame_with_na())


@pytest.mark.parametrize("estimator", ["finite", "product", "bayesnet"])
def test_an_identifier_column_is_refused_by_name(estimator):
    """Reference: a column of 1,000 distinct ids in 1,000 rows (one row per level)."""
    from kmix import BayesNetMixture, ProductMixture
    from kmix.causal import isolated_nodes

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 2, size=(1000, 5)), np.arange(1000)])
    model = {
        "finite": FiniteMixture(2, family="categorical"),
        "product": ProductMixture(2),
        "bayesnet": BayesNetMixture(isolated_nodes, 2),
    }[estimator]
    name = {"finite": "column 5", "product": "column 5", "bayesnet": "node 'x5'"}[estimator]
    with pytest.raises(DataError, match=rf"{name} has 1,000 distinct levels in 1,000 rows"):
        model.fit(X)


def test_a_many_level_column_that_is_no_identifier_is_fitted():
    """40 levels in 1,000 rows (25 rows per level) is a variable; its fit must run."""
    from kmix import ProductMixture

    rng = np.random.default_rng(1)
    X = np.column_stack([rng.integers(0, 2, size=(1000, 5)), rng.integers(0, 40, 1000)])
    model = ProductMixture(2, random_state=0).fit(X)
    assert len(model.categories_[5]) == 40


@pytest.mark.parametrize("seed", [-1, 1.5, "seven", True])
def test_a_bad_random_state_is_a_kmix_error(seed):
    with pytest.raises(DataError, match="random_state must be None, a non-negative int"):
        FiniteMixture(2, family="bernoulli", random_state=seed).fit(BERNOULLI)

"""Sufficient statistics: unique rows with counts.

References: the identity ``values[inverse] == X`` and ``np.unique(axis=0)``
(an independent implementation) for the rows; chunk additivity (statistics of
the halves merged equal the statistics of the whole) as a Hypothesis property.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kmix.exceptions import DataError
from kmix.stats import UniqueRows, compress_rows


def _reference(X: np.ndarray, w: np.ndarray | None = None):
    values, inverse = np.unique(X.astype(float), axis=0, return_inverse=True)
    counts = np.bincount(inverse.reshape(-1), weights=w, minlength=values.shape[0])
    return values, counts


int_tables = arrays(
    np.int64,
    st.tuples(st.integers(1, 60), st.integers(1, 5)),
    elements=st.integers(0, 4),
)


@given(int_tables)
def test_compress_matches_numpy_unique(X):
    values, counts, inverse = compress_rows(X)
    ref_values, ref_counts = _reference(X)
    np.testing.assert_array_equal(values, ref_values)
    np.testing.assert_array_equal(counts, ref_counts)
    np.testing.assert_array_equal(values[inverse], X)


@given(int_tables, st.integers(0, 60))
@settings(max_examples=60)
def test_merge_of_chunks_equals_whole(X, cut):
    cut = min(cut, X.shape[0])
    whole = UniqueRows.from_array(X)
    merged = UniqueRows.from_array(X[:cut]).merge(UniqueRows.from_array(X[cut:]))
    np.testing.assert_array_equal(merged.values, whole.values)
    np.testing.assert_array_equal(merged.counts, whole.counts)
    assert merged.n_samples == X.shape[0]


def test_update_in_chunks_equals_whole():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(1000, 4))
    stat = UniqueRows.empty(4)
    for chunk in np.array_split(X, 7):
        stat.update(chunk)
    whole = UniqueRows.from_array(X)
    np.testing.assert_array_equal(stat.values, whole.values)
    np.testing.assert_array_equal(stat.counts, whole.counts)


def test_weights_are_summed_per_row():
    X = np.array([[0, 1], [1, 1], [0, 1], [1, 1], [2, 0]])
    w = np.array([0.5, 1.0, 2.0, 3.0, 0.25])
    values, counts, _ = compress_rows(X, w)
    ref_values, ref_counts = _reference(X, w)
    np.testing.assert_array_equal(values, ref_values)
    np.testing.assert_allclose(counts, ref_counts)  # [[0,1]]: 2.5, [[1,1]]: 4, [[2,0]]: .25


def test_float_and_negative_rows_use_the_generic_path():
    X = np.array([[0.5, -1.0], [0.5, -1.0], [2.0, 3.0]])
    values, counts, inverse = compress_rows(X)
    np.testing.assert_array_equal(values, [[0.5, -1.0], [2.0, 3.0]])
    np.testing.assert_array_equal(counts, [2.0, 1.0])
    np.testing.assert_array_equal(values[inverse], X)


def test_wide_integer_rows_beyond_int64_codes():
    # 40 columns with 4 levels: 4**40 > 2**62, so the radix code cannot be used
    rng = np.random.default_rng(1)
    X = rng.integers(0, 4, size=(200, 40))
    X[100:] = X[:100]
    values, counts, inverse = compress_rows(X)
    assert counts.sum() == 200
    np.testing.assert_array_equal(values[inverse], X)


def test_bad_shapes_raise():
    with pytest.raises(DataError, match="2-d"):
        compress_rows(np.zeros(5))
    with pytest.raises(DataError, match="weights has 2 entries"):
        compress_rows(np.zeros((3, 1)), [1.0, 2.0])
    with pytest.raises(DataError, match="merge"):
        UniqueRows.empty(2).merge(UniqueRows.empty(3))

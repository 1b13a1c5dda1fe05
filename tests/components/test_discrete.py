"""Bad values for the discrete families (kmix.components.discrete).

Every case gets a DataError naming the value and the fix.
Nothing may be dropped or clipped silently, so each case asserts the error and
the part of its message that tells the user what was wrong and what to do.
"""

from __future__ import annotations

import numpy as np
import pytest

from kmix.exceptions import DataError
from tests.helpers.finite import BERNOULLI, fit_finite


def test_bernoulli_needs_zeros_and_ones():
    X = BERNOULLI.copy()
    X[2, 1] = 2
    with pytest.raises(DataError, match=r"X\[2, 1\] = 2.0 but the bernoulli family needs 0/1"):
        fit_finite(X)
    with pytest.raises(DataError, match="family='categorical'"):
        fit_finite(X)


def test_bernoulli_values_are_not_rounded():
    X = BERNOULLI.astype(float)
    X[0, 0] = 0.5
    with pytest.raises(DataError, match=r"X\[0, 0\] = 0.5"):
        fit_finite(X)


def test_binomial_negative_counts():
    X = np.array([[3], [-1], [2], [4]])
    with pytest.raises(DataError, match=r"X\[1, 0\] = -1.0: binomial counts must be non-negative"):
        fit_finite(X, family="binomial", n_trials=5)


def test_binomial_counts_above_trials():
    X = np.array([[3], [6], [2], [4]])
    with pytest.raises(DataError, match=r"X\[1, 0\] = 6.0 exceeds n_trials = 5.0"):
        fit_finite(X, family="binomial", n_trials=5)


def test_binomial_without_trials():
    with pytest.raises(DataError, match="needs n_trials"):
        fit_finite(np.array([[1], [2], [3]]), family="binomial")


def test_binomial_per_row_trials_of_wrong_length():
    with pytest.raises(DataError, match="does not match X"):
        fit_finite(np.array([[1], [2], [3]]), family="binomial", n_trials_fit=[4, 5])


def test_poisson_non_integer_counts():
    with pytest.raises(DataError, match=r"X\[0, 0\] = 1.5: poisson counts"):
        fit_finite(np.array([[1.5], [2.0], [0.0]]), family="poisson", n_components=1)

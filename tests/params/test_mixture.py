"""Frozen parameter values: validation, permutation and canonical order."""

from __future__ import annotations

import numpy as np
import pytest

from kmix.exceptions import DataError
from kmix.params import (
    BernoulliParams,
    CategoricalParams,
    GaussianParams,
    Mixture,
    PoissonParams,
    check_weights,
)


def test_arrays_are_read_only_copies():
    p = np.array([[0.2, 0.4]])
    params = BernoulliParams(p)
    p[0, 0] = 0.9
    assert params.p[0, 0] == 0.2
    with pytest.raises(ValueError):
        params.p[0, 0] = 0.5


def test_permute_and_canonical():
    params = BernoulliParams([[0.9, 0.1], [0.2, 0.7], [0.2, 0.3]])
    assert params.canonical().p.tolist() == [[0.2, 0.3], [0.2, 0.7], [0.9, 0.1]]
    mix = Mixture([0.5, 0.3, 0.2], params).canonical()
    assert mix.weights.tolist() == [0.2, 0.3, 0.5]
    with pytest.raises(DataError, match="permutation"):
        params.permute([0, 0, 1])


def test_categorical_permute_keeps_every_feature_aligned():
    params = CategoricalParams(([[0.1, 0.9], [0.6, 0.4]], [[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]]))
    swapped = params.permute([1, 0])
    assert swapped.probs[0].tolist() == [[0.6, 0.4], [0.1, 0.9]]
    assert swapped.probs[1].tolist() == [[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]
    assert params.n_levels == (2, 3)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: BernoulliParams([[0.5, 1.2]]), r"p\[0, 1\] = 1.2 lies outside \[0, 1\]"),
        (lambda: BernoulliParams([0.5, 0.2]), "2-d array"),
        (lambda: BernoulliParams([[np.nan]]), "NaN"),
        (lambda: PoissonParams([[-1.0]]), "non-negative"),
        (lambda: CategoricalParams(([[0.5, 0.6]],)), "sum to 1"),
        (lambda: GaussianParams([[0.0]], [[[-1.0]]]), "positive definite"),
        (lambda: GaussianParams([[0.0]], [[1.0]], "diag"), None),
        (lambda: GaussianParams([[0.0, 0.0]], [[1.0]], "diag"), "shape"),
        (lambda: GaussianParams([[0.0]], [[[1.0]]], "spherical"), "covariance_type"),
    ],
)
def test_validation(build, match):
    if match is None:
        build()
        return
    with pytest.raises(DataError, match=match):
        build()


def test_weights_validation_names_the_problem():
    assert check_weights([0.25, 0.75]).tolist() == [0.25, 0.75]
    with pytest.raises(DataError, match="sum to 1"):
        check_weights([0.5, 0.6])
    with pytest.raises(DataError, match="non-negative"):
        check_weights([1.5, -0.5])
    with pytest.raises(DataError, match="3 entries but n_components=2"):
        check_weights([0.2, 0.3, 0.5], 2)

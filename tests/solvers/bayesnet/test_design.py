"""Rows as EM needs them, missing values included (kmix.solvers.bayesnet.design).

References, per test: the observed-data likelihood by brute force, a sum over
every completion of every row of the explicit product of CPT entries
(``brute_observed``, loops only); ``inference.log_prob_rows`` on complete
rows; ``numpy.unique`` for the unique rows and their counts.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kmix.exceptions import DataError
from kmix.params.dag import DAG
from kmix.solvers.bayesnet.design import (
    MISSING,
    BNRowDesign,
    coded_values,
    compress_coded,
    log_prob_observed,
)
from kmix.solvers.bayesnet.em import loglik_bayesnet_mixture, random_bn_starts
from kmix.solvers.bayesnet.inference import log_prob_rows

#: A -> B -> C <- D, A -> E: C is a collider, E a leaf of A, B a chain link.
DAG5 = DAG.from_edges(None, [("A", "B"), ("B", "C"), ("D", "C"), ("A", "E")])
LEVELS5 = (2, 3, 2, 3, 2)


def brute_observed(params, row):
    """``P_u(x_O)`` (k,) of one row: every completion of its missing cells, summed by loops."""
    col = {v: j for j, v in enumerate(params.columns)}
    gaps = [j for j, x in enumerate(row) if x == MISSING]
    out = np.zeros(params.n_components)
    for fill in itertools.product(*(range(params.n_levels[j]) for j in gaps)):
        full = list(row)
        for j, x in zip(gaps, fill, strict=True):
            full[j] = x
        for u in range(params.n_components):
            term = 1.0
            for j, v in enumerate(params.columns):
                pa = tuple(int(full[col[p]]) for p in params.dag.parents[v])
                term *= params.cpts[j][(u, *pa, int(full[j]))]
            out[u] += term
    return out


def gapped_rows(levels, n, share, rng):
    """``n`` random rows with a share of cells missing, one all-missing row, one complete."""
    rows = np.stack([rng.integers(0, d, n) for d in levels], axis=1)
    rows[rng.random(rows.shape) < share] = MISSING
    rows[0] = MISSING
    rows[1] = [d - 1 for d in levels]
    return rows


@pytest.mark.parametrize("max_completions", [256, 1])
def test_observed_loglik_equals_brute_force_over_completions(max_completions):
    """Both ways of summing out (enumerated completions, variable elimination) vs loops."""
    rng = np.random.default_rng(0)
    params = random_bn_starts(DAG5, LEVELS5, 3, 1, rng)[0]
    rows = gapped_rows(LEVELS5, 120, 0.3, rng)
    counts = rng.integers(1, 4, rows.shape[0]).astype(float)
    design = BNRowDesign(rows, DAG5, LEVELS5, max_completions=max_completions)
    assert design.has_missing
    assert bool(design.eliminated) == (max_completions == 1)
    brute = np.array([brute_observed(params, r) for r in rows])  # (m, k)
    np.testing.assert_allclose(
        log_prob_observed(params, rows), np.log(brute), rtol=1e-12, atol=1e-12
    )
    with np.errstate(divide="ignore"):
        logP = np.log(design.stack(params)[1])
    np.testing.assert_allclose(design.log_f(logP).T, np.log(brute), rtol=1e-12, atol=1e-12)
    want = counts @ np.log(brute @ params.weights)
    got = loglik_bayesnet_mixture(rows, counts, params, design=design)
    assert got == pytest.approx(want, rel=1e-12)
    assert log_prob_observed(params, rows)[0] == pytest.approx(np.zeros(3), abs=1e-12)


def test_a_missing_leaf_drops_out_and_its_row_keeps_the_others():
    """Reference: brute force; a row missing only the leaf E scores as if E were not there."""
    params = random_bn_starts(DAG5, LEVELS5, 2, 1, np.random.default_rng(1))[0]
    row = np.array([[1, 2, 0, 1, MISSING]])
    design = BNRowDesign(row, DAG5, LEVELS5)
    assert design.n_completions == 1 and design.absent.tolist() == [0, 0, 0, 0, 1]
    np.testing.assert_allclose(
        log_prob_observed(params, row)[0], np.log(brute_observed(params, row[0])), rtol=1e-13
    )


def test_complete_rows_take_the_complete_path():
    """Reference: ``log_prob_rows``; no completion table is built for complete data."""
    params = random_bn_starts(DAG5, LEVELS5, 2, 1, np.random.default_rng(2))[0]
    rows = np.array(list(itertools.product(*(range(d) for d in LEVELS5))))
    design = BNRowDesign(rows, DAG5, LEVELS5)
    assert not design.has_missing and design.owner is None and not design.absent.any()
    np.testing.assert_array_equal(log_prob_observed(params, rows), log_prob_rows(params, rows))


def test_nan_marks_a_missing_value_and_bad_codes_are_named():
    rows = np.array([[0.0, np.nan, 1.0, 2.0, 1.0], [1.0, 2.0, np.nan, 0.0, 0.0]])
    codes = coded_values(rows, DAG5, LEVELS5)
    assert codes[0, 1] == MISSING and codes[1, 2] == MISSING and codes[1, 1] == 2
    with pytest.raises(DataError, match=r"row 0, column 'B' has value -2"):
        coded_values(np.array([[0, -2, 1, 2, 1]]), DAG5, LEVELS5)
    with pytest.raises(DataError, match="integer level codes"):
        coded_values(np.array([[0, 0.5, 1, 2, 1]]), DAG5, LEVELS5)
    with pytest.raises(DataError, match="integer level codes"):
        coded_values(np.array([[0, np.inf, 1, 2, 1]]), DAG5, LEVELS5)


def test_compress_coded_keeps_missing_as_its_own_code():
    """Reference: ``numpy.unique`` over the rows, with the weights summed per unique row."""
    rng = np.random.default_rng(3)
    rows = gapped_rows(LEVELS5, 500, 0.2, rng)
    w = rng.random(500)
    values, counts = compress_coded(rows, w)
    uniq, inverse = np.unique(rows, axis=0, return_inverse=True)
    np.testing.assert_array_equal(values, uniq)
    np.testing.assert_allclose(counts, np.bincount(inverse.reshape(-1), weights=w), rtol=1e-12)
    # the narrowest signed type that holds -1 .. max level: one byte per cell here
    assert values.dtype == np.int8 and values.min() == MISSING

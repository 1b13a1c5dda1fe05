"""Split moves out of a collapsed mixture of networks.

Reference: the maximum of the likelihood nearest the truth, EM started from the
true parameters on the same rows (an independent start that the moves never
see); a fit whose sources have merged sits far below it.
"""

from __future__ import annotations

import numpy as np
import pytest

from kmix.datasets import bayesnet_mixture, random_sparse_dag
from kmix.params.bayesnet import BayesNetMixtureParams
from kmix.solvers.bayesnet.em import em_bayesnet_mixture
from kmix.solvers.bayesnet.moves import SPLIT_NOISE, escape_source_collapse, split_source_starts
from kmix.stats import compress_rows


@pytest.fixture(scope="module")
def collapsed():
    """Three sources on 8 binary nodes; a fit from a start with two sources merged and the
    third emptied (weight 1e-6), which EM cannot leave."""
    dag = random_sparse_dag(8, 2, random_state=5)
    X, truth = bayesnet_mixture(dag, 3, 50_000, separation=0.3, random_state=6)
    values, counts, _ = compress_rows(X)
    used = counts > 0
    values, counts = values[used].astype(np.int64), counts[used].astype(np.float64)
    w = np.array([truth.weights[0] + truth.weights[1], truth.weights[2], 1e-6])
    merged = [
        np.stack([(truth.weights[0] * t[0] + truth.weights[1] * t[1]) / w[0], t[2], t[2]])
        for t in truth.cpts
    ]
    start = BayesNetMixtureParams(dag, truth.n_levels, w / w.sum(), tuple(merged))
    fit = em_bayesnet_mixture(values, counts, dag, truth.n_levels, [start])[0]
    oracle = em_bayesnet_mixture(values, counts, dag, truth.n_levels, [truth])[0]
    return values, counts, truth, fit, oracle


def test_the_collapsed_fit_is_a_poor_maximum(collapsed):
    _, counts, _, fit, oracle = collapsed
    assert fit.params.weights.min() < 1e-3  # EM kept the emptied source empty
    assert (oracle.log_likelihood - fit.log_likelihood) / counts.sum() > 1e-3


def test_split_moves_reach_the_maximum_nearest_the_truth(collapsed):
    values, counts, truth, fit, oracle = collapsed
    moved, tried = escape_source_collapse(
        values, counts, truth.n_levels, fit, np.random.default_rng(0), tol=1e-10, max_iter=1000
    )
    assert tried >= 2 * len(SPLIT_NOISE)
    assert moved.log_likelihood >= oracle.log_likelihood - 1e-6 * counts.sum()
    assert np.sort(moved.params.weights) == pytest.approx(np.sort(oracle.params.weights), abs=1e-3)


def test_split_starts_copy_a_source_into_the_smallest():
    dag = random_sparse_dag(5, 2, random_state=1)
    _, truth = bayesnet_mixture(dag, 3, 0, random_state=2)
    starts = split_source_starts(truth, np.random.default_rng(0))
    v = int(np.argmin(truth.weights))
    assert len(starts) == 2 * len(SPLIT_NOISE)
    for s, (u, eps) in zip(
        starts, [(u, e) for u in range(3) if u != v for e in SPLIT_NOISE], strict=True
    ):
        assert s.weights.sum() == pytest.approx(1.0)
        assert s.weights[u] == pytest.approx(s.weights[v])
        for t, t0 in zip(s.cpts, truth.cpts, strict=True):
            # (1 - eps) theta_u + eps * noise: at least (1 - eps) theta_u entrywise
            assert np.all(t[v] >= (1 - eps) * t0[u] - 1e-12)
            np.testing.assert_array_equal(t[u], t0[u])
    one = BayesNetMixtureParams(dag, truth.n_levels, [1.0], tuple(c[:1] for c in truth.cpts))
    assert split_source_starts(one, np.random.default_rng(0)) == []

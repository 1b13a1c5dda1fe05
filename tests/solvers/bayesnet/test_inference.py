"""Inference in mixtures of Bayesian networks (kmix.solvers.bayesnet.inference).

References, independent of the code under test:

* brute-force enumeration of the full joint ``P(U = u, V = v)`` over every
  assignment (``tests.helpers.bayesnet.brute_joint``) for the row
  log-probabilities;
* sampling: exact marginals, with a tolerance of 5 binomial standard errors
  ``sqrt(p (1 - p) / N)`` for the stated N.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kmix.causal.effects import interventional
from kmix.exceptions import DataError
from kmix.params.bayesnet import BayesNetMixtureParams
from kmix.params.dag import DAG
from kmix.solvers.bayesnet import inference
from kmix.solvers.bayesnet.inference import log_prob_rows, sample
from tests.helpers.bayesnet import brute_joint, random_bn


def test_log_prob_rows_matches_the_product_of_cpts(small):
    rows = np.array(list(itertools.product(*[range(d) for d in small.n_levels])))
    lp = log_prob_rows(small, rows)
    J = brute_joint(small) / small.weights.reshape((-1,) + (1,) * small.n_nodes)
    want = np.log(J.reshape(small.n_components, -1).T)
    np.testing.assert_allclose(lp, want, rtol=1e-12)
    assert float(np.exp(lp) @ small.weights @ np.ones(len(rows))) == pytest.approx(1.0)
    assert lp.shape == (len(rows), 3)
    np.testing.assert_allclose(log_prob_rows(small, rows.astype(float)), lp)


def test_log_prob_rows_gives_minus_inf_for_impossible_rows():
    g = DAG.from_edges(None, [("A", "B")])
    p = BayesNetMixtureParams(g, 2, [1.0], [[[1.0, 0.0]], [[[0.5, 0.5], [0.5, 0.5]]]])
    lp = log_prob_rows(p, [[0, 1], [1, 1]])
    assert lp[0, 0] == pytest.approx(np.log(0.5)) and lp[1, 0] == -np.inf


def test_bad_rows_are_named():
    g = DAG.from_edges(None, [("A", "B")])
    p = random_bn(g, 2, (2, 3), np.random.default_rng(0))
    with pytest.raises(DataError, match="row 1, column 'B' has value 3"):
        log_prob_rows(p, [[0, 2], [1, 3]])
    with pytest.raises(DataError, match="shape"):
        log_prob_rows(p, [[0, 1, 0]])
    with pytest.raises(DataError, match="integer"):
        log_prob_rows(p, [[0.5, 1]])


def test_elimination_refuses_tables_beyond_the_limit(small, monkeypatch):
    monkeypatch.setattr(inference, "MAX_FACTOR_ENTRIES", 4)
    with pytest.raises(DataError, match="MAX_FACTOR_ENTRIES"):
        interventional(small, "E", {"G": 1})


# ------------------------------------------------------------------------------ sampling
def test_sampling_matches_exact_marginals(small):
    n = 40_000  # tolerance: 5 binomial standard errors sqrt(p (1 - p) / n)
    X, labels = sample(small, n, rng=np.random.default_rng(3))
    assert X.shape == (n, 7) and X.dtype == np.int64 and labels.shape == (n,)
    freq = np.bincount(labels, minlength=3) / n
    se = np.sqrt(small.weights * (1 - small.weights) / n)
    assert np.all(np.abs(freq - small.weights) < 5 * se)
    J = brute_joint(small)
    for j in range(small.n_nodes):
        exact = J.sum(axis=tuple(a for a in range(J.ndim) if a != j + 1))
        got = np.bincount(X[:, j], minlength=small.n_levels[j]) / n
        assert np.all(np.abs(got - exact) < 5 * np.sqrt(exact * (1 - exact) / n)), j
    # one pairwise cell per source: P_u(C = 1, D = 1)
    cd = J.sum(axis=(1, 2, 5, 6, 7))[:, 1, 1] / small.weights
    for u in range(3):
        rows = labels == u
        got = np.mean((X[rows, 2] == 1) & (X[rows, 3] == 1))
        assert abs(got - cd[u]) < 5 * np.sqrt(cd[u] * (1 - cd[u]) / rows.sum())

"""``erdos_renyi_mixture``: the discovery protocol's graphs and data.

References: the Erdős–Rényi edge count is Binomial(n(n-1)/2, p) (its mean over many
draws), a uniform ``U`` gives equal weights, and every CPT row is a distribution.
"""

from __future__ import annotations

import numpy as np
import pytest

from kmix.datasets import erdos_renyi_mixture
from kmix.exceptions import DataError


def test_graphs_data_and_parameters():
    counts = []
    for seed in range(200):
        X, dag, params = erdos_renyi_mixture(7, 0.3, 0, random_state=seed)
        counts.append(len(dag.edges))
        assert X.shape == (0, 7) and np.allclose(params.weights, 0.5)
        for table in params.cpts:
            np.testing.assert_allclose(table.sum(axis=-1), 1.0)
    # mean edge count 21 * 0.3 = 6.3, standard error sqrt(21 * .3 * .7 / 200) = 0.15
    assert abs(np.mean(counts) - 6.3) < 4 * 0.15
    X, dag, params = erdos_renyi_mixture(5, 0.5, 1000, n_components=3, n_levels=3, random_state=1)
    assert X.shape == (1000, 5) and X.min() >= 0 and X.max() <= 2
    assert params.n_components == 3
    again = erdos_renyi_mixture(5, 0.5, 1000, n_components=3, n_levels=3, random_state=1)
    np.testing.assert_array_equal(X, again[0])


def test_bad_arguments_are_named():
    with pytest.raises(DataError, match="edge_prob must be in"):
        erdos_renyi_mixture(5, 1.5)
    with pytest.raises(DataError, match="n_nodes >= 2"):
        erdos_renyi_mixture(1, 0.5)


def test_column_i_is_variable_vi():
    """Reference: each variable's exact marginal from the simulating mixture
    (``kmix.causal.observational``); the columns' means over 40,000 rows agree to 4.5
    standard errors, in the names' order (``dag.nodes`` lists them parents first)."""
    from kmix.causal.effects import observational

    X, dag, params = erdos_renyi_mixture(7, 0.5, 40_000, random_state=3)
    assert list(dag.nodes) != [f"V{i}" for i in range(7)]  # the order matters here
    for i in range(7):
        p = float(observational(params, f"V{i}")[1])
        se = np.sqrt(p * (1 - p) / X.shape[0])
        assert abs(X[:, i].mean() - p) < 4.5 * se, (i, X[:, i].mean(), p)

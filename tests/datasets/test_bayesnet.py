"""Simulators of DAGs and of mixtures of Bayesian networks (kmix.datasets.bayesnet).

References: the degree bound, separation and level ranges the simulators
promise; the two-hospital example's text DAG against the simulator's graph.
"""

from __future__ import annotations

import numpy as np
import pytest

from kmix.datasets import bayesnet_mixture, random_sparse_dag
from kmix.exceptions import DataError
from kmix.params.dag import DAG


def test_random_sparse_dag_bounds_the_degree():
    for seed in range(5):
        g = random_sparse_dag(40, 3, random_state=seed)
        assert g.nodes == tuple(f"V{i}" for i in range(40))
        assert g.max_degree <= 3 and len(g.edges) > 10
    assert random_sparse_dag(10, 2, random_state=1) == random_sparse_dag(10, 2, random_state=1)
    assert random_sparse_dag(5, 0, random_state=0).edges == ()
    with pytest.raises(DataError, match="n_nodes"):
        random_sparse_dag(0)


def test_bayesnet_mixture_simulator():
    g = DAG.from_edges(None, [("A", "B"), ("B", "C"), ("A", "C")])
    X, truth, labels = bayesnet_mixture(
        g, 3, 500, n_levels=(2, 3, 2), separation=0.15, random_state=0, return_labels=True
    )
    assert X.shape == (500, 3) and labels.shape == (500,)
    assert truth.columns == ("A", "B", "C") and truth.n_levels == (2, 3, 2)
    assert np.all(truth.weights >= 0.05 - 1e-12)
    for cpt in truth.cpts:
        rows = np.moveaxis(cpt, 0, -2).reshape(-1, 3, cpt.shape[-1])  # (rows, k, levels)
        gaps = np.abs(rows[:, :, None, :] - rows[:, None, :, :]).max(axis=-1)
        assert gaps[:, ~np.eye(3, dtype=bool)].min() >= 0.15 - 1e-12
        p1 = cpt[..., 1] if cpt.shape[-1] == 2 else None
        if p1 is not None:
            assert p1.min() >= 0.1 - 1e-12 and p1.max() <= 0.9 + 1e-12
    X2, _ = bayesnet_mixture(g, 3, 500, n_levels=(2, 3, 2), separation=0.15, random_state=0)
    np.testing.assert_array_equal(X, X2)
    assert np.all(X.max(axis=0) < np.array(truth.n_levels))
    with pytest.raises(DataError, match=r"separation <= 0\.4"):
        bayesnet_mixture(g, 3, 10, separation=0.5)
    with pytest.raises(DataError, match="kmix DAG"):
        bayesnet_mixture([("A", "B")], 2, 10)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="n_levels"):
        bayesnet_mixture(g, 2, 10, n_levels=(2, 2))


def test_two_hospitals_text_dag_matches_the_simulator():
    from kmix.causal import as_dag
    from kmix.datasets import HOSPITALS_DAG, two_hospitals

    X, truth = two_hospitals(100, random_state=0)
    parsed = as_dag(HOSPITALS_DAG)
    assert set(parsed.edges) == set(truth.dag.edges) and set(parsed.nodes) == set(truth.columns)
    assert X.shape == (100, 6)

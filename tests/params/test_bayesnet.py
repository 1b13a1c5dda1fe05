"""Parameters of mixtures of Bayesian networks (kmix.params.bayesnet).

References: free-parameter counts by hand; for a relabelling of the sources,
the answers of the unrelabelled model (pooled answers unchanged, per-source
answers permuted); validation errors naming the problem.
"""

from __future__ import annotations

import numpy as np
import pytest

from kmix.causal.effects import interventional
from kmix.exceptions import DataError
from kmix.params.bayesnet import BayesNetMixtureParams
from kmix.params.dag import DAG
from tests.helpers.bayesnet import random_bn


def test_permuting_sources_permutes_per_source_answers_only(small):
    perm = [2, 0, 1]
    q = small.permute(perm)
    np.testing.assert_allclose(
        interventional(q, "E", {"C": 1}, {"A": 0}), interventional(small, "E", {"C": 1}, {"A": 0})
    )
    np.testing.assert_allclose(
        interventional(q, "E", {"C": 1}, per_source=True),
        interventional(small, "E", {"C": 1}, per_source=True)[perm],
    )
    c = small.canonical()
    assert c == c.canonical() == q.canonical()
    assert c != small.permute([1, 0, 2])
    with pytest.raises(DataError, match="permutation"):
        small.permute([0, 0, 1])


def test_n_parameters_counts_free_parameters():
    chain = DAG.from_edges(None, [("A", "B"), ("B", "C")])
    p = random_bn(chain, 2, (2, 2, 2), np.random.default_rng(0))
    assert p.n_parameters == 1 + 2 * 1 + 2 * 2 + 2 * 2
    p3 = random_bn(chain, 3, (3, 2, 4), np.random.default_rng(0))
    assert p3.n_parameters == 2 + 3 * 2 + 3 * 3 * 1 + 3 * 2 * 3
    assert p3.n_components == 3 and p3.columns == ("A", "B", "C")
    assert p3.cpt("C").shape == (3, 2, 4)


def test_params_validation_names_the_problem():
    g = DAG.from_edges(None, [("A", "B")])
    good = [[[0.5, 0.5]] * 2, [[[0.5, 0.5]] * 2] * 2]
    with pytest.raises(DataError, match="CPT of 'B' has shape"):
        BayesNetMixtureParams(g, 2, [0.5, 0.5], [good[0], [[0.5, 0.5]] * 2])
    with pytest.raises(DataError, match=r"'A' has a row .* summing to"):
        BayesNetMixtureParams(g, 2, [0.5, 0.5], [[[0.5, 0.6], [0.5, 0.5]], good[1]])
    with pytest.raises(DataError, match="n_levels has 3 entries"):
        BayesNetMixtureParams(g, (2, 2, 2), [0.5, 0.5], good)
    with pytest.raises(DataError, match="cpts has 1 tables"):
        BayesNetMixtureParams(g, 2, [0.5, 0.5], good[:1])
    with pytest.raises(DataError, match="sum to 1"):
        BayesNetMixtureParams(g, 2, [0.5, 0.6], good)
    with pytest.raises(DataError, match="kmix DAG"):
        BayesNetMixtureParams([("A", "B")], 2, [0.5, 0.5], good)  # type: ignore[arg-type]

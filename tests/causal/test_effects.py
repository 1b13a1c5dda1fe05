"""Do-queries on mixtures of Bayesian networks (kmix.causal.effects).

References, independent of the code under test:

* brute-force enumeration of the full joint ``P(U = u, V = v)`` over every
  assignment (<= 10 nodes), built as an explicit product of CPT entries with
  the intervened nodes' CPTs replaced by point masses (the truncated
  factorisation, Pearl 2009, eq. 3.10), then conditioned and marginalised
  by slicing and summing (``tests.helpers.bayesnet``);
* on a 32-node chain, closed-form forward products of 2x2 transition
  matrices per source;
* on a 32-node sparse random DAG, brute force on the ancestral sub-network
  of the query (non-ancestors are barren: they sum out to one).
"""

from __future__ import annotations

import numpy as np
import pytest

from kmix.causal.effects import ate, interventional, observational
from kmix.datasets import random_sparse_dag
from kmix.exceptions import DataError
from kmix.params.bayesnet import BayesNetMixtureParams
from kmix.params.dag import DAG
from tests.helpers.bayesnet import brute_query, random_bn

QUERIES = [
    ("E", {"C": 1}, None),
    ("E", {"C": 0}, {"A": 1}),
    ("E", {"C": 1}, {"D": 0}),
    ("A", {"C": 1}, {"E": 2}),  # given a descendant: the posterior over u matters
    ("C", {}, {"E": 0, "G": 1}),
    (["D", "B"], {"A": 0}, None),
    (["E", "C", "A"], {"B": 2}, {"G": 0}),
    ("D", {"A": 1, "B": 0}, None),
    ("G", {"A": 1}, {"E": 1}),
    ("B", {}, None),
]


@pytest.mark.parametrize(("outcome", "do", "given"), QUERIES)
@pytest.mark.parametrize("per_source", [False, True])
def test_interventional_matches_brute_force(small, outcome, do, given, per_source):
    got = interventional(small, outcome, do, given, per_source=per_source)
    want = brute_query(small, outcome, do, given, per_source=per_source)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(("outcome", "given"), [("E", {"C": 1}), ("A", {"E": 0}), ("D", None)])
def test_observational_matches_brute_force(small, outcome, given):
    np.testing.assert_allclose(
        observational(small, outcome, given), brute_query(small, outcome, None, given), rtol=1e-10
    )
    np.testing.assert_allclose(
        observational(small, outcome, given, per_source=True),
        brute_query(small, outcome, None, given, per_source=True),
        rtol=1e-10,
    )


def test_seeing_differs_from_doing_under_confounding(small):
    doing = interventional(small, "D", {"C": 1})
    seeing = observational(small, "D", {"C": 1})
    assert np.abs(doing - seeing).max() > 1e-3


def test_intervening_on_a_non_ancestor_leaves_the_outcome_unchanged(small):
    # E is not an ancestor of A: P(A | do(E)) = P(A), exactly, despite U
    np.testing.assert_allclose(interventional(small, "A", {"E": 2}), observational(small, "A"))


@pytest.mark.parametrize("given", [None, {"A": 0}])
def test_ate_matches_brute_force_and_averages_the_per_source_effects(small, given):
    values = np.arange(3.0)  # E has three levels valued 0, 1, 2
    arms = [brute_query(small, "E", {"C": t}, given) @ values for t in (0, 1)]
    assert ate(small, "C", "E", given) == pytest.approx(arms[1] - arms[0], rel=1e-10)
    per = [brute_query(small, "E", {"C": t}, given, per_source=True) @ values for t in (0, 1)]
    np.testing.assert_allclose(ate(small, "C", "E", given, per_source=True), per[1] - per[0])
    if given is None:
        effects = ate(small, "C", "E", per_source=True)
        assert small.weights @ effects == pytest.approx(ate(small, "C", "E"), rel=1e-12)
    with pytest.raises(DataError, match="binary treatment"):
        ate(small, "B", "E")


def test_query_validation_names_the_problem(small):
    with pytest.raises(DataError, match="unknown node 'Q'"):
        interventional(small, "Q", {"C": 1})
    with pytest.raises(DataError, match=r"do\['C'\] = 2"):
        interventional(small, "E", {"C": 2})
    with pytest.raises(DataError, match="outcome and do must not share"):
        interventional(small, "C", {"C": 1})
    with pytest.raises(DataError, match="do and given must not share"):
        interventional(small, "E", {"C": 1}, {"C": 1})
    with pytest.raises(DataError, match="twice"):
        interventional(small, ["E", "E"], {})
    g = DAG.from_edges(None, [("A", "B")])
    p = BayesNetMixtureParams(g, 2, [0.5, 0.5], [[[1.0, 0.0], [0.5, 0.5]], [[[0.5, 0.5]] * 2] * 2])
    assert interventional(p, "B", {}, {"A": 1}).sum() == pytest.approx(1.0)
    with pytest.raises(DataError, match="source u=0"):
        interventional(p, "B", {}, {"A": 1}, per_source=True)
    q = BayesNetMixtureParams(g, 2, [1.0], [[[1.0, 0.0]], [[[0.5, 0.5]] * 2]])
    with pytest.raises(DataError, match="= 0; the conditional is undefined"):
        observational(q, "B", {"A": 1})


# ------------------------------------------------------------------------ 32-node graphs
def test_32_node_chain_against_transition_matrix_products():
    n = 32
    dag = DAG.from_edges(None, [(f"V{i}", f"V{i + 1}") for i in range(n - 1)])
    p = random_bn(dag, 3, (2,) * n, np.random.default_rng(7))
    T = [p.cpts[j] for j in range(n)]  # T[j][u] is (2, 2) for j >= 1
    # P(V31 | do(V10 = 1))
    e = np.tile([0.0, 1.0], (3, 1))
    for j in range(11, n):
        e = np.einsum("ua,uab->ub", e, T[j])
    np.testing.assert_allclose(interventional(p, "V31", {"V10": 1}), p.weights @ e, rtol=1e-10)
    np.testing.assert_allclose(interventional(p, "V31", {"V10": 1}, per_source=True), e)
    # P(V31 | do(V10 = 1), V5 = 0): the evidence reweights the sources
    m = T[0]
    for j in range(1, 6):
        m = np.einsum("ua,uab->ub", m, T[j])
    post = p.weights * m[:, 0]
    np.testing.assert_allclose(
        interventional(p, "V31", {"V10": 1}, {"V5": 0}), post @ e / post.sum(), rtol=1e-10
    )
    # P(V0 | V31 = 1): observational, through all 32 nodes
    M = np.broadcast_to(np.eye(2), (3, 2, 2))
    for j in range(1, n):
        M = np.einsum("uab,ubc->uac", M, T[j])
    joint = p.weights @ (T[0] * M[:, :, 1])
    np.testing.assert_allclose(observational(p, "V0", {"V31": 1}), joint / joint.sum(), rtol=1e-10)


def _subnetwork(params, keep):
    nodes = [v for v in params.columns if v in keep]
    dag = DAG(tuple(nodes), {v: params.dag.parents[v] for v in nodes})
    idx = [params.columns.index(v) for v in nodes]
    return BayesNetMixtureParams(
        dag, [params.n_levels[i] for i in idx], params.weights, [params.cpts[i] for i in idx]
    )


@pytest.mark.parametrize("seed", range(3))
def test_32_node_sparse_dag_against_brute_force_on_the_ancestral_subgraph(seed):
    dag = random_sparse_dag(32, 3, random_state=seed)
    p = random_bn(dag, 2, (2,) * 32, np.random.default_rng(seed))
    sizes = {v: len(dag.ancestors(v, inclusive=True)) for v in dag.nodes}
    ys = [v for v in dag.nodes if 4 <= sizes[v] <= 10]
    assert ys, "the random graph should have a mid-sized ancestral set"
    y = max(ys, key=lambda v: sizes[v])
    anc = sorted(dag.ancestors(y), key=dag.nodes.index)
    x, z = anc[-1], anc[0]
    given = {z: 1} if z != x else None
    keep = dag.ancestors([y, x, z], inclusive=True)
    sub = _subnetwork(p, keep)
    for per_source in (False, True):
        got = interventional(p, y, {x: 0}, given, per_source=per_source)
        want = brute_query(sub, y, {x: 0}, given, per_source=per_source)
        np.testing.assert_allclose(got, want, rtol=1e-10)
    # evidence on every sink makes all 32 nodes relevant: no 2^32 table is built, and
    # the answer is consistent with the joint over (y, w) marginalised over w
    sinks = [v for v in dag.nodes if not dag.children(v) and v != y]
    assert len(dag.ancestors([y, *sinks], inclusive=True)) == 32
    w = next(v for v in dag.nodes if v not in (y, x, *sinks))
    evidence = {s: i % 2 for i, s in enumerate(sinks)}
    out = interventional(p, y, {x: 0}, evidence)
    assert out.shape == (2,) and out.sum() == pytest.approx(1.0)
    joint = interventional(p, [w, y], {x: 0}, evidence)
    np.testing.assert_allclose(joint.sum(axis=0), out, rtol=1e-10)

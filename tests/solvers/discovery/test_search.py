"""Causal discovery under a latent class: the search against known graphs.

References: (1) d-separation in ``G_U`` given ``U`` (``kmix.params.d_separated``)
as a perfect test: PC's search with such an oracle returns the true skeleton
and the true equivalence class whenever each side of every pair has enough
states (PC's soundness; Spirtes, Glymour & Scheines 2000); (2) the Markov
equivalence class enumerated by brute force (every acyclic orientation of the
skeleton with the true v-structures), independent of the orientation code;
(3) exact population tables of a mixture of networks, where a separated pair
has rank exactly ``k`` in every stratum (the rank lemma of Mazaheri et al. 2023).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kmix.datasets import bayesnet_mixture, random_sparse_dag
from kmix.params import DAG, d_separated
from kmix.solvers.bayesnet.inference import log_prob_rows
from kmix.solvers.discovery import (
    StratifiedRankTest,
    discover_graph,
    learn_skeleton,
    meek,
    orient,
)


def oracle(dag: DAG):
    """A perfect rank test: p = 1 when A and B are d-separated by S and U, else 0."""
    names = dag.nodes

    def test(a, b, cond):
        sep = d_separated(
            dag,
            [names[i] for i in a],
            [names[j] for j in b],
            [names[c] for c in cond],
            given_latent=True,
        )
        return StratifiedRankTest(
            tuple(a), tuple(b), tuple(cond), 0.0, 1, 1.0 if sep else 0.0, 1, 1
        )

    return test


def true_skeleton(dag: DAG) -> np.ndarray:
    n = len(dag.nodes)
    idx = {v: i for i, v in enumerate(dag.nodes)}
    adj = np.zeros((n, n), dtype=bool)
    for a, b in dag.edges:
        adj[idx[a], idx[b]] = adj[idx[b], idx[a]] = True
    return adj


def brute_force_class(dag: DAG) -> np.ndarray:
    """CPDAG by enumeration: G[a, b] iff some DAG of the class has a -> b."""
    n = len(dag.nodes)
    idx = {v: i for i, v in enumerate(dag.nodes)}
    true = {(idx[a], idx[b]) for a, b in dag.edges}
    pairs = sorted({(min(a, b), max(a, b)) for a, b in true})

    def vstructs(edges):
        parents = {m: {a for a, b in edges if b == m} for m in range(n)}
        adj = {(a, b) for a, b in edges} | {(b, a) for a, b in edges}
        return {
            (min(x, y), m, max(x, y))
            for m in range(n)
            for x, y in itertools.combinations(sorted(parents[m]), 2)
            if (x, y) not in adj
        }

    def acyclic(edges):
        left = set(range(n))
        es = set(edges)
        while left:
            roots = [v for v in left if not any((u, v) in es for u in left)]
            if not roots:
                return False
            left -= set(roots)
        return True

    target = vstructs(true)
    g = np.zeros((n, n), dtype=bool)
    for flips in itertools.product((False, True), repeat=len(pairs)):
        edges = [(b, a) if f else (a, b) for (a, b), f in zip(pairs, flips, strict=True)]
        if acyclic(edges) and vstructs(edges) == target:
            for a, b in edges:
                g[a, b] = True
    return g


@pytest.mark.parametrize("seed", range(12))
def test_oracle_search_returns_the_equivalence_class(seed):
    dag = random_sparse_dag(7, 3, random_state=seed)
    n = len(dag.nodes)
    # three levels per node: k + 1 states on each side without partners (k = 2)
    skel = learn_skeleton(n, oracle(dag), lambda cols: 3 ** len(cols), 2, alpha=0.5)
    np.testing.assert_array_equal(skel.adjacency, true_skeleton(dag))
    got = orient(skel.adjacency, skel.sepsets).graph
    np.testing.assert_array_equal(got, brute_force_class(dag))


@pytest.mark.parametrize("seed", range(6))
def test_oracle_binary_search_never_removes_a_true_edge_and_orients_soundly(seed):
    """Binary nodes need partners; where none separates a pair the edge stays (power,
    not soundness): the true skeleton is always kept, every removal is a true non-edge."""
    dag = random_sparse_dag(9, 2, random_state=seed)
    n = len(dag.nodes)
    skel = learn_skeleton(
        n, oracle(dag), lambda cols: 2 ** len(cols), 2, alpha=0.5, max_groupings=None
    )
    truth = true_skeleton(dag)
    assert np.all(skel.adjacency[truth])
    assert skel.adjacency.sum() < n * (n - 1)  # partners exist on sparse graphs: pairs go


def test_meek_rules_on_minimal_graphs():
    # R1: 0 -> 1 - 2 with 0, 2 non-adjacent: 1 -> 2
    g = np.zeros((3, 3), dtype=bool)
    g[0, 1] = True
    g[1, 2] = g[2, 1] = True
    rule = {}
    out = meek(g, rule)
    assert out[1, 2] and not out[2, 1] and rule[(1, 2)] == "R1"
    # R2: 0 -> 1 -> 2 and 0 - 2: 0 -> 2
    g = np.zeros((3, 3), dtype=bool)
    g[0, 1] = g[1, 2] = True
    g[0, 2] = g[2, 0] = True
    rule = {}
    out = meek(g, rule)
    assert out[0, 2] and not out[2, 0] and rule[(0, 2)] == "R2"
    # R3: 0 - 1, 0 - 2, 0 - 3, 1 -> 3 <- 2, 1 and 2 non-adjacent: 0 -> 3
    g = np.zeros((4, 4), dtype=bool)
    for a, b in [(0, 1), (0, 2), (0, 3)]:
        g[a, b] = g[b, a] = True
    g[1, 3] = g[2, 3] = True
    rule = {}
    out = meek(g, rule)
    assert out[0, 3] and not out[3, 0] and rule[(0, 3)] == "R3"
    # R4: 0 - 3, 1 -> 2 -> 3, 0 adjacent to 1 and 2, 1 and 3 non-adjacent: 0 -> 3
    g = np.zeros((4, 4), dtype=bool)
    for a, b in [(0, 1), (0, 2), (0, 3)]:
        g[a, b] = g[b, a] = True
    g[1, 2] = g[2, 3] = True
    rule = {}
    out = meek(g, rule)
    assert out[0, 3] and not out[3, 0] and rule[(0, 3)] == "R4"


def test_background_knowledge_orients_and_meek_propagates():
    # skeleton 0 - 1 - 2 (a chain, no collider: 1 separates 0 and 2)
    adj = np.zeros((3, 3), dtype=bool)
    adj[0, 1] = adj[1, 0] = adj[1, 2] = adj[2, 1] = True
    res = orient(adj, {(0, 2): (1,)})
    assert res.graph[0, 1] and res.graph[1, 0]  # unoriented without knowledge
    res = orient(adj, {(0, 2): (1,)}, required=[(0, 1)])
    assert res.rule[(0, 1)] == "background" and res.rule[(1, 2)] == "R1"
    res = orient(adj, {(0, 2): (1,)}, forbidden=[(1, 0)])
    assert res.graph[0, 1] and not res.graph[1, 0]
    # a collider that contradicts knowledge is reported and left out
    res = orient(adj, {(0, 2): ()}, required=[(1, 0)])
    assert res.conflicts == [(0, 1, 2)]


def population(dag: DAG, k: int, levels: int, seed: int):
    """Every row of the exact joint table, with its probability times 1e9."""
    _, truth = bayesnet_mixture(dag, k, 0, n_levels=levels, separation=0.3, random_state=seed)
    n = len(dag.nodes)
    rows = np.array(list(itertools.product(range(levels), repeat=n)), dtype=np.int64)
    probs = np.exp(log_prob_rows(truth, rows)) @ truth.weights
    return rows, probs * 1e9


@pytest.mark.parametrize("seed", range(3))
def test_population_tables_give_the_equivalence_class(seed):
    dag = random_sparse_dag(6, 2, random_state=10 + seed)
    rows, counts = population(dag, 2, 3, seed)
    res = discover_graph(rows, counts, [3] * 6, 2, alpha=0.01, pool=False, covariance="observed")
    np.testing.assert_array_equal(res.skeleton.adjacency, true_skeleton(dag))
    np.testing.assert_array_equal(res.orientation.graph, brute_force_class(dag))


def test_inputs_are_checked():
    rows = np.zeros((2, 3), dtype=np.int64)
    from kmix.exceptions import DataError

    with pytest.raises(DataError, match="n_components must be >= 1"):
        discover_graph(rows, np.ones(2), [2, 2, 2], 0, alpha=0.05)
    with pytest.raises(DataError, match="alpha must be in"):
        discover_graph(rows, np.ones(2), [2, 2, 2], 2, alpha=1.5)

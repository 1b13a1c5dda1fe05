"""Structural EM over DAGs with a hidden class (kmix.solvers.discovery.scoring).

References: (1) the Markov equivalence class enumerated by brute force
(``brute_force_class`` of ``test_search``: every acyclic orientation of the
skeleton with the true colliders), independent of the orientation code; (2) the
log-likelihood of the returned parameters summed here over rows and classes,
written out in the test, and the BIC's parameter count by hand; (3) exact
population tables of a mixture of networks (probabilities x 1e9), on which the
generating DAG has the highest BIC of its neighbours.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kmix.datasets import bayesnet_mixture, random_sparse_dag
from kmix.params import DAG
from kmix.solvers.bayesnet.inference import log_prob_rows
from kmix.solvers.discovery import equivalence_class, structural_em
from kmix.solvers.discovery.search import extension
from tests.solvers.discovery.test_search import brute_force_class

#: A collider and a chain: A -> C <- B, C -> D -> E
GRAPH = DAG.from_edges(["A", "B", "C", "D", "E"], [("A", "C"), ("B", "C"), ("C", "D"), ("D", "E")])


def population(dag, levels=3, seed=4):
    _, truth = bayesnet_mixture(dag, 2, 0, n_levels=levels, separation=0.3, random_state=seed)
    rows = np.array(list(itertools.product(range(levels), repeat=len(dag.nodes))), dtype=np.int64)
    return rows, (np.exp(log_prob_rows(truth, rows)) @ truth.weights) * 1e9


def parents_of(dag):
    return [[dag.nodes.index(p) for p in dag.parents[v]] for v in dag.nodes]


def acyclic(parents):
    left, order = set(range(len(parents))), []
    while left:
        roots = [v for v in left if not set(parents[v]) & left]
        if not roots:
            return False
        left -= set(roots)
        order += roots
    return True


def test_population_table_keeps_the_generating_dag_and_its_class():
    rows, counts = population(GRAPH)
    res = structural_em(
        rows, counts, [3] * 5, 2, rng=np.random.default_rng(0), starts=[parents_of(GRAPH)]
    )
    assert {(GRAPH.nodes[a], GRAPH.nodes[b]) for a, b in res.edges()} == set(GRAPH.edges)
    # the start from the generating DAG wins over the empty graph's starts
    assert res.bic == max(res.restart_bics)
    got = equivalence_class(res.parents).graph
    np.testing.assert_array_equal(got, brute_force_class(GRAPH))
    # margins: every true edge is worth far more than its penalty; every absent pair
    # costs about its penalty (a population table: no likelihood to gain)
    m = res.margins
    for a, b in itertools.combinations(range(5), 2):
        joined = b in res.parents[a] or a in res.parents[b]
        assert (m[a, b] > 1e3) if joined else (-1e3 < m[a, b] < 0), (a, b, m[a, b])


def test_log_likelihood_and_bic_by_hand():
    X, _, _ = _sample(6, 3_000, 1)
    rows, counts = np.unique(X, axis=0, return_counts=True)
    res = structural_em(rows, counts.astype(float), [2] * 6, 2, rng=np.random.default_rng(1))
    total = 0.0
    for x, c in zip(rows, counts, strict=True):
        mix = 0.0
        for u in range(2):
            p = res.weights[u]
            for i, ps in enumerate(res.parents):
                s = 0
                for q in ps:  # mixed radix, first parent slowest
                    s = s * 2 + x[q]
                p *= res.cpts[i][u, s, x[i]]
            mix += p
        total += c * np.log(mix)
    np.testing.assert_allclose(res.log_likelihood, total, rtol=1e-12)
    n_par = 1 + sum(2 * 2 ** len(ps) for ps in res.parents)
    np.testing.assert_allclose(res.bic, total - 0.5 * np.log(counts.sum()) * n_par, rtol=1e-12)


def _sample(n, N, seed):
    dag = random_sparse_dag(n, 2, random_state=seed)
    X, truth = bayesnet_mixture(dag, 2, N, n_levels=2, random_state=seed)
    return np.asarray(X), dag, truth


@pytest.mark.parametrize("seed", range(4))
def test_every_graph_is_acyclic_and_keeps_the_background(seed):
    X, _, _ = _sample(6, 2_000, seed)
    rows, counts = np.unique(X, axis=0, return_counts=True)
    required, forbidden = [(0, 1)], [(2, 3), (3, 2), (4, 5)]
    res = structural_em(
        rows,
        counts.astype(float),
        [2] * 6,
        2,
        rng=np.random.default_rng(seed),
        starts=[[[], [], [], [2], [3], [4]]],
        required=required,
        forbidden=forbidden,
    )
    assert acyclic(res.parents) and (0, 1) in res.edges()
    assert not {(2, 3), (3, 2), (4, 5)} & set(res.edges())
    # latent class, random, the given start, up to three witness sets' posteriors, and
    # a graph grown around each of the 8 best-fitting sets of four (15 sets of 6 variables)
    assert 1 + 4 + 1 + 8 <= len(res.restart_bics) <= 1 + 4 + 1 + 3 + 8


def test_extension_keeps_directed_edges_and_is_acyclic():
    # A -> C <- B, C - D, D - E: a DAG of the class orients C -> D -> E
    g = np.zeros((5, 5), dtype=bool)
    g[0, 2] = g[1, 2] = True
    for a, b in ((2, 3), (3, 4)):
        g[a, b] = g[b, a] = True
    par = extension(g)
    assert acyclic(par) and 0 in par[2] and 1 in par[2]
    assert sum(len(p) for p in par) == 4


def test_equivalence_class_by_hand():
    # a chain is open; a collider and what follows it is oriented
    np.testing.assert_array_equal(
        equivalence_class([[], [0], [1]]).graph,
        np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=bool),
    )
    got = equivalence_class(parents_of(GRAPH))
    np.testing.assert_array_equal(got.graph, brute_force_class(GRAPH))
    assert got.rule[(0, 2)] == "collider" and got.rule[(3, 4)] == "R1"
    # background knowledge orients an open chain, Meek's R1 carries it on
    fixed = equivalence_class([[], [0], [1]], required=[(0, 1)])
    assert fixed.rule[(0, 1)] == "background" and fixed.rule[(1, 2)] == "R1"


def test_witness_sets_are_the_variables_independent_given_u():
    """Population tables (exact): no four of GRAPH's five variables are independent given U
    (every four hold an edge or a path through the fifth), so no set passes the test; with
    A .. D joined only through U (and E a child of A), the witnesses' posterior is the exact
    P(U | the set) of one of the two valid sets, {A, B, C, D} or {B, C, D, E}."""
    from kmix.solvers.discovery.families import Families
    from kmix.solvers.discovery.starts import witness_starts

    rows, counts = population(GRAPH)
    fam = Families(rows, counts, [3] * 5, 2)
    assert not any(fits for _, _, fits in witness_starts(fam, np.random.default_rng(0), 3))
    star = DAG.from_edges(list("ABCDE"), [("A", "E")])
    _, truth = bayesnet_mixture(star, 2, 0, n_levels=2, separation=0.3, random_state=2)
    rows = np.array(list(itertools.product(range(2), repeat=5)), dtype=np.int64)
    counts = (np.exp(log_prob_rows(truth, rows)) @ truth.weights) * 1e9
    got = witness_starts(Families(rows, counts, [2] * 5, 2), np.random.default_rng(0), 3)
    assert [fits for _, _, fits in got] == [True, True, False]
    cols0, resp0, _ = got[0]
    assert cols0 in ((0, 1, 2, 3), (1, 2, 3, 4))
    post = resp0 / resp0.sum(axis=1, keepdims=True)
    exact = []
    for cols in ((0, 1, 2, 3), (1, 2, 3, 4)):
        joint = np.tile(np.log(truth.weights), (rows.shape[0], 1))
        for j in cols:
            cpt = np.asarray(truth.cpts[j])  # (k, [parent levels], levels)
            if cpt.ndim == 3:  # E given A: marginalise A within each source
                a = np.asarray(truth.cpts[0])
                cpt = np.einsum("ua,uav->uv", a, cpt)
            joint += np.log(cpt[:, rows[:, j]]).T
        p = np.exp(joint - joint.max(axis=1, keepdims=True))
        exact.append(p / p.sum(axis=1, keepdims=True))
    gaps = [min(np.abs(post - e).max(), np.abs(post - e[:, ::-1]).max()) for e in exact]
    # EM stops once a map gains less than 1e-10 of |log L| (about 0.3 nats at these 1e9
    # counts), so the posteriors agree to 1e-3 with the returned set's; the other's by 0.2
    here = [(0, 1, 2, 3), (1, 2, 3, 4)].index(cols0)
    assert gaps[here] < 1e-3 < gaps[1 - here], gaps


def test_grown_graph_keeps_the_witnesses_and_the_true_parents():
    """Population table (exact) of A .. D joined only through U, E <- A and F <- A, B, grown
    around the witnesses {A, B, C, D} from their exact P(U | A .. D). The witnesses stay
    parentless; each added variable takes its true parents and no other: under
    P(U | A .. D), which lacks E's and F's own evidence about U, the other witnesses
    still tell about E, and the expected score takes them as parents; the observed BIC
    of the sub-model with U refit drops them again. A forbidden edge never enters, and
    the graph is acyclic."""
    from kmix.solvers.discovery.families import Families
    from kmix.solvers.discovery.starts import grow

    dag = DAG.from_edges(list("ABCDEF"), [("A", "E"), ("A", "F"), ("B", "F")])
    assert dag.nodes == tuple("ABCDEF")  # columns of the rows below
    _, truth = bayesnet_mixture(dag, 2, 0, n_levels=2, separation=0.3, random_state=3)
    rows = np.array(list(itertools.product(range(2), repeat=6)), dtype=np.int64)
    counts = (np.exp(log_prob_rows(truth, rows)) @ truth.weights) * 1e9
    fam = Families(rows, counts, [2] * 6, 2)
    joint = np.tile(np.log(truth.weights), (rows.shape[0], 1))
    for j in range(4):
        joint += np.log(np.asarray(truth.cpts[j])[:, rows[:, j]]).T
    post = np.exp(joint - joint.max(axis=1, keepdims=True))
    resp = post / post.sum(axis=1, keepdims=True) * counts[:, None]
    allowed = ~np.eye(6, dtype=bool)
    got, _ = grow(fam, resp, (0, 1, 2, 3), allowed, frozenset(), 3)
    assert got == ((), (), (), (), (0,), (0, 1))
    allowed[1, 5] = allowed[3, 4] = False
    got, _ = grow(fam, resp, (0, 1, 2, 3), allowed, frozenset(), 3)
    assert 1 not in got[5] and 3 not in got[4] and {0} <= set(got[4]) & set(got[5])


def test_prune_returns_a_supergraph_to_the_generating_dag():
    """Population table (exact) of GRAPH, fitted on GRAPH plus one extra edge (A -> D, or
    B -> E): deletions scored by the observed BIC with U refit remove it (it costs its
    penalty and gains no likelihood) and the BIC rises; a required extra edge stays."""
    from kmix.solvers.discovery.families import Families, best_of, random_posteriors
    from kmix.solvers.discovery.scoring import _prune

    rows, counts = population(GRAPH)
    fam = Families(rows, counts, [3] * 5, 2)
    true = tuple(tuple(p) for p in parents_of(GRAPH))
    assert true == ((), (), (0, 1), (2,), (3,))
    allowed = ~np.eye(5, dtype=bool)
    for extra in (((), (), (0, 1), (0, 2), (3,)), ((), (), (0, 1), (2,), (1, 3))):
        w, t, resp, ll, _ = best_of(fam, extra, random_posteriors(fam, np.random.default_rng(0), 4))
        bic0 = ll - fam.penalty * fam.n_params(extra)
        got, _, _, _, ll1 = _prune(fam, w, t, extra, resp, ll, allowed, frozenset(), 4)
        assert got == true and ll1 - fam.penalty * fam.n_params(got) > bic0
    kept, *_ = _prune(fam, w, t, extra, resp, ll, allowed, frozenset({(1, 4)}), 4)
    assert kept == extra

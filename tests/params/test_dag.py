"""DAGs and d-separation in G_U (kmix.params.dag).

References: textbook d-separation cases (Koller & Friedman 2009, section
3.3.1: chain, fork, collider, collider with a conditioned descendant) and, on
random small graphs, brute-force conditional independence checks on the
exact joint distribution of random CPTs (a d-separation implies exact
independence; a d-connection gives dependence for generic parameters).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kmix.exceptions import DataError
from kmix.params.dag import DAG, d_separated


def test_nodes_are_topologically_sorted_keeping_the_users_order_among_ready_nodes():
    g = DAG.from_edges(["C", "B", "A", "D"], [("A", "B"), ("D", "B")])
    assert g.nodes == ("C", "A", "D", "B")
    assert g.topological_order == g.nodes
    assert DAG(("B", "A"), {"B": ("A",)}).nodes == ("A", "B")
    assert DAG.from_edges(None, [("X", "Y"), ("W", "Y")]).nodes == ("X", "W", "Y")


def test_parents_keep_edge_order_and_duplicates_are_dropped():
    g = DAG.from_edges(None, [("B", "Y"), ("A", "Y"), ("B", "Y")])
    assert g.parents["Y"] == ("B", "A")
    assert g.edges == (("B", "Y"), ("A", "Y"))
    with pytest.raises(TypeError):
        g.parents["Y"] = ()  # type: ignore[index]


def test_dag_is_hashable_and_equal_by_structure():
    a = DAG.from_edges(["A", "B"], [("A", "B")])
    b = DAG(("A", "B"), {"B": ("A",)})
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != DAG.from_edges(["A", "B"], [])


@pytest.mark.parametrize(
    ("edges", "cycle"),
    [
        ([("A", "B"), ("B", "C"), ("C", "A"), ("D", "A")], "A -> B -> C -> A"),
        ([("D", "A"), ("A", "B"), ("B", "A")], "A -> B -> A"),
        ([("A", "B"), ("B", "C"), ("C", "D"), ("D", "B")], "B -> C -> D -> B"),
    ],
)
def test_cycle_error_names_the_cycle(edges, cycle):
    with pytest.raises(DataError, match="directed cycle: " + cycle):
        DAG.from_edges(["A", "B", "C", "D"], edges)


def test_bad_edges_are_rejected_with_their_names():
    with pytest.raises(DataError, match="self loop A -> A"):
        DAG.from_edges(None, [("A", "A")])
    with pytest.raises(DataError, match="'Z' is not among the nodes"):
        DAG.from_edges(["A", "B"], [("A", "Z")])
    with pytest.raises(DataError, match="unique"):
        DAG(("A", "A"), {})
    with pytest.raises(DataError, match="not in nodes"):
        DAG(("A",), {"B": ("A",)})
    with pytest.raises(DataError, match="pair"):
        DAG.from_edges(None, ["AB"])


def test_family_queries_on_a_textbook_graph():
    # the "student" network of Koller & Friedman (2009, Fig. 3.4)
    g = DAG.from_edges(
        None, [("D", "G"), ("I", "G"), ("I", "S"), ("G", "L"), ("L", "J"), ("S", "J")]
    )
    assert g.children("I") == ("G", "S")
    assert g.ancestors("J") == {"D", "I", "G", "L", "S"}
    assert g.ancestors(["G", "S"], inclusive=True) == {"D", "I", "G", "S"}
    assert g.descendants("I") == {"G", "S", "L", "J"}
    assert g.descendants("J") == frozenset()
    assert g.markov_boundary("G") == {"D", "I", "L"}
    assert g.markov_boundary("L") == {"G", "J", "S"}
    assert g.markov_boundary("I") == {"G", "S", "D"}
    assert all(g.moral_neighbours[v] == g.markov_boundary(v) for v in g.nodes)
    # moral graph is symmetric
    assert all(u in g.moral_neighbours[v] for u in g.nodes for v in g.moral_neighbours[u])
    assert g.max_degree == 3 and g.max_in_degree == 2
    with pytest.raises(DataError, match="unknown node"):
        g.children("Q")


# ------------------------------------------------------------ textbook d-sep
CHAIN = DAG.from_edges(None, [("A", "B"), ("B", "C")])
FORK = DAG.from_edges(None, [("B", "A"), ("B", "C")])
COLLIDER = DAG.from_edges(None, [("A", "C"), ("B", "C"), ("C", "D")])


@pytest.mark.parametrize(
    ("dag", "x", "y", "z", "separated"),
    [
        (CHAIN, "A", "C", [], False),
        (CHAIN, "A", "C", ["B"], True),
        (FORK, "A", "C", [], False),
        (FORK, "A", "C", ["B"], True),
        (COLLIDER, "A", "B", [], True),
        (COLLIDER, "A", "B", ["C"], False),
        (COLLIDER, "A", "B", ["D"], False),  # conditioning on a collider's descendant
        (COLLIDER, "A", "D", ["C"], True),
        (COLLIDER, ["A", "B"], "D", ["C"], True),
    ],
)
def test_textbook_cases_without_the_latent(dag, x, y, z, separated):
    assert d_separated(dag, x, y, z, latent=False) is separated
    assert d_separated(dag, y, x, z, latent=False) is separated  # symmetry


@pytest.mark.parametrize(
    ("dag", "x", "y", "z", "separated"),
    [
        (CHAIN, "A", "C", ["B"], True),
        (FORK, "A", "C", ["B"], True),
        (COLLIDER, "A", "B", [], True),  # U given: the collider C stays closed
        (COLLIDER, "A", "B", ["D"], False),
        (COLLIDER, "A", "D", ["C"], True),
        (CHAIN, "A", "C", [], False),
    ],
)
def test_given_latent_blocks_the_common_cause(dag, x, y, z, separated):
    assert d_separated(dag, x, y, z, given_latent=True) is separated


def test_without_conditioning_on_u_every_pair_is_connected():
    for dag in (CHAIN, FORK, COLLIDER):
        for a, b in itertools.combinations(dag.nodes, 2):
            rest = [v for v in dag.nodes if v not in (a, b)]
            assert not d_separated(dag, a, b, rest)
    isolated = DAG.from_edges(["A", "B"], [])
    assert d_separated(isolated, "A", "B", latent=False)
    assert not d_separated(isolated, "A", "B")
    assert d_separated(isolated, "A", "B", given_latent=True)


def test_bad_d_separation_arguments():
    with pytest.raises(DataError, match="disjoint"):
        d_separated(CHAIN, "A", "C", ["A"])
    with pytest.raises(DataError, match="disjoint"):
        d_separated(CHAIN, "A", "A")
    with pytest.raises(DataError, match="unknown node"):
        d_separated(CHAIN, "A", "Q")
    with pytest.raises(DataError, match="latent=True"):
        d_separated(CHAIN, "A", "C", latent=False, given_latent=True)


# --------------------------------------------------- brute force on random DAGs
def _random_dag(n, rng):
    names = [f"N{i}" for i in range(n)]
    edges = [(names[i], names[j]) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.4]
    perm = rng.permutation(n)  # the user's order need not be topological
    return DAG.from_edges([names[i] for i in perm], edges)


def _joint(dag, rng, with_u):
    """Exact P(U, V_1..V_n), axis 0 = U (binary, or a single state), nodes in dag order."""
    n, k = dag.n_nodes, (2 if with_u else 1)
    col = {v: j for j, v in enumerate(dag.nodes)}
    # strong, generic dependence on each parent and on U
    cpt = {v: rng.uniform(0.05, 0.95, size=(k,) + (2,) * len(dag.parents[v])) for v in dag.nodes}
    pi = np.array([0.4, 0.6]) if with_u else np.array([1.0])
    P = np.zeros((k,) + (2,) * n)
    for u in range(k):
        for x in itertools.product([0, 1], repeat=n):
            p = pi[u]
            for v in dag.nodes:
                p1 = cpt[v][(u, *(x[col[q]] for q in dag.parents[v]))]
                p *= p1 if x[col[v]] == 1 else 1 - p1
            P[(u, *x)] = p
    return P


def _independent(P, xa, ya, za):
    """Max |P(x,y,z)P(z) - P(x,z)P(y,z)| over all cells; axes are indices into P."""
    keep = [xa, ya, *za]
    drop = tuple(a for a in range(P.ndim) if a not in keep)
    M = np.moveaxis(P.sum(axis=drop, keepdims=True), keep, range(len(keep)))
    M = M.reshape(M.shape[: len(keep)])
    pz = M.sum(axis=(0, 1))
    return np.abs(M * pz - M.sum(axis=1, keepdims=True) * M.sum(axis=0, keepdims=True)).max()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", ["no_latent", "latent_marginalised", "latent_given"])
def test_d_separation_matches_brute_force_independence(seed, mode):
    rng = np.random.default_rng(seed)
    dag = _random_dag(5, rng)
    P = _joint(dag, rng, with_u=mode != "no_latent")
    nodes = dag.nodes
    n_checked = {True: 0, False: 0}
    for a, b in itertools.combinations(range(len(nodes)), 2):
        rest = [j for j in range(len(nodes)) if j not in (a, b)]
        for r in range(len(rest) + 1):
            for zs in itertools.combinations(rest, r):
                za = [z + 1 for z in zs] + ([0] if mode == "latent_given" else [])
                gap = _independent(P, a + 1, b + 1, za)
                sep = d_separated(
                    dag,
                    nodes[a],
                    nodes[b],
                    [nodes[z] for z in zs],
                    latent=mode != "no_latent",
                    given_latent=mode == "latent_given",
                )
                n_checked[sep] += 1
                if sep:
                    assert gap < 1e-14, (nodes[a], nodes[b], zs, gap)
                else:
                    assert gap > 1e-9, (nodes[a], nodes[b], zs, gap)
    assert n_checked[False] > 0
    if mode != "latent_marginalised":
        assert n_checked[True] > 0

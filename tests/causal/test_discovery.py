"""``kmix.causal.discover``: names, background knowledge, evidence and the graph's forms.

Reference: exact population tables of a mixture of networks on a known DAG (weights =
probabilities x 1e9), where the search returns the true equivalence class (checked in
``tests/solvers/discovery`` against a brute-force enumeration of the class); here the
same class is expected under the columns' names.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kmix.causal import Background, discover
from kmix.datasets import bayesnet_mixture
from kmix.exceptions import DataError
from kmix.params import DAG
from kmix.solvers.bayesnet.inference import log_prob_rows

#: A collider and a chain: A -> C <- B, C -> D -> E (every edge oriented in the class)
GRAPH = DAG.from_edges(["A", "B", "C", "D", "E"], [("A", "C"), ("B", "C"), ("C", "D"), ("D", "E")])


@pytest.fixture(scope="module")
def table():
    _, truth = bayesnet_mixture(GRAPH, 2, 0, n_levels=3, separation=0.3, random_state=4)
    rows = np.array(list(itertools.product(range(3), repeat=5)), dtype=np.int64)
    weights = (np.exp(log_prob_rows(truth, rows)) @ truth.weights) * 1e9
    labels = np.array(["lo", "mid", "hi"], dtype=object)[rows]  # text labels, any order
    return labels, weights


def run(table, **kw):
    labels, weights = table
    return discover(labels, 2, columns=list("ABCDE"), sample_weight=weights, alpha=0.01, **kw)


def test_the_class_under_the_columns_names(table):
    res = run(table)
    assert set(res.directed) == set(GRAPH.edges) and res.undirected == ()
    assert res.evidence[("A", "C")].rule == "collider"
    assert res.evidence[("D", "E")].rule == "R1"
    # the score search decided (the default); the rank tests stay as evidence
    gone = res.evidence[("A", "B")]
    assert not gone.adjacent and gone.decided_by == "score" and gone.removed_by["given"] == []
    assert gone.max_p >= 0.01 and gone.n_tests >= 1
    assert gone.score_margin < 0 < res.evidence[("A", "C")].score_margin
    assert res.method == "score" and res.bic < res.log_likelihood < 0
    # dimension: the free parameters, 1 weight + per source 2 (A) + 2 (B) + 9 x 2 (C) + 3 x 2
    # (D) + 3 x 2 (E), as the mixture on this DAG is identified; the table has 3^5 - 1 cells
    assert (res.dimension, res.table_dimension, res.saturated) == (1 + 2 * 34, 242, False)
    # the tests alone reach the same class here
    ranked = run(table, method="rank")
    assert set(ranked.directed) == set(GRAPH.edges) and ranked.bic is None
    assert ranked.evidence[("A", "B")].decided_by == "test"
    assert ranked.evidence[("A", "B")].score_margin is None
    assert res.to_text().splitlines()[0] in {f"{a} -> {b}" for a, b in GRAPH.edges}
    assert set(res.to_dag().edges) == set(GRAPH.edges)
    assert [set(d.edges) for d in res.dags()] == [set(GRAPH.edges)]


def test_networkx_graph_carries_the_evidence(table):
    nx = pytest.importorskip("networkx")
    g = run(table).to_networkx()
    assert isinstance(g, nx.DiGraph) and set(g.edges) == set(GRAPH.edges)
    assert g.edges["A", "C"]["rule"] == "collider" and not g.edges["A", "C"]["undirected"]


def test_background_knowledge_is_respected(table):
    # required: an edge the data would remove stays, oriented; forbidden both ways: gone
    res = run(table, background={"required": [("A", "B")], "forbidden": [("C", "D"), ("D", "C")]})
    assert ("A", "B") in res.directed and res.evidence[("A", "B")].decided_by == "background"
    assert not res.evidence[("C", "D")].adjacent
    assert res.evidence[("C", "D")].decided_by == "background"
    # tiers: E first forbids D -> E, so the chain's last edge points back
    res = run(table, background=Background(tiers=(("E",), ("A", "B", "C", "D"))))
    assert ("E", "D") in res.directed and ("D", "E") not in res.directed


def test_one_dag_of_an_open_class_is_a_member():
    """A chain A - B - C is open (three DAGs); to_dag gives one without a new collider."""
    chain = DAG.from_edges(["A", "B", "C"], [("A", "B"), ("B", "C")])
    _, truth = bayesnet_mixture(chain, 2, 0, n_levels=3, separation=0.3, random_state=1)
    rows = np.array(list(itertools.product(range(3), repeat=3)), dtype=np.int64)
    weights = (np.exp(log_prob_rows(truth, rows)) @ truth.weights) * 1e9
    res = discover(rows, 2, columns=list("ABC"), sample_weight=weights, alpha=0.01)
    assert res.directed == () and set(res.undirected) == {("A", "B"), ("B", "C")}
    dag = res.to_dag()
    assert {frozenset(e) for e in dag.edges} == {frozenset("AB"), frozenset("BC")}
    assert set(dag.edges) != {("A", "B"), ("C", "B")}


def test_a_graph_whose_mixture_fills_the_table_is_said_not_identified():
    """Two classes on three binary variables: 2 x 3 + 1 = 7 free parameters, identified
    (McHugh, "Efficient estimation and local identification in latent class analysis",
    Psychometrika 1956), so the latent class model alone has the table's dimension 2^3 - 1:
    every DAG's mixture fits every table and the data exclude no edge."""
    rows = np.array(list(itertools.product(range(2), repeat=3)), dtype=np.int64)
    theta = np.array([[0.2, 0.3, 0.1], [0.8, 0.6, 0.9]])
    per = np.prod(np.where(rows[None] == 1, theta[:, None], 1 - theta[:, None]), axis=2)
    weights = (np.array([0.4, 0.6]) @ per) * 1e9
    with pytest.warns(
        UserWarning, match="dimension 7, that of the whole table.*every pair is left joined"
    ):
        res = discover(rows, 2, columns=list("ABC"), sample_weight=weights, random_state=0)
    assert (res.dimension, res.table_dimension, res.saturated) == (7, 7, True)
    # every pair stays joined, none oriented (a complete graph has no collider)
    assert set(res.undirected) == {("A", "B"), ("A", "C"), ("B", "C")} and res.directed == ()
    assert {e.decided_by for e in res.evidence.values()} <= {"score", "not identified"}


def test_bad_input_is_named():
    X = np.array([[0, 1], [1, 0], [1, 1]])
    with pytest.raises(DataError, match="column 'b' takes one value"):
        discover(np.column_stack([X[:, 0], [1, 1, 1]]), 2, columns=["a", "b"])
    with pytest.raises(DataError, match="column 'V1' has 1 missing"):
        discover(np.array([[0, 1.0], [1, np.nan], [1, 0.0]]), 2)
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": ["x", "y", "x"], "b": pd.array(["u", pd.NA, "v"], dtype="string")})
    with pytest.raises(DataError, match="column 'b' has 1 missing"):
        discover(frame, 2)
    mixed = np.array([[0, "a"], [1, None], [1, "b"], [0, float("nan")]], dtype=object)
    with pytest.raises(DataError, match="column 'V1' has 2 missing"):
        discover(mixed, 2)
    with pytest.raises(DataError, match="no column 'Z'"):
        discover(X, 2, background={"required": [("V0", "Z")]})
    with pytest.raises(DataError, match="both requires and forbids V0 -> V1"):
        discover(X, 2, background={"required": [("V0", "V1")], "forbidden": [("V0", "V1")]})
    with pytest.raises(DataError, match="background keys"):
        discover(X, 2, background={"forbid": []})


def test_every_dag_of_the_class():
    """Reference: the class of a chain A - B - C - D (4 DAGs: one per choice of the source
    node, no collider) and of the collider graph (one DAG)."""
    chain = DAG.from_edges(list("ABCD"), [("A", "B"), ("B", "C"), ("C", "D")])
    _, truth = bayesnet_mixture(chain, 2, 0, n_levels=3, separation=0.3, random_state=2)
    rows = np.array(list(itertools.product(range(3), repeat=4)), dtype=np.int64)
    weights = (np.exp(log_prob_rows(truth, rows)) @ truth.weights) * 1e9
    res = discover(rows, 2, columns=list("ABCD"), sample_weight=weights, alpha=0.01)
    members = res.dags()
    assert len(members) == 4
    assert len({frozenset(d.edges) for d in members}) == 4
    for d in members:
        assert {frozenset(e) for e in d.edges} == {frozenset(e) for e in chain.edges}
        assert all(len(d.parents[v]) <= 1 for v in d.nodes)  # no collider
    assert len(res.dags(limit=2)) == 2


def test_effects_over_the_class(table):
    """Reference: the exact interventional distribution of the simulating mixture
    (``kmix.causal.interventional``). In a fully oriented class one fit answers; in the
    open chain A - B - C - D - E (five DAGs) the treatment C has three parent sets, one fit
    each, and the group holding the true DAG (C's parent B) gives the true effect."""
    from kmix.causal import interventional
    from kmix.estimators import fit_over_class

    labels, weights = table
    res = run(table)
    members = fit_over_class(
        labels, res, "D", 2, columns=list("ABCDE"), sample_weight=weights, random_state=0
    )
    assert [m.parents for m in members] == [("C",)] and members[0].n_dags == 1
    _, truth = bayesnet_mixture(GRAPH, 2, 0, n_levels=3, separation=0.3, random_state=4)
    got = members[0].model.interventional("E", {"D": "mid"})
    want = interventional(truth, "E", {"D": 1})  # codes: hi, lo, mid -> labels sort
    order = [list(np.array(["lo", "mid", "hi"])).index(v) for v in sorted(["lo", "mid", "hi"])]
    np.testing.assert_allclose(np.asarray(got), want[order], atol=1e-4)

    chain = DAG.from_edges(list("ABCDE"), [(a, b) for a, b in zip("ABCD", "BCDE", strict=True)])
    _, truth = bayesnet_mixture(chain, 2, 0, n_levels=3, separation=0.3, random_state=1)
    rows = np.array(list(itertools.product(range(3), repeat=5)), dtype=np.int64)
    w = (np.exp(log_prob_rows(truth, rows)) @ truth.weights) * 1e9
    res = discover(rows, 2, columns=list("ABCDE"), sample_weight=w, alpha=0.01)
    assert len(res.dags()) == 5
    members = fit_over_class(rows, res, "C", 2, sample_weight=w, random_state=0)
    # the root of the chain decides: C itself, A or B (C after B), D or E (C after D)
    assert [(m.parents, m.n_dags) for m in members] == [((), 1), (("B",), 2), (("D",), 2)]
    for m in members:  # each group's own DAG answers its query exactly (a Markov-equivalent fit)
        got = m.model.interventional("E", {"C": 1})
        want = interventional(truth, "E", {"C": 1}) if m.parents == ("B",) else None
        if want is not None:
            np.testing.assert_allclose(np.asarray(got), want, atol=1e-4)


def test_graphs_for_several_k(table):
    """On exact tables of k = 2 sources: k = 2 gives the true skeleton; k = 1 (ordinary
    independence tests) cannot separate what U joins, so it keeps at least as many pairs."""
    from kmix.causal import discover_over_k

    labels, weights = table
    results, summary = discover_over_k(
        labels, (1, 2), columns=list("ABCDE"), sample_weight=weights, alpha=0.01
    )
    two = {frozenset(e) for e in (*results[2].directed, *results[2].undirected)}
    one = {frozenset(e) for e in (*results[1].directed, *results[1].undirected)}
    assert two == {frozenset(e) for e in GRAPH.edges} and one >= two and len(one) > len(two)
    lines = summary.splitlines()
    assert lines[0].startswith(f"k = 1: {len(one)} edges") and "separated" in lines[1]


def test_dags_of_a_class_whose_collider_parents_are_adjacent() -> None:
    # The class of a -> m <- d, b -> m <- d, a -- b: the colliders at m with d are
    # compelled, a and b are adjacent (either way round), so a -> m <- b is shielded and
    # both orientations of a -- b are members (by hand: 2 DAGs, neither with a cycle).
    from kmix.causal.discovery import DiscoveryResult

    res = DiscoveryResult(
        ("a", "b", "m", "d"),
        (("a", "m"), ("b", "m"), ("d", "m")),
        (("a", "b"),),
        {},
        2,
        0.05,
        0,
    )
    got = sorted(sorted(d.edges) for d in res.dags())
    base = [("a", "m"), ("b", "m"), ("d", "m")]
    assert got == sorted([sorted([*base, ("a", "b")]), sorted([*base, ("b", "a")])])
    assert sorted(res.to_dag().edges) in got

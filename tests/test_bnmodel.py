"""Mixtures of Bayesian networks (params, variable elimination, do-queries) and their simulator.

References, independent of the code under test:

* brute-force enumeration of the full joint ``P(U = u, V = v)`` over every
  assignment (<= 10 nodes), built as an explicit product of CPT entries with
  the intervened nodes' CPTs replaced by point masses (the truncated
  factorisation, Pearl 2009, eq. 3.10), then conditioned and marginalised
  by slicing and summing;
* on a 32-node chain, closed-form forward products of 2x2 transition
  matrices per source;
* on a 32-node sparse random DAG, brute force on the ancestral sub-network
  of the query (non-ancestors are barren: they sum out to one);
* sampling: exact marginals, with a tolerance of 5 binomial standard errors
  ``sqrt(p (1 - p) / N)`` for the stated N.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kmix.causal.effects import ate, interventional, observational
from kmix.datasets import bayesnet_mixture, random_sparse_dag
from kmix.exceptions import DataError
from kmix.params.bayesnet import BayesNetMixtureParams
from kmix.params.dag import DAG
from kmix.solvers.bayesnet import inference
from kmix.solvers.bayesnet.inference import log_prob_rows, sample


def random_bn(dag, k, levels, rng):
    card = dict(zip(dag.nodes, levels, strict=True))
    cpts = [
        0.8 * rng.dirichlet(np.ones(card[v]), size=(k, *[card[p] for p in dag.parents[v]]))
        + 0.2 / card[v]
        for v in dag.nodes
    ]
    return BayesNetMixtureParams(dag, levels, rng.dirichlet(np.full(k, 2.0)), cpts)


def brute_joint(params, do=None):
    """P(U = u) * prod_{V not in do} P_u(v_V | pa) * prod_{V in do} 1[v_V = x_V]: (k, *levels)."""
    do = do or {}
    nodes, levels, k = params.columns, params.n_levels, params.n_components
    col = {v: j for j, v in enumerate(nodes)}
    J = np.zeros((k, *levels))
    for u in range(k):
        for x in itertools.product(*[range(d) for d in levels]):
            p = params.weights[u]
            for j, v in enumerate(nodes):
                if v in do:
                    p *= float(x[j] == do[v])
                else:
                    p *= params.cpts[j][(u, *(x[col[q]] for q in params.dag.parents[v]), x[j])]
            J[(u, *x)] = p
    return J


def brute_query(params, outcome, do=None, given=None, per_source=False):
    ys = [outcome] if isinstance(outcome, str) else list(outcome)
    col = {v: j + 1 for j, v in enumerate(params.columns)}
    J = brute_joint(params, do)
    for v, z in (given or {}).items():
        mask = np.zeros(J.shape[col[v]])
        mask[z] = 1.0
        J = J * mask.reshape([-1 if a == col[v] else 1 for a in range(J.ndim)])
    keep = [0, *(col[y] for y in ys)]
    M = J.sum(axis=tuple(a for a in range(J.ndim) if a not in keep))
    M = np.transpose(M, np.argsort(np.argsort(keep)))  # axes in the order (u, *ys)
    if per_source:
        M = M / params.weights.reshape((-1,) + (1,) * len(ys))
        return M / M.sum(axis=tuple(range(1, M.ndim)), keepdims=True)
    M = M.sum(axis=0)
    return M / M.sum()


# a 7-node graph with a collider, a fork, a 3-level node and an isolated node
SMALL = DAG.from_edges(
    ["A", "B", "C", "D", "E", "F", "G"],
    [("A", "C"), ("B", "C"), ("C", "D"), ("A", "D"), ("D", "E"), ("B", "E")],
)
SMALL_LEVELS = (2, 3, 2, 2, 3, 2, 2)


@pytest.fixture(scope="module")
def small():
    return random_bn(SMALL, 3, SMALL_LEVELS, np.random.default_rng(1))


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


def test_elimination_refuses_tables_beyond_the_limit(small, monkeypatch):
    monkeypatch.setattr(inference, "MAX_FACTOR_ENTRIES", 4)
    with pytest.raises(DataError, match="MAX_FACTOR_ENTRIES"):
        interventional(small, "E", {"G": 1})


# ------------------------------------------------------------- 32-node graphs
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


# ------------------------------------------------------------------- sampling
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


# ------------------------------------------------------------------ simulator
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

"""Generic local identifiability of mixtures of networks (kmix.solvers.bayesnet.certificate).

References: central differences of the joint table computed by brute force
(every cell a product of CPT entries); the latent class certificate
(:func:`kmix.solvers.latent_class.certificate.certify_latent_class`, an
independent implementation) on DAGs without edges, which are latent class
models; parameter counts (a model with more parameters than free cells is
not identified).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kmix import BayesNetMixture
from kmix.causal import effects
from kmix.datasets import bayesnet_mixture, random_sparse_dag
from kmix.exceptions import IdentifiabilityError
from kmix.params.dag import DAG
from kmix.solvers.bayesnet import certificate
from kmix.solvers.bayesnet.certificate import identify_bayesnet
from kmix.solvers.latent_class.certificate import certify_latent_class

TEXTBOOK = DAG.from_edges(
    None, [("A", "X"), ("B", "X"), ("X", "M"), ("X", "Y"), ("M", "Y"), ("C", "Y"), ("Y", "D")]
)


def _free_to_tables(dag, levels, k, theta):
    """Weights and CPTs from the free parameters, in the certificate's column layout."""
    w = np.append(theta[: k - 1], 1 - theta[: k - 1].sum())
    layout = certificate._layout(dag, levels, k)
    cpts = []
    for j, v in enumerate(dag.nodes):
        pa = [levels[dag.nodes.index(p)] for p in dag.parents[v]]
        n_cfg, d = int(np.prod(pa, dtype=int)), levels[j]
        table = np.empty((k, n_cfg, d))
        for u in range(k):
            at = layout.start[j] + u * layout.stride
            free = theta[at : at + n_cfg * (d - 1)].reshape(n_cfg, d - 1)
            table[u, :, :-1] = free
            table[u, :, -1] = 1 - free.sum(axis=1)
        cpts.append(table)
    return w, cpts


def _joint(dag, levels, k, theta):
    w, cpts = _free_to_tables(dag, levels, k, theta)
    out = []
    for x in itertools.product(*[range(d) for d in levels]):
        p = 0.0
        for u in range(k):
            f = w[u]
            for j, v in enumerate(dag.nodes):
                cfg = 0
                for q in dag.parents[v]:
                    cfg = cfg * levels[dag.nodes.index(q)] + x[dag.nodes.index(q)]
                f *= cpts[j][u, cfg, x[j]]
            p += f
        out.append(p)
    return np.array(out)


def test_the_jacobian_equals_central_differences_of_the_joint():
    dag = DAG.from_edges(None, [("A", "B"), ("A", "C"), ("B", "C")])
    levels, k = [2, 3, 2], 2
    rng = np.random.default_rng(1)
    layout = certificate._layout(dag, levels, k)
    theta = np.empty(layout.n_columns)
    theta[: k - 1] = 0.35
    weights = np.array([0.35, 0.65])
    cpts = []
    for j, v in enumerate(dag.nodes):
        shape = (k, *[levels[dag.nodes.index(p)] for p in dag.parents[v]], levels[j])
        table = rng.dirichlet(np.ones(levels[j]), size=shape[:-1])
        cpts.append(table)
        flat = table.reshape(k, -1, levels[j])
        for u in range(k):
            at = layout.start[j] + u * layout.stride
            theta[at : at + flat[u, :, :-1].size] = flat[u, :, :-1].reshape(-1)
    J = certificate._table_jacobian(dag, levels, k, weights, cpts, tuple(dag.nodes), layout)
    h = 1e-6
    numeric = np.stack(
        [
            (_joint(dag, levels, k, theta + h * e) - _joint(dag, levels, k, theta - h * e))
            / (2 * h)
            for e in np.eye(theta.size)
        ],
        axis=1,
    )
    np.testing.assert_allclose(J, numeric, atol=1e-8)


@pytest.mark.parametrize(
    ("levels", "k"),
    [([2, 2, 2], 2), ([2, 2, 2, 2], 3), ([3, 3, 2, 2], 4), ([2] * 5, 3), ([3, 2, 2], 3)],
)
def test_no_edges_agrees_with_the_latent_class_certificate(levels, k):
    dag = DAG.from_edges([f"V{j}" for j in range(len(levels))], [])
    ours = identify_bayesnet(dag, levels, k, rng=np.random.default_rng(0))
    theirs = certify_latent_class(levels, k, rng=np.random.default_rng(0))
    assert ours.check is not None
    assert ours.check.n_parameters == theirs.n_parameters
    assert ours.identified == (theirs.kind == "locally identified")


def test_known_answers():
    two = identify_bayesnet(
        DAG.from_edges(None, [("A", "B")]), [2, 2], 2, rng=np.random.default_rng(0)
    )
    # 1 weight + 2 x (1 + 2) CPT entries = 7 parameters for 3 free cells
    assert two.kind == "not identified" and two.check.rank == 3 and two.check.n_parameters == 7
    assert "rank 3 of 7" in two.reason
    text = identify_bayesnet(TEXTBOOK, [2] * 7, 2, rng=np.random.default_rng(0))
    assert text.kind == "locally identified" and text.check.rank == 39  # 1 + 2 x 19


def test_large_networks_use_ancestral_margins(monkeypatch):
    monkeypatch.setattr(certificate, "MAX_CELLS", 64)
    dag = random_sparse_dag(10, 2, random_state=0)
    res = identify_bayesnet(dag, [2] * 10, 2, rng=np.random.default_rng(0))
    assert len(res.tables) > 1 and all(len(t) < 10 for t in res.tables)
    for t in res.tables:  # every table is ancestral: a member's parents are members
        assert all(p in t for v in t for p in dag.parents[v])
    assert res.kind == "locally identified"
    monkeypatch.setattr(certificate, "MAX_CELLS", 2)
    assert identify_bayesnet(dag, [2] * 10, 2, rng=np.random.default_rng(0)).kind == "unknown"


def test_a_dag_too_dense_for_runs_is_fitted_and_certified():
    """The textbook confounding DAG (A, B -> X; X -> M; X, M, C -> Y; Y -> D) has no
    covering runs for k = 2; the certificate accepts it, EM from random starts fits it, and
    the ATE of X on Y is the simulating model's (N = 1e5)."""
    X, truth = bayesnet_mixture(TEXTBOOK, 2, 100_000, separation=0.2, random_state=1)
    model = BayesNetMixture(TEXTBOOK, 2, random_state=0).fit(X, columns=list(truth.columns))
    assert model.reduction_ is None
    assert model.identifiability_.startswith("locally identified: numerical rank 39 of 39")
    assert abs(model.ate("X", "Y") - effects.ate(truth, "X", "Y")) < 0.02


def test_a_mixture_that_is_not_identified_is_refused_with_the_rank():
    X, truth = bayesnet_mixture(
        DAG.from_edges(None, [("A", "B")]), 2, 1000, separation=0.2, random_state=0
    )
    with pytest.raises(IdentifiabilityError, match="not identified: numerical rank 3 of 7"):
        BayesNetMixture(DAG.from_edges(None, [("A", "B")]), 2, random_state=0).fit(
            X, columns=list(truth.columns)
        )


def test_each_cpt_and_the_query_say_how_they_are_identified():
    """Reference: the runs' coverage (a parent configuration absent from the data has no
    run) and the certificate's verdict (every CPT of a generically identified model)."""
    from kmix.cli.effect import query_identification

    X, truth = bayesnet_mixture(TEXTBOOK, 2, 20_000, separation=0.2, random_state=1)
    model = BayesNetMixture(TEXTBOOK, 2, random_state=0).fit(X, columns=list(truth.columns))
    assert set(model.cpt_identifiability_.values()) == {"generic (Jacobian rank)"}
    assert query_identification(model, "X", "Y").startswith("generically identified")
    dag = DAG.from_edges(["A", "B", "C", "D", "E"], [("A", "C"), ("B", "C")])
    X, truth = bayesnet_mixture(dag, 2, 50_000, separation=0.3, random_state=0)
    keep = ~((X[:, 0] == 1) & (X[:, 1] == 1))  # no row has A = 1, B = 1
    with pytest.warns(UserWarning, match="no data and stay uniform"):
        model = BayesNetMixture(dag, 2, random_state=0).fit(X[keep], columns=list(truth.columns))
    assert model.cpt_identifiability_["C"] == "runs, 1 of 4 parent rows without a run"
    assert model.cpt_identifiability_["A"] == "runs"
    assert "C: runs, 1 of 4" in query_identification(model, "A", "C")

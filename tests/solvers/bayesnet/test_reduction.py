"""k-MixBND by reduction to latent class runs (kmix.solvers.bayesnet, bayesnet_runs).

References, independent of the code under test:

* exact population tables: every pattern of the nodes with its probability
  ``sum_u pi_u prod_V P_u(v_V | pa(V))`` (from ``inference.log_prob_rows``,
  checked to sum to one), passed as counts ``1e7 * P(x)``; on such tables
  each run's latent class model is solved exactly, so every CPT entry and
  weight must match the simulator's truth to 1e-6 after the best relabelling;
* the best relabelling by brute force over all ``k!`` permutations (not the
  Hungarian method the solver uses);
* each run's ``P(u | COND = c)`` and effective sample size by summing the
  exact joint ``pi_u P_u(x)`` over the rows with ``COND = c``;
* sampled data: the simulator's truth, with the error bound stated at the test;
* population tables seen through a missingness mechanism (every mask of every
  pattern enumerated with its probability): the truth, exact under MCAR for
  the reduction and under MAR for the EM that follows it.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from kmix.datasets import bayesnet_mixture, random_sparse_dag
from kmix.exceptions import DataError, IdentifiabilityError
from kmix.params.dag import DAG
from kmix.solvers.bayesnet.design import compress_coded
from kmix.solvers.bayesnet.fit import fit_bayesnet_mixture
from kmix.solvers.bayesnet.reduction import fit_bayesnet_reduction
from tests.helpers.bayesnet import SCALE, population


def errors(truth, est):
    """(max CPT error, max weight error) under the best of all k! relabellings."""
    best = None
    for perm in itertools.permutations(range(truth.n_components)):
        idx = list(perm)
        cpt = max(
            float(np.abs(a - b[idx]).max()) for a, b in zip(truth.cpts, est.cpts, strict=True)
        )
        w = float(np.abs(truth.weights - est.weights[idx]).max())
        if best is None or max(cpt, w) < max(best):
            best = (cpt, w)
    return best


def fit(X, counts, dag, levels, k, **kw):
    return fit_bayesnet_reduction(X, counts, dag, levels, k, rng=np.random.default_rng(0), **kw)


def chain(n):
    return DAG.from_edges(
        [f"V{i}" for i in range(n)], [(f"V{i}", f"V{i + 1}") for i in range(n - 1)]
    )


# --------------------------------------------------------------------- population tables
@pytest.mark.parametrize(
    ("n", "max_degree", "seed"),
    [(6, 2, 0), (8, 2, 1), (10, 2, 4), (7, 3, 1), (8, 3, 2), (10, 3, 1)],
)
def test_population_sparse_dag_exact_without_em(n, max_degree, seed):
    dag = random_sparse_dag(n, max_degree, random_state=seed)
    _, truth = bayesnet_mixture(dag, 2, 0, separation=0.3, random_state=seed)
    X, _, counts = population(truth)
    res = fit(X, counts, dag, 2, 2, refine_runs=False)
    cpt_err, w_err = errors(truth, res.params)
    assert cpt_err < 1e-6 and w_err < 1e-6
    assert all(res.cpt_support[v] >= 1 for v in dag.nodes)
    assert res.alignment_conflicts == 0 and not res.uncovered
    assert max(res.spread.values()) < 1e-9  # runs sharing a key agree exactly


def test_population_chain_needs_unzipping():
    dag = chain(8)
    _, truth = bayesnet_mixture(dag, 2, 0, separation=0.3, random_state=1)
    X, _, counts = population(truth)
    res = fit(X, counts, dag, 2, 2)  # with the per-run EM refinement
    cpt_err, w_err = errors(truth, res.params)
    assert cpt_err < 1e-6 and w_err < 1e-6
    # interior nodes are only reachable through their Markov boundary: V(i-1), V(i+1)
    boundary = {
        r.target for r in res.runs if r.target and r.given[r.target] != dag.parents[r.target]
    }
    assert {"V1", "V2", "V3"} <= boundary


def test_population_collider():
    dag = DAG.from_edges(None, [("A", "C"), ("B", "C"), ("C", "D"), ("E", "F"), ("B", "G")])
    _, truth = bayesnet_mixture(dag, 2, 0, separation=0.3, random_state=2)
    X, _, counts = population(truth)
    res = fit(X, counts, dag, 2, 2, refine_runs=False)
    cpt_err, w_err = errors(truth, res.params)
    assert cpt_err < 1e-6 and w_err < 1e-6
    # A and B are independent given U unless C (their common child) is conditioned on
    for r in res.runs:
        if "A" in r.members and "B" in r.members:
            assert "C" not in r.cond


def test_population_three_sources_and_three_levels():
    dag = random_sparse_dag(10, 2, random_state=0)
    _, truth = bayesnet_mixture(dag, 3, 0, separation=0.2, random_state=0)
    X, _, counts = population(truth)
    cpt_err, w_err = errors(truth, fit(X, counts, dag, 2, 3, refine_runs=False).params)
    assert cpt_err < 1e-6 and w_err < 1e-6
    levels = [2, 3, 2, 3, 2, 2]
    _, truth = bayesnet_mixture(chain(6), 2, 0, n_levels=levels, separation=0.2, random_state=3)
    X, _, counts = population(truth)
    cpt_err, w_err = errors(truth, fit(X, counts, chain(6), levels, 2).params)
    assert cpt_err < 1e-6 and w_err < 1e-6


def test_runs_report_exact_posteriors_and_sample_sizes():
    dag = random_sparse_dag(8, 2, random_state=1)
    _, truth = bayesnet_mixture(dag, 2, 0, separation=0.3, random_state=1)
    X, per_source, counts = population(truth)
    res = fit(X, counts, dag, 2, 2, refine_runs=False)
    perm = next(
        list(p)
        for p in itertools.permutations(range(2))
        if max(
            np.abs(a - b[list(p)]).max() for a, b in zip(truth.cpts, res.params.cpts, strict=True)
        )
        < 1e-6
    )
    joint = per_source * truth.weights[None, :]  # (m, k): pi_u P_u(x)
    col = {v: j for j, v in enumerate(dag.nodes)}
    for r in res.runs:
        mask = np.ones(X.shape[0], dtype=bool)
        for x, a in zip(r.cond, r.assignment, strict=True):
            mask &= X[:, col[x]] == a
        mass = joint[mask].sum(axis=0)
        assert r.ess == pytest.approx(SCALE * mass.sum(), rel=1e-9)
        np.testing.assert_allclose(r.weights[perm], mass / mass.sum(), atol=1e-8)
        assert set(r.members).isdisjoint(r.cond) and len(r.members) >= 3


# -------------------------------------------------------------------------- sampled data
def test_sampled_data_accuracy():
    # 8 nodes, 8 edges, k = 2, separation 0.4, N = 2e5. Measured: CPT max error 0.035,
    # weight error 0.001 (the worst CPT rows are those whose parent pattern is rare under a
    # source: N pi_u P_u(pa) of a few thousand rows). Stated bound: 0.05 and 0.01.
    dag = random_sparse_dag(8, 2, random_state=6)
    X, truth = bayesnet_mixture(dag, 2, 200_000, separation=0.4, random_state=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = fit(X, None, dag, 2, 2)
    cpt_err, w_err = errors(truth, res.params)
    assert cpt_err < 0.05, cpt_err
    assert w_err < 0.01, w_err
    assert res.alignment_conflicts == 0


def test_low_effective_sample_size_warns():
    dag = random_sparse_dag(8, 2, random_state=1)
    X, _ = bayesnet_mixture(dag, 2, 1500, separation=0.4, random_state=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit(X, None, dag, 2, 2)
    low = [r for r in res.runs if r.ess < 50 * 2 ** len(r.members)]
    assert low
    message = next(str(w.message) for w in caught if "effective sample size" in str(w.message))
    smallest = min(low, key=lambda r: r.ess)
    assert "below 50 rows per cell" in message and smallest.describe() in message
    assert "\n" not in message and len(message) < 400  # one line, the details in the log
    # min_run_size leaves the smallest runs out instead
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = fit(X, None, dag, 2, 2, min_run_size=150)
    assert res.dropped and all(r.ess >= 150 for r in res.runs)


def test_uncovered_cpt_row_is_uniform_with_warning():
    dag = DAG.from_edges(["A", "B", "C", "D", "E"], [("A", "C"), ("B", "C")])
    _, truth = bayesnet_mixture(dag, 2, 0, separation=0.3, random_state=0)
    X, _, counts = population(truth)
    keep = ~((X[:, 0] == 1) & (X[:, 1] == 1))  # no row has A = 1, B = 1
    with pytest.warns(UserWarning, match=r"C at parents \(1, 1\)"):
        res = fit(X[keep], counts[keep], dag, 2, 2)
    assert ("C", (1, 1)) in res.uncovered
    np.testing.assert_allclose(res.params.cpt("C")[:, 1, 1], 0.5)


def test_single_source_gives_empirical_cpts():
    dag = random_sparse_dag(6, 2, random_state=0)
    _, truth = bayesnet_mixture(dag, 1, 0, random_state=0)
    X, _, counts = population(truth)
    res = fit(X, counts, dag, 2, 1)
    np.testing.assert_allclose(res.params.weights, [1.0])
    for a, b in zip(truth.cpts, res.params.cpts, strict=True):
        np.testing.assert_allclose(b, a, atol=1e-9)


# -------------------------------------------------------------------------------- design
def test_dense_dag_raises_naming_nodes():
    names = [f"V{i}" for i in range(5)]
    dag = DAG.from_edges(names, [(a, b) for a, b in itertools.combinations(names, 2)])
    _, truth = bayesnet_mixture(dag, 2, 0, random_state=0)
    X, _, counts = population(truth)
    with pytest.raises(IdentifiabilityError, match="too dense for k=2") as info:
        fit(X, counts, dag, 2, 2)
    for v in names:
        assert f"{v}: no set of 3 binary members" in str(info.value)


def test_bad_input_names_the_problem():
    dag = chain(4)
    with pytest.raises(DataError, match="shape"):
        fit(np.zeros((5, 3), dtype=int), None, dag, 2, 2)
    with pytest.raises(DataError, match=r"levels are 0 \.\. 1"):
        fit(np.full((5, 4), 2), None, dag, 2, 2)
    with pytest.raises(DataError, match="n_components"):
        fit(np.zeros((5, 4), dtype=int), None, dag, 2, 0)


# ------------------------------------------------------------------ missing values
def gapped_population(X, counts, missing_prob):
    """The population table seen through a missingness mechanism, every mask enumerated.

    ``missing_prob(x)`` gives, per full row ``x`` (n_rows, n_nodes), each cell's
    probability of going missing; a row seen as ``x_obs`` (missing cells -1)
    weighs ``sum_x P(x) prod_j p_j^{m_j} (1 - p_j)^{1 - m_j}``.
    """
    p = missing_prob(X)
    rows, weights = [], []
    for mask in itertools.product((False, True), repeat=X.shape[1]):
        m = np.array(mask)
        rows.append(np.where(m[None, :], -1, X))
        weights.append(counts * np.prod(np.where(m[None, :], p, 1.0 - p), axis=1))
    return compress_coded(np.concatenate(rows), np.concatenate(weights))


def test_population_missing_completely_at_random_stays_exact():
    """Reference: the truth. Under MCAR each run's rows observed on its variables are
    the population table of those variables scaled, so the runs, and ``pi`` fitted to
    every row's observed part, are exact."""
    dag = random_sparse_dag(6, 2, random_state=0)
    _, truth = bayesnet_mixture(dag, 2, 0, separation=0.3, random_state=0)
    X, _, counts = population(truth)
    values, weights = gapped_population(X, counts, lambda x: np.full(x.shape, 0.2))
    assert values.shape[0] > X.shape[0] and (values == -1).any()
    res = fit(values, weights, dag, 2, 2, refine_runs=False)
    cpt_err, w_err = errors(truth, res.params)
    assert cpt_err < 1e-6 and w_err < 1e-6


def test_population_missing_at_random_is_recovered_by_the_em():
    """Reference: the truth, which maximises the observed-data likelihood of its own
    population table under MAR (the missingness factor does not involve the parameters;
    Little & Rubin 2002, section 6.2). The reduction's complete-case runs are not exact
    under MAR; the EM from them is."""
    dag = random_sparse_dag(6, 2, random_state=0)
    _, truth = bayesnet_mixture(dag, 2, 0, separation=0.3, random_state=0)
    X, _, counts = population(truth)

    def mar(x):  # the first node always seen; the others go missing more often when it is 1
        p = np.where(x[:, :1] == 1, 0.45, 0.05) * np.ones((1, x.shape[1]))
        p[:, 0] = 0.0
        return p

    values, weights = gapped_population(X, counts, mar)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_bayesnet_mixture(
            values,
            weights,
            dag,
            [2] * 6,
            2,
            rng=np.random.default_rng(0),
            tol=1e-15,
            max_iter=20000,
        )
    assert res.converged
    assert max(errors(truth, res.reduction.params)) > 1e-3  # complete cases are biased here
    cpt_err, w_err = errors(truth, res.params)
    assert cpt_err < 1e-6 and w_err < 1e-6


def test_partial_reduction_covers_the_nodes_that_have_runs():
    """The textbook confounding DAG (A, B -> X; X -> M; X, M, C -> Y; Y -> D) has no runs
    for X and Y at k = 2: ``partial=True`` solves the other nodes exactly on population
    tables (the reference: the simulating CPTs) and leaves X's and Y's CPTs uniform."""
    dag = DAG.from_edges(
        None, [("A", "X"), ("B", "X"), ("X", "M"), ("X", "Y"), ("M", "Y"), ("C", "Y"), ("Y", "D")]
    )
    _, truth = bayesnet_mixture(dag, 2, 0, separation=0.3, random_state=3)
    X, _, counts = population(truth)
    with pytest.raises(IdentifiabilityError, match="too dense"):
        fit(X, counts, dag, 2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        red = fit(X, counts, dag, 2, 2, partial=True)
    assert {v for v, _ in red.uncovered} == {"X", "Y"}
    # the weights are fitted by the likelihood of every row with X and Y uniform (a start,
    # not an estimate); the runs fix the labels: match them on A's CPT
    a_true, a_est = truth.cpts[dag.nodes.index("A")], red.params.cpts[dag.nodes.index("A")]
    same = np.abs(a_est - a_true).sum() <= np.abs(a_est[::-1] - a_true).sum()
    order, perm = np.arange(2), np.arange(2) if same else np.array([1, 0])
    for v, a, b in zip(dag.nodes, truth.cpts, red.params.cpts, strict=True):
        if v in ("X", "Y"):
            np.testing.assert_allclose(b, 0.5)
        else:
            np.testing.assert_allclose(b[perm], a[order], atol=1e-6, err_msg=v)

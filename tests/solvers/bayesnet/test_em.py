"""EM for mixtures of Bayesian networks on a known DAG (kmix.solvers.bayesnet.em).

References, per test: ``inference.log_prob_rows`` (an independent gather per
node) and explicit loops over classes and all ``prod(levels)`` rows for the
likelihood; the exact population table, whose likelihood the truth
maximises, for recovery; EM's monotonicity for the history; kmix's
latent-class EM (``em_latent_class``) on a DAG without edges; an M-step
written as loops over rows, classes and nodes for categorical nodes. With
missing values: the textbook EM over every completion of every row, by loops
(``brute_fiml_em``), and one map of the EM whose complete data are the
observed nodes' ancestral set, by loops (``brute_ancestral_map``).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.special import logsumexp

from kmix.datasets import bayesnet_mixture, random_sparse_dag
from kmix.exceptions import DataError
from kmix.params.bayesnet import BayesNetMixtureParams
from kmix.params.dag import DAG
from kmix.solvers.bayesnet import em as em_module
from kmix.solvers.bayesnet.em import (
    BNRowDesign,
    em_bayesnet_mixture,
    loglik_bayesnet_mixture,
    random_bn_starts,
)
from kmix.solvers.bayesnet.inference import log_prob_rows, sample
from kmix.solvers.latent_class.em import em_latent_class
from kmix.solvers.linalg import best_permutation
from kmix.stats import compress_rows

TINY = DAG.from_edges(None, [("A", "B"), ("A", "C"), ("B", "C")])


def all_rows(levels):
    return np.array(list(itertools.product(*(range(d) for d in levels))), dtype=np.int64)


def brute_force_prob(params, row):
    """``sum_u pi_u prod_V P_u(x_V | x_pa(V))`` by explicit loops."""
    col = {v: j for j, v in enumerate(params.columns)}
    total = 0.0
    for u in range(params.n_components):
        term = params.weights[u]
        for j, v in enumerate(params.columns):
            pa = tuple(int(row[col[p]]) for p in params.dag.parents[v])
            term *= params.cpts[j][(u, *pa, int(row[j]))]
        total += term
    return total


def brute_force_em_map(params, values, counts):
    """One EM map as loops over rows, classes and nodes (spec F2)."""
    k, col = params.n_components, {v: j for j, v in enumerate(params.columns)}
    num = [np.zeros_like(c) for c in params.cpts]
    nk = np.zeros(k)
    for row, c in zip(values, counts, strict=True):
        joint = np.array(
            [
                params.weights[u]
                * np.prod(
                    [
                        params.cpts[j][
                            (u, *(int(row[col[p]]) for p in params.dag.parents[v]), int(row[j]))
                        ]
                        for j, v in enumerate(params.columns)
                    ]
                )
                for u in range(k)
            ]
        )
        r = c * joint / joint.sum()
        nk += r
        for j, v in enumerate(params.columns):
            pa = tuple(int(row[col[p]]) for p in params.dag.parents[v])
            for u in range(k):
                num[j][(u, *pa, int(row[j]))] += r[u]
    cpts = []
    for n, old in zip(num, params.cpts, strict=True):
        sums = n.sum(axis=-1, keepdims=True)
        cpts.append(np.where(sums > 0, n / np.where(sums > 0, sums, 1.0), old))
    return nk / counts.sum(), cpts


def perturbed(truth, rng, size=0.03):
    """Every entry moved by up to ``size``, clipped positive and renormalised."""
    cpts = []
    for c in truth.cpts:
        q = np.clip(c + rng.uniform(-size, size, c.shape), 1e-3, None)
        cpts.append(q / q.sum(axis=-1, keepdims=True))
    w = np.clip(truth.weights + rng.uniform(-size, size, truth.n_components), 1e-3, None)
    return BayesNetMixtureParams(truth.dag, truth.n_levels, w / w.sum(), tuple(cpts))


def max_error(truth, est):
    """Largest weight or CPT difference after the best label permutation."""
    k = truth.n_components
    flat_t = np.concatenate([c.reshape(k, -1) for c in truth.cpts], axis=1)
    flat_e = np.concatenate([c.reshape(k, -1) for c in est.cpts], axis=1)
    est = est.permute(best_permutation(np.abs(flat_t[:, None] - flat_e[None]).max(axis=2)))
    return max(
        float(np.abs(truth.weights - est.weights).max()),
        *(float(np.abs(a - b).max()) for a, b in zip(truth.cpts, est.cpts, strict=True)),
    )


@pytest.mark.parametrize("levels", [(2, 2, 2), (3, 2, 3)])
def test_loglik_matches_log_prob_rows_and_brute_force(levels):
    """References: ``inference.log_prob_rows`` per class, and explicit enumeration."""
    params = random_bn_starts(TINY, levels, 3, 1, np.random.default_rng(0))[0]
    rows = all_rows(levels)
    counts = np.random.default_rng(1).integers(0, 5, rows.shape[0]).astype(float)
    design = BNRowDesign(rows, TINY, levels)
    logP = np.concatenate([c.reshape(3, -1) for c in params.cpts], axis=1)
    np.testing.assert_allclose(
        design.log_f(np.log(logP)), log_prob_rows(params, rows).T, rtol=1e-13, atol=1e-13
    )
    ref = logsumexp(log_prob_rows(params, rows) + np.log(params.weights), axis=1) @ counts
    brute = sum(c * np.log(brute_force_prob(params, r)) for r, c in zip(rows, counts, strict=True))
    got = loglik_bayesnet_mixture(rows, counts, params)
    assert got == pytest.approx(ref, rel=1e-13)
    assert got == pytest.approx(brute, rel=1e-13)
    # a population table sums to one
    probs = np.array([brute_force_prob(params, r) for r in rows])
    assert probs.sum() == pytest.approx(1.0, rel=1e-13)


@pytest.mark.parametrize(("seed", "n_nodes"), [(0, 6), (1, 7), (2, 8)])
def test_population_table_recovers_the_truth(seed, n_nodes):
    """Reference: the truth maximises the likelihood of its own population table."""
    dag = random_sparse_dag(n_nodes, 2, random_state=seed)
    _, truth = bayesnet_mixture(dag, 2, 0, random_state=seed)
    rows = all_rows((2,) * n_nodes)
    probs = np.exp(log_prob_rows(truth, rows)) @ truth.weights
    start = perturbed(truth, np.random.default_rng(seed))
    fit = em_bayesnet_mixture(rows, probs, dag, 2, [start], tol=1e-14, max_iter=5000)[0]
    assert fit.converged
    assert fit.log_likelihood == pytest.approx(probs @ np.log(probs), rel=1e-12)
    assert max_error(truth, fit.params) < 1e-6


@pytest.fixture(scope="module")
def sampled():
    dag = random_sparse_dag(7, 2, random_state=3)
    X, truth = bayesnet_mixture(dag, 2, 5000, random_state=3)
    values, counts, _ = compress_rows(X)
    return dag, truth, values, counts


def test_plain_em_never_decreases_the_likelihood(sampled):
    """Reference: EM's monotonicity (Dempster, Laird & Rubin 1977), up to rounding."""
    dag, truth, values, counts = sampled
    starts = [perturbed(truth, np.random.default_rng(0), 0.2)]
    starts += random_bn_starts(dag, 2, 2, 2, np.random.default_rng(1))
    for accelerate in (False, True):
        for fit in em_bayesnet_mixture(
            values, counts, dag, 2, starts, tol=1e-12, max_iter=400, accelerate=accelerate
        ):
            h = np.array(fit.history)
            assert h.size >= 2
            assert np.all(np.diff(h) >= -1e-12 * abs(h[-1]))


def test_squarem_reaches_the_plain_em_fixed_point_in_fewer_maps(sampled):
    """Same start, same maximum.

    What SQUAREM guarantees is monotonicity and convergence to a fixed point
    of EM, not a higher likelihood than plain EM after every equal number of
    maps, so the test compares the end points: started near the truth both
    climb to the same maximum; SQUAREM needs fewer maps.
    """
    dag, truth, values, counts = sampled
    start = perturbed(truth, np.random.default_rng(5), 0.1)
    slow = em_bayesnet_mixture(
        values, counts, dag, 2, [start], tol=1e-15, max_iter=20000, accelerate=False
    )[0]
    fast = em_bayesnet_mixture(values, counts, dag, 2, [start], tol=1e-15, max_iter=20000)[0]
    assert fast.converged and slow.converged
    assert fast.n_iter < slow.n_iter
    assert fast.log_likelihood >= slow.log_likelihood - 1e-9 * abs(slow.log_likelihood)
    assert max_error(slow.params, fast.params) < 1e-5


@pytest.mark.parametrize("accelerate", [False, True])
def test_no_edges_agrees_with_latent_class_em(accelerate):
    """Reference: ``em_latent_class``; a BN mixture without edges is a latent class model."""
    levels = (2, 3, 2, 2, 3, 2)
    dag = DAG.from_edges([f"X{i}" for i in range(6)], [])
    X, _ = bayesnet_mixture(dag, 2, 3000, n_levels=levels, random_state=4)
    values, counts, _ = compress_rows(X)
    start = random_bn_starts(dag, levels, 2, 1, np.random.default_rng(7))[0]
    ours = em_bayesnet_mixture(
        values, counts, dag, levels, [start], tol=1e-14, max_iter=20000, accelerate=accelerate
    )[0]
    ref = em_latent_class(
        values,
        counts,
        levels,
        [(start.weights, list(start.cpts))],
        tol=1e-14,
        max_iter=20000,
        accelerate=accelerate,
    )[0]
    assert ours.converged and ref.converged
    assert ours.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-12)
    np.testing.assert_allclose(ours.params.weights, ref.weights, atol=1e-6)
    for a, b in zip(ours.params.cpts, ref.probs, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_categorical_nodes_match_a_brute_force_em_map():
    """Reference: one M-step written as loops; the fit is a fixed point of that map."""
    levels = (3, 3, 2)
    X, _ = bayesnet_mixture(TINY, 2, 2000, n_levels=levels, random_state=6)
    values, counts, _ = compress_rows(X)
    start = random_bn_starts(TINY, levels, 2, 1, np.random.default_rng(3))[0]
    (one,) = em_bayesnet_mixture(
        values, counts, TINY, levels, [start], max_iter=1, accelerate=False
    )
    w, cpts = brute_force_em_map(start, values, counts)
    np.testing.assert_allclose(one.params.weights, w, atol=1e-13)
    for a, b in zip(one.params.cpts, cpts, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-13)
    fit = em_bayesnet_mixture(values, counts, TINY, levels, [start], tol=1e-14, max_iter=5000)[0]
    assert fit.converged
    w, cpts = brute_force_em_map(fit.params, values, counts)
    np.testing.assert_allclose(fit.params.weights, w, atol=1e-6)
    for a, b in zip(fit.params.cpts, cpts, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    brute = sum(
        c * np.log(brute_force_prob(fit.params, r)) for r, c in zip(values, counts, strict=True)
    )
    assert fit.log_likelihood == pytest.approx(brute, rel=1e-12)


def test_unseen_parent_assignment_keeps_its_row_and_alpha_smooths_it():
    """Reference: the M-step's definition; ``A = 1`` never occurs, so B's row at A = 1 is free."""
    dag = DAG.from_edges(None, [("A", "B")])
    values = np.array([[0, 0], [0, 1]])
    counts = np.array([3.0, 1.0])
    start = random_bn_starts(dag, 2, 2, 1, np.random.default_rng(0))[0]
    mle = em_bayesnet_mixture(values, counts, dag, 2, [start], max_iter=1, accelerate=False)[0]
    np.testing.assert_array_equal(mle.params.cpts[1][:, 1], start.cpts[1][:, 1])
    fit = em_bayesnet_mixture(values, counts, dag, 2, [start], alpha=1.0, tol=1e-13)[0]
    np.testing.assert_allclose(fit.params.cpts[1][:, 1], 0.5, atol=1e-12)
    assert np.all(np.diff(fit.history) >= -1e-12 * abs(fit.history[-1]))
    assert fit.objective < fit.log_likelihood


def test_batched_starts_equal_separate_runs(sampled):
    dag, _, values, counts = sampled
    starts = random_bn_starts(dag, 2, 2, 3, np.random.default_rng(11))
    together = em_bayesnet_mixture(values, counts, dag, 2, starts, tol=1e-10)
    for start, t in zip(starts, together, strict=True):
        alone = em_bayesnet_mixture(values, counts, dag, 2, [start], tol=1e-10)[0]
        if t.merged:
            continue
        assert t.n_iter == alone.n_iter
        assert t.log_likelihood == pytest.approx(alone.log_likelihood, rel=1e-12)
        assert max_error(alone.params, t.params) < 1e-10


def test_row_blocked_e_step_equals_one_block(monkeypatch):
    """Reference: the same E-step with every row in one block (it sums over rows, so
    splitting them into blocks may only reorder the additions). 12 binary nodes, 2e4 rows:
    several thousand distinct rows, so blocks of 1,024 rows split them; three starts."""
    rng = np.random.default_rng(8)
    dag = random_sparse_dag(12, 2, random_state=rng)
    _, truth = bayesnet_mixture(dag, 2, 3, random_state=rng)
    values, counts, _ = compress_rows(sample(truth, 20_000, rng=rng)[0])
    assert values.shape[0] > 3 * 1024
    design = BNRowDesign(values, dag, 2)
    assert all(index.dtype == np.int32 for _, _, index in design.groups)
    starts = random_bn_starts(dag, 2, 2, 3, np.random.default_rng(5))
    W = np.stack([s.weights for s in starts])
    P = np.stack([design.stack(s)[1] for s in starts])
    whole = em_module._e_step(design, counts, W, P)
    monkeypatch.setattr(em_module, "E_BLOCK", 1)  # the smallest block: 1,024 rows
    assert len(em_module._row_blocks(design.m, 6)) > 3
    blocked = em_module._e_step(design, counts, W, P)
    for a, b in zip(whole, blocked, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-9)


def test_bad_input_is_refused():
    start = random_bn_starts(TINY, 2, 2, 1, np.random.default_rng(0))[0]
    rows = all_rows((2, 2, 2))
    ones = np.ones(rows.shape[0])
    with pytest.raises(DataError, match="levels of that node"):
        em_bayesnet_mixture(rows + 1, ones, TINY, 2, [start])
    with pytest.raises(DataError, match="counts"):
        em_bayesnet_mixture(rows, ones[:-1], TINY, 2, [start])
    with pytest.raises(DataError, match="another DAG"):
        em_bayesnet_mixture(rows, ones, TINY, 3, [start])
    with pytest.raises(DataError, match="alpha"):
        em_bayesnet_mixture(rows, ones, TINY, 2, [start], alpha=-1.0)
    with pytest.raises(DataError, match="at least one start"):
        em_bayesnet_mixture(rows, ones, TINY, 2, [])


# ------------------------------------------------ missing values: full-information ML
#: A -> B -> C, A -> D: B a chain link, C and D leaves.
DAG4 = DAG.from_edges(None, [("A", "B"), ("B", "C"), ("A", "D")])


def with_gaps(X, mechanism, rng):
    """Cells set to -1 completely at random (15%), or at random given the observed ``A``."""
    X = X.astype(np.int64).copy()
    if mechanism == "mcar":
        X[rng.random(X.shape) < 0.15] = -1
    else:  # MAR: B, C, D go missing more often when A = 1; A is always seen
        p = np.where(X[:, 0] == 1, 0.4, 0.05)[:, None]
        X[:, 1:][rng.random((X.shape[0], 3)) < p] = -1
    return X


def completions(row, levels, keep=None):
    """Every filling of the row's -1 cells (only those in ``keep``, when given)."""
    gaps = [j for j, x in enumerate(row) if x < 0 and (keep is None or keep[j])]
    out = []
    for fill in itertools.product(*(range(levels[j]) for j in gaps)):
        full = [int(x) for x in row]
        for j, x in zip(gaps, fill, strict=True):
            full[j] = x
        out.append(full)
    return out


def brute_fiml_em(params, rows, counts, *, tol, max_iter):
    """The textbook EM for missing data, by loops: every completion of every row's gaps.

    E-step: ``P(u, x_M | x_O)`` over all ``x_M``; M-step: expected family counts
    (Dempster, Laird & Rubin 1977; Lauritzen 1995). Returns the log-likelihood
    at the start of every map.
    """
    nodes, levels = params.columns, params.n_levels
    col = {v: j for j, v in enumerate(nodes)}
    # per row, per completion, per node: the CPT cell (parents' levels, value), u left free
    cells = [
        [
            [
                (slice(None), *(full[col[p]] for p in params.dag.parents[v]), full[j])
                for j, v in enumerate(nodes)
            ]
            for full in completions(r, levels)
        ]
        for r in rows
    ]
    w, cpts = params.weights.copy(), [c.copy() for c in params.cpts]
    history = []
    for _ in range(max_iter):
        nk, num, ll = np.zeros_like(w), [np.zeros_like(c) for c in cpts], 0.0
        for row_cells, c in zip(cells, counts, strict=True):
            joint = []  # (completions, k): pi_u prod_V theta_uV at each completion
            for per_node in row_cells:
                term = w.copy()
                for j, cell in enumerate(per_node):
                    term = term * cpts[j][cell]
                joint.append(term)
            total = sum(float(t.sum()) for t in joint)
            ll += c * np.log(total)
            for per_node, term in zip(row_cells, joint, strict=True):
                r = c * term / total
                nk += r
                for j, cell in enumerate(per_node):
                    num[j][cell] += r
        history.append(ll)
        if len(history) > 1 and history[-1] - history[-2] <= tol * abs(ll):
            break
        w = nk / counts.sum()
        cpts = [n / n.sum(axis=-1, keepdims=True) for n in num]
    return history


@pytest.mark.parametrize("mechanism", ["mcar", "mar"])
def test_fiml_em_reaches_the_maximum_of_a_brute_force_em(mechanism):
    """Reference: ``brute_fiml_em`` (loops over all completions) from the same start.

    kmix's E-step completes only the missing ancestors of observed nodes (a
    missing leaf drops out), so the two EMs take different paths; both
    ascend the same observed-data likelihood to the same maximum.
    """
    X, truth = bayesnet_mixture(DAG4, 2, 1500, separation=0.5, random_state=8)
    rows = with_gaps(X, mechanism, np.random.default_rng(9))
    assert 0.1 < np.mean(rows < 0) < 0.3
    values, counts, _ = compress_rows(rows + 1)
    values = values.astype(np.int64) - 1
    start = perturbed(truth, np.random.default_rng(10), 0.15)
    ref = brute_fiml_em(start, values, counts, tol=1e-9, max_iter=3000)
    fit = em_bayesnet_mixture(values, counts, DAG4, 2, [start], tol=1e-13, max_iter=20000)[0]
    assert fit.converged
    assert fit.log_likelihood == pytest.approx(ref[-1], rel=1e-6)
    assert np.all(np.diff(ref) >= -1e-9 * abs(ref[-1]))  # the reference is an EM too
    assert loglik_bayesnet_mixture(values, counts, start) == pytest.approx(ref[0], rel=1e-12)


def brute_ancestral_map(params, rows, counts):
    """One EM map, by loops, whose complete data per row are ``u`` and the nodes of ``A``.

    ``A``: the row's observed nodes and their ancestors (the marginal of a
    network on an ancestral set is the network on that set); only the
    missing nodes in ``A`` are completed, and only CPTs of nodes in ``A``
    receive counts from the row.
    """
    k, nodes, levels = params.n_components, params.columns, params.n_levels
    col = {v: j for j, v in enumerate(nodes)}
    nk, num = np.zeros(k), [np.zeros_like(c) for c in params.cpts]
    for row, c in zip(rows, counts, strict=True):
        seen = [v for v, x in zip(nodes, row, strict=True) if x >= 0]
        anc = params.dag.ancestors(seen, inclusive=True) if seen else frozenset()
        keep = [v in anc for v in nodes]
        comp = completions(row, levels, keep)
        joint = np.zeros((len(comp), k))
        for t, full in enumerate(comp):
            for u in range(k):
                joint[t, u] = params.weights[u]
                for j, v in enumerate(nodes):
                    if keep[j]:
                        pa = tuple(full[col[p]] for p in params.dag.parents[v])
                        joint[t, u] *= params.cpts[j][(u, *pa, full[j])]
        r = c * joint / joint.sum()
        nk += r.sum(axis=0)
        for t, full in enumerate(comp):
            for j, v in enumerate(nodes):
                if keep[j]:
                    pa = tuple(full[col[p]] for p in params.dag.parents[v])
                    for u in range(k):
                        num[j][(u, *pa, full[j])] += r[t, u]
    cpts = []
    for n, old in zip(num, params.cpts, strict=True):
        sums = n.sum(axis=-1, keepdims=True)
        cpts.append(np.where(sums > 0, n / np.where(sums > 0, sums, 1.0), old))
    return nk / counts.sum(), cpts


@pytest.mark.parametrize("max_completions", [256, 1])
def test_one_fiml_map_matches_loops_over_the_completions(max_completions):
    """Reference: ``brute_ancestral_map``; enumerated completions and variable elimination."""
    levels = (3, 2, 3, 2)
    X, _ = bayesnet_mixture(DAG4, 2, 800, n_levels=levels, random_state=11)
    rows = with_gaps(X, "mcar", np.random.default_rng(12))
    rows[:3] = [[-1, -1, -1, -1], [-1, 1, -1, -1], [-1, -1, 2, 0]]  # nothing, a root gap, ...
    values, counts, _ = compress_rows(rows + 1)
    values = values.astype(np.int64) - 1
    start = random_bn_starts(DAG4, levels, 2, 1, np.random.default_rng(13))[0]
    design = BNRowDesign(values, DAG4, levels, max_completions=max_completions)
    (one,) = em_bayesnet_mixture(
        values, counts, DAG4, levels, [start], max_iter=1, accelerate=False, design=design
    )
    w, cpts = brute_ancestral_map(start, values, counts)
    np.testing.assert_allclose(one.params.weights, w, atol=1e-13)
    for a, b in zip(one.params.cpts, cpts, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-13)


def test_fiml_likelihood_never_decreases(sampled):
    """Reference: EM's monotonicity (Dempster, Laird & Rubin 1977), with 20% of cells missing."""
    dag, truth, _, _ = sampled
    X, _ = bayesnet_mixture(dag, 2, 3000, random_state=3)
    X = X.astype(np.int64)
    X[np.random.default_rng(4).random(X.shape) < 0.2] = -1
    values, counts, _ = compress_rows(X + 1)
    values = values.astype(np.int64) - 1
    starts = [perturbed(truth, np.random.default_rng(0), 0.2)]
    starts += random_bn_starts(dag, 2, 2, 2, np.random.default_rng(1))
    for accelerate in (False, True):
        fits = em_bayesnet_mixture(
            values, counts, dag, 2, starts, tol=1e-12, max_iter=300, accelerate=accelerate
        )
        for fit in fits:
            h = np.array(fit.history)
            assert h.size >= 2
            assert np.all(np.diff(h) >= -1e-12 * abs(h[-1]))
    design = BNRowDesign(values, dag, 2, max_completions=1)  # every gap by elimination
    assert design.eliminated
    (fit,) = em_bayesnet_mixture(
        values, counts, dag, 2, starts[:1], max_iter=20, accelerate=False, design=design
    )
    assert np.all(np.diff(fit.history) >= -1e-12 * abs(fit.history[-1]))


def test_log_likelihood_history_is_the_history_without_the_prior(sampled):
    """Reference: the objective's definition, log-likelihood plus ``alpha sum log theta``:
    with alpha = 0 the two histories are one; with alpha > 0 they are taken at the same
    points, and the plain one ends at the fit's log-likelihood."""
    dag, truth, values, counts = sampled
    start = [perturbed(truth, np.random.default_rng(0), 0.2)]
    for accelerate in (False, True):
        ml = em_bayesnet_mixture(values, counts, dag, 2, start, accelerate=accelerate)[0]
        assert ml.log_likelihood_history == ml.history
        assert ml.log_likelihood_history[-1] == ml.log_likelihood
    smooth = em_bayesnet_mixture(values, counts, dag, 2, start, alpha=2.0)[0]
    assert len(smooth.log_likelihood_history) == len(smooth.history) == smooth.n_iter // 3 + 1
    assert smooth.log_likelihood_history[-1] == smooth.log_likelihood
    gaps = np.subtract(smooth.history, smooth.log_likelihood_history)
    assert np.all(gaps < 0)  # alpha sum log theta < 0: the prior term at every point

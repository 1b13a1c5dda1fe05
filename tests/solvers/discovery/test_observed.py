"""The observed-BIC climb, the sub-model score and the families' cached cells
(kmix.solvers.discovery.observed, .starts.submodel_bic, .families).

References: exact population tables of a mixture of networks (probabilities x
1e9), on which the generating DAG's class has the highest BIC and the
maximum log-likelihood of a model that contains the truth is the table's own,
``sum_x n_x log(n_x / N)`` (closed form); the log-likelihood and the expected
counts written out here with scipy's logsumexp and a loop over the rows.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from kmix.datasets import bayesnet_mixture
from kmix.params import DAG
from kmix.solvers.bayesnet.inference import log_prob_rows
from kmix.solvers.discovery.families import Families, random_posteriors
from kmix.solvers.discovery.observed import _covered_deletions, _moves, observed_climb
from kmix.solvers.discovery.orient import equivalence_class
from kmix.solvers.discovery.starts import submodel_bic
from tests.solvers.discovery.test_scoring import GRAPH, parents_of, population


def true_posteriors(dag, rows, levels=3, seed=4):
    """P(U | row) of the generating mixture of ``population(dag, levels, seed)``."""
    _, truth = bayesnet_mixture(dag, 2, 0, n_levels=levels, separation=0.3, random_state=seed)
    logp = log_prob_rows(truth, rows) + np.log(truth.weights)
    return np.exp(logp - logsumexp(logp, axis=1, keepdims=True))


def _bic(fam: Families, parents, resp) -> float:
    w, t = fam.m_step(resp, parents)
    ll = fam.em(w, t, parents, 300)[3]
    return ll - fam.penalty * fam.n_params(parents)


def test_a_triangle_needs_a_covered_reversal_and_the_climb_makes_it():
    """GRAPH (A -> C <- B, C -> D -> E) fitted as C -> D, C -> E, E -> D: no single
    deletion, reversal or addition of it raises the observed BIC (deleting C -> E makes
    a collider at D, deleting C -> D the chain C - E - D); E -> D is covered, and after
    its reversal deleting C -> E gives the chain. The climb ends in GRAPH's class. The
    start is the generating model's posteriors (the climb follows grown graphs, whose
    U is anchored); the triangle contains GRAPH, so its maximum is GRAPH's."""
    rows, counts = population(GRAPH)
    fam = Families(rows, counts, [3] * 5, 2)
    true = tuple(tuple(p) for p in parents_of(GRAPH))
    triangle = ((), (), (0, 1), (2, 4), (2,))
    allowed = ~np.eye(5, dtype=bool)
    resp = true_posteriors(GRAPH, rows) * counts[:, None]
    start = _bic(fam, triangle, resp)
    singles = list(_moves(fam, resp, triangle, allowed, frozenset(), 4))
    assert max(_bic(fam, g, resp) for g in singles) < start + 0.01  # no single move gains
    assert true in set(_covered_deletions(triangle, frozenset()))
    got, _, _, _, ll1 = observed_climb(fam, triangle, resp, allowed, frozenset(), 4)
    np.testing.assert_array_equal(equivalence_class(got).graph, equivalence_class(true).graph)
    assert ll1 - fam.penalty * fam.n_params(got) > start
    # a required C -> E stays
    kept, *_ = observed_climb(fam, triangle, resp, allowed, frozenset({(2, 4)}), 4)
    assert 2 in kept[4]


def test_the_climb_returns_a_supergraph_to_the_table_maximum():
    """GRAPH plus A -> D and B -> E, from posteriors half the generating model's and half
    random: the climb returns GRAPH's class, and its log-likelihood is the exact table's
    own (closed form): nothing fits better, and the deletions cost no likelihood."""
    rows, counts = population(GRAPH)
    fam = Families(rows, counts, [3] * 5, 2)
    true = tuple(tuple(p) for p in parents_of(GRAPH))
    extra = ((), (), (0, 1), (0, 2), (1, 3))
    allowed = ~np.eye(5, dtype=bool)
    noise = random_posteriors(fam, np.random.default_rng(0), 1)[0]
    start = 0.5 * true_posteriors(GRAPH, rows) * counts[:, None] + 0.5 * noise
    got, _, _, _, ll = observed_climb(fam, extra, start, allowed, frozenset(), 4)
    np.testing.assert_array_equal(equivalence_class(got).graph, equivalence_class(true).graph)
    table = float(counts @ np.log(counts / counts.sum()))
    assert ll <= table + 1e-6 * abs(table)
    np.testing.assert_allclose(ll, table, rtol=1e-9)


def test_submodel_bic_is_the_marginal_tables_maximum():
    """The ancestral set {A, B, C} of GRAPH: its marginal is the mixture on A -> C <- B, so
    from the true posteriors the sub-model's log-likelihood is the marginal table's own
    (closed form, summed over D and E here), and its penalty counts 1 + 2 * (2 + 2 + 9 * 2)
    free parameters (hand count, 3 levels)."""
    rows, counts = population(GRAPH)
    post = true_posteriors(GRAPH, rows)
    fam = Families(rows, counts, [3] * 5, 2)
    got = submodel_bic(fam, post * counts[:, None], [0, 1, 2], parents_of(GRAPH))
    marginal = np.zeros((3, 3, 3))
    np.add.at(marginal, (rows[:, 0], rows[:, 1], rows[:, 2]), counts)
    table = float((marginal * np.log(marginal / marginal.sum())).sum())
    n_params = 1 + 2 * (2 + 2 + 9 * 2)
    np.testing.assert_allclose(got, table - 0.5 * np.log(counts.sum()) * n_params, rtol=1e-9)
    # a parent outside the columns (a required edge from a variable not yet in) is left out
    with_outside = [list(p) for p in parents_of(GRAPH)]
    with_outside[2] = [0, 1, 4]
    same = submodel_bic(fam, post * counts[:, None], [0, 1, 2], with_outside)
    np.testing.assert_allclose(same, got, rtol=1e-12)


def test_cached_cells_give_the_written_out_likelihood_and_counts():
    """E-step log-likelihood = logsumexp over classes of log w_u + sum_i log P(x_i | pa, u)
    written out row by row, and the posteriors its softmax times the counts; expected
    family counts = a loop over the rows; a family asked with its parents in another
    order gets the table in that order (the cache is keyed by the order)."""
    dag = DAG.from_edges(list("ABCD"), [("A", "C"), ("B", "C"), ("C", "D")])
    rows, counts = population(dag, levels=2, seed=7)
    fam = Families(rows, counts, [2] * 4, 2)
    rng = np.random.default_rng(3)
    resp = rng.dirichlet(np.ones(2), size=rows.shape[0]) * counts[:, None]
    parents = ((), (), (0, 1), (2,))
    for _ in range(2):  # the second pass reads the cache
        w, t = fam.m_step(resp, parents)
        post, ll = fam.e_step(w, t, parents)
        joint = np.zeros((rows.shape[0], 2))
        for r, x in enumerate(rows):
            for u in range(2):
                lp = np.log(w[u])
                for i, ps in enumerate(parents):
                    s = 0
                    for p in ps:
                        s = s * 2 + x[p]
                    lp += np.log(t[i][u, s, x[i]])
                joint[r, u] = lp
        np.testing.assert_allclose(ll, logsumexp(joint, axis=1) @ counts, rtol=1e-12)
        soft = np.exp(joint - logsumexp(joint, axis=1, keepdims=True)) * counts[:, None]
        np.testing.assert_allclose(post, soft, rtol=1e-10)
        direct = np.zeros((2, 4, 2))
        for r, x in enumerate(rows):
            direct[:, x[0] * 2 + x[1], x[2]] += resp[r]
        np.testing.assert_allclose(fam.counts_of(resp, 2, (0, 1)), direct, rtol=1e-12)
        swapped = fam.counts_of(resp, 2, (1, 0)).reshape(2, 2, 2, 2)
        np.testing.assert_allclose(swapped.transpose(0, 2, 1, 3).reshape(2, 4, 2), direct)

"""Mixtures of Bayesian networks: random parameters and brute-force references.

* brute-force enumeration of the full joint ``P(U = u, V = v)`` over every
  assignment (<= 10 nodes), built as an explicit product of CPT entries with
  the intervened nodes' CPTs replaced by point masses (the truncated
  factorisation, Pearl 2009, eq. 3.10), then conditioned and marginalised
  by slicing and summing;
* exact population tables: every pattern of the nodes with its probability
  ``sum_u pi_u prod_V P_u(v_V | pa(V))`` (from ``inference.log_prob_rows``,
  checked to sum to one), passed as counts ``1e7 * P(x)``.
"""

from __future__ import annotations

import itertools

import numpy as np

from kmix.params.bayesnet import BayesNetMixtureParams
from kmix.params.dag import DAG
from kmix.solvers.bayesnet.inference import log_prob_rows


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


SCALE = 1e7  # population tables as counts: probabilities times a large total


def population(truth):
    """All patterns, their per-source probabilities (m, k) and counts SCALE * P(x)."""
    X = np.array(list(itertools.product(*[range(d) for d in truth.n_levels])), dtype=np.int64)
    per_source = np.exp(log_prob_rows(truth, X))
    p = per_source @ truth.weights
    assert abs(p.sum() - 1.0) < 1e-12
    return X, per_source, SCALE * p

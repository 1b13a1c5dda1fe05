"""Simulated latent class data: sampled tables, population tables and their errors."""

from __future__ import annotations

import itertools

import numpy as np

from kmix.solvers.linalg import best_permutation
from kmix.stats import compress_rows


def sampled(k, n, N, seed, levels=2):
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.full(k, 2.0))
    probs = [rng.dirichlet(np.ones(levels), size=k) for _ in range(n)]
    z = rng.choice(k, size=N, p=w)
    X = np.stack(
        [(rng.random(N)[:, None] > np.cumsum(p[z], axis=1)).sum(axis=1) for p in probs], axis=1
    )
    values, counts, _ = compress_rows(X)
    return values, counts, w, probs


def saturated_boundary_table():
    """k = 2, n = 3 (as many parameters as cells) with a weakly separated truth.

    Sampling noise puts the table outside the model's interior; the maximum has
    a probability of 1, which EM approaches only sublinearly.
    """
    rng = np.random.default_rng(20261124 + 1000 * 153)
    w = rng.dirichlet(np.full(2, 2.0))
    P = rng.uniform(0.05, 0.95, size=(2, 3))
    z = rng.choice(2, size=100_000, p=w)
    X = (rng.random((100_000, 3)) < P[z]).astype(np.int8)
    values, counts, _ = compress_rows(X)
    return values, counts


def separated(k, n, rng, sep=0.1, lo=0.05, hi=0.95):
    """P(X_j = 1 | u) with every variable's k values at least ``sep`` apart."""
    room = (hi - lo) - (k - 1) * sep
    P = np.empty((k, n))
    for j in range(n):
        P[:, j] = rng.permutation(lo + np.sort(rng.uniform(0, room, k)) + sep * np.arange(k))
    return P


def population(w, P):
    _k, n = P.shape
    rows = np.array(list(itertools.product([0, 1], repeat=n)), float)
    lik = np.prod(np.where(rows[:, None, :] == 1, P[None], 1 - P[None]), axis=2) @ w
    return rows, lik


def max_error(w, P, w_hat, P_hat):
    perm = best_permutation(np.abs(P[:, None, :] - P_hat[None]).max(axis=2))
    return max(np.abs(P_hat[perm] - P).max(), np.abs(w_hat[perm] - w).max())


LEVELS = np.array(["hi", "lo", "mid"], dtype=object)


def three_level(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Six three-level items with text labels from two well-separated classes."""
    rng = np.random.default_rng(seed)
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]])
    labels = rng.choice(2, size=n, p=[0.6, 0.4])
    cum = np.cumsum(probs[labels], axis=1)
    codes = (rng.random((n, 6))[:, :, None] > cum[:, None, :]).sum(axis=2)
    return LEVELS[np.minimum(codes, 2)], labels


def rare_class_instance(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Instance ``i`` of the reliability benchmark (``benchmarks/bench_lc_reliability.py``).

    Weights from Dirichlet(1) with one class forced to a share drawn from
    U(1%, 3%), ``P(X_j = 1 | u)`` from U(0.02, 0.98), binary items. Returns
    the unique rows, their counts, and the planted weights and probabilities
    (classes by decreasing weight).
    """
    cells = [
        (k, n, N)
        for k in (2, 3, 4, 5)
        for n in sorted({2 * k - 1, 3 * k, 15})
        for N in (10**4, 10**5)
    ]
    rng = np.random.default_rng([20261206, i])
    k, n, N = cells[i % len(cells)]
    w = rng.dirichlet(np.ones(k))
    small, u = rng.uniform(0.01, 0.03), int(rng.integers(k))
    w = w * (1.0 - small) / (w.sum() - w[u])
    w[u] = small
    P = rng.uniform(0.02, 0.98, size=(k, n))
    z = rng.choice(k, size=N, p=w / w.sum())
    X = (rng.random((N, n)) < P[z]).astype(np.int64)
    values, counts, _ = compress_rows(X)
    used = counts > 0
    order = np.argsort(-w)
    return values[used].astype(np.int64), counts[used], w[order] / w.sum(), P[order]

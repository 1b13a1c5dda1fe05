"""The tensor method for latent class models (kmix.solvers.latent_class.moments).

References: exact population tables (every response pattern with its exact
probability as the row weight), for which the moment step must be exact.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kmix.solvers.latent_class.moments import Views, fit_product_mixture, solve_triple
from kmix.solvers.linalg import best_permutation
from tests.helpers.latent_class import max_error, population, separated


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_moment_step_is_exact_on_population_tables(k):
    rng = np.random.default_rng(k)
    n = 2 * k - 1
    for _ in range(5):
        P = separated(k, n, rng)
        w = rng.dirichlet(2 * np.ones(k))
        rows, probs = population(w, P)
        res = fit_product_mixture(rows, probs, [2] * n, k, rng=rng)
        P_hat = np.array([p[:, 1] for p in res.probs]).T
        assert max_error(w, P, res.weights, P_hat) < 1e-8
        assert res.out_of_range < 1e-10


def test_every_variable_comes_out_in_one_labelling():
    # more variables than views need: the extra ones are read through the same eigenvectors
    rng = np.random.default_rng(0)
    k, n = 3, 9
    P, w = separated(k, n, rng), np.array([0.5, 0.3, 0.2])
    rows, probs = population(w, P)
    fit = solve_triple(rows, probs, [2] * n, Views((0, 1), (2, 3), (4,)), k, rng=rng)
    P_hat = np.array([p[:, 1] for p in fit.probs]).T
    assert max_error(w, P, fit.weights, P_hat) < 1e-9


def test_categorical_variables_with_generic_views():
    # four 3-level items carry k = 3 (Kruskal-type condition), views of one item each
    rng = np.random.default_rng(5)
    k, n, d = 3, 4, 3
    probs = [rng.dirichlet(np.ones(d), size=k) for _ in range(n)]
    w = np.array([0.45, 0.35, 0.2])
    rows = np.array(list(itertools.product(range(d), repeat=n)), float)
    lik = np.ones((rows.shape[0], k))
    for j in range(n):
        lik *= probs[j][:, rows[:, j].astype(int)].T
    res = fit_product_mixture(rows, lik @ w, [d] * n, k, rng=rng, guaranteed=False)
    est = np.concatenate(res.probs, axis=1)
    truth = np.concatenate(probs, axis=1)
    perm = best_permutation(np.abs(truth[:, None, :] - est[None]).max(axis=2))
    assert np.abs(est[perm] - truth).max() < 1e-8
    assert np.abs(res.weights[perm] - w).max() < 1e-8

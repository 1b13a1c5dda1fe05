"""Linear-algebra helpers.

References: the simplex projection is the minimiser of ``|x - v|`` over the
simplex, checked by its optimality (KKT) conditions, ``x_i = max(v_i - theta, 0)``
for one ``theta``, and against scipy's SLSQP where SLSQP reports success and a
feasible point; the Hungarian assignment against brute force over all permutations.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import minimize

from kmix.solvers.linalg import best_permutation, project_simplex


@given(arrays(np.float64, st.integers(1, 6), elements=st.floats(-5, 5)))
@example(np.array([0.0, 0.0, 5.0, -1.1, 3.95319015]))  # SLSQP stops infeasible here
@settings(max_examples=60, deadline=None)
def test_simplex_projection_is_the_nearest_point(v):
    x = project_simplex(v)
    assert abs(x.sum() - 1.0) < 1e-12
    assert np.all(x >= 0)
    # KKT: one threshold theta with x_i = v_i - theta where x_i > 0 and v_i <= theta elsewhere
    theta = float(np.mean((v - x)[x > 0]))
    np.testing.assert_allclose(x[x > 0], v[x > 0] - theta, atol=1e-9)
    assert np.all(v[x == 0] <= theta + 1e-9)
    res = minimize(
        lambda y: ((y - v) ** 2).sum(),
        np.full(v.shape, 1.0 / v.size),
        method="SLSQP",
        bounds=[(0, 1)] * v.size,
        constraints=[{"type": "eq", "fun": lambda y: y.sum() - 1}],
        options={"ftol": 1e-14, "maxiter": 500},
    )
    if res.success and abs(res.x.sum() - 1.0) < 1e-9:  # SLSQP can stop infeasible
        assert ((x - v) ** 2).sum() <= ((res.x - v) ** 2).sum() + 1e-9


def test_best_permutation_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        cost = rng.random((4, 4))
        perm = best_permutation(cost)
        best = min(itertools.permutations(range(4)), key=lambda p: cost[range(4), p].sum())
        assert cost[range(4), perm].sum() == cost[range(4), list(best)].sum()

"""Local identifiability from the rank of a Jacobian (kmix.solvers.identification).

References: closed-form Jacobians and ranks of small maps written here; the
k-coin problem (a mixture of two binomials of ``t`` trials is identified iff
``t >= 2k - 1 = 3``: Teicher, "Identifiability of finite mixtures", Ann.
Math. Statist. 34, 1963), whose cell probabilities are written here.
"""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from kmix.exceptions import DataError
from kmix.solvers.identification import (
    RTOL_CENTRAL,
    RTOL_EXACT,
    jacobian_at,
    local_identifiability,
    rank_of,
)


def _poly(x):
    return np.array([x[0] * x[1], x[0] ** 2 + x[2], x[1] * x[2] / 3.0, 1.0 - x[0]])


def _poly_jacobian(x):
    return np.array(
        [
            [x[1], x[0], 0.0],
            [2 * x[0], 0.0, 1.0],
            [0.0, x[2] / 3.0, x[1] / 3.0],
            [-1.0, 0.0, 0.0],
        ]
    )


def _binomial_mixture(t):
    """Cells P(h heads of t) of a two-coin mixture with parameters (w, p, q)."""

    def cells(theta):
        w, p, q = theta
        h = np.arange(t + 1)
        c = np.array([comb(t, int(i)) for i in h], dtype=float)
        return c * (w * p**h * (1 - p) ** (t - h) + (1 - w) * q**h * (1 - q) ** (t - h))

    return cells


def test_finite_differences_match_the_closed_form_jacobian():
    x = np.array([0.3, -1.2, 2.5])
    exact = _poly_jacobian(x)
    assert np.allclose(jacobian_at(_poly, x), exact, atol=1e-9)
    assert np.allclose(jacobian_at(_poly, x, method="complex-step"), exact, atol=1e-14)


def test_rank_of_closed_form_matrices():
    outer = np.outer([1.0, 2.0, 3.0, 4.0], [1.0, -1.0, 0.5])  # rank 1
    res = rank_of(outer)
    assert (res.rank, res.n_parameters, res.n_observables) == (1, 3, 4)
    assert not res.identified and res.deficiency == 2
    assert res.min_gap > 1e12  # the dropped singular values are rounding only
    # a column scaled by 1e8 is the same direction: the rank does not change
    full = np.eye(3)
    full[:, 1] *= 1e8
    assert rank_of(full).rank == 3 and rank_of(full).identified
    assert rank_of(np.zeros((2, 2))).rank == 0


def test_a_mixture_of_two_coins_is_identified_from_three_flips_not_two():
    rng = np.random.default_rng(0)

    def sample(r):
        return r.uniform(0.1, 0.9, 3)

    three = local_identifiability(_binomial_mixture(3), sample, rng=rng)
    assert three.identified and three.rank == 3 and three.ranks == (3,)  # stops at full rank
    assert three.tolerance == pytest.approx(RTOL_CENTRAL * three.singular_values[0])
    two = local_identifiability(_binomial_mixture(2), sample, rng=rng)
    # 3 free cells minus the sum-to-one: rank 2 at every point
    assert two.rank == 2 and two.ranks == (2, 2, 2) and not two.identified
    cs = local_identifiability(_binomial_mixture(2), sample, rng=rng, method="complex-step")
    assert cs.rank == 2 and cs.tolerance == pytest.approx(RTOL_EXACT * cs.singular_values[0])


def test_a_structural_deficiency_is_seen_at_every_point():
    def only_the_sum(x):
        s = x[0] + x[1]
        return np.array([s, s**2, 1.0 - s])

    def jac(x):
        s = x[0] + x[1]
        return np.array([[1.0, 1.0], [2 * s, 2 * s], [-1.0, -1.0]])

    rng = np.random.default_rng(1)
    res = local_identifiability(None, lambda r: r.normal(size=2), rng=rng, jacobian=jac)
    assert res.ranks == (1, 1, 1) and res.deficiency == 1
    by_fd = local_identifiability(only_the_sum, lambda r: r.normal(size=2), rng=rng)
    assert by_fd.ranks == (1, 1, 1)


def test_bad_arguments_are_named():
    with pytest.raises(DataError, match="rtol"):
        rank_of(np.eye(2), rtol=2.0)
    with pytest.raises(DataError, match="method"):
        jacobian_at(_poly, np.zeros(3), method="forward")
    with pytest.raises(DataError, match="finite"):
        rank_of(np.array([[np.nan, 1.0]]))
    with pytest.raises(DataError, match="fun"):
        local_identifiability(None, lambda r: r.normal(size=2), rng=np.random.default_rng(0))

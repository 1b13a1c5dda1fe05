"""EM of many small latent class problems at once.

Reference: the one-problem EM, :func:`kmix.solvers.latent_class.em.em_latent_class`,
run on each problem alone from the same start (its own tests check it against
closed forms). The batched map is the same map, so plain EM must follow the
same path to rounding; SQUAREM too, up to where a start stops.
"""

from __future__ import annotations

import numpy as np
import pytest

from kmix.exceptions import DataError
from kmix.solvers.latent_class.batched import em_latent_class_batched
from kmix.solvers.latent_class.em import em_latent_class, random_starts
from kmix.stats import compress_rows

LEVELS = [3, 2, 4, 2]


def _problems(n: int, seed: int) -> tuple[list, list, list]:
    """``n`` problems of 5 to 400 rows from two planted classes, random starts, some held items."""
    rng = np.random.default_rng(seed)
    problems, starts, fixed = [], [], []
    for c in range(n):
        N = int(rng.integers(5, 400))
        w = rng.dirichlet([2.0, 2.0])
        probs = [rng.dirichlet(np.ones(d), size=2) for d in LEVELS]
        z = rng.choice(2, size=N, p=w)
        X = np.column_stack(
            [(rng.random(N)[:, None] > p[z].cumsum(axis=1)).sum(axis=1) for p in probs]
        )
        values, counts, _ = compress_rows(X)
        keep = counts > 0
        problems.append((values[keep].astype(np.int64), counts[keep].astype(np.float64)))
        starts.append(random_starts(LEVELS, 2, 1, rng)[0])
        fixed.append([0, 3] if c % 3 == 0 else [])
    return problems, starts, fixed


@pytest.mark.parametrize("accelerate", [False, True])
def test_each_problem_ends_where_its_own_em_ends(accelerate: bool) -> None:
    problems, starts, fixed = _problems(60, seed=1)
    batched = em_latent_class_batched(
        problems, LEVELS, starts, tol=1e-9, max_iter=2000, accelerate=accelerate, fixed=fixed
    )
    for (values, counts), start, held, got in zip(problems, starts, fixed, batched, strict=True):
        want = em_latent_class(
            values,
            counts,
            LEVELS,
            [start],
            tol=1e-9,
            max_iter=2000,
            accelerate=accelerate,
            fixed=held,
        )[0]
        if not accelerate:  # the same maps in the same order: the same path
            assert got.n_iter == want.n_iter
            assert got.converged == want.converged
            np.testing.assert_allclose(got.weights, want.weights, atol=1e-10)
            for a, b in zip(got.probs, want.probs, strict=True):
                np.testing.assert_allclose(a, b, atol=1e-10)
        assert got.log_likelihood == pytest.approx(want.log_likelihood, rel=1e-7)
        for j in held:  # held items never move (SQUAREM renormalises them: rounding)
            np.testing.assert_allclose(got.probs[j], np.asarray(start[1][j]), rtol=0, atol=1e-15)
        assert not got.merged


def test_log_likelihood_is_that_of_the_returned_point() -> None:
    problems, starts, _ = _problems(8, seed=2)
    fits = em_latent_class_batched(problems, LEVELS, starts)
    for (values, counts), got in zip(problems, fits, strict=True):
        # direct sum_s c_s log sum_u pi_u prod_j P(x_sj | u)
        dens = np.ones((values.shape[0], 2)) * got.weights
        for j, p in enumerate(got.probs):
            dens = dens * p[:, values[:, j]].T
        assert got.log_likelihood == pytest.approx(
            float(counts @ np.log(dens.sum(axis=1))), rel=1e-12
        )


def test_bad_problems_are_refused_by_name() -> None:
    problems, starts, _ = _problems(3, seed=3)
    with pytest.raises(DataError, match="one start per problem"):
        em_latent_class_batched(problems, LEVELS, starts[:2])
    empty = [(np.zeros((0, 4), dtype=np.int64), np.zeros(0)), *problems[1:]]
    with pytest.raises(DataError, match="problem 0 has no rows"):
        em_latent_class_batched(empty, LEVELS, starts)
    holed = [(np.array([[0, -1, 0, 1]]), np.ones(1)), *problems[1:]]
    with pytest.raises(DataError, match="problem 0 has missing values"):
        em_latent_class_batched(holed, LEVELS, starts)
    assert em_latent_class_batched([], LEVELS, []) == []

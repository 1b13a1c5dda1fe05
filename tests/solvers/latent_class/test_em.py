"""Accelerated EM and the quasi-Newton finish for latent class models (kmix.solvers.latent_class).

References: kmix's general EM (``run_em`` with the bernoulli / categorical
families, an independent implementation) from the same start for the fixed
point; the first-order (Karush-Kuhn-Tucker) conditions of the likelihood for
the finish.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from kmix.components import get_family
from kmix.exceptions import DataError
from kmix.params import BernoulliParams, CategoricalParams
from kmix.solvers.em.loop import run_em
from kmix.solvers.latent_class.design import log_likelihoods
from kmix.solvers.latent_class.em import em_latent_class, polish_latent_class, random_starts
from tests.helpers.latent_class import sampled, saturated_boundary_table


@pytest.mark.parametrize(("levels", "accelerate"), [(2, True), (2, False), (3, True)])
def test_fixed_point_matches_the_general_em(levels, accelerate):
    """Same start, both run to a tight tolerance: the same maximum (an independent EM)."""
    n = 6
    values, counts, _, _ = sampled(2, n, 5000, 3, levels)
    w0, p0 = random_starts([levels] * n, 2, 1, np.random.default_rng(7))[0]
    fit = em_latent_class(
        values, counts, [levels] * n, [(w0, p0)], tol=1e-14, max_iter=20000, accelerate=accelerate
    )[0]
    family = get_family("bernoulli" if levels == 2 else "categorical")
    prepared = family.prepare(values, n_levels=[levels] * n)
    params = (
        BernoulliParams(np.stack([p[:, 1] for p in p0], axis=1))
        if levels == 2
        else CategoricalParams(tuple(p0))
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = run_em(
            family,
            prepared,
            counts,
            2,
            rng=np.random.default_rng(0),
            weights_init=w0,
            params_init=params,
            tol=1e-14,
            max_iter=200000,
        )
    assert fit.converged
    assert fit.log_likelihood == pytest.approx(ref.objective, abs=1e-6)
    got = np.concatenate(fit.probs, axis=1)
    want = (
        np.stack([1 - ref.params.p, ref.params.p], axis=2).reshape(2, -1)
        if levels == 2
        else np.concatenate(ref.params.probs, axis=1)
    )
    assert np.abs(got - want).max() < 1e-4
    assert np.abs(fit.weights - ref.weights).max() < 1e-4


def test_acceleration_ends_at_em_fixed_points_in_fewer_maps():
    """Each accelerated run stops where one plain EM map gains at most ``tol`` (relative).

    From the same start SQUAREM may reach a different stationary point than
    plain EM (its steps are longer; here one start settles near a saddle that
    plain EM leaves only after hundreds of maps): what must hold is EM's own
    stopping rule at the returned point, and the best over the starts.
    """
    values, counts, _, _ = sampled(3, 5, 20000, 5)
    starts = random_starts([2] * 5, 3, 6, np.random.default_rng(2))
    fast = em_latent_class(values, counts, [2] * 5, starts, tol=1e-12)
    slow = em_latent_class(values, counts, [2] * 5, starts, tol=1e-12, accelerate=False)
    lead = [f for f in fast if not f.merged]
    for f in lead:
        again = em_latent_class(
            values, counts, [2] * 5, [(f.weights, f.probs)], tol=0.0, max_iter=1, accelerate=False
        )[0]
        assert again.log_likelihood - f.log_likelihood <= 1e-12 * abs(f.log_likelihood)
    assert sum(f.n_iter for f in fast) < sum(s.n_iter for s in slow)
    assert max(f.log_likelihood for f in lead) >= max(s.log_likelihood for s in slow) - 1e-6


def test_batched_starts_equal_separate_runs():
    values, counts, _, _ = sampled(2, 5, 3000, 8)
    starts = random_starts([2] * 5, 2, 3, np.random.default_rng(4))
    together = em_latent_class(values, counts, [2] * 5, starts, tol=1e-12)
    for start, t in zip(starts, together, strict=True):
        alone = em_latent_class(values, counts, [2] * 5, [start], tol=1e-12)[0]
        if t.merged:
            assert t.log_likelihood <= alone.log_likelihood + 1e-9
            continue
        assert t.log_likelihood == pytest.approx(alone.log_likelihood, rel=1e-12)
        np.testing.assert_allclose(t.weights, alone.weights, atol=1e-12)


def test_a_duplicate_start_merges_into_its_twin():
    values, counts, _, _ = sampled(2, 5, 3000, 9)
    start = random_starts([2] * 5, 2, 1, np.random.default_rng(0))[0]
    fits = em_latent_class(values, counts, [2] * 5, [start, start], tol=1e-12)
    assert sum(f.merged for f in fits) == 1


def test_bad_starts_are_refused():
    values, counts, _, _ = sampled(2, 4, 200, 0)
    with pytest.raises(DataError, match="at least one start"):
        em_latent_class(values, counts, [2] * 4, [])
    a = random_starts([2] * 4, 2, 1, np.random.default_rng(0))[0]
    b = random_starts([2] * 4, 3, 1, np.random.default_rng(0))[0]
    with pytest.raises(DataError, match="share one number of classes"):
        em_latent_class(values, counts, [2] * 4, [a, b])


def test_finish_reaches_the_boundary_maximum_em_crawls_to():
    values, counts = saturated_boundary_table()
    starts = random_starts([2] * 3, 2, 5, np.random.default_rng(0))
    fits = em_latent_class(values, counts, [2] * 3, starts, tol=1e-10, max_iter=1000)
    best = max(fits, key=lambda f: f.log_likelihood)
    done = polish_latent_class(values, counts, [2] * 3, (best.weights, best.probs))
    assert done.converged and done.log_likelihood > best.log_likelihood + 1e-3
    # reference: EM itself, 20,000 more maps from where it stopped, ends below the finish
    # and moves towards it (EM never decreases the likelihood)
    more = em_latent_class(
        values, counts, [2] * 3, [(best.weights, best.probs)], tol=0.0, max_iter=20_000
    )[0]
    assert best.log_likelihood < more.log_likelihood <= done.log_likelihood + 1e-9
    # first-order conditions: zero gradient in the interior, pushing outwards on the boundary
    P = np.stack([p[:, 1] for p in done.probs], axis=1)
    eps = 1e-7
    base = log_likelihoods(values, counts, [2] * 3, [(done.weights, done.probs)])[0]
    for u, j in itertools.product(range(2), range(3)):
        Q = P.copy()
        inside = 1e-6 < P[u, j] < 1 - 1e-6
        step = eps if P[u, j] < 0.5 else -eps
        Q[u, j] += step
        moved = log_likelihoods(
            values,
            counts,
            [2] * 3,
            [(done.weights, [np.stack([1 - Q[:, i], Q[:, i]], axis=1) for i in range(3)])],
        )[0]
        slope = (moved - base) / step
        if inside:
            assert abs(slope) < 1.0, (u, j, P[u, j], slope)  # 1 nat per unit, N = 1e5
        else:
            assert slope * np.sign(0.5 - P[u, j]) <= 1.0  # moving inwards does not help

"""Accelerated EM and the quasi-Newton finish for latent class models (kmix.solvers.latent_class).

References: kmix's general EM (``run_em`` with the bernoulli / categorical
families, an independent implementation) from the same start for the fixed
point; a direct triple loop over rows, classes and variables for the
log-likelihood; the first-order (Karush-Kuhn-Tucker) conditions of the
likelihood for the finish.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from kmix import ProductMixture
from kmix.components import get_family
from kmix.exceptions import DataError
from kmix.params import BernoulliParams, CategoricalParams
from kmix.solvers.em.loop import run_em
from kmix.solvers.latent_class.design import log_likelihoods
from kmix.solvers.latent_class.em import em_latent_class, polish_latent_class, random_starts
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


def direct_loglik(values, counts, w, probs):
    """Triple loop: rows, classes, variables."""
    total = 0.0
    for s in range(values.shape[0]):
        lik = 0.0
        for u in range(w.shape[0]):
            term = w[u]
            for j, p in enumerate(probs):
                term *= p[u, int(values[s, j])]
            lik += term
        total += counts[s] * np.log(lik)
    return total


@pytest.mark.parametrize("levels", [2, 3])
def test_log_likelihoods_match_a_direct_loop(levels):
    values, counts, w, probs = sampled(3, 5, 400, 0, levels)
    cands = [(w, probs), *random_starts([levels] * 5, 3, 2, np.random.default_rng(1))]
    got = log_likelihoods(values, counts, [levels] * 5, cands)
    want = [direct_loglik(values, counts, cw, cp) for cw, cp in cands]
    np.testing.assert_allclose(got, want, rtol=1e-12)


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


def test_product_mixture_start_counts_follow_n_init():
    values, counts = saturated_boundary_table()
    small = ProductMixture(2, random_state=0).fit(values, sample_weight=counts)
    assert small.n_starts_ == 13  # three moment candidates and ten random starts
    assert small.n_polish_iter_ > 0 and small.converged_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # three moment starts alone: a class may empty out
        only = ProductMixture(2, n_init=3, random_state=0).fit(values, sample_weight=counts)
    assert only.n_starts_ == 3
    plus = ProductMixture(2, n_init=5, random_state=0).fit(values, sample_weight=counts)
    assert plus.n_starts_ == 5  # n_init counts starts in all: three moment, two random
    rnd = ProductMixture(2, init="random", n_init=4, random_state=0).fit(
        values, sample_weight=counts
    )
    assert rnd.n_starts_ == 4
    # many variables: one EM run from the moment step's best candidate
    v, c, _, _ = sampled(3, 15, 50_000, 11)
    big = ProductMixture(3, random_state=0).fit(v, sample_weight=c)
    assert big.n_starts_ == 1 and big.n_polish_iter_ == 0
    with pytest.raises(DataError, match="n_init"):
        ProductMixture(2, init="random", n_init=0).fit(values, sample_weight=counts)


def test_pairwise_misfit_separates_a_good_fit_from_a_wrong_one():
    """Reference: at the true parameters the residuals are sampling noise (|z| of a few);
    one class fitted to three-class data leaves margins many standard errors off."""
    from kmix.solvers.latent_class.design import pairwise_misfit
    from kmix.solvers.latent_class.em import RowDesign

    for levels in (2, 3):
        values, counts, w, probs = sampled(3, 8, 50_000, 21, levels)
        design = RowDesign(values, [levels] * 8, counts)
        assert pairwise_misfit(design, counts, w, probs) < 5.0
        pooled = [(w @ p)[None, :] for p in probs]  # the single-class fit: the margins
        assert pairwise_misfit(design, counts, np.ones(1), pooled) > 10.0


def planted(k, n, N, seed):
    """Weights ~ Dirichlet(2), P(X_j = 1 | u) ~ U(0.05, 0.95): the latent class benchmark's
    instances (``benchmarks/product_peers.make_instance``)."""
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.full(k, 2.0))
    P = rng.uniform(0.05, 0.95, size=(k, n))
    z = rng.choice(k, size=N, p=w)
    return (rng.random((N, n)) < P[z]).astype(np.int8), w, P


def test_a_misfit_after_the_moment_start_brings_in_more_starts():
    """Benchmark instance 133 (k = 4, n = 12, a class of weight 0.09): the moment step's
    best candidate climbs to a local maximum 4,400 nats below the truth's likelihood; the
    misfit check notices and the extra starts find the maximum (above the truth's)."""
    X, w, P = planted(4, 12, 100_000, 20261124 + 1000 * 133)
    values, counts, _ = compress_rows(X)
    model = ProductMixture(4, random_state=0).fit(values, sample_weight=counts)
    truth = log_likelihoods(
        values, counts, [2] * 12, [(w, [np.stack([1 - P[:, j], P[:, j]], 1) for j in range(12)])]
    )[0]
    assert model.n_starts_ > 1  # escalated from the single moment start
    assert model.restart_log_likelihoods_[0] < truth - 1000.0  # where that start ended
    assert model.log_likelihood_ >= truth and model.misfit_ < 3.0

"""Starts of a latent class fit, and more after a misfit (kmix.solvers.latent_class.fit).

References: the start counts that ``n_init`` asks for; the likelihood of the
planted truth of a benchmark instance.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from kmix import ProductMixture
from kmix.exceptions import DataError
from kmix.solvers.latent_class.design import log_likelihoods
from kmix.solvers.latent_class.fit import CHEAP_WORK, MAX_RANDOM_STARTS, RANDOM_WORK
from kmix.stats import compress_rows
from tests.helpers.latent_class import sampled, saturated_boundary_table


def test_product_mixture_start_counts_follow_n_init():
    values, counts = saturated_boundary_table()
    small = ProductMixture(2, random_state=0).fit(values, sample_weight=counts)
    # three moment candidates and as many random starts as the work budget allows, at most
    # MAX_RANDOM_STARTS (8 unique rows: the cap)
    assert small.n_starts_ == 3 + MAX_RANDOM_STARTS
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
    # many variables, a mid-sized table: the moment candidates and the random starts that
    # RANDOM_WORK pays for (unique rows x levels x classes each)
    v, c, _, _ = sampled(3, 15, 50_000, 11)
    big = ProductMixture(3, random_state=0).fit(v, sample_weight=c)
    work = v.shape[0] * 30 * 3
    assert CHEAP_WORK < work <= RANDOM_WORK
    assert big.n_starts_ == 3 + RANDOM_WORK // work and big.n_polish_iter_ == 0
    # a large table that the best moment start fits within sampling error: one EM run
    v, c, _, _ = sampled(4, 15, 1_000_000, 11)
    huge = ProductMixture(4, random_state=0).fit(v, sample_weight=c)
    assert v.shape[0] * 30 * 4 > RANDOM_WORK
    assert huge.n_starts_ == 1 and huge.n_birth_starts_ == 0
    with pytest.raises(DataError, match="n_init"):
        ProductMixture(2, init="random", n_init=0).fit(values, sample_weight=counts)


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


def test_unsettled_starts_are_finished_before_the_best_is_chosen():
    """Reliability-benchmark instance 239 (k = 5, n = 2k - 1 = 9: a flat likelihood): EM
    stopped after 60 maps leaves most starts unsettled. The start chosen must be the best
    after the quasi-Newton finish (reference: polish_latent_class of every start), not the
    best where EM stopped."""
    from kmix.solvers.latent_class.design import RowDesign
    from kmix.solvers.latent_class.em import em_latent_class, polish_latent_class, random_starts
    from kmix.solvers.latent_class.fit import UNSETTLED, _finish_unsettled
    from tests.helpers.latent_class import rare_class_instance

    values, counts, _, _ = rare_class_instance(239)
    levels = [2] * values.shape[1]
    design = RowDesign(values, levels, counts)
    starts = random_starts(levels, 5, UNSETTLED, np.random.default_rng(3))
    fits = em_latent_class(values, counts, levels, starts, max_iter=60, design=design)
    assert not any(f.converged for f in fits)
    stopped_best = max(fits, key=lambda f: f.log_likelihood)
    finished = [
        polish_latent_class(values, counts, levels, (f.weights, f.probs), design=design)
        for f in fits
        if not f.merged
    ]
    chosen = max(_finish_unsettled(design, counts, levels, fits), key=lambda f: f.log_likelihood)
    assert chosen.log_likelihood == pytest.approx(max(f.log_likelihood for f in finished), abs=1e-6)
    assert chosen.log_likelihood > stopped_best.log_likelihood


def test_screened_starts_are_the_best_of_the_pool_after_short_runs():
    """Reference: the pool drawn again from the same seed and run by the same EM for
    SCREEN_MAPS maps, ranked here by its log-likelihood."""
    from kmix.solvers.latent_class.design import RowDesign
    from kmix.solvers.latent_class.em import em_latent_class, random_starts
    from kmix.solvers.latent_class.fit import SCREEN_FACTOR, SCREEN_MAPS, _screened

    v, c, _, _ = sampled(3, 6, 5_000, 4)
    levels = [2] * 6
    design = RowDesign(v, levels, c)
    calls = []

    def run(group, cap):
        calls.append((len(group), cap))
        return em_latent_class(
            design.codes, c, levels, group, tol=1e-10, max_iter=cap, design=design
        )

    work = v.shape[0] * 12 * 3
    got = _screened(7, work, levels, 3, np.random.default_rng(5), run)
    assert calls == [(7 * SCREEN_FACTOR, SCREEN_MAPS)] and len(got) == 7
    pool = random_starts(levels, 3, 7 * SCREEN_FACTOR, np.random.default_rng(5))
    short = run(pool, SCREEN_MAPS)
    want = sorted(f.log_likelihood for f in short if not f.merged)[::-1][:7]
    have = log_likelihoods(v, c, levels, got, design=design)
    np.testing.assert_allclose(np.sort(have)[::-1], want, rtol=1e-12)
    # a pool the screening budget cannot pay for beyond the starts themselves: plain draws
    calls.clear()
    plain = _screened(7, 10**12, levels, 3, np.random.default_rng(5), run)
    assert calls == [] and len(plain) == 7
    np.testing.assert_array_equal(
        plain[0][0], random_starts(levels, 3, 7, np.random.default_rng(5))[0][0]
    )

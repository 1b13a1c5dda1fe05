"""Head-count histograms and their unbiased moments (kmix.stats.coins).

References: exact population moments ``sum_u pi_u p_u^j`` and
``sum_u pi_u T_j(2 p_u - 1)`` (numpy's Chebyshev evaluation); the
population histogram ``P(h) = sum_u pi_u Bin(h; t, p_u)`` (scipy.stats);
a brute-force U-statistic over all j-subsets of flips (itertools).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import binom

from kmix.exceptions import DataError
from kmix.stats import CoinCounts, CoinMoments
from kmix.stats.coins import chebyshev_from_monomial

W = np.array([0.2, 0.5, 0.3])
P = np.array([0.15, 0.5, 0.85])


def population_counts(w, p, trials_and_shares):
    """Histogram with the exact population frequencies (as weights)."""
    h, t, c = [], [], []
    for t_val, share in trials_and_shares:
        q = sum(
            wi * binom.pmf(np.arange(t_val + 1), t_val, pi) for wi, pi in zip(w, p, strict=True)
        )
        h += list(range(t_val + 1))
        t += [t_val] * (t_val + 1)
        c += list(share * q)
    return CoinCounts.from_arrays(h, t, sample_weight=c)


@pytest.mark.parametrize("mix", [[(5, 1.0)], [(3, 0.2), (5, 0.5), (9, 0.3)]])
def test_moments_are_unbiased_at_the_population(mix):
    stats = population_counts(W, P, mix)
    got = stats.moments()
    exact = CoinMoments.from_params(W, P, got.order)
    np.testing.assert_allclose(got.monomial, exact.monomial, rtol=0, atol=1e-13)
    np.testing.assert_allclose(got.chebyshev, exact.chebyshev, rtol=0, atol=1e-12)
    # trials with fewer flips than j do not enter moment j
    shares = np.array([s for _, s in mix])
    t_vals = np.array([t for t, _ in mix])
    expected_n = [shares[t_vals >= j].sum() for j in range(got.order + 1)]
    np.testing.assert_allclose(got.n_samples[1:], expected_n[1:])


def test_high_order_chebyshev_moments_keep_their_digits():
    # order 15: converting monomial moments loses digits, the Bernstein route does not
    w, p = np.full(8, 1 / 8), np.linspace(0.05, 0.95, 8)
    got = population_counts(w, p, [(15, 1.0)]).moments()
    exact = CoinMoments.from_params(w, p, 15)
    assert np.abs(got.chebyshev - exact.chebyshev).max() < 1e-11
    converted = chebyshev_from_monomial(exact.monomial)
    assert np.abs(converted - exact.chebyshev).max() < 1e-6  # exact in exact arithmetic


def test_flips_matrix_gives_the_u_statistic():
    rng = np.random.default_rng(0)
    flips = rng.integers(0, 2, size=(30, 5)).astype(float)
    flips[rng.random(flips.shape) < 0.2] = np.nan
    got = CoinCounts.from_flips(flips).moments(3)
    # brute force: average over rows (with >= j flips) of the mean over j-subsets
    for j in (1, 2, 3):
        vals = []
        for row in flips:
            seen = row[~np.isnan(row)]
            if seen.size >= j:
                subsets = list(itertools.combinations(seen, j))
                vals.append(np.mean([np.prod(s) for s in subsets]))
        assert got.monomial[j] == pytest.approx(np.mean(vals), abs=1e-14)
        assert got.n_samples[j] == len(vals)


def test_histogram_of_arrays_and_flips_agree():
    flips = np.array([[1, 0, 1], [1, 1, 1], [0, 0, np.nan], [1, 0, 1]])
    a = CoinCounts.from_flips(flips)
    b = CoinCounts.from_arrays([2, 3, 0, 2], [3, 3, 2, 3])
    for name in ("heads", "trials", "counts"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert b.counts.tolist() == [1.0, 2.0, 1.0]


def test_statistics_of_two_halves_merge_to_the_whole():
    rng = np.random.default_rng(1)
    t = rng.integers(0, 8, size=1000)
    h = rng.binomial(t, 0.3)
    whole = CoinCounts.from_arrays(h, t)
    halves = CoinCounts.from_arrays(h[:400], t[:400]).update(h[400:], t[400:])
    for name in ("heads", "trials", "counts"):
        np.testing.assert_array_equal(getattr(whole, name), getattr(halves, name))
    np.testing.assert_allclose(whole.moments().chebyshev, halves.moments().chebyshev)


def test_large_flip_counts_use_the_sorting_path():
    t = np.array([5000, 5000, 3, 7000])
    h = np.array([2500, 2500, 1, 10])
    c = CoinCounts.from_arrays(h, t)
    assert c.heads.tolist() == [1, 2500, 10] and c.counts.tolist() == [1.0, 2.0, 1.0]


def test_covariance_is_the_multinomial_covariance_at_the_population():
    # with one t the estimate is linear in the histogram: Cov = (Z^T diag(q) Z - nu nu^T) / N
    t, n = 6, 1000.0
    q = sum(wi * binom.pmf(np.arange(t + 1), t, pi) for wi, pi in zip(W, P, strict=True))
    stats = CoinCounts.from_arrays(np.arange(t + 1), t, sample_weight=n * q)
    got = stats.moments()
    Z = np.array(
        [CoinCounts.from_arrays([h], t).moments().chebyshev for h in range(t + 1)]
    )  # each pair's own unbiased terms
    nu = q @ Z
    expected = (Z.T @ (q[:, None] * Z) - np.outer(nu, nu)) / n
    expected[0, :] = expected[:, 0] = 0.0
    np.testing.assert_allclose(got.covariance, expected, atol=1e-15)


@pytest.mark.parametrize(
    ("heads", "trials", "match"),
    [
        ([1, -1], 3, r"heads\[1\] = -1 is negative"),
        ([1.5, 1], 3, r"heads\[0\] = 1.5 is not a whole number"),
        ([1, 4], 3, r"heads\[1\] = 4 exceeds its number of flips 3"),
        ([1, 2], [3, -2], r"n_trials\[1\] = -2 is negative"),
        ([1, 2], [3, 3, 3], "give one int or one value per trial"),
        (["a", "b"], 3, "must be numeric"),
    ],
)
def test_bad_counts_are_named(heads, trials, match):
    with pytest.raises(DataError, match=match):
        CoinCounts.from_arrays(heads, trials)


def test_bad_flips_are_named():
    with pytest.raises(DataError, match=r"flips\[1, 0\] = 2.0"):
        CoinCounts.from_flips([[0, 1], [2, 1]])


def test_moment_orders_beyond_the_data_are_refused():
    with pytest.raises(DataError, match="the most in any trial is 3"):
        CoinCounts.from_arrays([1, 2], 3).moments(5)


def test_monomial_moments_with_sample_sizes():
    exact = CoinMoments.from_params(W, P, 5)
    given = CoinMoments.from_monomial(exact.monomial, n_samples=np.inf)
    assert given.exact
    np.testing.assert_allclose(given.chebyshev, exact.chebyshev, atol=1e-12)
    noisy = CoinMoments.from_monomial(exact.monomial, n_samples=1000)
    assert noisy.covariance is not None and noisy.covariance[1, 1] > 0
    with pytest.raises(DataError, match="m_0 = 1"):
        CoinMoments.from_monomial([0.5, 0.3], 100)

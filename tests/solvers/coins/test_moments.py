"""The k-coin moment solver (kmix.solvers.coins.moments) against exact population moments.

References: exact population moments of the true measure
(``CoinMoments.from_params``); the convex grid projection solved by NNLS as
an independent bound on the moment-space projection; the exact-fit property
of the MLE when ``t = 2k - 1``.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.polynomial import chebyshev as C
from scipy import optimize

from kmix.datasets import random_coins
from kmix.exceptions import DataError, IdentifiabilityError
from kmix.solvers.coins.moments import (
    fit_kcoin,
    hankel_test,
    hausdorff_margin,
    polish_binomial_mle,
    supported_components,
)
from kmix.stats import CoinCounts, CoinMoments


def instance(k, seed, separation=0.08, min_weight=0.05):
    mix = random_coins(k, separation=separation, min_weight=min_weight, random_state=seed)
    return mix.weights, mix.params.p[:, 0]


def max_error(res, w, p):
    return max(np.abs(res.biases - p).max(), np.abs(res.weights - w).max())


def test_chebyshev_pencil_recovers_exact_moments_where_prony_loses_digits():
    table = {}
    for k in range(1, 9):
        cheb, prony = [], []
        for seed in range(20):
            w, p = instance(k, seed)
            moments = CoinMoments.from_params(w, p, 2 * k - 1)
            cheb.append(max_error(fit_kcoin(moments, k), w, p))
            try:
                prony.append(max_error(fit_kcoin(moments, k, method="prony", denoise=False), w, p))
            except DataError:  # roots left [0, 1] or turned complex
                prony.append(np.inf)
        table[k] = (max(cheb), max(prony))
    report = "\n".join(f"k={k}: chebyshev {c:.1e}  prony {q:.1e}" for k, (c, q) in table.items())
    assert all(c < 1e-8 for c, _ in table.values()), report
    # the monomial route is visibly worse from k = 6 on (rounding amplified by cond(H0))
    assert all(table[k][1] > 1e3 * table[k][0] for k in (6, 7, 8)), report
    assert table[8][1] > 1e-6, report


def test_every_method_solves_small_k_exactly():
    w, p = np.array([0.3, 0.7]), np.array([0.25, 0.6])
    moments = CoinMoments.from_params(w, p, 3)
    for method in ("chebyshev", "monomial", "prony"):
        res = fit_kcoin(moments, 2, method=method)
        assert res.valid and not res.denoised
        assert max_error(res, w, p) < 1e-12, method


def test_atoms_at_the_ends_of_the_interval():
    w, p = np.array([0.25, 0.5, 0.25]), np.array([0.0, 0.5, 1.0])
    res = fit_kcoin(CoinMoments.from_params(w, p, 5), 3)
    assert res.valid and max_error(res, w, p) < 1e-12
    assert res.biases[0] >= 0.0 and res.biases[-1] <= 1.0


def test_moments_outside_the_space_are_projected_not_clipped():
    # m_2 < m_1^2 (negative variance) is outside the moment space
    w, p = np.array([0.5, 0.5]), np.array([0.4, 0.6])
    m = CoinMoments.from_params(w, p, 3).monomial.copy()
    m[2] = m[1] ** 2 - 0.01
    moments = CoinMoments.from_monomial(m, n_samples=1e4)
    assert hausdorff_margin(moments.chebyshev, 2) < 0
    with pytest.raises(DataError, match="outside the moment space"):
        fit_kcoin(moments, 2, denoise=False)
    res = fit_kcoin(moments, 2, rng=np.random.default_rng(0))
    assert res.denoised and not res.valid
    assert np.all((res.biases >= 0) & (res.biases <= 1))
    assert res.weights.sum() == pytest.approx(1.0) and np.all(res.weights >= 0)
    # the misfit is the whitened distance of the answer's moments to the input
    vals, vecs = np.linalg.eigh(moments.covariance[1:, 1:])
    W = (vecs / np.sqrt(vals)).T
    fitted = C.chebvander(2 * res.biases - 1, 3)[:, 1:].T @ res.weights
    assert np.linalg.norm(W @ (fitted - moments.chebyshev[1:])) == pytest.approx(res.misfit)
    # independent bound on the projection: the same weighted problem over measures on a
    # 4001-point grid, a convex NNLS problem solved globally
    grid = np.linspace(-1, 1, 4001)
    V = C.chebvander(grid, 3)
    A = np.vstack([W @ V[:, 1:].T, 1e4 * np.ones((1, grid.size))])
    b = np.concatenate([W @ moments.chebyshev[1:], [1e4]])
    pi, _ = optimize.nnls(A, b)
    grid_misfit = np.linalg.norm(W @ (V[:, 1:].T @ (pi / pi.sum()) - moments.chebyshev[1:]))
    assert res.misfit > 0
    assert res.misfit <= grid_misfit + 1e-9


def test_too_few_moments_is_an_identifiability_error():
    moments = CoinMoments.from_params([0.5, 0.5], [0.2, 0.7], 4)
    with pytest.raises(IdentifiabilityError, match=r"2k-1 = 5 flips.*at most 4.*at most 2 coin"):
        fit_kcoin(moments, 3)


def test_unknown_method_lists_the_choices():
    moments = CoinMoments.from_params([1.0], [0.3], 1)
    with pytest.raises(DataError, match="chebyshev"):
        fit_kcoin(moments, 1, method="newton")


def test_hankel_spectrum_separates_k_from_k_plus_one_on_exact_moments():
    for k in (1, 2, 3, 4):
        w, p = instance(k, 7, separation=0.15)
        rows = hankel_test(CoinMoments.from_params(w, p, 2 * k + 1))
        assert [r.size for r in rows] == list(range(1, k + 2))
        assert all(r.z > 1e3 for r in rows[:k])
        # one more atom than the measure has: G_0 of size k + 1 is singular
        assert abs(rows[k].smallest_eigenvalue) < 1e-12
        assert abs(rows[k].determinant) < 1e-12
        assert supported_components(rows) == k


def test_hankel_noise_level_tracks_sampling_noise():
    # one coin: the size-2 eigenvalue is pure noise, so |z| stays small for most seeds
    zs = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        h = rng.binomial(5, 0.35, size=20_000)
        zs.append(hankel_test(CoinCounts.from_arrays(h, 5).moments())[1].z)
    zs = np.array(zs)
    assert np.mean(np.abs(zs) < 3.0) >= 0.9
    # two well-separated coins: decisively significant
    rng = np.random.default_rng(0)
    lab = rng.random(20_000) < 0.5
    h = rng.binomial(5, np.where(lab, 0.2, 0.8))
    assert hankel_test(CoinCounts.from_arrays(h, 5).moments())[1].z > 20


def test_quasi_newton_finish_reaches_the_exact_fit_mle():
    # with t = 2k - 1 and valid moments the MLE reproduces the histogram exactly,
    # so it is the moment solution; the finish must get there from a perturbed start
    rng = np.random.default_rng(3)
    w, p = np.array([0.3, 0.7]), np.array([0.2, 0.7])
    lab = rng.random(50_000) < w[0]
    h = rng.binomial(3, np.where(lab, p[0], p[1]))
    stats = CoinCounts.from_arrays(h, 3)
    exact = fit_kcoin(stats.moments(), 2)
    assert exact.valid
    w2, p2, gain, ok = polish_binomial_mle(
        stats.heads.astype(float),
        stats.trials.astype(float),
        stats.counts,
        exact.weights + np.array([0.05, -0.05]),
        exact.biases + np.array([0.03, -0.02]),
    )
    assert gain > 0 and ok
    order = np.argsort(p2)
    np.testing.assert_allclose(p2[order], exact.biases, atol=1e-6)
    np.testing.assert_allclose(w2[order], exact.weights, atol=1e-6)

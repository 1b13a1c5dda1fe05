"""Head counts and their unbiased moments: the sufficient statistics of k-MixIID.

A trial picks coin ``u`` with probability ``pi_u`` and flips it ``t`` times;
only the number of heads ``h`` is seen. Given ``u`` the flips are i.i.d., so
every trial is summarised by the pair ``(h, t)`` and a data set by the
histogram of those pairs (:class:`CoinCounts`); 1e8 trials cost one bincount.

Moments come from the histogram without bias. Choose ``j`` of the ``t``
flips at random: the number ``K`` of heads among them is hypergeometric given
``h``, and for any polynomial ``P`` of degree ``j`` with Bernstein
coefficients ``b_0..b_j``, ``E[b_K] = E[P(p)]``. With ``P(p) = p^j`` (only
``b_j = 1``) this is the classical

.. math::
   \\hat m_j = \\frac{1}{N_j} \\sum_{s:\\, t_s \\ge j}
               \\frac{\\binom{h_s}{j}}{\\binom{t_s}{j}},

and with the shifted Chebyshev polynomial ``T_j(2p - 1)``, whose Bernstein
coefficients are ``(-1)^{j-i} C(2j, 2i) / C(j, i)``, it gives the modified
moments ``nu_j = E[T_j(2p - 1)]`` directly, without the cancellation of
converting monomial moments (whose coefficients grow like ``5.83^j``). Trials
with ``t < j`` do not enter the order-``j`` moment.

References
----------
Y. Rabani, L. J. Schulman, C. Swamy, "Learning mixtures of arbitrary
distributions over large discrete domains", ITCS 2014.
S. L. Gordon, B. Mazaheri, Y. Rabani, L. J. Schulman, "The sparse Hausdorff
moment problem, with application to topic models", arXiv:2007.08101, 2020.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.polynomial import chebyshev as C
from numpy.polynomial import polynomial as P
from numpy.typing import ArrayLike, NDArray
from scipy.special import binom, gammaln

from ..exceptions import DataError

__all__ = ["CoinCounts", "CoinMoments", "as_counts", "chebyshev_from_monomial"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
# a bincount over (t, h) codes is used while the code range stays this small
_BINCOUNT_CAP = 1 << 24
# binomial coefficients stay finite (and accurate to a few ulps) up to here
_EXACT_BINOM_MAX = 1000


def as_counts(values: ArrayLike, name: str) -> IntArray:
    """Non-negative integer counts from ints or integer-valued floats."""
    arr = np.asarray(values)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iuf":
        raise DataError(f"{name} must be numeric head or trial counts; got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.floor(arr))
        if np.any(bad):
            i = int(np.flatnonzero(bad.reshape(-1))[0])
            raise DataError(
                f"{name}[{i}] = {arr.reshape(-1)[i].item()!r} is not a whole number; "
                f"{name} must be integer counts"
            )
    if arr.size and arr.min() < 0:
        i = int(np.argmin(arr.reshape(-1)))
        value = arr.reshape(-1)[i].item()
        raise DataError(
            f"Negative values in data: {name}[{i}] = {value!r} is negative; counts must be >= 0"
        )
    return arr.astype(np.int64, copy=False)


def _log_choose(n: Any, r: Any) -> Any:
    with np.errstate(invalid="ignore"):
        return gammaln(n + 1.0) - gammaln(r + 1.0) - gammaln(n - r + 1.0)


def _chebyshev_bernstein(j: int) -> FloatArray:
    """Degree-``j`` Bernstein coefficients of ``T_j(2p - 1)``."""
    i = np.arange(j + 1, dtype=np.float64)
    if j <= _EXACT_BINOM_MAX // 2:
        mag = binom(2.0 * j, 2.0 * i) / binom(float(j), i)
    else:
        log_num = _log_choose(np.full_like(i, 2.0 * j), 2.0 * i)
        mag = np.exp(log_num - _log_choose(np.full_like(i, float(j)), i))
    return np.where((j - i) % 2 == 0, 1.0, -1.0) * mag


def _unbiased_terms(
    heads: FloatArray, trials: FloatArray, order: int
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Per-pair unbiased estimates of ``p^j`` and ``T_j(2p-1)``, ``j = 0..order``.

    Returns ``(mono, cheb, present)``, each of shape ``(m, order + 1)``;
    ``present[s, j]`` is False where ``t_s < j`` (the entry is then 0).
    """
    m = heads.shape[0]
    mono = np.zeros((m, order + 1))
    cheb = np.zeros((m, order + 1))
    present = trials[:, None] >= np.arange(order + 1)[None, :]
    mono[:, 0] = cheb[:, 0] = 1.0
    tails = trials - heads
    for j in range(1, order + 1):
        rows = present[:, j]
        h, t, f = heads[rows, None], trials[rows, None], tails[rows, None]
        i = np.arange(j + 1, dtype=np.float64)[None, :]
        # hypergeometric P(K = i | h, t): i heads among j flips drawn from t
        possible = (i <= h) & (j - i <= f)
        if t.shape[0] and t.max() <= _EXACT_BINOM_MAX:
            w = binom(h, i) * binom(f, j - i) / binom(t, np.float64(j))
        else:
            with np.errstate(invalid="ignore"):
                log_w = _log_choose(h, i) + _log_choose(f, j - i) - _log_choose(t, np.float64(j))
            w = np.exp(log_w)
        w = np.where(possible, w, 0.0)
        mono[rows, j] = w[:, j]
        cheb[rows, j] = w @ _chebyshev_bernstein(j)
    return mono, cheb, present


def chebyshev_from_monomial(monomial: ArrayLike) -> FloatArray:
    """Modified moments ``nu_j = E[T_j(2p - 1)]`` from monomial moments ``m_j``.

    Exact in exact arithmetic, but the coefficients of ``T_j(2p - 1)`` in
    powers of ``p`` grow like ``(3 + 2 sqrt 2)^j``: at order 15 a rounding
    error of 1e-16 in ``m`` can become 1e-5 in ``nu``. Prefer moments computed
    from counts (:meth:`CoinCounts.moments`) or from parameters.
    """
    m = np.asarray(monomial, dtype=np.float64)
    out = np.empty_like(m)
    for j in range(m.shape[0]):
        coef = C.cheb2poly(np.eye(j + 1)[j])  # T_j in powers of y
        # substitute y = 2p - 1
        poly_p = np.zeros(1)
        for power, c in enumerate(coef):
            poly_p = P.polyadd(poly_p, c * P.polypow([-1.0, 2.0], power))
        out[j] = float(np.dot(poly_p[: j + 1], m[: poly_p.shape[0]]))
    return out


@dataclass(frozen=True)
class CoinMoments:
    """Moments of the mixing measure ``mu = sum_u pi_u delta_{p_u}`` on ``[0, 1]``.

    Attributes
    ----------
    chebyshev : ndarray of shape (order + 1,)
        ``nu_j = E_mu[T_j(2p - 1)]``, ``nu_0 = 1``; what the solvers use.
    monomial : ndarray of shape (order + 1,)
        ``m_j = E_mu[p^j]``, ``m_0 = 1``; for display and monomial methods.
    n_samples : ndarray of shape (order + 1,)
        ``N_j``, the (weighted) number of trials entering moment ``j``;
        ``inf`` for exact population moments.
    covariance : ndarray of shape (order + 1, order + 1) or None
        Estimated covariance of ``chebyshev`` (row and column 0 are zero);
        None for exact moments.
    """

    chebyshev: FloatArray
    monomial: FloatArray
    n_samples: FloatArray
    covariance: FloatArray | None = None

    def __post_init__(self) -> None:
        for name in ("chebyshev", "monomial", "n_samples"):
            arr = np.asarray(getattr(self, name), dtype=np.float64).reshape(-1)
            object.__setattr__(self, name, arr)
        if not (self.chebyshev.shape == self.monomial.shape == self.n_samples.shape):
            raise DataError(
                "chebyshev, monomial and n_samples must have the same length; got "
                f"{self.chebyshev.shape[0]}, {self.monomial.shape[0]}, {self.n_samples.shape[0]}"
            )
        if self.chebyshev.shape[0] == 0 or abs(self.monomial[0] - 1.0) > 1e-12:
            raise DataError("moments must start with m_0 = 1")
        if self.covariance is not None:
            cov = np.asarray(self.covariance, dtype=np.float64)
            if cov.shape != (self.order + 1, self.order + 1):
                raise DataError(
                    f"covariance must have shape {(self.order + 1, self.order + 1)}; "
                    f"got {cov.shape}"
                )
            object.__setattr__(self, "covariance", cov)

    @property
    def order(self) -> int:
        """Highest moment available (the largest number of flips in a trial)."""
        return int(self.chebyshev.shape[0] - 1)

    @property
    def exact(self) -> bool:
        """True for population moments (no sampling noise)."""
        return self.covariance is None

    def truncate(self, order: int) -> CoinMoments:
        """The moments up to ``order``."""
        if order > self.order:
            raise DataError(f"only moments up to order {self.order} are available; got {order}")
        cov = None if self.covariance is None else self.covariance[: order + 1, : order + 1]
        return CoinMoments(
            self.chebyshev[: order + 1],
            self.monomial[: order + 1],
            self.n_samples[: order + 1],
            cov,
        )

    @classmethod
    def from_params(cls, weights: ArrayLike, biases: ArrayLike, order: int) -> CoinMoments:
        """Exact population moments of ``sum_u pi_u delta_{p_u}`` up to ``order``."""
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        p = np.asarray(biases, dtype=np.float64).reshape(-1)
        if w.shape != p.shape:
            raise DataError(f"{w.shape[0]} weights but {p.shape[0]} biases")
        if np.any((p < 0) | (p > 1)) or np.any(w < 0) or abs(w.sum() - 1.0) > 1e-9:
            raise DataError("biases must lie in [0, 1] and weights on the simplex")
        w = w / w.sum()
        cheb = C.chebvander(2.0 * p - 1.0, order).T @ w
        mono = np.vander(p, order + 1, increasing=True).T @ w
        cheb[0] = mono[0] = 1.0
        return cls(cheb, mono, np.full(order + 1, np.inf), None)

    @classmethod
    def from_monomial(
        cls,
        monomial: ArrayLike,
        n_samples: ArrayLike | float,
        covariance: ArrayLike | None = None,
    ) -> CoinMoments:
        """Moments given as ``m_0..m_J`` with their sample sizes.

        Without ``covariance`` the bound ``Var(m_j) <= 1 / (4 N_j)`` (each
        term lies in [0, 1]) is used, independently across ``j``: a
        conservative noise level. ``n_samples=np.inf`` marks exact moments.
        The conversion to Chebyshev moments loses digits at high order (see
        :func:`chebyshev_from_monomial`).
        """
        m = np.asarray(monomial, dtype=np.float64).reshape(-1)
        if m.shape[0] == 0 or m[0] != 1.0:
            raise DataError("monomial moments must start with m_0 = 1")
        if np.any(~np.isfinite(m)) or np.any((m < 0) | (m > 1)):
            raise DataError("monomial moments of a measure on [0, 1] must lie in [0, 1]")
        n = np.broadcast_to(np.asarray(n_samples, dtype=np.float64), m.shape).copy()
        n[0] = np.inf
        if np.any(n[1:] <= 0):
            raise DataError("n_samples must be positive")
        cheb = chebyshev_from_monomial(m)
        A = np.array([chebyshev_from_monomial(e) for e in np.eye(m.shape[0])]).T
        if covariance is not None:
            cov_m = np.asarray(covariance, dtype=np.float64)
        elif np.all(np.isinf(n[1:])):
            return cls(cheb, m, n, None)
        else:
            cov_m = np.diag(np.where(np.isinf(n), 0.0, 0.25 / n))
        return cls(cheb, m, n, A @ cov_m @ A.T)


@dataclass(frozen=True)
class CoinCounts:
    """Histogram of ``(heads, trials)`` pairs: additive and mergeable.

    Attributes
    ----------
    heads, trials : ndarray of shape (m,)
        The distinct pairs, sorted by ``trials`` then ``heads``.
    counts : ndarray of shape (m,)
        How many trials (or their summed weights) have each pair.

    Examples
    --------
    >>> c = CoinCounts.from_arrays([0, 2, 2, 3], 3)
    >>> c.heads.tolist(), c.counts.tolist(), c.n_samples
    ([0, 2, 3], [1.0, 2.0, 1.0], 4.0)
    """

    heads: IntArray
    trials: IntArray
    counts: FloatArray

    @classmethod
    def from_arrays(
        cls,
        heads: ArrayLike,
        n_trials: ArrayLike,
        sample_weight: ArrayLike | None = None,
    ) -> CoinCounts:
        """Histogram of head counts ``heads`` out of ``n_trials`` flips.

        ``n_trials`` is one int for every trial or one per trial.
        """
        h = as_counts(heads, "heads").reshape(-1)
        t_arr = as_counts(n_trials, "n_trials")
        if t_arr.ndim > 1 or (t_arr.ndim == 1 and t_arr.shape[0] != h.shape[0]):
            raise DataError(
                f"n_trials has shape {t_arr.shape} but there are {h.shape[0]} head counts; "
                "give one int or one value per trial"
            )
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
            if w.shape[0] != h.shape[0]:
                raise DataError(f"sample_weight has {w.shape[0]} entries for {h.shape[0]} trials")
            if not np.all(np.isfinite(w)) or np.any(w < 0):
                raise DataError("sample_weight must be finite and non-negative")
        if h.shape[0] == 0:
            return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
        over = h > t_arr
        if np.any(over):
            i = int(np.flatnonzero(over)[0])
            t_i = int(t_arr if t_arr.ndim == 0 else t_arr[i])
            raise DataError(
                f"heads[{i}] = {int(h[i])} exceeds its number of flips {t_i}; "
                "heads must be between 0 and n_trials"
            )
        if t_arr.ndim == 0:
            t = int(t_arr)
            hist = np.bincount(h, weights=w, minlength=t + 1).astype(np.float64)
            keep = np.flatnonzero(hist > 0)
            return cls(keep.astype(np.int64), np.full(keep.shape[0], t, np.int64), hist[keep])
        t_max = int(t_arr.max())
        if (t_max + 1) ** 2 <= _BINCOUNT_CAP:
            codes = t_arr * (t_max + 1) + h
            hist = np.bincount(codes, weights=w).astype(np.float64)
            keep = np.flatnonzero(hist > 0)
            cnt = hist[keep]
        else:
            codes = t_arr * (t_max + 1) + h
            keep, inv = np.unique(codes, return_inverse=True)
            cnt = np.bincount(inv.reshape(-1), weights=w).astype(np.float64)
            nonzero = cnt > 0
            keep, cnt = keep[nonzero], cnt[nonzero]
        return cls(
            (keep % (t_max + 1)).astype(np.int64), (keep // (t_max + 1)).astype(np.int64), cnt
        )

    @classmethod
    def from_flips(cls, flips: ArrayLike) -> CoinCounts:
        """Histogram from a 0/1 matrix of flips (one row per trial, NaN = not flipped)."""
        F = np.asarray(flips, dtype=np.float64)
        if F.ndim != 2:
            raise DataError(f"flips must be 2-d (trials, flips); got shape {F.shape}")
        seen = ~np.isnan(F)
        bad = seen & (F != 0.0) & (F != 1.0)
        if np.any(bad):
            i, j = (int(v) for v in np.argwhere(bad)[0])
            raise DataError(
                f"flips[{i}, {j}] = {F[i, j].item()!r}; flips must be 0, 1 or NaN (not flipped)"
            )
        heads = np.where(seen, F, 0.0).sum(axis=1).astype(np.int64)
        return cls.from_arrays(heads, seen.sum(axis=1).astype(np.int64))

    @property
    def n_samples(self) -> float:
        """Total (weighted) number of trials."""
        return float(self.counts.sum())

    @property
    def max_trials(self) -> int:
        """Most flips in any trial (0 when empty)."""
        return int(self.trials.max()) if self.trials.shape[0] else 0

    def merge(self, other: CoinCounts) -> CoinCounts:
        """Histogram of both data sets together (a new object)."""
        h = np.concatenate([self.heads, other.heads])
        t = np.concatenate([self.trials, other.trials])
        w = np.concatenate([self.counts, other.counts])
        if h.shape[0] == 0:
            return self
        return CoinCounts.from_arrays(h, t, sample_weight=w)

    def update(self, heads: ArrayLike, n_trials: ArrayLike) -> CoinCounts:
        """Histogram with one more chunk of trials added (a new object)."""
        return self.merge(CoinCounts.from_arrays(heads, n_trials))

    def moments(self, order: int | None = None) -> CoinMoments:
        """Unbiased moments up to ``order`` (default: the most flips in a trial).

        The covariance is the plug-in estimate
        ``Cov(nu_i, nu_j) = sum_s c_s (z_si - nu_i)(z_sj - nu_j) / (N_i N_j)``
        over the trials that enter both moments.
        """
        if self.n_samples <= 0:
            raise DataError("no trials: the data are empty")
        top = self.max_trials if order is None else int(order)
        if top > self.max_trials:
            raise DataError(
                f"moments up to order {top} need trials with {top} flips; "
                f"the most in any trial is {self.max_trials}"
            )
        h = self.heads.astype(np.float64)
        t = self.trials.astype(np.float64)
        mono, cheb, present = _unbiased_terms(h, t, top)
        c = self.counts[:, None] * present
        n_j = c.sum(axis=0)
        if np.any(n_j <= 0):
            j = int(np.flatnonzero(n_j <= 0)[0])
            raise DataError(f"no trial has {j} or more flips, so moment {j} cannot be estimated")
        m_hat = (self.counts @ mono) / n_j
        nu_hat = (self.counts @ cheb) / n_j
        resid = np.where(present, cheb - nu_hat[None, :], 0.0)
        cov = (resid * self.counts[:, None]).T @ resid / np.outer(n_j, n_j)
        cov[0, :] = cov[:, 0] = 0.0
        m_hat[0] = nu_hat[0] = 1.0
        return CoinMoments(nu_hat, m_hat, n_j, cov)

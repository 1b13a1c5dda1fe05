"""``CoinMixture``: the k-coin problem (k-MixIID), moments first, then the MLE."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import gammaln, xlog1py, xlogy
from sklearn.utils.validation import check_array
from threadpoolctl import threadpool_limits

from ..components import get_family
from ..exceptions import ConvergenceWarning, DataError
from ..options import choose
from ..params import BinomialParams, Mixture, check_weights
from ..solvers.coins.moments import (
    Z_SUPPORT,
    HankelRow,
    check_identifiable,
    fit_kcoin,
    hankel_test,
    polish_binomial_mle,
    supported_components,
)
from ..solvers.em.loop import log_mixture, run_em
from ..stats.coins import CoinCounts, CoinMoments, as_counts
from ._base import MixtureEstimator
from ._checks import check_fitted, check_int, check_real, plain, rng_from
from ._sources import source_rows

__all__ = ["CoinMixture", "KSelection", "hankel_evidence", "select_k_coins"]

FloatArray = NDArray[np.float64]


def _array(X: Any) -> NDArray[Any]:
    """Dense, real, non-empty, without NaN or inf (scikit-learn's checks and messages)."""
    try:
        arr = np.asarray(
            check_array(X, ensure_2d=False, dtype=None, ensure_all_finite=False, input_name="X")
        )
    except ValueError as exc:
        raise DataError(str(exc)) from None
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        i = int(np.flatnonzero(~np.isfinite(arr.reshape(-1)))[0])
        raise DataError(
            f"X holds NaN or inf (entry {i} in row-major order: {plain(arr.reshape(-1)[i])!r}); "
            "head counts must be finite whole numbers: drop or impute those trials"
        )
    return arr


def _parse(X: Any, n_trials: Any) -> tuple[NDArray[Any], NDArray[Any]]:
    """``(heads, trials)`` from the accepted input forms; trials may stay a scalar."""
    if n_trials is None:
        arr = _array(X)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise DataError(
                f"give head counts with n_trials=..., or a two-column table (heads, trials); "
                f"got an array of shape {arr.shape} and no n_trials"
            )
        return arr[:, 0], arr[:, 1]
    heads = _array(X)
    if heads.ndim == 2 and heads.shape[1] == 1:
        heads = heads[:, 0]
    if heads.ndim != 1:
        raise DataError(
            f"heads must be 1-d (one count per trial); got shape {heads.shape}. "
            "For a (heads, trials) table leave n_trials=None"
        )
    trials = np.asarray(n_trials)
    if trials.ndim != 0 and trials.shape != heads.shape:
        raise DataError(
            f"n_trials has shape {trials.shape} but heads has {heads.shape[0]} "
            "entries; give one int or one value per trial"
        )
    return heads, trials


def _pairs(X: Any, n_trials: Any) -> tuple[FloatArray, FloatArray]:
    """Validated per-trial ``(heads, trials)`` as floats."""
    heads, trials = _parse(X, n_trials)
    h = as_counts(heads, "heads").astype(np.float64)
    t = np.broadcast_to(as_counts(trials, "n_trials"), h.shape).astype(np.float64)
    over = h > t
    if np.any(over):
        i = int(np.flatnonzero(over)[0])
        raise DataError(
            f"heads[{i}] = {int(h[i])} exceeds its number of flips {int(t[i])}; "
            "heads must be between 0 and n_trials"
        )
    return h, t


def _log_binomial(heads: FloatArray, trials: FloatArray, biases: FloatArray) -> FloatArray:
    """``log Bin(h; t, p_u)`` for every trial and coin, exact at p in {0, 1}."""
    h, t = heads[:, None], trials[:, None]
    log_choose = gammaln(t + 1.0) - gammaln(h + 1.0) - gammaln(t - h + 1.0)
    with np.errstate(divide="ignore"):
        return log_choose + xlogy(h, biases[None, :]) + xlog1py(t - h, -biases[None, :])


def coin_order(weights: FloatArray, biases: FloatArray) -> NDArray[np.intp]:
    """kmix's label order for coins: largest weight first, ties by ascending bias."""
    return np.lexsort((biases, -np.asarray(weights))).astype(np.intp)


def hankel_evidence(moments: CoinMoments, k: int, z: float) -> tuple[list[HankelRow], int]:
    """Hankel evidence for 1..k(+1) distinct biases and how many the data support.

    The smallest eigenvalue of each Chebyshev Hankel matrix against its
    standard error (:func:`~kmix.solvers.coins.moments.hankel_test`); used by
    ``fit`` and when a saved model is loaded.
    """
    rows = hankel_test(moments, max_size=min(k + 1, moments.order // 2 + 1))
    return rows, supported_components(rows, z)


class CoinMixture(MixtureEstimator):
    """Mixture of k coins from per-trial head counts (the k-coin problem).

    Each trial picks coin ``u`` with probability ``pi_u`` and flips it
    ``t`` times; only the number of heads is recorded. With ``t >= 2k - 1``
    flips the moments ``m_1..m_{2k-1}`` of the bias distribution identify
    ``pi`` and ``p`` (Rabani, Schulman & Swamy 2014). ``fit`` histograms the
    ``(heads, trials)`` pairs, estimates the moments without bias, solves
    the Hankel pencil in the Chebyshev basis (:func:`kmix.solvers.coins.moments.fit_kcoin`),
    projecting moments that fall outside the moment space back onto it, and
    then, by default, climbs to the maximum-likelihood estimate with EM from
    that start. There are no random restarts: the start is the moment
    solution, which is already the MLE when ``t = 2k - 1`` and the moments are
    valid (the model then fits the histogram exactly).

    Parameters
    ----------
    n_components : int, default 2
        Number of coins ``k``.
    n_trials : int or None, default None
        Flips per trial when every trial has the same number; ``n_trials=``
        given to ``fit``, ``predict``, ... overrides it (one int or one
        value per trial), and a two-column table ``(heads, trials)`` needs
        neither (as in ``FiniteMixture(family="binomial", n_trials=...)``).
    method : {"chebyshev", "monomial", "prony"}, default "chebyshev"
        Moment solver (see :func:`~kmix.solvers.coins.moments.fit_kcoin`).
    refine : {"em", None}, default "em"
        Polish the moment solution to the binomial-mixture MLE: EM, then a
        quasi-Newton finish (:func:`~kmix.solvers.coins.moments.polish_binomial_mle`)
        where EM crawls.
    init : {"moments", "random"}, default "moments"
        Start of the refinement: the moment solution, or random
        responsibilities (classical EM; for comparison).
    n_init : int, default 1
        Starts of the refinement; beyond the first (the moment solution
        with ``init="moments"``) they are random. The best likelihood wins.
    denoise : bool, default True
        Project moments outside the moment space onto it (else raise).
    tol, max_iter : float, int
        EM stopping rule (relative change of the log-likelihood).
    z_support : float, default 3.0
        A Hankel eigenvalue counts as evidence for one more coin when it
        exceeds this many standard errors (for the warning on degenerate
        data and for :meth:`select_k`).
    random_state : None, int or numpy Generator
        Only used by the projection's random starts and by :meth:`sample`.

    Attributes
    ----------
    weights_ : ndarray of shape (k,)
        ``pi``, largest first (kmix's label order; ties by ascending bias).
    biases_ : ndarray of shape (k,)
        Coin biases, in the order of ``weights_``.
    params_ : kmix.params.BinomialParams
        ``params_.p[:, 0]`` is ``biases_``.
    moment_weights_, moment_biases_ : ndarray of shape (k,)
        The moment solution before refinement (its own largest-weight-first order).
    moments_ : kmix.stats.CoinMoments
        Unbiased moments (orders 0..min(max flips, 2k)).
    condition_number_ : float
        Of the Chebyshev Hankel matrix ``G_0``.
    moments_valid_ : bool
        The moments lay inside the moment space; False means they were
        projected (``denoised``).
    hankel_ : list of HankelRow
        Evidence for 1..k(+1) distinct biases.
    n_supported_ : int
        How many distinct biases the Hankel test supports (at most k, or
        k + 1 when 2k flips are available).
    log_likelihood_ : float
        Total log-likelihood of the head counts (None when fitted from
        moments only).
    converged_, n_iter_ : bool, int
        Of the EM refinement that won (True, 0 without refinement).
    log_likelihood_history_ : ndarray
        Total log-likelihood after every E-step of the winning EM refinement
        (``n_iter_ + 1``), then after the quasi-Newton finish if that moved
        the coins (one more); the last is ``log_likelihood_``. EM never lowers
        it but right after re-seeding a coin that lost all its mass (with a
        warning). Without refinement one entry; from moments only, empty.
    restart_log_likelihoods_ : list of float
        Final log-likelihood of every start (with refinement only).
    n_samples_ : float
        Number of trials.
    n_features_in_ : int
        1 (one head count per trial).

    Examples
    --------
    Two coins seen through three flips per trial (``2k - 1 = 3``): the
    moment solution reproduces the histogram exactly, so it is the MLE.

    >>> import numpy as np
    >>> from kmix import CoinMixture
    >>> heads = np.repeat([0, 1, 2, 3], [300, 200, 200, 300])
    >>> model = CoinMixture(2).fit(heads, n_trials=3)
    >>> model.weights_.round(3), model.biases_.round(3)
    (array([0.5, 0.5]), array([0.158, 0.842]))
    >>> model.predict([0, 3], n_trials=3)
    array([0, 1])
    """

    def __init__(
        self,
        n_components: int = 2,
        *,
        n_trials: int | None = None,
        method: str = "chebyshev",
        refine: str | None = "em",
        init: str = "moments",
        n_init: int = 1,
        denoise: bool = True,
        tol: float = 1e-10,
        max_iter: int = 1000,
        z_support: float = Z_SUPPORT,
        random_state: Any = None,
    ) -> None:
        self.n_components = n_components
        self.n_trials = n_trials
        self.method = method
        self.refine = refine
        self.init = init
        self.n_init = n_init
        self.denoise = denoise
        self.tol = tol
        self.max_iter = max_iter
        self.z_support = z_support
        self.random_state = random_state

    _data_keywords = ("n_trials",)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True  # integer counts: scikit-learn's checks round theirs
        tags.input_tags.positive_only = True
        return tags

    def _trials(self, n_trials: Any) -> Any:
        """The trials of this call: the keyword, else the ``n_trials`` option."""
        return self.n_trials if n_trials is None else n_trials

    def _statistic(self, X: Any, n_trials: Any, sample_weight: Any) -> CoinCounts | CoinMoments:
        if isinstance(X, (CoinCounts, CoinMoments)):
            if n_trials is not None or sample_weight is not None:
                raise DataError(
                    f"n_trials and sample_weight do not apply when X is a {type(X).__name__}"
                )
            return X
        heads, trials = _parse(X, self._trials(n_trials))
        return CoinCounts.from_arrays(heads, trials, sample_weight=sample_weight)

    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        sample_weight: ArrayLike | None = None,
        n_trials: ArrayLike | int | None = None,
    ) -> CoinMixture:
        """Fit to head counts.

        Parameters
        ----------
        X : array-like, path, source, kmix.stats.CoinCounts or kmix.stats.CoinMoments
            Head counts of shape (n_trials,) together with ``n_trials``; or a
            two-column table ``(heads, trials)`` with ``n_trials=None``, in
            memory or read in one streamed pass from a file, glob, pyarrow
            Table, polars or Dask DataFrame (:func:`kmix.data.as_source`); or a
            precomputed histogram (e.g. from :meth:`CoinCounts.from_flips` or
            merged chunks); or moments alone (no EM refinement is possible
            then, and no likelihood).
        y : ignored
        sample_weight : array-like, optional
            Frequency weight of each trial.
        n_trials : int or array-like of shape (n_trials,), optional
            Flips per trial (keyword only).
        """
        self._check_y(y)
        k = check_int(self.n_components, "n_components", low=1)
        method = str(choose(self.method, "CoinMixture.method"))
        refine = choose(self.refine, "CoinMixture.refine")
        init = choose(self.init, "CoinMixture.init")
        tol = check_real(self.tol, "tol", low=0.0)
        max_iter = check_int(self.max_iter, "max_iter", low=0)
        z = check_real(self.z_support, "z_support", low=0.0)
        n_init = check_int(self.n_init, "n_init", low=1)
        if init == "random" and refine != "em":
            raise DataError("init='random' starts EM, so it needs refine='em'")
        rng = rng_from(self.random_state)
        streamed = source_rows(X, sample_weight, missing=None)
        if streamed is not None:  # the distinct (heads[, trials]) rows, counted as read
            X, sample_weight = streamed.values, streamed.counts
        stat = self._statistic(X, n_trials, sample_weight)
        if isinstance(stat, CoinCounts):
            if stat.n_samples <= 0:
                raise DataError("no trials to fit: the data are empty")
            if stat.max_trials == 0:
                raise DataError(
                    "every trial has 0 flips, so the data say nothing about the coins; "
                    f"{k} coins need at least {2 * k - 1} flips per trial"
                )
            check_identifiable(stat.max_trials, k)
            moments = stat.moments(min(stat.max_trials, 2 * k))
        else:
            moments = stat
            check_identifiable(moments.order, k)
        res = fit_kcoin(moments, k, method=method, denoise=bool(self.denoise), rng=rng)
        self.moments_ = moments
        self.condition_number_ = res.condition_number
        self.moments_valid_ = res.valid
        self.denoised_ = res.denoised
        self.misfit_ = res.misfit
        self.hankel_, self.n_supported_ = hankel_evidence(moments, k, z)
        if self.n_supported_ < k:
            row = self.hankel_[self.n_supported_]
            warnings.warn(
                f"the data support only {self.n_supported_} distinct coin bias(es), not "
                f"{k}: the smallest eigenvalue of the order-{row.size} Hankel matrix is "
                f"{row.smallest_eigenvalue:.3g}, {row.z:.2f} standard errors from 0. Some of "
                f"the {k} fitted coins coincide or carry no weight; consider "
                f"n_components={self.n_supported_}",
                UserWarning,
                stacklevel=2,
            )
        weights, biases = res.weights, res.biases
        self.converged_, self.n_iter_ = True, 0
        self.log_likelihood_: float | None = None
        if isinstance(stat, CoinCounts):
            if refine == "em":
                start = (weights, biases)
                weights, biases = self._restarts(stat, start, init, n_init, tol, max_iter, rng)
            self.n_samples_ = stat.n_samples
            self.n_trials_ = int(stat.trials[np.argmax(stat.counts)])
            self.log_likelihood_ = self._loglik(stat, weights, biases)
            if refine != "em":  # no EM: the moment solution's log-likelihood alone
                self.log_likelihood_history_ = np.array([self.log_likelihood_])
        else:
            self.log_likelihood_history_ = np.empty(0)  # no data, no likelihood
            if init == "random" or n_init > 1:
                raise DataError(
                    "fitted from moments alone: random EM restarts need the head counts; "
                    "pass the data (or a CoinCounts) instead"
                )
            self.n_samples_ = float(moments.n_samples[1])
            self.n_trials_ = moments.order
        order = coin_order(np.asarray(weights), np.asarray(biases))
        self.biases_ = np.asarray(biases, dtype=np.float64)[order]
        self.weights_ = check_weights(np.asarray(weights)[order])
        self.params_ = BinomialParams(self.biases_[:, None])
        m_order = coin_order(res.weights, res.biases)
        self.moment_weights_, self.moment_biases_ = res.weights[m_order], res.biases[m_order]
        self.n_features_in_ = 1
        return self

    def _refine(
        self,
        stat: CoinCounts,
        start: tuple[FloatArray, FloatArray] | None,
        tol: float,
        max_iter: int,
        rng: np.random.Generator,
    ) -> tuple[FloatArray, FloatArray, bool, int, list[float]]:
        """EM from ``start`` (or a random start), then a quasi-Newton finish:
        ``(weights, biases, converged, n_iter, log-likelihood history)``."""
        family = get_family("binomial")
        prepared = family.prepare(np.column_stack([stat.heads, stat.trials]).astype(np.float64))
        with warnings.catch_warnings():
            # EM only has to reach the basin: the quasi-Newton finish converges
            warnings.simplefilter("ignore", ConvergenceWarning)
            if self.n_supported_ < self.n_components:  # already warned: too many coins
                warnings.filterwarnings("ignore", message=".*lost all its mass")
            result = run_em(
                family,
                prepared,
                stat.counts,
                self.n_components,
                rng=rng,
                weights_init=None if start is None else start[0],
                params_init=None if start is None else BinomialParams(start[1][:, None]),
                tol=tol,
                max_iter=max_iter,
                init="random",
            )
        w, p, gain, success = polish_binomial_mle(
            stat.heads.astype(np.float64),
            stat.trials.astype(np.float64),
            stat.counts,
            result.weights,
            result.params.p[:, 0],  # type: ignore[attr-defined]
        )
        # ending at the returned coins' log-likelihood: after the finish where it moved
        # them, else in place of EM's last entry (the same point, recomputed)
        history = result.log_likelihood_history.tolist()[: None if gain > 0 else -1]
        history.append(self._loglik(stat, w, p))
        return w, p, result.converged or success, result.n_iter, history

    def _restarts(
        self,
        stat: CoinCounts,
        moment_start: tuple[FloatArray, FloatArray],
        init: str | None,
        n_init: int,
        tol: float,
        max_iter: int,
        rng: np.random.Generator,
    ) -> tuple[FloatArray, FloatArray]:
        """Refine every start; keep the highest likelihood."""
        starts: list[tuple[FloatArray, FloatArray] | None] = [None] * n_init
        if init == "moments":
            starts[0] = moment_start
        best: tuple[float, FloatArray, FloatArray] | None = None
        self.restart_log_likelihoods_ = []
        for start in starts:
            # the histogram holds a few dozen cells: BLAS threads cost more than they save
            with threadpool_limits(limits=1, user_api="blas"):
                w, p, converged, n_iter, history = self._refine(stat, start, tol, max_iter, rng)
            ll = history[-1]
            self.restart_log_likelihoods_.append(ll)
            if best is None or ll > best[0]:
                best = (ll, w, p)
                self.converged_, self.n_iter_ = converged, n_iter
                self.log_likelihood_history_ = np.asarray(history, dtype=np.float64)
        assert best is not None
        return best[1], best[2]

    @staticmethod
    def _loglik(stat: CoinCounts, weights: FloatArray, biases: FloatArray) -> float:
        lp = _log_binomial(stat.heads.astype(float), stat.trials.astype(float), biases)
        with np.errstate(divide="ignore"):
            lse, _ = log_mixture(lp, np.log(weights))
        return float(stat.counts @ lse)

    # ------------------------------------------------------------------ inference
    def _log_parts(self, X: Any, **data: Any) -> tuple[FloatArray, FloatArray]:
        check_fitted(self, "biases_")
        heads, trials = _pairs(X, self._trials(data.get("n_trials")))
        lp = _log_binomial(heads, trials, self.biases_)
        with np.errstate(divide="ignore"):
            return log_mixture(lp, np.log(self.weights_))

    def sample(
        self, n_samples: int = 1, n_trials: ArrayLike | int | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
        """Draw ``(heads, coin labels)`` for ``n_samples`` new trials.

        ``n_trials`` defaults to the most common number of flips in fit.
        """
        check_fitted(self, "biases_")
        n = check_int(n_samples, "n_samples", low=1)
        rng = rng_from(self.random_state)
        t = np.broadcast_to(np.asarray(self.n_trials_ if n_trials is None else n_trials), (n,))
        labels = rng.choice(self.weights_.shape[0], size=n, p=self.weights_)
        heads = rng.binomial(t.astype(np.int64), self.biases_[labels])
        return heads.astype(np.int64), labels.astype(np.intp)

    @property
    def mixture_(self) -> Mixture:
        """The fit as a :class:`kmix.params.Mixture` of binomial components."""
        check_fitted(self, "biases_")
        return Mixture(self.weights_, BinomialParams(self.biases_[:, None]))

    def n_parameters(self) -> int:
        """Free parameters: ``k`` biases and ``k - 1`` weights."""
        return 2 * int(self.n_components) - 1

    @classmethod
    def select_k(
        cls,
        X: Any,
        *,
        n_trials: ArrayLike | int | None = None,
        max_components: int | None = None,
        z_support: float = Z_SUPPORT,
        random_state: Any = None,
    ) -> KSelection:
        """Choose the number of coins; see :func:`select_k_coins`."""
        return select_k_coins(
            X,
            n_trials=n_trials,
            max_components=max_components,
            z_support=z_support,
            random_state=random_state,
        )


@dataclass(frozen=True)
class KSelection:
    """Evidence for each candidate number of coins.

    Attributes
    ----------
    table : list of dict
        One row per candidate ``k``: the Hankel evidence for at least ``k``
        distinct biases (``hankel_eigenvalue``, ``hankel_z``,
        ``hankel_det``, ``hankel_det_se``), and, where ``k`` is identifiable
        from the flips, ``log_likelihood`` and ``bic`` of the fit.
    hankel_k : int
        Largest ``k`` whose Hankel matrices are all significantly positive
        definite.
    hankel_conclusive : bool
        True when a larger Hankel matrix was tested and found singular (so
        ``hankel_k`` is an answer, not a lower bound).
    bic_k : int or None
        ``k`` with the smallest BIC among the fitted candidates.
    best : int
        ``hankel_k`` when conclusive, else ``bic_k`` (at least ``hankel_k``).
    """

    table: list[dict[str, float]]
    hankel_k: int
    hankel_conclusive: bool
    bic_k: int | None
    best: int


def select_k_coins(
    X: Any,
    *,
    n_trials: ArrayLike | int | None = None,
    max_components: int | None = None,
    z_support: float = Z_SUPPORT,
    random_state: Any = None,
) -> KSelection:
    """Number of coins from the Hankel spectrum, cross-checked by BIC.

    A mixture of exactly ``k`` coins has the order-``k`` Chebyshev Hankel
    matrix positive definite and the order-``(k + 1)`` one singular; each
    smallest eigenvalue is compared with its standard error (delta method on
    the moments' covariance). BIC ``= -2 log L + (2k - 1) log N`` is
    computed for every ``k`` with ``2k - 1 <= t``.

    Parameters
    ----------
    X, n_trials
        As in :meth:`CoinMixture.fit` (arrays, table or :class:`CoinCounts`).
    max_components : int, optional
        Largest candidate (default: the most the flips allow to test).
    z_support : float
        Significance of a Hankel eigenvalue, in standard errors.
    random_state : optional
        Passed to the fits.
    """
    stat = X if isinstance(X, CoinCounts) else CoinCounts.from_arrays(*_parse(X, n_trials))
    if stat.max_trials == 0:
        raise DataError("every trial has 0 flips; nothing can be selected")
    z = check_real(z_support, "z_support", low=0.0)
    testable = stat.max_trials // 2 + 1
    top = testable if max_components is None else check_int(max_components, "max_components", low=1)
    moments = stat.moments(min(stat.max_trials, 2 * top))
    rows: list[HankelRow] = hankel_test(moments, max_size=min(top + 1, testable))
    hankel_k = supported_components(rows, z)
    conclusive = any(r.z <= z for r in rows)
    table: list[dict[str, float]] = []
    bics: dict[int, float] = {}
    for k in range(1, top + 1):
        row: dict[str, float] = {"k": k}
        if k <= len(rows):
            r = rows[k - 1]
            row.update(
                hankel_eigenvalue=r.smallest_eigenvalue,
                hankel_z=r.z,
                hankel_det=r.determinant,
                hankel_det_se=r.determinant_std_error,
            )
        if 2 * k - 1 <= stat.max_trials:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = CoinMixture(k, random_state=random_state, z_support=z).fit(stat)
            assert model.log_likelihood_ is not None
            row.update(log_likelihood=model.log_likelihood_, bic=model.bic())
            bics[k] = model.bic()
        table.append(row)
    bic_k = min(bics, key=lambda key: bics[key]) if bics else None
    best = hankel_k if conclusive or bic_k is None else max(hankel_k, bic_k)
    return KSelection(table, hankel_k, conclusive, bic_k, best)

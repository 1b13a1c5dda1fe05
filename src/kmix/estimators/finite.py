"""``FiniteMixture``: the scikit-learn face of the general EM engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..components import Family, get_family, normalize_choice
from ..exceptions import DataError
from ..params import ComponentParams, check_weights
from ..solvers.em import INIT_METHODS, EMProgress, log_mixture, run_em
from ..stats import compress_rows
from ._checks import check_finite, check_int, check_real, rng_from

__all__ = ["FiniteMixture"]

FloatArray = NDArray[np.float64]
_INIT = {
    "kmeans++": "kmeans++",
    "k_means++": "kmeans++",
    "kmeanspp": "kmeans++",
    "random": "random",
}
assert set(_INIT.values()) == set(INIT_METHODS)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for readable messages)."""
    return value.item() if isinstance(value, np.generic) else value


class FiniteMixture(DensityMixin, BaseEstimator):  # type: ignore[misc]
    """Finite mixture ``P(x) = sum_u P(c=u) P(x | c=u)`` fitted by EM.

    Components come from one family: ``"bernoulli"`` (independent bits),
    ``"categorical"`` (independent features with any number of levels),
    ``"binomial"`` (counts out of ``n_trials``), ``"poisson"`` or
    ``"gaussian"``. Discrete data are compressed to unique rows with counts
    before EM, so the cost of an iteration does not grow with the number of
    rows. Either part of the model can be held fixed: with ``fixed_params``
    only the weights are learned (the log-likelihood is then concave in the
    weights and EM reaches the global maximum), with ``fixed_weights`` only
    the components.

    Parameters
    ----------
    n_components : int, default 1
        Number of mixture components ``k``.
    family : str, default "gaussian"
        Component family (see above).
    covariance_type : {"full", "diag"}, default "full"
        Gaussian family only.
    var_floor : float, default 1e-6
        Gaussian family only: smallest variance / covariance eigenvalue.
    alpha : float, default 1.0
        Discrete families: symmetric Dirichlet (Beta) smoothing of each
        probability vector; 1 gives the maximum-likelihood estimate.
    n_trials : int or None, default None
        Binomial family: trials per count. Per-row trials can be given to
        ``fit``/``predict``/``score`` instead.
    fixed_params : dict or None
        Known component parameters, e.g. ``{"p": [[0.8], [0.3]]}`` for two
        Bernoulli components; only the weights are then learned.
    fixed_weights : array-like of shape (k,) or None
        Known weights; only the components are then learned.
    params_init : dict or None
        Starting component parameters of the first restart (same form as
        ``fixed_params``), learned from there.
    weights_init : array-like of shape (k,) or None
        Starting weights of the first restart.
    init : {"kmeans++", "random"}, default "kmeans++"
        Initialisation of restarts without ``params_init`` (see
        :func:`kmix.solvers.em.run_em`).
    n_init : int, default 1
        EM restarts; the best log-likelihood wins.
    tol : float, default 1e-10
        Stop when the log-likelihood rises by less than ``tol * |log-likelihood|``
        in one iteration. EM converges linearly, slowly where components
        overlap, so a loose tolerance stops well short of the maximum.
    max_iter : int, default 1000
        Maximum EM iterations per restart.
    random_state : int, Generator or None
        Seed of the initialisation.
    callback : callable or None
        Called after each E-step with a :class:`kmix.solvers.em.EMProgress`
        (``restart``, ``iteration``, ``objective``, current ``weights``)
        (used by the command line's progress display).

    Attributes
    ----------
    weights_ : ndarray of shape (k,)
        Mixing proportions ``P(c = u)``.
    params_ : ComponentParams
        Frozen per-family parameters, component axis first (for bernoulli
        ``params_.p`` of shape (k, n_features)).
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean log-likelihood per sample of the fit (as in scikit-learn).
    log_likelihood_ : float
        Total log-likelihood of the training data (plus log-prior when
        ``alpha > 1``).
    history_ : ndarray
        Total log-likelihood after every E-step of the best restart.
    reseed_iterations_ : tuple of int
        Indices into ``history_`` after which an empty component was re-seeded.
    categories_ : list of ndarray
        Categorical family: the levels of each column, in code order.

    Examples
    --------
    The two-factory marbles example: the components are known, only the
    share of factory 1 is learned.

    >>> import numpy as np
    >>> from kmix import FiniteMixture
    >>> X = np.array([[1]] * 55 + [[0]] * 45)
    >>> m = FiniteMixture(2, family="bernoulli", fixed_params={"p": [[0.8], [0.3]]}).fit(X)
    >>> round(float(m.weights_[0]), 4)  # closed form (0.55 - 0.3) / 0.5
    0.5
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        family: str = "gaussian",
        covariance_type: str = "full",
        var_floor: float = 1e-6,
        alpha: float = 1.0,
        n_trials: int | None = None,
        fixed_params: Mapping[str, Any] | None = None,
        fixed_weights: ArrayLike | None = None,
        params_init: Mapping[str, Any] | None = None,
        weights_init: ArrayLike | None = None,
        init: str = "kmeans++",
        n_init: int = 1,
        tol: float = 1e-10,
        max_iter: int = 1000,
        random_state: Any = None,
        callback: Callable[[EMProgress], None] | None = None,
    ) -> None:
        self.n_components = n_components
        self.family = family
        self.covariance_type = covariance_type
        self.var_floor = var_floor
        self.alpha = alpha
        self.n_trials = n_trials
        self.fixed_params = fixed_params
        self.fixed_weights = fixed_weights
        self.params_init = params_init
        self.weights_init = weights_init
        self.init = init
        self.n_init = n_init
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.callback = callback

    # ------------------------------------------------------------------ helpers
    def _family(self) -> Family:
        return get_family(
            self.family,
            alpha=check_real(self.alpha, "alpha", low=1.0),
            covariance_type=normalize_choice(
                self.covariance_type, "covariance_type", {"full": "full", "diag": "diag"}
            ),
            var_floor=check_real(self.var_floor, "var_floor", low=0.0),
        )

    def _context(self, n_trials: Any) -> dict[str, Any]:
        ctx: dict[str, Any] = {"n_trials": self.n_trials if n_trials is None else n_trials}
        if hasattr(self, "categories_"):
            ctx["n_levels"] = [len(c) for c in self.categories_]
        return ctx

    def _validate(self, X: Any, *, reset: bool, family: Family) -> FloatArray:
        """Array checks, categorical encoding and the family's value checks."""
        categorical = family.name == "categorical"
        arr = validate_data(
            self,
            X,
            reset=reset,
            dtype=None if categorical else "numeric",
            ensure_all_finite=False,
            ensure_min_samples=1,
        )
        if categorical:
            return self._encode_categories(arr, reset=reset)
        arr = np.asarray(arr, dtype=np.float64)
        check_finite(arr)
        return arr

    def _encode_categories(self, arr: NDArray[Any], *, reset: bool) -> FloatArray:
        codes = np.empty(arr.shape, dtype=np.float64)
        if reset:
            self.categories_ = []
        for j in range(arr.shape[1]):
            col = arr[:, j]
            if col.dtype == object:
                # None, or NaN (the one value unequal to itself); elementwise in C
                missing = np.asarray(col == None) | np.asarray(col != col)  # noqa: E711
            elif col.dtype.kind == "f":
                missing = ~np.isfinite(col)
            else:
                missing = np.zeros(col.shape, dtype=bool)
            if missing.any():
                i = int(np.flatnonzero(missing)[0])
                raise DataError(
                    f"X contains missing values in column {j} (first at row {i}: "
                    f"{_plain(col[i])!r}); remove or impute them before fitting"
                )
            if reset:
                levels, inv = np.unique(col, return_inverse=True)
                self.categories_.append(levels)
                codes[:, j] = inv
                continue
            levels = self.categories_[j]
            pos = np.clip(np.searchsorted(levels, col), 0, len(levels) - 1)
            unseen = levels[pos] != col
            if np.any(unseen):
                i = int(np.flatnonzero(unseen)[0])
                raise DataError(
                    f"X[{i}, {j}] = {_plain(col[i])!r} is a level not seen in fit "
                    f"(column {j} has levels {levels.tolist()}); refit with it included"
                )
            codes[:, j] = pos
        return codes

    def _table(
        self, X: Any, n_trials: Any, *, reset: bool, family: Family
    ) -> tuple[FloatArray, dict[str, Any]]:
        arr = self._validate(X, reset=reset, family=family)
        ctx = self._context(n_trials)
        family.check_data(arr, **ctx)
        return family.encode(arr, **ctx), ctx

    # ---------------------------------------------------------------------- fit
    def fit(
        self,
        X: ArrayLike,
        y: Any = None,
        sample_weight: ArrayLike | None = None,
        n_trials: ArrayLike | int | None = None,
    ) -> FiniteMixture:
        """Fit the mixture by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative frequency weights.
        n_trials : int or array-like, optional
            Binomial family: trials per row (overrides the ``n_trials`` option).
        """
        k = check_int(self.n_components, "n_components", low=1)
        n_init = check_int(self.n_init, "n_init", low=1)
        max_iter = check_int(self.max_iter, "max_iter", low=1)
        tol = check_real(self.tol, "tol", low=0.0)
        init = normalize_choice(self.init, "init", _INIT)
        family = self._family()
        if hasattr(self, "categories_"):
            del self.categories_
        table, ctx = self._table(X, n_trials, reset=True, family=family)
        n_rows = table.shape[0]
        weights = self._sample_weight(sample_weight, n_rows)
        if family.discrete:
            values, counts, _ = compress_rows(table, weights)
            keep = counts > 0
            values, counts = values[keep], counts[keep]
        elif weights is None:
            values, counts = table, np.ones(n_rows)
        else:
            keep = weights > 0
            values, counts = table[keep], weights[keep]
        n_distinct = values.shape[0]
        if k > n_distinct:
            raise DataError(
                f"n_components={k} exceeds the {n_distinct} "
                f"{'distinct ' if family.discrete else ''}rows of X with positive weight; "
                "lower n_components or add data"
            )
        fixed_params = self._params_arg(self.fixed_params, "fixed_params", family, k, ctx)
        fixed_weights = self._weights_arg(self.fixed_weights, "fixed_weights", k)
        if fixed_params is not None and fixed_weights is not None:
            raise DataError(
                "fixed_params and fixed_weights are both given, so nothing is left to "
                "learn; drop one of them"
            )
        params_init = fixed_params
        if params_init is None:
            params_init = self._params_arg(self.params_init, "params_init", family, k, ctx)
        weights_init = fixed_weights
        if weights_init is None:
            weights_init = self._weights_arg(self.weights_init, "weights_init", k)
        prepared = family.prepare(values, **ctx)
        result = run_em(
            family,
            prepared,
            counts,
            k,
            rng=rng_from(self.random_state),
            weights_init=weights_init,
            params_init=params_init,
            learn_weights=fixed_weights is None,
            learn_params=fixed_params is None,
            tol=tol,
            max_iter=max_iter,
            n_init=n_init,
            init=init,
            callback=self.callback,
        )
        self.weights_ = result.weights
        self.params_ = result.params
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.history_ = result.history
        self.reseed_iterations_ = result.reseed_iterations
        self.log_likelihood_ = result.objective
        self.lower_bound_ = result.objective / float(counts.sum())
        self.n_samples_fit_ = float(counts.sum())
        self.restart_log_likelihoods_ = np.asarray(result.restart_objectives)
        self.family_ = family
        return self

    def fit_predict(self, X: ArrayLike, y: Any = None, **fit_params: Any) -> NDArray[np.intp]:
        """Fit, then return the most probable component of each row."""
        return self.fit(X, y, **fit_params).predict(X, n_trials=fit_params.get("n_trials"))

    @staticmethod
    def _sample_weight(sample_weight: ArrayLike | None, n_rows: int) -> FloatArray | None:
        if sample_weight is None:
            return None
        w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        if w.shape[0] != n_rows:
            raise DataError(f"sample_weight has {w.shape[0]} entries but X has {n_rows} rows")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            i = int(np.flatnonzero(~np.isfinite(w) | (w < 0))[0])
            raise DataError(
                f"sample_weight[{i}] = {float(w[i])!r}; weights must be finite and non-negative"
            )
        if w.sum() <= 0:
            raise DataError(
                "sample_weight: all weights are zero; at least one row needs positive weight"
            )
        return w

    @staticmethod
    def _weights_arg(value: ArrayLike | None, name: str, k: int) -> FloatArray | None:
        if value is None:
            return None
        try:
            return check_weights(value, k)
        except DataError as exc:
            raise DataError(f"{name}: {exc}") from None

    def _params_arg(
        self, value: Any, name: str, family: Family, k: int, ctx: dict[str, Any]
    ) -> ComponentParams | None:
        if value is None:
            return None
        if isinstance(value, ComponentParams):
            data: Mapping[str, Any] = value.to_dict()
        elif isinstance(value, Mapping):
            data = value
        else:
            raise DataError(
                f"{name} must be a dict such as {{'p': [[0.8], [0.3]]}}; got {type(value).__name__}"
            )
        try:
            return family.params_from_dict(data, k, self.n_features_in_, **ctx)
        except DataError as exc:
            raise DataError(f"{name}: {exc}") from None

    # --------------------------------------------------------------- inference
    def _log_parts(self, X: ArrayLike, n_trials: Any) -> tuple[FloatArray, FloatArray]:
        check_is_fitted(self, "params_")
        family = self.family_
        table, ctx = self._table(X, n_trials, reset=False, family=family)
        if family.discrete:
            values, _, inverse = compress_rows(table)
        else:
            values, inverse = table, None
        lse, log_resp = log_mixture(
            family.log_prob(family.prepare(values, **ctx), self.params_),
            np.log(np.maximum(self.weights_, 1e-300)),
        )
        if inverse is not None:
            lse, log_resp = lse[inverse], log_resp[inverse]
        return lse, log_resp

    def score_samples(self, X: ArrayLike, n_trials: ArrayLike | int | None = None) -> FloatArray:
        """Log-likelihood ``log P(x)`` of each row."""
        return self._log_parts(X, n_trials)[0]

    def score(
        self,
        X: ArrayLike,
        y: Any = None,
        sample_weight: ArrayLike | None = None,
        n_trials: ArrayLike | int | None = None,
    ) -> float:
        """Mean log-likelihood per row (weighted by ``sample_weight`` if given)."""
        lse = self.score_samples(X, n_trials)
        w = self._sample_weight(sample_weight, lse.shape[0])
        return float(np.average(lse, weights=w))

    def predict_proba(self, X: ArrayLike, n_trials: ArrayLike | int | None = None) -> FloatArray:
        """Posterior ``P(c = u | x)`` of each component for each row (the responsibilities)."""
        return np.exp(self._log_parts(X, n_trials)[1])

    def predict(self, X: ArrayLike, n_trials: ArrayLike | int | None = None) -> NDArray[np.intp]:
        """Most probable component of each row."""
        return np.argmax(self._log_parts(X, n_trials)[1], axis=1).astype(np.intp)

    def sample(
        self, n_samples: int = 1, *, random_state: Any = None, n_trials: Any = None
    ) -> tuple[NDArray[Any], NDArray[np.intp]]:
        """Draw ``n_samples`` rows and their component labels.

        Categorical rows come back in the original level labels.
        """
        check_is_fitted(self, "params_")
        n = check_int(n_samples, "n_samples", low=1)
        rng = rng_from(self.random_state if random_state is None else random_state)
        labels = rng.choice(self.weights_.shape[0], size=n, p=self.weights_).astype(np.intp)
        ctx = self._context(n_trials)
        X = self.family_.sample(self.params_, labels, rng, **ctx)
        if hasattr(self, "categories_"):
            out = np.empty(X.shape, dtype=object)
            for j, levels in enumerate(self.categories_):
                out[:, j] = levels[X[:, j].astype(np.intp)]
            if all(np.issubdtype(c.dtype, np.number) for c in self.categories_):
                return out.astype(np.float64), labels
            return out, labels
        return X, labels

    # -------------------------------------------------------- model selection
    def n_parameters(self) -> int:
        """Free parameters: the learned components' plus ``k - 1`` learned weights."""
        check_is_fitted(self, "params_")
        n = 0 if self.fixed_params is not None else self.family_.n_free_parameters(self.params_)
        if self.fixed_weights is None:
            n += self.weights_.shape[0] - 1
        return int(n)

    def _total_ll(self, X: ArrayLike, n_trials: Any) -> tuple[float, int]:
        lse = self.score_samples(X, n_trials)
        return float(lse.sum()), int(lse.shape[0])

    def bic(self, X: ArrayLike, n_trials: ArrayLike | int | None = None) -> float:
        """Bayesian information criterion ``-2 log L + p log N`` on ``X`` (lower is better)."""
        ll, n = self._total_ll(X, n_trials)
        return -2.0 * ll + self.n_parameters() * np.log(n)

    def aic(self, X: ArrayLike, n_trials: ArrayLike | int | None = None) -> float:
        """Akaike information criterion ``-2 log L + 2 p`` on ``X`` (lower is better)."""
        ll, _ = self._total_ll(X, n_trials)
        return -2.0 * ll + 2.0 * self.n_parameters()

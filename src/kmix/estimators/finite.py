"""``FiniteMixture``: the scikit-learn face of the general EM engine."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..components import Family, Gaussian, get_family
from ..data import is_source
from ..exceptions import DataError, ImpossibleRowError
from ..options import choose
from ..params import GaussianParams
from ..solvers.em.loop import EMProgress, ZeroWeightRowError, log_mixture, run_em
from ._base import MixtureEstimator
from ._checks import check_fitted, check_int, check_real, enforce_identifiability, rng_from
from ._covariates import covariate_table, log_class_shares, log_mixture_rows
from ._finite_covariates import fit_finite_with_covariates
from ._finite_input import FiniteRows, read_rows, starting_values, unique_rows
from ._passes import fit_by_passes
from ._sources import source_rows
from ._starts import identifiability, latent_class_start, takes_latent_start

__all__ = ["FiniteMixture"]

FloatArray = NDArray[np.float64]
#: EM starts of ``n_init="auto"`` for the families without a latent class start
AUTO_STARTS = 4


class FiniteMixture(MixtureEstimator):
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

    Missing cells (NaN, None, pandas' ``NA``) are fitted by full-information
    maximum likelihood by default: each row contributes the likelihood of its
    observed cells, ``log sum_u pi_u f(x_obs; theta_u)``, the missing ones
    integrated out (Little & Rubin, *Statistical Analysis with Missing Data*,
    2nd ed., 2002; Ghahramani & Jordan, "Supervised learning from incomplete
    data via an EM approach", NIPS 1994; Hunt & Jorgensen, "Mixture model
    clustering for mixed data with missing information", Comput. Stat. Data
    Anal. 41, 2003). This assumes the values are **missing at random**
    (MAR): whether a cell is missing may depend on the row's observed cells
    but not on the missing value itself nor on the hidden component beyond
    them. Under MAR the estimate is consistent; values missing because of
    what they are (a large income left blank) bias it, as they bias every
    method that ignores why cells are missing.

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
        probability vector; 1 gives the maximum-likelihood estimate. With
        ``fixed_params`` nothing is smoothed, and ``alpha > 1`` warns.
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
    init : {"auto", "kmeans++", "random"}, default "auto"
        Initialisation of starts without ``params_init`` (see
        :func:`kmix.solvers.em.loop.run_em`). ``"auto"``: for bernoulli and
        categorical components, where the latent class fit of
        :class:`~kmix.ProductMixture` ends (three-view moment start, more
        starts where the likelihood is flat or the fit leaves a misfit; it
        finds a class of 0.1% of the rows that random starts miss); k-means++
        for gaussian (the first start the best of five k-means partitions,
        later starts alternating random responsibilities, which can isolate a
        small cluster that k-means would rather split a large one for, and
        single k-means seedings); random responsibilities for binomial and
        poisson.
    allow_unidentified : bool, default False
        Fit even where the components are not identifiable from the data
        (bernoulli and categorical: the conditions of ``ProductMixture``; one
        binomial feature: ``n_trials >= 2k - 1``); the answer is then one
        maximiser of the likelihood among many, with a warning.
    missing : {"fiml", "drop", "error"}, default "fiml"
        Missing cells in ``X``: ``"fiml"`` uses every row's observed cells
        (see above; a row with every cell missing adds nothing, with a
        warning), ``"drop"`` leaves out the rows with a missing cell
        (listwise deletion, unbiased only when cells are missing completely
        at random), ``"error"`` refuses them. Rows scored by
        ``score_samples``, ``predict_proba`` and ``predict`` use their
        observed cells unless ``"error"``. A column without any observed
        value is refused. Complete data fit alike under all three.
    n_init : int or "auto", default "auto"
        EM starts in all (``params_init``/``weights_init`` first, the others by
        ``init``); a short run of each, then the most promising to convergence
        and the others only while they can still catch up, so that extra starts
        cost little. ``"auto"``: one start for bernoulli and categorical
        components started by ``init="auto"`` (the latent class fit behind it
        runs its own starts), four otherwise.
    tol : float, default 1e-10
        Stop when the log-likelihood rises by less than ``tol * |log-likelihood|``
        in one iteration. EM converges linearly, slowly where components
        overlap, so a loose tolerance stops well short of the maximum.
    max_iter : int, default 1000
        Maximum EM iterations per restart.
    random_state : int, Generator or None
        Seed of the initialisation.
    callback : callable or None
        Called after each E-step with a :class:`kmix.solvers.em.loop.EMProgress`
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
        Whether EM met ``tol``; with ``fixed_params``, whether the weights
        satisfy the optimality (Karush-Kuhn-Tucker) conditions.
    n_iter_ : int
    lower_bound_ : float
        Mean log-likelihood per (weighted) row of the training data, as in
        scikit-learn.
    log_likelihood_ : float
        Total log-likelihood of the training data (without the log-prior).
    history_ : ndarray
        Objective after every E-step of the best restart: the total
        log-likelihood, plus the Dirichlet log-prior when ``alpha > 1`` (the
        quantity EM increases); with ``fixed_params``, followed by the value
        after the Newton polish of the weights when it moved them.
    log_likelihood_history_ : ndarray of shape (n_iter_ + 1,) or (n_iter_ + 2,)
        Total (weighted) log-likelihood of the training data, without the
        log-prior, after every E-step of the best restart (the value at its
        start, then after each of its ``n_iter_`` M-steps), followed (with
        ``fixed_params``, like ``history_``) by the value after the Newton
        polish when it moved the weights; ``log_likelihood_history_[-1] ==
        log_likelihood_``. For convergence plots. EM never lowers ``history_``
        (except right after the re-seedings of ``reseed_iterations_``); with
        ``alpha > 1`` this plain log-likelihood may dip. With covariates, and
        for EM by passes over a source (one entry a pass), the log-likelihood
        after every E-step of that EM, ``n_iter_ + 1`` entries. The history
        starts where EM starts: the latent class fit behind ``init="auto"``
        is not part of it.
    restart_log_likelihoods_ : ndarray
        Final total log-likelihood of every restart (the best one's equals
        ``log_likelihood_``).
    reseed_iterations_ : tuple of int
        Indices into ``history_`` after which an empty component was re-seeded.
    n_parameters_ : int
        Free parameters of the fit (for BIC and AIC).
    categories_ : list of ndarray
        Categorical family: the levels of each column, in code order.
    n_missing_ : ndarray of int, shape (n_features,)
        Missing cells per column among the rows of positive weight.
    n_rows_dropped_ : int
        Rows left out for a missing cell (``missing="drop"``; else 0).

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

    categories_: list[NDArray[Any]]

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
        init: str = "auto",
        n_init: int | str = "auto",
        allow_unidentified: bool = False,
        missing: str = "fiml",
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
        self.allow_unidentified = allow_unidentified
        self.missing = missing
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.callback = callback

    def _family(self) -> Family:
        """The family instance, after checking that every set option applies to it."""
        options = {
            "alpha": check_real(self.alpha, "alpha", low=1.0),
            "covariance_type": choose(self.covariance_type, "FiniteMixture.covariance_type"),
            "var_floor": check_real(self.var_floor, "var_floor", low=0.0),
        }
        family = get_family(str(choose(self.family, "FiniteMixture.family")), **options)
        defaults = {"alpha": 1.0, "covariance_type": "full", "var_floor": 1e-6}
        for name, value in options.items():
            if name not in family.options() and value != defaults[name]:
                raise DataError(
                    f"{name}={value!r} does not apply to the {family.name} family; remove it"
                )
        if self.n_trials is not None and family.name != "binomial":
            raise DataError(
                f"n_trials={self.n_trials!r} applies to the binomial family only, "
                f"not {family.name}; remove it"
            )
        return family

    def _context(self, n_trials: Any, family: Family) -> dict[str, Any]:
        if n_trials is not None and family.name != "binomial":
            raise DataError(
                f"n_trials was passed but applies to the binomial family only, not "
                f"{family.name}; remove it"
            )
        ctx: dict[str, Any] = {"n_trials": self.n_trials if n_trials is None else n_trials}
        if hasattr(self, "categories_"):
            ctx["n_levels"] = [len(c) for c in self.categories_]
        return ctx

    def _table(
        self,
        X: Any,
        n_trials: Any,
        *,
        reset: bool,
        family: Family,
        missing: str,
        sample_weight: Any = None,
    ) -> tuple[FloatArray, dict[str, Any], FiniteRows]:
        """``(table, context, rows)``: the family's table of the kept rows (NaN: missing).

        Every row passes the family's value checks (see :func:`read_rows`);
        the encoded table keeps only the rows of positive weight (per-row
        ``n_trials`` included) that the missing-value policy keeps.
        """
        got = read_rows(
            self,
            X,
            reset=reset,
            family=family,
            missing=missing,
            sample_weight=sample_weight,
            categories=None if reset else getattr(self, "categories_", None),
        )
        if reset and got.categories is not None:
            self.categories_ = got.categories
        ctx = self._context(n_trials, family)
        family.check_data(got.values, **ctx)
        table = family.encode(got.values, **ctx)
        if got.rows is not None and family.name != "categorical":  # categorical: kept rows
            table = table[got.rows]
        return table, ctx, got

    # ---------------------------------------------------------------------- fit
    _data_keywords = ("n_trials", "covariates")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        try:
            family = str(choose(self.family, "FiniteMixture.family"))
        except DataError:
            family = "gaussian"
        # discrete families read integer codes: scikit-learn's checks then round their data
        tags.input_tags.categorical = family != "gaussian"
        tags.input_tags.positive_only = family in ("poisson", "binomial")
        try:
            tags.input_tags.allow_nan = choose(self.missing, "FiniteMixture.missing") != "error"
        except DataError:
            tags.input_tags.allow_nan = True
        return tags

    def fit(
        self,
        X: ArrayLike,
        y: Any = None,
        *,
        sample_weight: ArrayLike | None = None,
        n_trials: ArrayLike | int | None = None,
        covariates: Any = None,
    ) -> FiniteMixture:
        """Fit the mixture by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), path or source
            Missing cells (NaN, None, pandas' ``NA``) as the ``missing``
            option says. Files, globs, Arrow, polars and Dask data are read in
            one streamed pass counting their distinct rows
            (:func:`kmix.data.as_source`): memory bounded for discrete
            families, every row kept for continuous ones.
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative frequency weights (a weight of 2 counts a row twice).
            Rows of weight 0 are dropped after the checks of their values and
            before anything is learned from them: they add no categorical
            level, and error messages never name them.
        n_trials : int or array-like, optional
            Binomial family only: trials per row (overrides the ``n_trials``
            option); any other family raises :class:`DataError`.
        """
        # a failed refit must not leave a mix of old and new fitted state
        for name in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, name)
        self._check_y(y)
        k = check_int(self.n_components, "n_components", low=1)
        n_init = self.n_starts()
        max_iter = check_int(self.max_iter, "max_iter", low=1)
        tol = check_real(self.tol, "tol", low=0.0)
        init = str(choose(self.init, "FiniteMixture.init"))
        missing = str(choose(self.missing, "FiniteMixture.missing"))
        family = self._family()
        if covariates is not None:  # weights a logit in covariates (concomitant variables)
            fit_finite_with_covariates(self, X, covariates, sample_weight, n_trials)
            return self
        if not family.discrete and is_source(X):  # rows that do not compress: EM by passes
            fit_by_passes(
                self,
                X,
                family=family,
                missing=missing,
                sample_weight=sample_weight,
                n_trials=n_trials,
            )
            self._warn_if_floor_binds()
            return self
        if (streamed := source_rows(X, sample_weight, missing=None)) is not None:
            X, sample_weight = streamed.values, streamed.counts
        table, ctx, got = self._table(
            X, n_trials, reset=True, family=family, missing=missing, sample_weight=sample_weight
        )
        if streamed is not None:
            self.feature_names_in_ = np.asarray(streamed.columns, dtype=object)
        weights, rows, blank = got.weights, got.rows, 0.0
        if got.blank.any():  # rows without an observed cell: likelihood 1, nothing to learn
            blank = float(got.blank.sum() if weights is None else weights[got.blank].sum())
            keep = ~got.blank
            table, weights = table[keep], None if weights is None else weights[keep]
            rows = np.flatnonzero(keep) if rows is None else rows[keep]
        values, counts, inverse = unique_rows(table, weights, family.discrete)
        total = float(counts.sum()) + blank  # (the blank rows count, with log-likelihood 0)
        if k > values.shape[0]:
            raise DataError(
                f"n_components={k} exceeds the {values.shape[0]} "
                f"{'distinct ' if family.discrete else ''}rows of X with positive weight; "
                "lower n_components or add data"
            )
        fixed_params, fixed_weights, params_init, weights_init = starting_values(
            self, family, k, ctx
        )
        identified = True
        if fixed_params is None:  # known components leave only the weights: identified
            identified = self._check_identifiable(family, k, int(self.n_features_in_), ctx)
        rng = rng_from(self.random_state)
        given = params_init is not None or weights_init is not None
        if identified and k > 1 and takes_latent_start(family.name, init, given):
            # a latent class model: start where the latent class fit ends (moment start,
            # more starts where the likelihood is flat or the fit leaves a misfit), which
            # finds small classes that random starts miss
            n_levels = None if family.name != "categorical" else [len(c) for c in self.categories_]
            start = latent_class_start(
                family.name, values, counts, n_levels, k, rng=rng, tol=tol, max_iter=max_iter
            )
            if start is not None:
                params_init, weights_init = start
            elif isinstance(self.n_init, str):  # "auto", too few complete rows to start from
                n_init = AUTO_STARTS
        alpha = family.options().get("alpha", 1.0)
        if fixed_params is not None and alpha > 1.0:
            warnings.warn(
                f"alpha={alpha:g} has no effect with fixed_params: the smoothing acts on "
                "learned component probabilities only, and fixed_params leaves none to "
                "learn; drop alpha or fixed_params",
                UserWarning,
                stacklevel=2,
            )
        try:
            result = run_em(
                family,
                family.prepare(values, **ctx),
                counts,
                k,
                rng=rng,
                weights_init=weights_init,
                params_init=params_init,
                learn_weights=fixed_weights is None,
                learn_params=fixed_params is None,
                tol=tol,
                max_iter=max_iter,
                n_init=n_init,
                init=("random" if family.discrete else "kmeans++") if init == "auto" else init,
                callback=self.callback,
            )
        except ImpossibleRowError as exc:
            # the first row of X with positive weight that the offending unique row stands for
            row = int(np.flatnonzero(inverse == exc.row)[0])
            row = row if rows is None else int(rows[row])
            if isinstance(exc, ZeroWeightRowError):
                raise DataError(
                    f"X row {row} has probability zero under every component whose "
                    "weights_init is positive, and EM never moves a weight that is exactly "
                    "0; give those components a positive weights_init"
                ) from None
            raise DataError(
                f"X row {row} has probability zero under every component of fixed_params, "
                "so no weights can explain it; check fixed_params (probabilities of "
                "exactly 0 or 1?)"
            ) from None
        named = any(
            v is not None
            for v in (self.fixed_params, self.fixed_weights, self.params_init, self.weights_init)
        )
        weights, params = result.weights, result.params
        if not named:  # kmix's label order: largest weight first (ties keep EM's order)
            order = np.argsort(-weights, kind="stable")
            weights, params = weights[order], params.permute(order)
        self.weights_ = weights
        self.params_ = params
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.history_ = result.history
        self.reseed_iterations_ = result.reseed_iterations
        self.log_likelihood_history_ = result.log_likelihood_history
        self.log_likelihood_ = float(result.log_likelihood_history[-1])
        self.lower_bound_ = self.log_likelihood_ / total
        self.n_samples_ = total
        self.restart_log_likelihoods_ = np.asarray(result.restart_log_likelihoods)
        self.family_ = family
        self.n_missing_ = got.n_missing
        self.n_rows_dropped_ = got.n_dropped
        n_free = 0 if fixed_params is not None else family.n_free_parameters(result.params)
        self.n_parameters_ = n_free + (0 if fixed_weights is not None else k - 1)
        self._warn_if_floor_binds()
        return self

    def n_starts(self) -> int:
        """``n_init`` as a number: ``"auto"`` is one latent class start or four EM starts."""
        if isinstance(self.n_init, str) and self.n_init.strip().lower() == "auto":
            family = str(choose(self.family, "FiniteMixture.family"))
            init = str(choose(self.init, "FiniteMixture.init"))
            given = self.params_init is not None or self.weights_init is not None
            return 1 if takes_latent_start(family, init, given) else AUTO_STARTS
        return check_int(self.n_init, "n_init", low=1)

    def _check_identifiable(
        self, family: Family, k: int, n_features: int, ctx: dict[str, Any]
    ) -> bool:
        """Refuse (or warn about) what the data cannot identify; see :func:`identifiability`."""
        n_levels = None if family.name != "categorical" else [len(c) for c in self.categories_]
        found = identifiability(family.name, k, n_features, n_levels, ctx.get("n_trials"))
        if found is None:
            return True
        ok, condition, most = found
        self.identifiability_ = condition
        enforce_identifiability(ok, condition, k, most, allow=bool(self.allow_unidentified))
        return ok

    def _warn_if_floor_binds(self) -> None:
        params, family = self.params_, self.family_
        if not isinstance(params, GaussianParams) or not isinstance(family, Gaussian):
            return
        floor = family.var_floor
        bound = family.floor_binds(params)
        if bound.size:
            warnings.warn(
                f"the variance floor var_floor={floor:g} binds for component(s) "
                f"{bound.tolist()}: they have collapsed onto few rows or onto a flat "
                "subspace (collinear features), or the data's scale is close to "
                "var_floor; standardise the data or lower var_floor",
                UserWarning,
                stacklevel=3,
            )

    # --------------------------------------------------------------- inference
    def _log_parts(self, X: Any, **data: Any) -> tuple[FloatArray, FloatArray]:
        """Row log-densities and log-posteriors of new data."""
        check_fitted(self, "params_")
        family = self.family_
        missing = str(choose(self.missing, "FiniteMixture.missing"))
        table, ctx, _ = self._table(
            X, data.get("n_trials"), reset=False, family=family, missing=missing
        )
        values, _, inverse = unique_rows(table, None, family.discrete)
        log_prob = family.log_prob(family.prepare(values, **ctx), self.params_)
        log_pi = log_class_shares(self, data.get("covariates"))  # None without covariates
        if log_pi is not None:
            return log_mixture_rows(log_prob[inverse] if family.discrete else log_prob, log_pi)
        with np.errstate(divide="ignore"):  # a weight of exactly 0 has log weight -inf
            log_weights = np.log(self.weights_)
        lse, log_resp = log_mixture(log_prob, log_weights)
        if family.discrete:
            lse, log_resp = lse[inverse], log_resp[inverse]
        return lse, log_resp

    def _log_posterior(self, X: Any, **data: Any) -> FloatArray:
        lse, log_resp = self._log_parts(X, **data)
        impossible = ~np.isfinite(lse)
        if impossible.any():
            row = int(np.flatnonzero(impossible)[0])
            raise DataError(
                f"X row {row} has probability zero under every fitted component (it holds "
                "a value that had probability 0 in the fit, e.g. one never seen in that "
                "column within any component), so it has no posterior; refit with "
                "alpha > 1 to smooth the probabilities"
            )
        return log_resp

    def sample(
        self, n_samples: int = 1, *, random_state: Any = None, n_trials: Any = None
    ) -> tuple[NDArray[Any], NDArray[np.intp]]:
        """Draw ``n_samples`` rows and their component labels.

        Categorical rows come back in the original level labels (in the
        levels' own dtype when every column shares one).
        """
        check_fitted(self, "params_")
        n = check_int(n_samples, "n_samples", low=1)
        rng = rng_from(self.random_state if random_state is None else random_state)
        labels = rng.choice(self.weights_.shape[0], size=n, p=self.weights_).astype(np.intp)
        ctx = self._context(n_trials, self.family_)
        X = self.family_.sample(self.params_, labels, rng, **ctx)
        if not hasattr(self, "categories_"):
            return X, labels
        dtypes = {c.dtype for c in self.categories_}
        out = np.empty(X.shape, dtype=dtypes.pop() if len(dtypes) == 1 else object)
        for j, levels in enumerate(self.categories_):
            out[:, j] = levels[X[:, j].astype(np.intp)]
        return out, labels

    def n_parameters(self) -> int:
        """Free parameters of the fit: the learned components' plus ``k - 1`` learned weights
        (with covariates, the logit's coefficients instead)."""
        check_fitted(self, "params_")
        return int(self.n_parameters_)

    def covariate_table(self) -> dict[str, NDArray[Any]]:
        """Tidy ``class, term, coefficient, std_error, z, p_value`` of a fit with covariates."""
        check_fitted(self, "coef_")
        return covariate_table(self)

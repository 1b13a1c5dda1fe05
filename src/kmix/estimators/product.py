"""``ProductMixture``: latent class models by the tensor method, refined to the MLE."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.utils.validation import validate_data
from threadpoolctl import threadpool_limits

from ..data import is_source
from ..exceptions import ConvergenceWarning, DataError
from ..options import choose
from ..params import CategoricalParams, check_weights, item_view
from ..solvers.em.loop import log_mixture
from ..solvers.latent_class.fit import MISFIT_Z, fit_latent_class
from ..solvers.latent_class.identifiability import identify_latent_class
from ..stats import compress_rows
from ._base import MixtureEstimator
from ._bootstrap import ProductBootstrap, bootstrap_latent_class
from ._checks import (
    check_fitted,
    check_int,
    check_real,
    check_sample_weight,
    encode_categories,
    enforce_identifiability,
    rng_from,
)
from ._covariates import covariate_table, fit_with_covariates, log_class_shares, log_mixture_rows
from ._product_input import MISSING, Rows, check_columns, read_rows, unique_rows
from ._sources import source_rows

__all__ = ["MISFIT_Z", "ProductMixture"]

FloatArray = NDArray[np.float64]


class ProductMixture(MixtureEstimator):
    """Latent class model: discrete variables independent given a hidden class.

    ``P(x) = sum_u pi_u prod_j P(X_j = x_j | u)``. ``fit`` starts from the
    three-view tensor method (:func:`kmix.solvers.latent_class.moments.fit_product_mixture`),
    which has no local optima and is exact on population tables, and then
    climbs to the maximum-likelihood estimate by EM on the unique rows.

    Parameters
    ----------
    n_components : int, default 2
        Number of latent classes ``k``.
    init : {"moments", "random"}, default "moments"
        Start of EM: the tensor method, or random responsibilities.
    refine : {"em", None}, default "em"
        Refine the start by EM (None reports the moment step alone).
    n_init : int or "auto", default "auto"
        EM starts in all: the moment step's best candidates first (up to
        three), then random ones (weights and item probabilities drawn from
        flat Dirichlet distributions); every start runs to convergence
        (accelerated EM, all starts at once; a start that joins a better one
        stops) and the highest likelihood wins. ``"auto"`` spends EM work
        where local maxima are commonest: on small tables (unique rows x
        levels x classes <= 250,000: few variables, flat likelihoods) the
        moment candidates and 10 to 50 random starts; on mid-sized tables
        (up to 3,000,000) as many random starts as that budget pays for; on
        large tables the best moment candidate alone, followed by the others
        and random starts when the fit misfits a two-way margin or a
        likelihood-ratio test against the well-filled cells of the table
        (:func:`kmix.solvers.latent_class.births.fits_the_table`) rejects
        it. Unless that test vouched for the single start, birth, split and
        merge moves then try to move a misplaced class
        (:func:`kmix.solvers.latent_class.births.escape_local_maxima`): a
        small class that EM lost is found again there.
    n_triples : int, default 5
        View triples combined by the moment step.
    missing : {"fiml", "drop", "error"}, default "fiml"
        Missing values (NaN, None, ``pd.NA``, empty text): ``"fiml"`` fits
        every observed answer by full-information maximum likelihood (the
        likelihood of each row's observed items, ``sum_u pi_u prod_{j
        observed} P(x_j | u)``; Little & Rubin, "Statistical Analysis with
        Missing Data", 2nd ed., 2002), which is valid when values are missing
        at random (the chance that an answer is missing may depend on the
        observed answers, not on the missing one). ``"drop"`` fits the rows
        without a missing value (listwise deletion, valid only when values are
        missing completely at random); ``"error"`` refuses them. Rows without
        any answer are left out of the fit and counted. Scores and predictions
        (except with ``"error"``) give one value per row, from its observed
        items (a row without any answer gets the class weights).
    allow_unidentified : bool, default False
        Fit (by EM) even where no identifiability condition holds; the
        answer is then one maximiser of the likelihood among many.
    covariate_missing : {"error", "drop"}, default "error"
        With ``fit(X, covariates=Z)``: a missing covariate is refused, naming
        its row and column, or (``"drop"``) its row is left out and counted in
        ``n_covariate_rows_dropped_``.
    covariate_se : {"observed", "empirical"}, default "observed"
        Standard errors of the covariate coefficients: from the observed
        information (Louis 1982), or the empirical information (the sum of
        the rows' score outer products, as R's poLCA).
    tol, max_iter : float, int
        EM stopping rule.
    random_state : None, int or numpy Generator

    Attributes
    ----------
    weights_ : ndarray of shape (k,)
        Class shares, largest first.
    probs_ : ndarray of shape (k, n_features) or list of ndarray
        For binary data ``P(X_j = 1 | u)`` (the second level of each column);
        otherwise one (k, n_levels_j) array per column.
    categories_ : list of ndarray
        Levels of each column, in code order.
    moment_weights_, moment_probs_ :
        The moment step's answer, in the same class order.
    views_ : list of tuple
        ``(A, B, pivot)`` column groups of the combined view triples.
    singular_values_ : ndarray
        Of ``P(X_A, X_B)`` for the best triple.
    eigengap_ : float
        Relative eigengap of the best triple's contraction.
    signal_to_noise_ : float
        Its k-th singular value over the sampling noise level.
    identifiability_ : str
        The identifiability condition checked, with its numbers.
    log_likelihood_, converged_, n_iter_ :
        Of the winning EM run (``n_iter_`` counts EM maps, three per SQUAREM
        cycle; see :func:`kmix.solvers.latent_class.em.em_latent_class`).
    log_likelihood_history_ : ndarray
        Total log-likelihood at each SQUAREM cycle's start in the EM run kept,
        at its end, then after each quasi-Newton finish that moved it: ``n_iter_
        // 3 + 1`` entries and at most 2 more, non-decreasing, the last
        ``log_likelihood_`` (one with ``refine=None``; with covariates one per EM
        iteration, ``n_iter_ + 1``; :class:`~kmix.solvers.latent_class.fit.LatentClassResult`).
    restart_log_likelihoods_ : list of float
        Final log-likelihood of every start: the moment candidates first,
        then the random starts.
    n_starts_ : int
        EM starts run.
    misfit_ : float
        Largest standardised residual of the fitted model's two-way margins
        (:func:`kmix.solvers.latent_class.design.pairwise_misfit`); about 3 or less
        at a good fit, large when the fit is a poor local maximum or ``k``
        is too small. On large tables, where one EM run starts from the
        moment step, a value above 5 brings in the other starts of
        ``n_init``'s small-table rule.
    coef_, coef_se_ : ndarray of shape (k - 1, p)
        With ``covariates``: logit coefficients of classes 1 .. k-1 against
        class 0 per term of ``covariate_terms_`` (from ``covariate_design_``),
        and standard errors; ``coef_cov_`` their covariance, class by class.
    n_polish_iter_ : int
        Quasi-Newton steps after EM (0 when EM settled on its own on a large
        table, or the finish did not improve it).
    n_rows_dropped_ : int
        Rows left out for missing values (all of them with ``missing="drop"``,
        those without any answer with ``"fiml"``).
    n_missing_ : ndarray of shape (n_features,)
        Missing cells of every column in the data given to ``fit``.
    n_birth_starts_ : int
        Candidate starts of the birth, split and merge moves after EM
        (:func:`kmix.solvers.latent_class.births.escape_local_maxima`).

    Examples
    --------
    Seven pathologists rate 118 slides (Agresti's carcinoma data, bundled
    as 20 distinct patterns with counts); three classes reach the published
    maximum log-likelihood -293.705.

    >>> from kmix import ProductMixture
    >>> from kmix.datasets import carcinoma
    >>> data = carcinoma()
    >>> model = ProductMixture(3, random_state=0).fit(data.patterns, sample_weight=data.counts)
    >>> round(model.log_likelihood_, 3), model.weights_.round(3)
    (-293.705, array([0.445, 0.374, 0.182]))
    >>> model.n_samples_, model.probs_.shape  # 118 slides; P(item = 1 | class) for 7 items
    (118.0, (3, 7))
    """

    def __init__(
        self,
        n_components: int = 2,
        *,
        init: str = "moments",
        refine: str | None = "em",
        n_init: int | str = "auto",
        n_triples: int = 5,
        missing: str = "fiml",
        allow_unidentified: bool = False,
        covariate_missing: str = "error",
        covariate_se: str = "observed",
        tol: float = 1e-10,
        max_iter: int = 1000,
        random_state: Any = None,
    ) -> None:
        self.n_components = n_components
        self.init = init
        self.refine = refine
        self.n_init = n_init
        self.n_triples = n_triples
        self.missing = missing
        self.allow_unidentified = allow_unidentified
        self.covariate_missing = covariate_missing
        self.covariate_se = covariate_se
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        try:
            tags.input_tags.allow_nan = choose(self.missing, "ProductMixture.missing") != "error"
        except DataError:
            tags.input_tags.allow_nan = True
        return tags

    # ---------------------------------------------------------------- input
    def _array(self, X: Any, *, reset: bool) -> NDArray[Any]:
        if not reset and is_source(X):
            raise DataError(
                "predictions and scores read rows in memory, one per row of the answer; load "
                "the file (pandas.read_parquet, kmix.data.read_table) or pass it in batches"
            )
        try:
            arr = validate_data(
                self, X, reset=reset, dtype=None, ensure_all_finite=False, ensure_min_samples=1
            )
        except ValueError as exc:
            raise DataError(str(exc)) from None
        return np.asarray(arr)

    def _columns_name(self, j: int) -> str:
        names = getattr(self, "feature_names_in_", None)
        return f"column {j} ({names[j]!r})" if names is not None else f"column {j}"

    categories_: list[NDArray[Any]]

    def _rows(self, X: Any, *, reset: bool) -> Rows:
        """Validated rows under the ``missing`` rule (:mod:`kmix.estimators._product_input`)."""
        arr = self._array(X, reset=reset)
        if reset and arr.shape[0] < 2:
            raise DataError(
                f"X has {arr.shape[0]} sample (n_samples={arr.shape[0]}); a latent class "
                "model needs at least 2 rows"
            )
        mode = str(choose(self.missing, "ProductMixture.missing"))
        return read_rows(arr, mode=mode, name=self._columns_name, fitting=reset, stacklevel=5)

    def _encode(self, X: Any, *, reset: bool) -> tuple[FloatArray, NDArray[np.bool_]]:
        rows = self._rows(X, reset=reset)
        codes, cats = encode_categories(
            rows.arr, None if reset else self.categories_, missing_code=MISSING
        )
        if reset:
            self.categories_ = cats
        return codes, rows.keep

    def _statistic(
        self, X: Any, sample_weight: ArrayLike | None
    ) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
        """Unique coded rows (``-1`` where missing) and their counts; learns ``categories_``."""
        rows = self._rows(X, reset=True)
        w = None
        if sample_weight is not None:
            checked = check_sample_weight(sample_weight, rows.keep.shape[0])
            assert checked is not None
            w = checked[rows.keep]
        values, counts, self.categories_ = unique_rows(rows, w)
        self.n_missing_ = rows.n_missing
        return values, counts, rows.keep

    # ------------------------------------------------------------------ fit
    _data_keywords = ("covariates",)

    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        sample_weight: ArrayLike | None = None,
        covariates: Any = None,
    ) -> ProductMixture:
        """Fit the latent class model.

        Parameters
        ----------
        X : array-like, DataFrame, path or source
            Integer codes or labels (strings, integers) per column, shape
            (n_samples, n_features); or rows read in one streamed pass: a CSV
            or Parquet file, a glob or directory of them, a pyarrow Table, a
            polars or Dask DataFrame, a :class:`kmix.data.Source` (see
            :func:`kmix.data.as_source`). Such data never sit in memory: their
            distinct rows are counted as they are read (on the cluster, for
            Dask), and the fit is that of the raw rows.
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Frequency weights (in-memory data only).
        covariates : DataFrame, mapping or array-like of shape (n_samples, q), optional
            Covariates of each row: the class shares then follow a multinomial
            logit in them (latent class regression, class 0 the reference),
            fitted jointly with the items by maximum likelihood; see
            ``coef_``, ``coef_se_`` and :meth:`covariate_table`. Text,
            boolean and category columns become one indicator per level but
            the first. In-memory data only.
        """
        self._check_y(y)
        for name in ("coef_", "coef_se_", "coef_cov_", "covariate_terms_", "covariate_design_"):
            if hasattr(self, name):  # a refit drops an earlier fit's regression
                delattr(self, name)
        if covariates is not None:
            fit_with_covariates(self, X, covariates, sample_weight)
            return self
        k = check_int(self.n_components, "n_components", low=1)
        if not (isinstance(self.n_init, str) and self.n_init == "auto"):
            check_int(self.n_init, "n_init", low=1)
        n_triples = check_int(self.n_triples, "n_triples", low=1)
        tol = check_real(self.tol, "tol", low=0.0)
        max_iter = check_int(self.max_iter, "max_iter", low=0)
        init = str(choose(self.init, "ProductMixture.init"))
        refine = choose(self.refine, "ProductMixture.refine")
        missing = str(choose(self.missing, "ProductMixture.missing"))
        if init == "random" and refine is None:
            raise DataError("init='random' starts EM, so it needs refine='em'")
        rng = rng_from(self.random_state)
        streamed = source_rows(X, sample_weight, missing=missing)
        if streamed is not None:
            X, sample_weight = streamed.values, streamed.counts
        values, counts, keep = self._statistic(X, sample_weight)
        self.n_rows_dropped_ = int((~keep).sum())
        if streamed is not None:
            self.feature_names_in_ = np.asarray(streamed.columns, dtype=object)
            self.n_rows_dropped_ = streamed.n_dropped
            self.n_missing_ = streamed.n_missing
        check_columns(self.categories_, values, counts, self._columns_name)
        n_levels = [len(c) for c in self.categories_]
        # every product here is skinny (k or k * starts columns): BLAS threads cost more
        # than they save, and on two cores they can triple the time
        with threadpool_limits(limits=1, user_api="blas"):
            # a fixed generator: the verdict depends on the items and k alone
            ident = identify_latent_class(n_levels, k, rng=np.random.default_rng(0))
            self.identifiability_ = ident.condition
            enforce_identifiability(
                ident.ok,
                ident.condition,
                k,
                ident.max_components,
                allow=bool(self.allow_unidentified),
            )
            if ident.kind == "unknown":
                warnings.warn(
                    f"{k} classes may not be identifiable from these variables "
                    f"({ident.condition}); the fit goes on, but its parameters may be one "
                    "maximiser of the likelihood among many",
                    UserWarning,
                    stacklevel=2,
                )
            self._fit_counts(
                values,
                counts,
                n_levels,
                k,
                # the moment step needs the sufficient condition (three views of rank k)
                init if ident.kind == "sufficient condition" else "random",
                refine is not None,
                n_triples,
                tol,
                max_iter,
                rng,
            )
        self.n_samples_ = float(counts.sum())
        self._warn_duplicates()
        return self

    def _fit_counts(
        self,
        values: FloatArray,
        counts: FloatArray,
        n_levels: list[int],
        k: int,
        init: str,
        refine: bool,
        n_triples: int,
        tol: float,
        max_iter: int,
        rng: np.random.Generator,
    ) -> None:
        """:func:`~kmix.solvers.latent_class.fit.fit_latent_class`; sets the fitted attributes."""
        res = fit_latent_class(
            values,
            counts,
            n_levels,
            k,
            rng=rng,
            init=init,
            n_init=self.n_init,
            n_triples=n_triples,
            refine=refine,
            tol=tol,
            max_iter=max_iter,
        )
        if res.moment_failed:
            warnings.warn(
                "the moment step found no views that separate the classes; EM starts at random",
                UserWarning,
                stacklevel=3,
            )
        if not res.converged:
            warnings.warn(
                f"EM stopped at max_iter={max_iter} before the log-likelihood settled to "
                f"tol={tol:g}; raise max_iter",
                ConvergenceWarning,
                stacklevel=3,
            )
        self.weights_ = check_weights(res.weights)
        self.params_ = CategoricalParams(tuple(res.probs))
        self.probs_ = item_view(res.probs)
        self.views_ = res.views
        self.singular_values_ = res.singular_values
        self.eigengap_ = res.eigengap
        if not np.isnan(res.signal_to_noise):
            self.signal_to_noise_ = res.signal_to_noise
        if res.moment_weights is not None and res.moment_probs is not None:
            self.moment_weights_ = res.moment_weights
            self.moment_probs_ = item_view(res.moment_probs)
            self.moment_out_of_range_ = res.moment_out_of_range
        self.log_likelihood_ = res.log_likelihood
        self.converged_, self.n_iter_ = res.converged, res.n_iter
        self.log_likelihood_history_ = res.log_likelihood_history
        self.n_starts_, self.n_polish_iter_ = res.n_starts, res.n_polish_iter
        self.restart_log_likelihoods_ = res.restart_log_likelihoods
        self.misfit_ = res.misfit
        self.n_birth_starts_ = res.n_birth_starts

    def bootstrap(
        self,
        X: Any,
        n_boot: int = 100,
        *,
        sample_weight: ArrayLike | None = None,
        random_state: Any = None,
    ) -> ProductBootstrap:
        """Bootstrap standard errors of the weights and probabilities.

        Each replicate resamples the rows (a multinomial draw over the
        distinct rows of ``X``, the same as resampling rows with
        replacement), runs the whole fit again with this model's settings
        (:func:`~kmix.solvers.latent_class.fit.fit_latent_class`), and
        relabels its classes to match this fit
        (:func:`kmix.estimators.bootstrap_latent_class`).

        Parameters
        ----------
        X : array-like
            The data this model was fitted to.
        n_boot : int
            Replicates.
        sample_weight : array-like, optional
            As given to ``fit``.
        random_state : optional
            Seed of the resampling (default: the model's ``random_state``).
        """
        check_fitted(self, "weights_")
        if hasattr(self, "coef_"):  # the replicates would drop the covariates
            raise DataError("bootstrap refits the model without covariates; see coef_se_")
        n_boot = check_int(n_boot, "n_boot", low=2)
        codes, keep = self.encode(X)
        w_in = None
        if sample_weight is not None:
            w_in = np.asarray(sample_weight, dtype=np.float64).reshape(-1)[keep]
        values, counts, _ = compress_rows(codes, w_in)
        rng = rng_from(self.random_state if random_state is None else random_state)
        settings = {
            "init": self.init,
            "n_init": self.n_init,
            "n_triples": int(self.n_triples),
            "refine": self.refine is not None,
            "tol": float(self.tol),
            "max_iter": int(self.max_iter),
        }
        with threadpool_limits(limits=1, user_api="blas"):
            return bootstrap_latent_class(
                values, counts, self.params_, settings, n_boot=n_boot, rng=rng
            )

    def encode(self, X: Any) -> tuple[FloatArray, NDArray[np.bool_]]:
        """Integer codes of ``X``'s levels (``categories_`` order, ``-1`` where missing), rows kept.

        The rows are read as ``fit`` reads them: with ``missing="drop"`` rows
        with a missing value are left out, with ``"fiml"`` only rows without
        any answer, with ``"error"`` a missing value raises :class:`~kmix.DataError`.
        """
        check_fitted(self, "weights_")
        mode = str(choose(self.missing, "ProductMixture.missing"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = self._array(X, reset=False)
            rows = read_rows(arr, mode=mode, name=self._columns_name, fitting=True)
            codes, _ = encode_categories(rows.arr, self.categories_, missing_code=MISSING)
        return codes, rows.keep

    def separation(self) -> FloatArray:
        """``(k, k)`` matrix: largest total-variation distance over items between two classes."""
        check_fitted(self, "weights_")
        k = self.weights_.shape[0]
        out = np.zeros((k, k))
        for p in self.params_.probs:
            tv = 0.5 * np.abs(p[:, None, :] - p[None, :, :]).sum(axis=2)
            out = np.maximum(out, tv)
        return out

    def _warn_duplicates(self) -> None:
        """Warn when two classes are closer than sampling noise can tell apart."""
        k = self.weights_.shape[0]
        if k < 2:
            return
        sep = self.separation()
        for u in range(k):
            for v in range(u + 1, k):
                n_small = self.n_samples_ * min(self.weights_[u], self.weights_[v])
                # two standard errors of a proportion estimated from the smaller class
                noise = 2.0 * np.sqrt(0.25 / max(n_small, 1.0))
                if sep[u, v] < noise:
                    warnings.warn(
                        f"classes {u} and {v} are near duplicates: their item distributions "
                        f"differ by at most {sep[u, v]:.3g} (total variation), within the "
                        f"sampling noise {noise:.3g} of a class of {n_small:.0f} rows; the "
                        f"data may support fewer than {k} classes",
                        UserWarning,
                        stacklevel=3,
                    )
                    return

    # ------------------------------------------------------------ inference
    def _log_prob(self, values: FloatArray) -> FloatArray:
        """``log P(x_obs | u)``: the observed items' log-probabilities (``-inf`` at 0)."""
        codes = values.astype(np.int64)
        out = np.zeros((codes.shape[0], self.weights_.shape[0]))
        with np.errstate(divide="ignore"):
            for j, p in enumerate(self.params_.probs):  # items; rows are vectorised
                seen = codes[:, j] >= 0
                out[seen] += np.log(p.T)[codes[seen, j]]
        return out

    def _log_parts(self, X: Any, **data: Any) -> tuple[FloatArray, FloatArray]:
        check_fitted(self, "weights_")
        codes, _ = self._encode(X, reset=False)
        log_pi = log_class_shares(self, data.get("covariates"))  # None without covariates
        if log_pi is not None:  # per-row shares pi(z_s)
            return log_mixture_rows(self._log_prob(codes), log_pi)
        with np.errstate(divide="ignore"):
            return log_mixture(self._log_prob(codes), np.log(self.weights_))

    def sample(self, n_samples: int = 1) -> tuple[NDArray[Any], NDArray[np.intp]]:
        """Draw ``(X, classes)``; ``X`` holds the original labels."""
        check_fitted(self, "weights_")
        n = check_int(n_samples, "n_samples", low=1)
        rng = rng_from(self.random_state)
        labels = rng.choice(self.weights_.shape[0], size=n, p=self.weights_)
        cols = []
        for p, levels in zip(self.params_.probs, self.categories_, strict=True):
            cum = np.cumsum(p[labels], axis=1)
            draw = (rng.random(n)[:, None] > cum).sum(axis=1)
            cols.append(np.asarray(levels)[np.minimum(draw, p.shape[1] - 1)])
        return np.stack(cols, axis=1), labels.astype(np.intp)

    def n_parameters(self) -> int:
        """``(k - 1) + k * sum_j (d_j - 1)``; with covariates ``p (k - 1)`` coefficients
        replace the ``k - 1`` shares."""
        k = int(self.weights_.shape[0])
        shares = int(self.coef_.size) if hasattr(self, "coef_") else k - 1
        return shares + k * sum(len(c) - 1 for c in self.categories_)

    def covariate_table(self) -> dict[str, NDArray[Any]]:
        """Tidy columns ``class, term, coefficient, std_error, z, p_value``: each class
        against class 0, per term of the logit (Wald z, two-sided normal p)."""
        check_fitted(self, "coef_")
        return covariate_table(self)

    def class_table(self) -> dict[str, NDArray[Any]]:
        """Tidy columns ``class, variable, level, probability`` (one row per cell).

        ``pandas.DataFrame(model.class_table())`` gives the table as a frame.
        """
        check_fitted(self, "weights_")
        names = getattr(self, "feature_names_in_", None)
        cls, var, lev, prob = [], [], [], []
        for j, (p, levels) in enumerate(zip(self.params_.probs, self.categories_, strict=True)):
            name = str(names[j]) if names is not None else f"x{j}"
            k, d = p.shape
            cls.append(np.repeat(np.arange(k), d))
            var.append(np.full(k * d, name, dtype=object))
            lev.append(np.tile(np.asarray(levels, dtype=object), k))
            prob.append(p.reshape(-1))
        return {
            "class": np.concatenate(cls),
            "variable": np.concatenate(var),
            "level": np.concatenate(lev),
            "probability": np.concatenate(prob),
        }

"""``ProductMixture``: latent class models by the tensor method, refined to the MLE."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from ..exceptions import ConvergenceWarning, DataError, IdentifiabilityError
from ..params import check_weights
from ..solvers.em.loop import log_mixture
from ..solvers.latent_class.design import RowDesign, log_likelihoods, pairwise_misfit
from ..solvers.latent_class.em import (
    LatentClassFit,
    em_latent_class,
    polish_latent_class,
    random_starts,
)
from ..solvers.latent_class.identifiability import check_identifiability
from ..solvers.latent_class.moments import fit_product_mixture
from ..stats import compress_rows
from ._checks import (
    check_int,
    check_real,
    check_sample_weight,
    encode_categories,
    first_fractional_cell,
    rng_from,
)

__all__ = ["ProductMixture"]

FloatArray = NDArray[np.float64]
INIT = ("moments", "random")
#: EM starts taken from the moment step's candidates (best likelihood first)
MOMENT_STARTS = 3
#: Random starts that ``n_init="auto"`` adds where EM is cheap (or the moment step absent)
AUTO_RANDOM_STARTS = 10
#: "Cheap": unique rows x levels in all x classes at most this (about a millisecond an EM map)
CHEAP_WORK = 250_000
#: A two-way margin this many standard errors off the fitted model is a misfit
#: (``kmix.solvers.latent_class.design.pairwise_misfit``)
MISFIT_Z = 5.0
REFINE = ("em", None)
MISSING = ("error", "drop")


def _missing_mask(arr: NDArray[Any]) -> NDArray[np.bool_]:
    if arr.dtype == object:
        return np.asarray(arr == None) | np.asarray(arr != arr)  # noqa: E711
    if arr.dtype.kind == "f":
        return np.isnan(arr)
    return np.zeros(arr.shape, dtype=bool)


def _codes_already(
    raw: NDArray[Any],
) -> tuple[FloatArray, list[NDArray[Any]]] | None:
    """Rows whose columns already hold every code ``0 .. d_j - 1`` (and nothing else).

    Then the codes are the values and each column's levels are ``0 .. d_j - 1``: one
    ``bincount`` over all columns checks it, instead of naming levels column by column.
    """
    if raw.dtype.kind not in "iub" or raw.size == 0:
        return None
    lo, hi = raw.min(axis=0), raw.max(axis=0)
    if np.any(lo != 0):
        return None
    sizes = hi.astype(np.int64) + 1
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    seen = np.bincount((raw.astype(np.int64) + offsets[None, :]).ravel(), minlength=sizes.sum())
    if not np.all(seen > 0):
        return None
    cats = [np.arange(d, dtype=raw.dtype) for d in sizes.tolist()]
    return raw.astype(np.float64), cats


class ProductMixture(DensityMixin, BaseEstimator):  # type: ignore[misc]
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
        Random EM starts (weights and item probabilities drawn from flat
        Dirichlet distributions) added to the moment step's three best
        candidates; every start runs to convergence (accelerated EM, all
        starts at once; a start that joins a better one stops) and the
        highest likelihood wins. ``"auto"``: where an EM map is cheap
        (unique rows x levels x classes <= 250,000, i.e. few variables:
        there the likelihood is flattest and local maxima commonest) or when
        the moment step cannot run, 10 random starts besides the three
        moment candidates; otherwise the best moment candidate alone (many
        variables: the moment start is then within sampling error of the
        MLE and one EM run suffices).
    n_triples : int, default 5
        View triples combined by the moment step.
    missing : {"error", "drop"}, default "error"
        Rows with missing values: refuse them, or drop them with a warning
        that says how many.
    allow_unidentified : bool, default False
        Fit (by EM) even where no identifiability condition holds; the
        answer is then one maximiser of the likelihood among many.
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
    n_polish_iter_ : int
        Quasi-Newton steps after EM (0 when EM settled on its own on a large
        table, or the finish did not improve it).
    n_rows_dropped_ : int
        Rows dropped for missing values.
    """

    def __init__(
        self,
        n_components: int = 2,
        *,
        init: str = "moments",
        refine: str | None = "em",
        n_init: int | str = "auto",
        n_triples: int = 5,
        missing: str = "error",
        allow_unidentified: bool = False,
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
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    # ---------------------------------------------------------------- input
    def _array(self, X: Any, *, reset: bool) -> NDArray[Any]:
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

    def _check_integer_coded(self, arr: NDArray[Any]) -> None:
        bad = first_fractional_cell(arr)
        if bad is not None:
            i, j = bad
            raise DataError(
                f"{self._columns_name(j)} holds {arr[i, j].item()!r} at row {i}: latent class "
                "models need integer-coded (or text) categories; recode or bin the column"
            )

    categories_: list[NDArray[Any]]

    def _rows(self, X: Any, *, reset: bool) -> tuple[NDArray[Any], NDArray[np.bool_]]:
        """Validated rows without missing values, and which input rows they are."""
        arr = self._array(X, reset=reset)
        if reset:
            self._check_integer_coded(arr)
        if arr.dtype.kind in "biu":  # integer tables cannot hold a missing value
            return arr, np.ones(arr.shape[0], dtype=bool)
        miss = _missing_mask(arr)
        keep: NDArray[np.bool_] = np.asarray(~miss.any(axis=1))
        if not keep.all():
            i, j = (int(v) for v in np.argwhere(miss)[0])
            if not reset or self.missing == "error":
                raise DataError(
                    f"X has missing values in {int((~keep).sum())} row(s) (first at row {i}, "
                    f"{self._columns_name(j)}); pass missing='drop' to drop those rows, or "
                    "impute them"
                )
            warnings.warn(
                f"dropped {int((~keep).sum())} of {arr.shape[0]} rows with missing values",
                UserWarning,
                stacklevel=4,
            )
            arr = arr[keep]
        if arr.shape[0] == 0:
            raise DataError("no rows left to fit")
        return arr, keep

    def _encode(self, X: Any, *, reset: bool) -> tuple[FloatArray, NDArray[np.bool_]]:
        arr, keep = self._rows(X, reset=reset)
        codes, cats = encode_categories(arr, None if reset else self.categories_)
        if reset:
            self.categories_ = cats
        return codes, keep

    def _statistic(
        self, X: Any, sample_weight: ArrayLike | None
    ) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
        """Unique coded rows and their counts; learns ``categories_``.

        Numeric tables are compressed first and their levels named on the
        distinct rows (a few thousand instead of millions).
        """
        arr, keep = self._rows(X, reset=True)
        w = None
        if sample_weight is not None:
            checked = check_sample_weight(sample_weight, keep.shape[0])
            assert checked is not None
            w = checked[keep]
        if arr.dtype.kind in "biuf":
            raw, counts, _ = compress_rows(arr, w)
            used = counts > 0
            raw, counts = raw[used].astype(arr.dtype), counts[used]
            values, cats = _codes_already(raw) or encode_categories(raw, None)
        else:
            codes, cats = encode_categories(arr, None)
            values, counts, _ = compress_rows(codes, w)
            used = counts > 0
            values, counts = values[used], counts[used]
        self.categories_ = cats
        return values, counts, keep

    def _check_columns(self, codes: FloatArray, counts: FloatArray) -> None:
        for j, levels in enumerate(self.categories_):
            if len(levels) < 2:
                raise DataError(
                    f"{self._columns_name(j)} is constant (only level {levels[0]!r}): it carries "
                    "no information about the classes; drop it"
                )
        once = []
        for j in range(codes.shape[1]):
            tally = np.bincount(codes[:, j].astype(np.int64), weights=counts)
            if np.any(tally == 1):
                level = self.categories_[j][int(np.argmax(tally == 1))]
                level = level.item() if isinstance(level, np.generic) else level
                once.append(f"{self._columns_name(j)} level {level!r}")
        if once:
            warnings.warn(
                "levels seen only once (their class probabilities rest on one row): "
                + ", ".join(once[:5])
                + ("" if len(once) <= 5 else f" and {len(once) - 5} more")
                + "; consider merging rare levels",
                UserWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any = None, sample_weight: ArrayLike | None = None) -> ProductMixture:
        """Fit the latent class model.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Integer codes or labels (strings, integers) per column.
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Frequency weights.
        """
        k = check_int(self.n_components, "n_components", low=1)
        if not (isinstance(self.n_init, str) and self.n_init == "auto"):
            check_int(self.n_init, "n_init", low=0 if self.init == "moments" else 1)
        n_triples = check_int(self.n_triples, "n_triples", low=1)
        tol = check_real(self.tol, "tol", low=0.0)
        max_iter = check_int(self.max_iter, "max_iter", low=0)
        for name, value, choices in (
            ("init", self.init, INIT),
            ("refine", self.refine, REFINE),
            ("missing", self.missing, MISSING),
        ):
            if value not in choices:
                raise DataError(f"{name}={value!r} is not valid; choose one of {choices}")
        if self.init == "random" and self.refine is None:
            raise DataError("init='random' starts EM, so it needs refine='em'")
        rng = rng_from(self.random_state)
        values, counts, keep = self._statistic(X, sample_weight)
        self.n_rows_dropped_ = int((~keep).sum())
        self._check_columns(values, counts)
        n_levels = [len(c) for c in self.categories_]
        ident = check_identifiability(n_levels, k)
        self.identifiability_ = ident.condition
        if not ident.ok:
            if not self.allow_unidentified:
                raise IdentifiabilityError(
                    f"{k} classes are not identifiable from these variables ({ident.condition}); "
                    f"the data support at most {ident.max_components} class(es). Lower "
                    "n_components, add variables, or pass allow_unidentified=True to get one "
                    "of many maximum-likelihood solutions"
                )
            warnings.warn(
                f"{k} classes are not identifiable here ({ident.condition}): the fitted "
                "parameters are one maximiser of the likelihood among many, not unique",
                UserWarning,
                stacklevel=2,
            )
        # every product here is skinny (k or k * starts columns): BLAS threads cost more
        # than they save, and on two cores they can triple the time
        with threadpool_limits(limits=1, user_api="blas"):
            self._fit_counts(values, counts, n_levels, k, ident.ok, n_triples, tol, max_iter, rng)
        self.n_samples_ = float(counts.sum())
        self._warn_duplicates()
        return self

    def _fit_counts(
        self,
        values: FloatArray,
        counts: FloatArray,
        n_levels: list[int],
        k: int,
        identified: bool,
        n_triples: int,
        tol: float,
        max_iter: int,
        rng: np.random.Generator,
    ) -> None:
        """Moment step and EM on unique rows with counts; sets the fitted attributes."""
        start = None
        design = RowDesign(values, n_levels, counts)
        self._extra_starts: list[tuple[FloatArray, list[FloatArray]]] = []
        self.views_: list[tuple[tuple[int, ...], ...]] = []
        self.singular_values_ = np.empty(0)
        self.eigengap_ = float("nan")
        if self.init == "moments" and identified:
            start = self._moments(values, counts, n_levels, k, n_triples, rng, design)
        if self.refine is None:
            if start is None:
                raise DataError("refine=None needs the moment step, which could not run here")
            weights, probs = start
            loglik = float(log_likelihoods(values, counts, n_levels, [start], design=design)[0])
            self.converged_, self.n_iter_, self.n_starts_ = True, 0, 0
            self.n_polish_iter_ = 0
            self.restart_log_likelihoods_: list[float] = []
        else:
            cheap = values.shape[0] * sum(n_levels) * k <= CHEAP_WORK
            n_random = self._n_random(cheap, start is None)
            weights, probs, loglik = self._em(
                design, counts, n_levels, k, start, n_random, cheap, tol, max_iter, rng
            )
        order = np.argsort(-weights, kind="stable")
        self.weights_ = check_weights(weights[order])
        self._probs = [p[order] for p in probs]
        if start is not None:
            self.moment_weights_ = start[0][order]
            self.moment_probs_ = self._public([p[order] for p in start[1]])
        self.probs_ = self._public(self._probs)
        self.log_likelihood_ = loglik
        self.misfit_ = pairwise_misfit(design, counts, self.weights_, self._probs)

    def bootstrap(
        self,
        X: Any,
        n_boot: int = 100,
        *,
        sample_weight: ArrayLike | None = None,
        random_state: Any = None,
    ) -> Any:
        """Bootstrap standard errors, a ``ProductBootstrap``.

        See :func:`kmix.estimators.product_bootstrap.bootstrap`.
        """
        from .product_bootstrap import bootstrap

        return bootstrap(self, X, n_boot, sample_weight=sample_weight, random_state=random_state)

    def _encode_drop(self, X: Any) -> tuple[FloatArray, NDArray[np.bool_]]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = self._array(X, reset=False)
            keep: NDArray[np.bool_] = np.asarray(~_missing_mask(arr).any(axis=1))
            codes, _ = encode_categories(arr[keep], self.categories_)
        return codes, keep

    def separation(self) -> FloatArray:
        """``(k, k)`` matrix: largest total-variation distance over items between two classes."""
        check_is_fitted(self, "weights_")
        k = self.weights_.shape[0]
        out = np.zeros((k, k))
        for p in self._probs:
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

    def _moments(
        self,
        values: FloatArray,
        counts: FloatArray,
        n_levels: list[int],
        k: int,
        n_triples: int,
        rng: np.random.Generator,
        design: RowDesign,
    ) -> tuple[FloatArray, list[FloatArray]] | None:
        for guaranteed in (True, False):
            try:
                res = fit_product_mixture(
                    values,
                    counts,
                    n_levels,
                    k,
                    rng=rng,
                    n_triples=n_triples,
                    guaranteed=guaranteed,
                    design=design,
                )
            except IdentifiabilityError:
                continue
            if res.triples:
                best = res.triples[0]
                self.views_ = [(t.views.a, t.views.b, t.views.pivot) for t in res.triples]
                self.singular_values_ = best.singular_values
                self.eigengap_ = best.eigengap
                self.signal_to_noise_ = best.signal_to_noise
            self.moment_out_of_range_ = res.out_of_range
            # the next-best distinct moment candidates become extra EM starts
            self._extra_starts = [(w, p) for w, p, _ in res.candidates[1:MOMENT_STARTS]]
            return res.weights, res.probs
        warnings.warn(
            "the moment step found no views that separate the classes; EM starts at random",
            UserWarning,
            stacklevel=3,
        )
        return None

    def _n_random(self, cheap: bool, no_moments: bool) -> int:
        """Random EM starts: ``n_init``, or the ``"auto"`` rule (see the class docstring)."""
        if not (isinstance(self.n_init, str) and self.n_init == "auto"):
            n = int(self.n_init)
            return n if n > 0 or not no_moments else AUTO_RANDOM_STARTS
        # -1: the moment step's best candidate alone
        return AUTO_RANDOM_STARTS if (cheap or no_moments) else -1

    def _em(
        self,
        design: RowDesign,
        counts: FloatArray,
        n_levels: list[int],
        k: int,
        start: tuple[FloatArray, list[FloatArray]] | None,
        n_random: int,
        cheap: bool,
        tol: float,
        max_iter: int,
        rng: np.random.Generator,
    ) -> tuple[FloatArray, list[FloatArray], float]:
        """Accelerated EM from every start at once; the best log-likelihood wins.

        The winner is finished by quasi-Newton steps where EM is cheap or did
        not settle (:func:`kmix.solvers.latent_class.em.polish_latent_class`).
        """
        starts: list[tuple[FloatArray, list[FloatArray]]] = []
        if start is not None:
            starts = [start, *self._extra_starts] if n_random >= 0 else [start]
        starts += random_starts(n_levels, k, max(n_random, 0), rng)

        def run(group: list[tuple[FloatArray, list[FloatArray]]]) -> list[LatentClassFit]:
            return em_latent_class(
                design.codes, counts, n_levels, group, tol=tol, max_iter=max_iter, design=design
            )

        fits = run(starts)
        # a merged start stopped inside a better start's basin, which went on climbing
        best = max((f for f in fits if not f.merged), key=lambda f: f.log_likelihood)
        misfit = pairwise_misfit(design, counts, best.weights, best.probs)
        if n_random < 0 and misfit > MISFIT_Z:
            # the single moment start ended at a visible misfit (a poor local maximum when k
            # is right): fall back on every moment candidate and random starts
            more = run([*self._extra_starts, *random_starts(n_levels, k, AUTO_RANDOM_STARTS, rng)])
            fits += more
            best = max((f for f in fits if not f.merged), key=lambda f: f.log_likelihood)
        self.restart_log_likelihoods_ = [f.log_likelihood for f in fits]
        self.n_starts_ = len(fits)
        self.n_iter_, self.n_polish_iter_ = best.n_iter, 0
        if cheap or not best.converged:
            # flat likelihoods (few variables, maxima on the boundary) defeat EM's linear
            # rate: a quasi-Newton finish settles them
            polished = polish_latent_class(
                design.codes, counts, n_levels, (best.weights, best.probs), design=design
            )
            if polished.n_iter:
                best = LatentClassFit(
                    polished.weights,
                    polished.probs,
                    polished.log_likelihood,
                    best.converged or polished.converged,
                    best.n_iter,
                )
                self.n_polish_iter_ = polished.n_iter
        self.converged_ = best.converged
        if not best.converged:
            warnings.warn(
                f"EM stopped at max_iter={max_iter} before the log-likelihood settled to "
                f"tol={tol:g}; raise max_iter",
                ConvergenceWarning,
                stacklevel=3,
            )
        return best.weights, best.probs, best.log_likelihood

    def _public(self, probs: list[FloatArray]) -> Any:
        """Binary data: the (k, n) matrix of P(X_j = second level | u); else the list."""
        if all(p.shape[1] == 2 for p in probs):
            return np.stack([p[:, 1] for p in probs], axis=1)
        return [p.copy() for p in probs]

    # ------------------------------------------------------------ inference
    def _log_prob(self, values: FloatArray) -> FloatArray:
        out = np.zeros((values.shape[0], self.weights_.shape[0]))
        with np.errstate(divide="ignore"):
            for j, p in enumerate(self._probs):
                out += np.log(p[:, values[:, j].astype(np.int64)]).T
        return out

    def _row_loglik(self, values: FloatArray) -> FloatArray:
        with np.errstate(divide="ignore"):
            return log_mixture(self._log_prob(values), np.log(self.weights_))[0]

    def _posterior(self, X: Any) -> tuple[FloatArray, FloatArray]:
        check_is_fitted(self, "weights_")
        codes, _ = self._encode(X, reset=False)
        with np.errstate(divide="ignore"):
            return log_mixture(self._log_prob(codes), np.log(self.weights_))

    def score_samples(self, X: Any) -> FloatArray:
        """Log-likelihood of each row."""
        return self._posterior(X)[0]

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-likelihood per row."""
        return float(self.score_samples(X).mean())

    def predict_proba(self, X: Any) -> FloatArray:
        """Posterior class probabilities, shape (n, k)."""
        return np.exp(self._posterior(X)[1])

    def predict(self, X: Any) -> NDArray[np.intp]:
        """Most probable class of each row."""
        return self.predict_proba(X).argmax(axis=1)

    def sample(self, n_samples: int = 1) -> tuple[NDArray[Any], NDArray[np.intp]]:
        """Draw ``(X, classes)``; ``X`` holds the original labels."""
        check_is_fitted(self, "weights_")
        n = check_int(n_samples, "n_samples", low=1)
        rng = rng_from(self.random_state)
        labels = rng.choice(self.weights_.shape[0], size=n, p=self.weights_)
        cols = []
        for p, levels in zip(self._probs, self.categories_, strict=True):
            cum = np.cumsum(p[labels], axis=1)
            draw = (rng.random(n)[:, None] > cum).sum(axis=1)
            cols.append(np.asarray(levels)[np.minimum(draw, p.shape[1] - 1)])
        return np.stack(cols, axis=1), labels.astype(np.intp)

    def n_parameters(self) -> int:
        """``(k - 1) + k * sum_j (d_j - 1)``."""
        k = int(self.weights_.shape[0])
        return (k - 1) + k * sum(len(c) - 1 for c in self.categories_)

    def bic(self, X: Any = None) -> float:
        """``-2 log L + p log N`` (on the training data when X is None)."""
        ll, n = self._total(X)
        return -2.0 * ll + self.n_parameters() * float(np.log(n))

    def aic(self, X: Any = None) -> float:
        """``-2 log L + 2 p``."""
        ll, _ = self._total(X)
        return -2.0 * ll + 2.0 * self.n_parameters()

    def _total(self, X: Any) -> tuple[float, float]:
        check_is_fitted(self, "weights_")
        if X is None:
            return self.log_likelihood_, self.n_samples_
        ll = self.score_samples(X)
        return float(ll.sum()), float(ll.shape[0])

    def class_table(self) -> dict[str, NDArray[Any]]:
        """Tidy columns ``class, variable, level, probability`` (one row per cell).

        ``pandas.DataFrame(model.class_table())`` gives the table as a frame.
        """
        check_is_fitted(self, "weights_")
        names = getattr(self, "feature_names_in_", None)
        cls, var, lev, prob = [], [], [], []
        for j, (p, levels) in enumerate(zip(self._probs, self.categories_, strict=True)):
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

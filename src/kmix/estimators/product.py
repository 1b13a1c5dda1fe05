"""``ProductMixture``: latent class models by the tensor method, refined to the MLE."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..components import get_family
from ..exceptions import DataError, IdentifiabilityError
from ..params import CategoricalParams, check_weights
from ..solvers.em import log_mixture, run_em
from ..solvers.product import check_identifiability, fit_product_mixture
from ..solvers.ranktest import rank_test
from ..stats import compress_rows
from ..stats.tables import joint_table
from ._checks import check_int, check_real, encode_categories, rng_from

__all__ = ["ProductMixture", "select_k_classes"]

FloatArray = NDArray[np.float64]
INIT = ("moments", "random")
REFINE = ("em", None)
MISSING = ("error", "drop")


def _missing_mask(arr: NDArray[Any]) -> NDArray[np.bool_]:
    if arr.dtype == object:
        return np.asarray(arr == None) | np.asarray(arr != arr)  # noqa: E711
    if arr.dtype.kind == "f":
        return np.isnan(arr)
    return np.zeros(arr.shape, dtype=bool)


class ProductMixture(DensityMixin, BaseEstimator):  # type: ignore[misc]
    """Latent class model: discrete variables independent given a hidden class.

    ``P(x) = sum_u pi_u prod_j P(X_j = x_j | u)``. ``fit`` starts from the
    three-view tensor method (:func:`kmix.solvers.product.fit_product_mixture`),
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
    n_init : int, default 1
        EM starts; beyond the first (the moment solution with
        ``init="moments"``) they are random. The best likelihood wins.
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
    identifiability_ : str
        The identifiability condition checked, with its numbers.
    log_likelihood_, converged_, n_iter_ :
        Of the winning EM run.
    n_rows_dropped_ : int
        Rows dropped for missing values.
    """

    def __init__(
        self,
        n_components: int = 2,
        *,
        init: str = "moments",
        refine: str | None = "em",
        n_init: int = 1,
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
        if arr.dtype.kind != "f":
            return
        finite = np.isfinite(arr)
        frac = finite & (arr != np.floor(np.where(finite, arr, 0.0)))
        if np.any(frac):
            i, j = (int(v) for v in np.argwhere(frac)[0])
            raise DataError(
                f"{self._columns_name(j)} holds {arr[i, j].item()!r} at row {i}: latent class "
                "models need integer-coded (or text) categories; recode or bin the column"
            )

    categories_: list[NDArray[Any]]

    def _encode(self, X: Any, *, reset: bool) -> tuple[FloatArray, NDArray[np.bool_]]:
        arr = self._array(X, reset=reset)
        if reset:
            self._check_integer_coded(arr)
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
                stacklevel=3,
            )
            arr = arr[keep]
        if arr.shape[0] == 0:
            raise DataError("no rows left to fit")
        codes, cats = encode_categories(arr, None if reset else self.categories_)
        if reset:
            self.categories_ = cats
        return codes, keep

    def _check_columns(self, codes: FloatArray, counts_rows: FloatArray | None = None) -> None:
        for j, levels in enumerate(self.categories_):
            if len(levels) < 2:
                raise DataError(
                    f"{self._columns_name(j)} is constant (only level {levels[0]!r}): it carries "
                    "no information about the classes; drop it"
                )
        once = []
        for j in range(codes.shape[1]):
            tally = np.bincount(codes[:, j].astype(np.int64))
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
        n_init = check_int(self.n_init, "n_init", low=1)
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
        codes, keep = self._encode(X, reset=True)
        self.n_rows_dropped_ = int((~keep).sum())
        self._check_columns(codes)
        weights_in = None
        if sample_weight is not None:
            weights_in = np.asarray(sample_weight, dtype=np.float64).reshape(-1)[keep]
        values, counts, _ = compress_rows(codes, weights_in)
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
        start = None
        self.views_: list[tuple[tuple[int, ...], ...]] = []
        self.singular_values_ = np.empty(0)
        self.eigengap_ = float("nan")
        if self.init == "moments" and ident.ok:
            start = self._moments(values, counts, n_levels, k, n_triples, rng)
        if self.refine is None:
            if start is None:
                raise DataError("refine=None needs the moment step, which could not run here")
            weights, probs = start
            self.converged_, self.n_iter_ = True, 0
        else:
            weights, probs = self._em(
                values, counts, n_levels, k, start, n_init, tol, max_iter, rng
            )
        order = np.argsort(-weights, kind="stable")
        self.weights_ = check_weights(weights[order])
        self._probs = [p[order] for p in probs]
        if start is not None:
            self.moment_weights_ = start[0][order]
            self.moment_probs_ = self._public([p[order] for p in start[1]])
        self.probs_ = self._public(self._probs)
        self.log_likelihood_ = float(counts @ self._row_loglik(values))
        self.n_samples_ = float(counts.sum())
        return self

    def _moments(
        self,
        values: FloatArray,
        counts: FloatArray,
        n_levels: list[int],
        k: int,
        n_triples: int,
        rng: np.random.Generator,
    ) -> tuple[FloatArray, list[FloatArray]] | None:
        for guaranteed in (True, False):
            try:
                res = fit_product_mixture(
                    values, counts, n_levels, k, rng=rng, n_triples=n_triples, guaranteed=guaranteed
                )
            except IdentifiabilityError:
                continue
            if res.triples:
                best = res.triples[0]
                self.views_ = [(t.views.a, t.views.b, t.views.pivot) for t in res.triples]
                self.singular_values_ = best.singular_values
                self.eigengap_ = best.eigengap
            self.moment_out_of_range_ = res.out_of_range
            return res.weights, res.probs
        warnings.warn(
            "the moment step found no views that separate the classes; EM starts at random",
            UserWarning,
            stacklevel=3,
        )
        return None

    def _em(
        self,
        values: FloatArray,
        counts: FloatArray,
        n_levels: list[int],
        k: int,
        start: tuple[FloatArray, list[FloatArray]] | None,
        n_init: int,
        tol: float,
        max_iter: int,
        rng: np.random.Generator,
    ) -> tuple[FloatArray, list[FloatArray]]:
        family = get_family("categorical")
        prepared = family.prepare(values, n_levels=n_levels)
        best = None
        self.restart_log_likelihoods_ = []
        for r in range(n_init):
            use_start = start is not None and r == 0
            result = run_em(
                family,
                prepared,
                counts,
                k,
                rng=rng,
                weights_init=start[0] if use_start and start is not None else None,
                params_init=CategoricalParams(tuple(start[1]))
                if use_start and start is not None
                else None,
                tol=tol,
                max_iter=max_iter,
                init="random",
            )
            self.restart_log_likelihoods_.append(result.objective)
            if best is None or result.objective > best.objective:
                best = result
        assert best is not None
        self.converged_, self.n_iter_ = best.converged, best.n_iter
        return best.weights, list(best.params.probs)  # type: ignore[attr-defined]

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


def _rank_views(n_levels: list[int], need: int) -> tuple[list[int], list[int]]:
    """Two disjoint small column groups, each with at least ``need`` joint states.

    Small on purpose: the rank test's chi-square limit needs well-filled
    cells, and a 32 x 32 table of 5 + 5 binary items is already too sparse
    at N = 5e4 (its level drifts far above nominal).
    """
    groups: list[list[int]] = [[], []]
    order = sorted(range(len(n_levels)), key=lambda c: n_levels[c])
    pos = 0
    for g in range(2):
        states = 1
        while pos < len(order) and states < need:
            groups[g].append(order[pos])
            states *= n_levels[order[pos]]
            pos += 1
    return sorted(groups[0]), sorted(groups[1])


def select_k_classes(
    X: Any,
    *,
    max_components: int | None = None,
    alpha: float = 0.05,
    sample_weight: ArrayLike | None = None,
    random_state: Any = None,
) -> dict[str, Any]:
    """Number of latent classes from a rank test of ``P(X_A, X_B)``, with BIC beside it.

    Under ``k`` classes the joint table of two disjoint groups of variables
    has rank at most ``k``; the chi-square rank test
    (:func:`kmix.solvers.ranktest.rank_test`; Ratsimalahelo 2001, correct for
    non-square tables) gives a p-value for "rank <= k" for each candidate,
    and BIC is computed for every ``k`` the variables identify.

    Returns
    -------
    dict
        ``table`` (one dict per k: ``k``, ``rank_p_value``, ``log_likelihood``,
        ``bic``), ``rank_k`` (smallest k the test does not reject at
        ``alpha``), ``bic_k`` and ``views`` (the two groups tested).
    """
    probe = ProductMixture(1)
    codes, _ = probe._encode(X, reset=True)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    values, counts, _ = compress_rows(codes, weights)
    n_levels = [len(c) for c in probe.categories_]
    top = check_identifiability(n_levels, 1).max_components
    if max_components is not None:
        top = check_int(max_components, "max_components", low=1)
    a, b = _rank_views(n_levels, top + 1)
    table = joint_table(values, counts, [a, b], n_levels, normalize=False)
    rows: list[dict[str, Any]] = []
    rank_k = None
    bics: dict[int, float] = {}
    for k in range(1, top + 1):
        test = rank_test(table, k)
        row: dict[str, Any] = {"k": k, "rank_p_value": test.p_value}
        if rank_k is None and test.p_value > alpha:
            rank_k = k
        if check_identifiability(n_levels, k).ok:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = ProductMixture(k, random_state=random_state).fit(
                    X, sample_weight=sample_weight
                )
            row.update(log_likelihood=model.log_likelihood_, bic=model.bic())
            bics[k] = model.bic()
        rows.append(row)
    bic_k = min(bics, key=lambda key: bics[key]) if bics else None
    return {"table": rows, "rank_k": rank_k, "bic_k": bic_k, "views": (a, b)}

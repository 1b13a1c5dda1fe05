"""Who belongs to which class: ``ProductMixture.fit(X, covariates=Z)``, a latent class regression.

The class shares follow a multinomial logit in the covariates, class 0 (the
largest) the reference (Dayton & Macready 1988; Bandeen-Roche et al. 1997):
the fit is one-step maximum likelihood (:mod:`kmix.solvers.latent_class.regression`),
started from the measurement model that the latent class fit without
covariates finds (its moment start and EM), with the fitted shares as
intercepts. Numeric covariates enter as they are; a column of text, booleans
or a pandas category becomes one indicator per level but the first (sorted),
named ``column[level]``. A missing covariate is an error that names it, or,
with ``covariate_missing="drop"``, its row is left out and counted.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from ..data import is_source
from ..exceptions import ConvergenceWarning, DataError
from ..params import CategoricalParams, item_view
from ..solvers.em.loop import log_mixture
from ..solvers.latent_class.regression import (
    LCRegressionFit,
    class_shares,
    em_lc_regression,
    lc_regression_covariance,
    lc_regression_posteriors,
)
from ..stats import compress_rows
from ._checks import take_fitted, variant

__all__ = [
    "CovariateDesign",
    "covariate_table",
    "fit_with_covariates",
    "log_class_shares",
    "log_mixture_rows",
]

FloatArray = NDArray[np.float64]
INTERCEPT = "(Intercept)"


def _columns(Z: Any, names: list[str] | None = None) -> tuple[list[str], list[NDArray[Any]]]:
    """Covariate columns by name from a DataFrame, a mapping, or a 1-d or 2-d array."""
    if hasattr(Z, "columns") and hasattr(Z, "iloc"):  # pandas
        return [str(c) for c in Z.columns], [Z[c].to_numpy(dtype=object) for c in Z.columns]
    if isinstance(Z, dict):
        return [str(c) for c in Z], [np.asarray(v, dtype=object) for v in Z.values()]
    arr = np.asarray(Z, dtype=object)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataError(f"covariates must be 1-d or 2-d; got shape {arr.shape}")
    given = names or [f"z{j}" for j in range(arr.shape[1])]
    return given, [arr[:, j] for j in range(arr.shape[1])]


def _missing(cells: NDArray[Any]) -> NDArray[np.bool_]:
    out = np.zeros(cells.shape[0], dtype=bool)
    for i, v in enumerate(cells.tolist()):  # the cells of one column (labels, not rows)
        out[i] = v is None or (isinstance(v, float) and v != v) or str(v) == "<NA>"
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


@dataclass(frozen=True)
class CovariateDesign:
    """How covariates become the columns of the logit: names, and levels of text columns.

    Attributes
    ----------
    columns : list of str
        The covariates as given.
    levels : dict
        Column -> its levels, sorted (the first is the reference, without an
        indicator), for columns that are not numeric.
    terms : list of str
        The logit's columns: ``"(Intercept)"``, numeric columns, and one
        ``"column[level]"`` per other level.
    """

    columns: list[str]
    levels: dict[str, list[Any]]
    terms: list[str]

    @classmethod
    def learn(cls, Z: Any) -> CovariateDesign:
        names, cols = _columns(Z)
        levels: dict[str, list[Any]] = {}
        terms = [INTERCEPT]
        for name, cells in zip(names, cols, strict=True):
            present = [v for v, gap in zip(cells.tolist(), _missing(cells), strict=True) if not gap]
            if all(_is_number(v) for v in present):
                terms.append(name)
                continue
            found = sorted({str(v) for v in present})
            levels[name] = found
            terms += [f"{name}[{lev}]" for lev in found[1:]]
        return cls(names, levels, terms)

    def matrix(self, Z: Any) -> tuple[FloatArray, NDArray[np.bool_], tuple[int, str] | None]:
        """The logit's design (n, p), rows with a missing covariate, and the first one
        (row, column)."""
        names, cols = _columns(Z, self.columns)
        if names != self.columns:
            raise DataError(f"covariates must be the columns {self.columns}; got {names}")
        n = cols[0].shape[0] if cols else 0
        out = [np.ones(n)]
        gaps = np.zeros(n, dtype=bool)
        first: tuple[int, str] | None = None
        for name, cells in zip(names, cols, strict=True):
            gap = _missing(cells)
            if gap.any() and (first is None or int(np.argmax(gap)) < first[0]):
                first = (int(np.argmax(gap)), name)
            gaps |= gap
            if name not in self.levels:
                try:
                    out.append(np.where(gap, 0.0, cells).astype(np.float64))
                except (TypeError, ValueError):
                    raise DataError(
                        f"covariate {name!r} holds a value that is not a number"
                    ) from None
                continue
            text = np.array([str(v) for v in cells.tolist()], dtype=object)
            unknown = sorted(set(text[~gap].tolist()) - set(self.levels[name]))
            if unknown:
                raise DataError(
                    f"covariate {name!r} holds level(s) {unknown[:5]} not seen in fitting; its "
                    f"levels are {self.levels[name]}"
                )
            for lev in self.levels[name][1:]:
                out.append((text == lev).astype(np.float64))
        Zm = np.column_stack(out)
        if not np.all(np.isfinite(Zm[~gaps])):
            raise DataError("covariates must be finite numbers (or missing)")
        return Zm, gaps, first


def _take_rows(X: Any, rows: NDArray[np.intp]) -> Any:
    """Rows of a DataFrame, a mapping of columns or an array."""
    if hasattr(X, "iloc"):
        return X.iloc[rows]
    if isinstance(X, dict):
        return {k: np.asarray(v)[rows] for k, v in X.items()}
    return np.asarray(X)[rows]


def _beta(model: Any) -> FloatArray:
    """``(p, k)`` coefficients, column 0 (the reference class) zero."""
    k = model.weights_.shape[0]
    beta = np.zeros((model.coef_.shape[1], k))
    beta[:, 1:] = model.coef_.T
    return beta


def log_class_shares(model: Any, covariates: Any) -> FloatArray | None:
    """``log pi_u(z_s)`` (n, k) of fitted ``model`` for ``covariates`` (no gaps allowed);
    None for a model fitted without covariates (and given none)."""
    regression = hasattr(model, "coef_")
    if regression and covariates is None:
        raise DataError(
            "this model's class shares depend on covariates: pass covariates= (one row per "
            "row of X)"
        )
    if not regression:
        if covariates is not None:
            raise DataError("this model was fitted without covariates; drop covariates=")
        return None
    Zm, _, first = model.covariate_design_.matrix(covariates)
    if first is not None:
        raise DataError(f"covariate {first[1]!r} is missing at row {first[0]}; impute it")
    with np.errstate(divide="ignore"):
        out: FloatArray = np.log(class_shares(Zm, _beta(model)))
    return out


def log_mixture_rows(log_prob: FloatArray, log_pi: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``(log P(x_s | z_s), log P(u | x_s, z_s))`` from ``log P(x_s | u)`` and per-row
    ``log pi_u(z_s)``, both (n, k)."""
    if log_pi.shape[0] != log_prob.shape[0]:
        raise DataError(f"covariates have {log_pi.shape[0]} rows but X has {log_prob.shape[0]}")
    return log_mixture(log_prob, log_pi)


def fit_with_covariates(model: Any, X: Any, covariates: Any, sample_weight: Any) -> None:
    """Fit ``model`` (a ProductMixture) with class shares regressed on ``covariates``.

    A ProductMixture with the same options is fitted first to the same rows
    without covariates: its measurement model and shares are the start.
    """
    if is_source(X):
        raise DataError(
            "covariates need the rows in memory; read the file into a DataFrame and pass its "
            "item and covariate columns"
        )
    starter = variant(model)
    design = CovariateDesign.learn(covariates)
    Zm, gaps, first = design.matrix(covariates)
    n = Zm.shape[0]
    n_x = len(next(iter(X.values()))) if isinstance(X, dict) and X else len(X)
    if n_x != n:
        raise DataError(f"covariates have {n} rows but X has {n_x}; give one per row")
    rule = str(model.covariate_missing)
    if rule not in ("error", "drop"):
        raise DataError(f"covariate_missing must be 'error' or 'drop'; got {rule!r}")
    if first is not None and rule == "error":
        raise DataError(
            f"covariate {first[1]!r} is missing at row {first[0]} ({int(gaps.sum())} row(s) "
            "with a missing covariate); pass covariate_missing='drop' to leave those rows out, "
            "or impute them"
        )
    keep = np.flatnonzero(~gaps)
    Xk = _take_rows(X, keep) if gaps.any() else X
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)[keep]
    starter.fit(Xk, sample_weight=w)
    take_fitted(model, starter)
    codes, kept = model.encode(Xk)
    z = Zm[keep][kept]
    weights = np.ones(codes.shape[0]) if w is None else w[kept]
    rows, counts, _ = compress_rows(np.column_stack([codes, z]), weights)
    values, z_u = rows[:, : codes.shape[1]].astype(np.int64), rows[:, codes.shape[1] :]
    keep_w = counts > 0
    values, z_u, counts = values[keep_w], z_u[keep_w], counts[keep_w]
    n_levels = [len(c) for c in model.categories_]
    k = starter.weights_.shape[0]
    beta0 = np.zeros((z_u.shape[1], k))
    beta0[0] = np.log(starter.weights_ / starter.weights_[0])
    fit = em_lc_regression(
        values,
        counts,
        z_u,
        n_levels,
        list(starter.params_.probs),
        beta0,
        tol=float(model.tol),
        max_iter=max(int(model.max_iter), 1),
    )
    r = lc_regression_posteriors(values, z_u, n_levels, fit.probs, fit.beta)
    shares = (r * counts[:, None]).sum(axis=0) / counts.sum()
    order = np.argsort(-shares, kind="stable")
    beta = fit.beta[:, order] - fit.beta[:, order[:1]]
    probs = [p[order] for p in fit.probs]
    ordered = LCRegressionFit(
        probs, beta, fit.log_likelihood, fit.converged, fit.n_iter, fit.history
    )
    cov = lc_regression_covariance(
        values, counts, z_u, n_levels, ordered, method=str(model.covariate_se)
    )
    p = z_u.shape[1]
    model.covariate_design_ = design
    model.covariate_terms_ = list(design.terms)
    model.coef_ = beta[:, 1:].T.copy()
    model.coef_cov_ = cov
    model.coef_se_ = np.sqrt(np.maximum(np.diag(cov), 0.0)).reshape(k - 1, p)
    model.weights_ = shares[order]
    model.params_ = CategoricalParams(tuple(probs))
    model.probs_ = item_view(probs)
    model.log_likelihood_ = float(fit.log_likelihood)
    model.converged_, model.n_iter_ = bool(fit.converged), int(fit.n_iter)
    model.log_likelihood_history_ = np.array(fit.history, dtype=np.float64)
    model.n_samples_ = float(counts.sum())
    model.n_covariate_rows_dropped_ = int(gaps.sum())
    model.restart_log_likelihoods_ = [float(fit.log_likelihood)]
    for stale in ("misfit_", "n_polish_iter_"):  # statistics of the fit without covariates
        if hasattr(model, stale):
            delattr(model, stale)
    if not fit.converged:
        warnings.warn(
            f"EM stopped at max_iter={model.max_iter} before the log-likelihood of the "
            "regression settled; raise max_iter",
            ConvergenceWarning,
            stacklevel=3,
        )


def covariate_table(model: Any) -> dict[str, NDArray[Any]]:
    """Coefficients per (class, term): estimate, standard error, Wald z and two-sided p."""
    k_1, p = model.coef_.shape
    coef, se = model.coef_.reshape(-1), model.coef_se_.reshape(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, coef / se, np.nan)
    return {
        "class": np.repeat(np.arange(1, k_1 + 1), p),
        "term": np.asarray(model.covariate_terms_ * k_1, dtype=object),
        "coefficient": coef,
        "std_error": se,
        "z": z,
        "p_value": 2.0 * stats.norm.sf(np.abs(z)),
    }

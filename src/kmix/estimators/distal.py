"""``kmix.distal``: a distal outcome per latent class, by bias-adjusted three-step estimation.

Step 1 is the fitted model (any kmix mixture with ``predict_proba``); step 2
assigns rows to classes; step 3 relates the assignments to the outcome, with
the correction of :mod:`kmix.solvers.latent_class.distal` (BCH weights or
Vermunt's ML) or none (``"modal"``, the naive estimate, biased toward equal
classes by misclassification).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..exceptions import DataError
from ..solvers.latent_class.distal import (
    bch_weights,
    classification_matrix,
    distal_by_weights,
    distal_ml,
    distal_one_step,
    equality_test,
)

__all__ = ["DistalResult", "distal"]

FloatArray = NDArray[np.float64]
METHODS = ("bch", "ml", "modal", "one-step")
#: A numeric outcome with at most this many distinct integer values is read as categorical
CATEGORICAL_LEVELS = 10


@dataclass(frozen=True)
class DistalResult:
    """A distal outcome per class of a fitted model.

    Attributes
    ----------
    estimates : ndarray of shape (k,) or (k, L)
        Mean per class, or the share of each level (``levels``) per class.
    std_errors : ndarray, same shape
    levels : list or None
        The outcome's levels (categorical), in column order.
    method : str
    chi2, df, p_value : float, int, float
        Wald test that every class has the same mean (or level shares).
    classification_error : ndarray of shape (k, k)
        ``D[u, s] = P(assigned s | class u)`` (``"bch"``, ``"ml"``).
    """

    estimates: FloatArray
    std_errors: FloatArray
    levels: list[Any] | None
    method: str
    chi2: float
    df: int
    p_value: float
    classification_error: FloatArray | None = None

    def table(self) -> dict[str, NDArray[Any]]:
        """Tidy columns ``class, level, estimate, std_error`` (level None for a mean)."""
        est = np.atleast_2d(self.estimates.T).T
        se = np.atleast_2d(self.std_errors.T).T
        k, q = est.shape
        levels = self.levels if self.levels is not None else [None]
        return {
            "class": np.repeat(np.arange(k), q),
            "level": np.asarray(levels * k, dtype=object),
            "estimate": est.reshape(-1),
            "std_error": se.reshape(-1),
        }


def _outcome(y: ArrayLike, kind: str) -> tuple[FloatArray, list[Any] | None]:
    """``(values, levels)``: a float outcome, or level codes and the sorted levels."""
    arr = np.asarray(y, dtype=object).reshape(-1)
    gaps = [i for i, v in enumerate(arr.tolist()) if v is None or (isinstance(v, float) and v != v)]
    if gaps:
        raise DataError(
            f"y is missing at row {gaps[0]} ({len(gaps)} row(s)); drop those rows from X and y "
            "or impute y"
        )
    numeric = all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in arr)
    if kind == "auto":
        values = np.asarray(arr, dtype=np.float64) if numeric else None
        few = values is not None and bool(
            np.all(values == np.round(values)) and np.unique(values).size <= CATEGORICAL_LEVELS
        )
        kind = "continuous" if numeric and not few else "categorical"
    if kind == "continuous":
        if not numeric:
            raise DataError("a continuous y must hold numbers; pass kind='categorical'")
        return np.asarray(arr, dtype=np.float64), None
    if kind != "categorical":
        raise DataError(f"kind must be 'auto', 'continuous' or 'categorical'; got {kind!r}")
    labels = [str(v) if not numeric else v for v in arr.tolist()]
    levels = sorted(set(labels))
    lookup = {v: j for j, v in enumerate(levels)}
    return np.asarray([lookup[v] for v in labels], dtype=np.float64), levels


def distal(
    model: Any,
    X: Any,
    y: ArrayLike,
    *,
    method: str = "bch",
    kind: str = "auto",
    sample_weight: ArrayLike | None = None,
    **data: Any,
) -> DistalResult:
    """A distal outcome's mean (or level shares) per class of a fitted model, three-step.

    Parameters
    ----------
    model : fitted kmix mixture
        Its ``predict_proba(X, **data)`` gives the step-1 posteriors.
    X : array-like
        The rows the model reads (the items), one per row of ``y``.
    y : array-like of shape (n,)
        The outcome. ``kind="auto"`` reads numbers with more than
        :data:`CATEGORICAL_LEVELS` distinct values (or fractions) as
        continuous, anything else as categorical.
    method : {"bch", "ml", "modal", "one-step"}
        The correction for misclassification (see
        :mod:`kmix.solvers.latent_class.distal`), none, or the one-step joint
        model (a ProductMixture without covariates: the outcome joins the
        items and the model is refitted from the fitted one).
    sample_weight : array-like, optional
        Frequency weights of the rows.
    **data
        The model's data keywords (``covariates=``, ``n_trials=``).

    Returns
    -------
    DistalResult
    """
    if method not in METHODS:
        raise DataError(f"method must be one of {METHODS}; got {method!r}")
    values, levels = _outcome(y, kind)
    if method == "one-step":
        return _one_step(model, X, values, levels, sample_weight, data)
    post = np.asarray(model.predict_proba(X, **data), dtype=np.float64)
    n, k = post.shape
    if values.shape[0] != n:
        raise DataError(f"y has {values.shape[0]} rows but X has {n}")
    counts = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    modal = np.argmax(post, axis=1)
    hard = np.zeros((n, k))
    hard[np.arange(n), modal] = 1.0
    D = classification_matrix(post, hard, counts)
    if method == "ml":
        est = distal_ml(
            values, modal, D, counts, categorical=levels is not None,
            n_levels=0 if levels is None else len(levels),
        )  # fmt: skip
    else:
        weights = hard if method == "modal" else bch_weights(hard, D)
        if levels is None:
            Y = values[:, None]
        else:
            Y = np.zeros((n, len(levels)))
            Y[np.arange(n), values.astype(np.intp)] = 1.0
        est = distal_by_weights(Y, weights, counts, method)
    chi2, df, p = equality_test(est)
    return DistalResult(
        est.estimates, est.std_errors, levels, method, chi2, df, p,
        None if method == "modal" else D,
    )  # fmt: skip


def _one_step(
    model: Any,
    X: Any,
    values: FloatArray,
    levels: list[Any] | None,
    sample_weight: ArrayLike | None,
    data: dict[str, Any],
) -> DistalResult:
    """The one-step joint model from a fitted ProductMixture's items and shares."""
    if not hasattr(model, "categories_") or not hasattr(model, "encode") or data:
        raise DataError(
            "method='one-step' refits a ProductMixture without covariates with the outcome "
            "as one more indicator; use 'bch' or 'ml' for other models"
        )
    if hasattr(model, "coef_"):
        raise DataError("method='one-step' needs a ProductMixture fitted without covariates")
    codes, kept = model.encode(X)
    if values.shape[0] != kept.shape[0]:
        raise DataError(f"y has {values.shape[0]} rows but X has {kept.shape[0]}")
    counts = np.ones(kept.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    est, _, _ = distal_one_step(
        np.asarray(codes, dtype=np.int64),
        counts[kept],
        values[kept],
        [len(c) for c in model.categories_],
        list(model.params_.probs),
        model.weights_,
        categorical=levels is not None,
        n_y_levels=0 if levels is None else len(levels),
    )
    chi2, df, p = equality_test(est)
    return DistalResult(est.estimates, est.std_errors, levels, "one-step", chi2, df, p)

"""What :class:`~kmix.FiniteMixture` reads: array checks, categorical codes, missing cells.

And the starting or fixed values it is given (``fixed_params``, ``fixed_weights``,
``params_init``, ``weights_init``), checked against the family and the data.

Missing cells (NaN, None, pandas' ``NA``; :func:`kmix.data.read_table` reads
an empty CSV field as one) follow the ``missing`` option:

* ``"fiml"``: full-information maximum likelihood. Every row keeps its
  observed cells and the likelihood integrates the missing ones out (Little &
  Rubin, *Statistical Analysis with Missing Data*, 2nd ed., 2002, ch. 6-8).
  The estimate is consistent when the values are missing at random: whether a
  cell is missing may depend on the row's observed cells, not on the missing
  value itself. A row without any observed cell has likelihood 1: it is
  counted in ``n_samples_`` and left out of EM, with one warning;
* ``"drop"``: listwise deletion of the rows with a missing cell, with a
  warning (consistent only when the values are missing completely at random);
* ``"error"``: a missing cell is an error naming it.

A column without any observed value (among the rows of positive weight) is an
error naming it under ``"fiml"`` and ``"drop"``. Infinite values are never
missing values: they are refused.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray
from sklearn.utils.validation import validate_data

from ..components import Family
from ..exceptions import DataError
from ..params import ComponentParams, check_weights
from ..stats import compress_rows
from ._checks import (
    check_level_counts,
    check_sample_weight,
    encode_categories,
    first_text_cell,
    missing_cells,
    plain,
)

__all__ = ["FiniteRows", "column_name", "read_rows", "starting_values", "unique_rows"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class FiniteRows:
    """The validated rows of ``X`` and what the missing-value policy made of them.

    Attributes
    ----------
    values : ndarray
        Categorical family: codes of the kept rows; otherwise every row of
        ``X`` (as numbers). Missing cells are NaN.
    weights : ndarray or None
        Weights of the kept rows (None: every row has weight 1).
    rows : ndarray of intp or None
        Positions in ``X`` of the kept rows (None: every row, in order):
        the rows of positive weight, without those dropped by ``"drop"``.
    blank : ndarray of bool
        Per kept row: no cell observed.
    n_missing : ndarray of int64, shape (n_features,)
        Cells missing per column among the rows of positive weight.
    n_dropped : int
        Rows of positive weight dropped by ``missing="drop"``.
    categories : list of ndarray or None
        Categorical family: the levels of each column.
    """

    values: NDArray[Any]
    weights: FloatArray | None
    rows: NDArray[np.intp] | None
    blank: NDArray[np.bool_]
    n_missing: NDArray[np.int64]
    n_dropped: int
    categories: list[NDArray[Any]] | None


def column_name(model: Any, j: int) -> str:
    """``"column j"``, with the column's name when ``model`` saw a DataFrame."""
    names = getattr(model, "feature_names_in_", None)
    return f"column {j} ({names[j]!r})" if names is not None else f"column {j}"


def _as_array(model: Any, X: Any, *, reset: bool, family: Family) -> NDArray[Any]:
    """scikit-learn's checks of shape and numbers; missing cells come back as NaN (or None)."""
    categorical = family.name == "categorical"
    kwargs: dict[str, Any] = {
        "reset": reset,
        "dtype": None if categorical else "numeric",
        "ensure_all_finite": False,
        "ensure_min_samples": 1,
    }
    try:
        return np.asarray(validate_data(model, X, **kwargs))
    except (TypeError, ValueError) as exc:
        # missing markers without a float value (pandas' NA, empty text) among numbers:
        # read them as NaN and check again
        cells = np.asarray(X, dtype=object)
        gaps = missing_cells(cells, infinite=False) if cells.ndim == 2 else None
        if categorical or gaps is None or not gaps.any():
            if isinstance(exc, TypeError):
                raise
            _refuse_text(X, family, exc)
        if hasattr(X, "columns") and hasattr(X, "mask"):  # a DataFrame keeps its names
            cleaned = X.mask(gaps)
        else:
            cleaned = cells
            cleaned[gaps] = np.nan
        try:
            return np.asarray(validate_data(model, cleaned, **kwargs))
        except ValueError as again:
            _refuse_text(X, family, again)


def _refuse_text(X: Any, family: Family, exc: Exception) -> NoReturn:
    """A DataError naming the first text cell, or scikit-learn's message."""
    text = None if family.name == "categorical" else first_text_cell(X)
    if text is not None:
        (i, j), value = text
        raise DataError(
            f"X[{i}, {j}] = {value!r} is text but the {family.name} family needs "
            "numbers; use family='categorical' or recode the column"
        ) from None
    raise DataError(str(exc)) from None


def _refuse_missing(model: Any, X: NDArray[Any], gaps: NDArray[np.bool_], fitted: bool) -> None:
    i, j = (int(v) for v in np.argwhere(gaps)[0])
    how = "this model was fitted with missing='error'; refit with" if fitted else "pass"
    raise DataError(
        f"X[{i}, {j}] ({column_name(model, j)}) is a missing value ({plain(X[i, j])!r}: NaN, "
        f"None or pandas NA; {int(gaps.any(axis=1).sum())} row(s) have one); {how} "
        "missing='fiml' to use every row's observed cells (full-information maximum "
        "likelihood, for values missing at random) or missing='drop' to leave those rows "
        "out, or impute them"
    )


def _codes(
    arr: NDArray[Any],
    gaps: NDArray[np.bool_],
    categories: list[NDArray[Any]] | None,
    rows: NDArray[np.intp] | None,
) -> tuple[FloatArray, list[NDArray[Any]]]:
    """Categorical codes with NaN in the missing cells.

    A missing cell is first given a level its column already holds (an
    observed value of a kept row, or the first fitted level), so that it adds
    no level and passes the coder, and then set to NaN.
    """
    if not gaps.any():
        return encode_categories(arr, categories, rows=rows)
    filled = arr.copy()
    kept = np.ones(arr.shape[0], dtype=bool)
    if rows is not None:
        kept[:] = False
        kept[rows] = True
    for j in np.flatnonzero(gaps.any(axis=0)):  # loop over columns with gaps
        if categories is None:
            stand_in = arr[int(np.flatnonzero(~gaps[:, j] & kept)[0]), j]
        else:
            stand_in = categories[j][0]
        filled[gaps[:, j], j] = stand_in
    codes, levels = encode_categories(filled, categories, rows=rows)
    codes[gaps if rows is None else gaps[rows]] = np.nan
    return codes, levels


def _missing_or_infinite(arr: NDArray[Any]) -> NDArray[np.bool_]:
    """:func:`missing_cells` of ``arr`` (inf included), sparing complete object tables a scan.

    An object table is first reduced to its distinct cells (hashing is fast;
    judging every cell in Python is not): only when one of them is missing or
    infinite are the cells judged one by one.
    """
    if arr.dtype == object:
        try:
            distinct = list(set(arr.ravel().tolist()))
        except TypeError:  # unhashable cells: judge them all
            return missing_cells(arr)
        probe = np.empty((1, len(distinct)), dtype=object)
        probe[0, :] = distinct
        if not missing_cells(probe).any():
            return np.zeros(arr.shape, dtype=bool)
    return missing_cells(arr)


def _refuse_infinite(model: Any, arr: NDArray[Any], inf: NDArray[np.bool_]) -> None:
    if inf.any():
        i, j = (int(v) for v in np.argwhere(inf)[0])
        raise DataError(
            f"X[{i}, {j}] ({column_name(model, j)}) = {plain(arr[i, j])!r}: infinite values "
            f"({int(inf.sum())} cells) are neither data nor missing values (NaN marks a "
            "missing value); remove those rows or recode the cells"
        )


def read_rows(
    model: Any,
    X: Any,
    *,
    reset: bool,
    family: Family,
    missing: str,
    sample_weight: Any = None,
    categories: list[NDArray[Any]] | None = None,
) -> FiniteRows:
    """Checked rows of ``X``, with categorical codes and the missing-value policy applied.

    With ``sample_weight`` the weights are checked and the rows of weight 0
    left out before categorical levels are learned; they still pass the
    array-level checks. ``reset`` (fit) learns categorical levels and the
    feature names; otherwise ``categories`` are the fitted levels and no row is
    dropped (``"drop"`` concerns the fit: rows to score keep their observed
    cells).
    """
    arr = _as_array(model, X, reset=reset, family=family)
    categorical = family.name == "categorical"
    weights = check_sample_weight(sample_weight, arr.shape[0])
    if not categorical and not (arr.dtype.kind in "biu" and family.discrete):
        # (integers are finite; the unique-row coder takes them as they are)
        arr = np.asarray(arr, dtype=np.float64)
    bad = _missing_or_infinite(arr)
    gaps = missing_cells(arr, infinite=False) if bad.any() else bad
    _refuse_infinite(model, arr, bad & ~gaps)
    positive = np.ones(arr.shape[0], dtype=bool) if weights is None else weights > 0
    n_missing = gaps[positive].sum(axis=0).astype(np.int64)
    n_dropped = 0
    if gaps.any():
        if missing == "error":
            _refuse_missing(model, arr, gaps, fitted=not reset)
        if reset:
            empty = gaps[positive].all(axis=0)
            if empty.any():
                j = int(np.flatnonzero(empty)[0])
                raise DataError(
                    f"{column_name(model, j)} of X has no observed value (every one of its "
                    f"{int(positive.sum())} rows with positive weight is missing), so nothing "
                    "can be learned about it; drop the column"
                )
        if reset and missing == "drop":
            incomplete = positive & gaps.any(axis=1)
            n_dropped = int(incomplete.sum())
            if n_dropped == int(positive.sum()):
                raise DataError(
                    "every row of X with positive weight has a missing value, so "
                    "missing='drop' leaves no row to fit; pass missing='fiml' to use their "
                    "observed cells"
                )
            warnings.warn(
                f"missing='drop' dropped {n_dropped} of {int(positive.sum())} rows with missing "
                "values (listwise deletion); missing='fiml' keeps their observed cells",
                UserWarning,
                stacklevel=4,
            )
            positive = positive & ~incomplete
    rows = None if positive.all() else np.flatnonzero(positive).astype(np.intp)
    if weights is not None and rows is not None:
        weights = weights[rows]
    learned = None
    if categorical:
        arr, learned = _codes(arr, gaps, categories, rows)
        if reset:
            names = [column_name(model, j) for j in range(len(learned))]
            check_level_counts(learned, float(arr.shape[0]), names)
    kept_gaps = gaps if rows is None else gaps[rows]
    blank: NDArray[np.bool_] = np.asarray(kept_gaps.all(axis=1), dtype=bool)
    if reset and missing == "fiml" and blank.any():
        first = int(np.flatnonzero(blank)[0])
        first = first if rows is None else int(rows[first])
        warnings.warn(
            f"{int(blank.sum())} row(s) of X have every value missing (first: row {first}); "
            "they carry no information, are left out of EM and add 0 to the log-likelihood "
            "(they count in n_samples_)",
            UserWarning,
            stacklevel=4,
        )
    return FiniteRows(arr, weights, rows, blank, n_missing, n_dropped, learned)


def unique_rows(
    table: FloatArray, weights: FloatArray | None, discrete: bool
) -> tuple[FloatArray, FloatArray, NDArray[np.intp]]:
    """``(values, counts, inverse)``: distinct rows of discrete data, every row otherwise.

    A missing cell (NaN) is its own code, so rows with the same gaps and the
    same observed values collapse into one; complete data take the plain
    unique-row coder.
    """
    if not discrete:
        n = table.shape[0]
        return table, (np.ones(n) if weights is None else weights), np.arange(n, dtype=np.intp)
    gaps = np.isnan(table)
    if not gaps.any():
        return compress_rows(table, weights)
    values, counts, inverse = compress_rows(np.where(gaps, 0.0, table + 1.0), weights)
    return np.where(values == 0.0, np.nan, values - 1.0), counts, inverse


def _weights_arg(value: Any, name: str, k: int) -> FloatArray | None:
    if value is None:
        return None
    try:
        return check_weights(value, k)
    except DataError as exc:
        raise DataError(f"{name}: {exc}") from None


def _params_arg(
    model: Any, value: Any, name: str, family: Family, k: int, ctx: dict[str, Any]
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
        return family.params_from_dict(data, k, model.n_features_in_, **ctx)
    except DataError as exc:
        raise DataError(f"{name}: {exc}") from None


def starting_values(
    model: Any, family: Family, k: int, ctx: dict[str, Any]
) -> tuple[ComponentParams | None, FloatArray | None, ComponentParams | None, Any]:
    """``(fixed_params, fixed_weights, params_init, weights_init)`` of ``model``, validated."""
    fixed_params = _params_arg(model, model.fixed_params, "fixed_params", family, k, ctx)
    fixed_weights = _weights_arg(model.fixed_weights, "fixed_weights", k)
    if fixed_params is not None and fixed_weights is not None:
        raise DataError(
            "fixed_params and fixed_weights are both given, so nothing is left to "
            "learn; drop one of them"
        )
    for fixed, start in (("fixed_params", "params_init"), ("fixed_weights", "weights_init")):
        if getattr(model, fixed) is not None and getattr(model, start) is not None:
            raise DataError(f"{start} has no use when {fixed} is given; drop {start}")
    if fixed_weights is not None and np.any(fixed_weights == 0):
        u = int(np.flatnonzero(fixed_weights == 0)[0])
        raise DataError(
            f"fixed_weights[{u}] = 0: a component with weight 0 has nothing to learn "
            "from; drop it and lower n_components"
        )
    params_init = fixed_params
    if params_init is None:
        params_init = _params_arg(model, model.params_init, "params_init", family, k, ctx)
    weights_init = fixed_weights
    if weights_init is None:
        weights_init = _weights_arg(model.weights_init, "weights_init", k)
    return fixed_params, fixed_weights, params_init, weights_init

"""Validation helpers shared by the estimators (run in ``fit``, never ``__init__``)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError

__all__ = [
    "check_finite",
    "check_int",
    "check_real",
    "check_sample_weight",
    "encode_categories",
    "first_fractional_cell",
    "first_missing_cell",
    "first_text_cell",
    "rng_from",
]


def check_int(value: Any, name: str, *, low: int, high: int | None = None) -> int:
    """An integer option within ``[low, high]``; DataError naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise DataError(f"{name} must be an integer; got {value!r}")
    v = int(value)
    if v < low or (high is not None and v > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise DataError(f"{name} must be {bound}; got {v}")
    return v


def check_real(value: Any, name: str, *, low: float, strict: bool = False) -> float:
    """A finite real option ``> low`` (strict) or ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DataError(f"{name} must be a number; got {value!r}")
    v = float(value)
    if not np.isfinite(v) or v < low or (strict and v == low):
        op = ">" if strict else ">="
        raise DataError(f"{name} must be a finite number {op} {low}; got {value!r}")
    return v


def check_finite(X: NDArray[np.float64], name: str = "X") -> None:
    """Raise a DataError naming the first NaN or inf entry of ``X``."""
    finite = np.isfinite(X)
    if not finite.all():
        i, j = (int(v) for v in np.argwhere(~finite)[0])
        n_bad = int((~finite).sum())
        raise DataError(
            f"{name} contains NaN or inf ({n_bad} entries; first at row {i}, column {j}: "
            f"{float(X[i, j])!r}); remove or impute them before fitting"
        )


def first_fractional_cell(arr: NDArray[Any]) -> tuple[int, int] | None:
    """``(row, column)`` of the first finite non-integer float, or None (codes must be whole)."""
    if arr.dtype.kind != "f":
        return None
    finite = np.isfinite(arr)
    frac = finite & (arr != np.floor(np.where(finite, arr, 0.0)))
    if not np.any(frac):
        return None
    i, j = (int(v) for v in np.argwhere(frac)[0])
    return i, j


def first_missing_cell(arr: NDArray[Any]) -> tuple[int, int] | None:
    """``(row, column)`` of the first NaN, None or infinite cell of a 2-d array, or None."""
    bad = np.stack([_missing(arr[:, j]) for j in range(arr.shape[1])], axis=1)
    if arr.shape[1] == 0 or not np.any(bad):
        return None
    i, j = (int(v) for v in np.argwhere(bad)[0])
    return i, j


def first_text_cell(X: Any) -> tuple[tuple[int, int], Any] | None:
    """Position and value of the first cell that is not a number (error path only)."""
    arr = np.asarray(X, dtype=object)
    if arr.ndim != 2:
        return None
    for j in range(arr.shape[1]):  # columns; the row scan runs only once an error is certain
        try:
            arr[:, j].astype(np.float64)
        except (TypeError, ValueError):
            for i, value in enumerate(arr[:, j].tolist()):
                if isinstance(value, (str, bytes)):
                    try:
                        float(value)
                    except ValueError:
                        return (i, j), value
    return None


def rng_from(random_state: Any) -> np.random.Generator:
    """A numpy Generator from ``None``, an int, a Generator or a RandomState."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, numbers.Integral):
        return np.random.default_rng(int(random_state))
    raise DataError(f"random_state must be None, an int or a numpy Generator; got {random_state!r}")


def check_sample_weight(sample_weight: Any, n_rows: int) -> NDArray[np.float64] | None:
    """Frequency weights: 1-d, one per row, finite, non-negative, positive finite total."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim != 1:
        raise DataError(f"sample_weight must be 1-d with one weight per row; got shape {w.shape}")
    if w.shape[0] != n_rows:
        raise DataError(f"sample_weight has {w.shape[0]} entries but X has {n_rows} rows")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"sample_weight[{i}] = {float(w[i])!r}; weights must be finite and non-negative"
        )
    total = float(w.sum())
    if total <= 0:
        raise DataError(
            "sample_weight: all weights are zero; at least one row needs positive weight"
        )
    if not np.isfinite(total) or total < 1e-250:
        raise DataError(
            f"sample_weight sums to {total!r}, outside the range EM can work with; "
            "rescale the weights (only their ratios matter without smoothing)"
        )
    return w


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for readable messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _missing(col: NDArray[Any]) -> NDArray[np.bool_]:
    if col.dtype == object:
        # None, or NaN (the one value unequal to itself); elementwise in C
        return np.asarray(col == None) | np.asarray(col != col)  # noqa: E711
    if col.dtype.kind == "f":
        return ~np.isfinite(col)
    return np.zeros(col.shape, dtype=bool)


def _levels(col: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """Sorted distinct values and the code of each entry (``np.unique`` semantics).

    Integer columns with a small range are counted in one pass instead of sorted.
    """
    if col.dtype.kind in "biu" and col.size:
        lo, hi = int(col.min()), int(col.max())
        info = np.iinfo(np.intp)
        # labels beyond intp (uint64 from 2**63 on) would wrap in the cast: sort them
        if info.min <= lo and hi <= info.max and hi - lo < max(1 << 16, 4 * col.size):
            shifted = col.astype(np.intp) - lo
            present = np.bincount(shifted, minlength=hi - lo + 1) > 0
            lookup = np.cumsum(present) - 1
            return (np.flatnonzero(present) + lo).astype(col.dtype), lookup[shifted]
    levels, inverse = np.unique(col, return_inverse=True)
    return levels, inverse.reshape(-1)


def encode_categories(
    arr: NDArray[Any],
    categories: list[NDArray[Any]] | None,
    *,
    rows: NDArray[np.intp] | None = None,
) -> tuple[NDArray[np.float64], list[NDArray[Any]]]:
    """Integer codes of each column's labels.

    With ``categories=None`` the levels of each column are learned (sorted
    unique values); otherwise the given levels are used and an unseen label is
    an error naming its row and column. With ``rows`` (positions, e.g. of the
    rows of positive sample weight) only those rows are coded and define the
    levels; every row is still checked for missing values.
    """
    n_out = arr.shape[0] if rows is None else rows.shape[0]
    codes = np.empty((n_out, arr.shape[1]), dtype=np.float64)
    learned: list[NDArray[Any]] = []
    for j in range(arr.shape[1]):  # loop over columns; rows are vectorised
        col = arr[:, j]
        missing = _missing(col)
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise DataError(
                f"X contains missing or infinite values (NaN, None or inf) in column {j} "
                f"(first at row {i}: {_plain(col[i])!r}); remove or impute them before fitting"
            )
        if rows is not None:
            col = col[rows]
        try:
            if categories is None:
                levels, inverse = _levels(col)
                learned.append(levels)
                codes[:, j] = inverse
                continue
            levels = categories[j]
            pos = np.clip(np.searchsorted(levels, col), 0, len(levels) - 1)
            unseen = levels[pos] != col
        except TypeError:
            kinds = sorted({type(_plain(v)).__name__ for v in col[: min(len(col), 1000)]})
            seen = "" if categories is None else f" (fit saw {categories[j].dtype} levels)"
            raise DataError(
                f"column {j} of X mixes or changes value types ({', '.join(kinds)}){seen}; "
                "give each column labels of one type, e.g. all strings"
            ) from None
        if np.any(unseen):
            i = int(np.flatnonzero(unseen)[0])
            value, i = col[i], (i if rows is None else int(rows[i]))
            raise DataError(
                f"X[{i}, {j}] = {_plain(value)!r} is a level not seen in fit "
                f"(column {j} has levels {levels.tolist()}); refit with it included"
            )
        codes[:, j] = pos
    return codes, learned if categories is None else categories

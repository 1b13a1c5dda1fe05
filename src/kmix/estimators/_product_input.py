"""The rows a latent class model reads: validation, missing values, level codes, unique rows.

Missing values (NaN, None, ``pd.NA``, empty text) are handled by
``ProductMixture.missing``:

* ``"fiml"``: a missing cell is coded ``-1`` and its row keeps every observed
  answer, the full-information likelihood of Little & Rubin ("Statistical
  Analysis with Missing Data", 2nd ed., 2002), valid when values are missing
  at random; a row with no answer at all carries no information and is left
  out (counted);
* ``"drop"``: rows with any missing cell are left out (counted);
* ``"error"``: a missing cell is an error naming it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError
from ..stats import compress_rows, count_rows
from ._checks import (
    check_level_counts,
    encode_categories,
    first_fractional_cell,
    missing_cells,
    plain,
)

__all__ = ["MISSING", "Rows", "check_columns", "read_rows", "unique_rows"]

FloatArray = NDArray[np.float64]
#: The code of a missing cell in the latent class solvers
MISSING = -1.0


@dataclass
class Rows:
    """Validated rows and what happened to the input's rows.

    ``arr`` holds the rows kept; ``keep`` marks them among the input rows;
    ``missing`` marks their missing cells (None when there are none);
    ``n_missing`` counts the missing cells of every column over all input rows.
    """

    arr: NDArray[Any]
    keep: NDArray[np.bool_]
    missing: NDArray[np.bool_] | None
    n_missing: NDArray[np.int64]


def read_rows(
    arr: NDArray[Any],
    *,
    mode: str,
    name: Callable[[int], str],
    fitting: bool,
    stacklevel: int = 4,
) -> Rows:
    """Apply the missing-value rule ``mode`` ("fiml", "drop", "error") to validated rows."""
    if arr.dtype.kind == "f" and np.isinf(arr).any():
        i, j = (int(v) for v in np.argwhere(np.isinf(arr))[0])
        raise DataError(
            f"{name(j)} holds {arr[i, j].item()!r} at row {i}: inf is not a "
            "level (NaN marks a missing value); recode the column"
        )
    n_rows, n_cols = arr.shape
    if arr.dtype.kind in "biu":  # integer tables hold neither gaps nor fractions
        return Rows(arr, np.ones(n_rows, dtype=bool), None, np.zeros(n_cols, dtype=np.int64))
    miss = missing_cells(arr, infinite=False)
    n_missing = miss.sum(axis=0).astype(np.int64)
    if fitting:
        bad = first_fractional_cell(arr)  # (a missing cell is no fraction)
        if bad is not None:
            i, j = bad
            raise DataError(
                f"{name(j)} holds {arr[i, j].item()!r} at row {i}: latent class "
                "models need integer-coded (or text) categories; recode or bin the column"
            )
    if not miss.any():
        return Rows(arr, np.ones(n_rows, dtype=bool), None, n_missing)
    i, j = (int(v) for v in np.argwhere(miss)[0])
    gappy = miss.any(axis=1)
    if mode == "error":
        raise DataError(
            f"X has missing values (NaN, None or empty) in {int(gappy.sum())} row(s) (first at "
            f"row {i}, {name(j)}); pass missing='fiml' to fit every observed answer (values "
            "missing at random), missing='drop' to drop those rows, or impute them"
        )
    if fitting:
        for col in np.flatnonzero(n_missing == n_rows).tolist():
            raise DataError(
                f"{name(col)} has no observed value in {n_rows} rows: it carries no "
                "information; drop the column"
            )
    keep: NDArray[np.bool_]
    if not fitting:
        # scores and predictions: one per row, from each row's observed items
        keep = np.ones(n_rows, dtype=bool)
    elif mode == "drop":
        keep = np.asarray(~gappy, dtype=bool)
        warnings.warn(
            f"dropped {int(gappy.sum())} of {n_rows} rows with missing values "
            "(missing='fiml' would use their observed answers)",
            UserWarning,
            stacklevel=stacklevel,
        )
    else:
        keep = np.asarray(~miss.all(axis=1), dtype=bool)
        if not keep.all():
            warnings.warn(
                f"{int((~keep).sum())} of {n_rows} rows have no observed value: they carry "
                "no information and are left out",
                UserWarning,
                stacklevel=stacklevel,
            )
    if not keep.any():
        raise DataError("no rows left to fit: every row has a missing value")
    kept_miss = miss[keep]
    return Rows(arr[keep], keep, kept_miss if kept_miss.any() else None, n_missing)


def _codes_already(raw: NDArray[Any]) -> tuple[FloatArray, list[NDArray[Any]]] | None:
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


def unique_rows(
    rows: Rows, weights: FloatArray | None
) -> tuple[FloatArray, FloatArray, list[NDArray[Any]]]:
    """Unique coded rows (``-1`` where missing), their counts, and each column's levels.

    Complete numeric tables are compressed first and their levels named on
    the distinct rows (a few thousand instead of millions).
    """
    arr = rows.arr
    if rows.missing is None and arr.dtype.kind in "biuf":
        raw, counts = count_rows(arr, weights)
        used = counts > 0
        raw, counts = raw[used].astype(arr.dtype), counts[used]
        values, cats = _codes_already(raw) or encode_categories(raw, None)
        return values, counts, cats
    codes, cats = encode_categories(arr, None, missing_code=MISSING)
    # shifted so that the missing code is 0 and every code a non-negative integer
    values, counts, _ = compress_rows(codes - MISSING, weights)
    used = counts > 0
    return values[used] + MISSING, counts[used], cats


def check_columns(
    categories: list[NDArray[Any]],
    codes: FloatArray,
    counts: FloatArray,
    name: Callable[[int], str],
    stacklevel: int = 4,
) -> None:
    """Refuse constant columns and identifiers; warn of levels seen only once."""
    for j, levels in enumerate(categories):
        if len(levels) < 2:
            raise DataError(
                f"{name(j)} is constant (only level {plain(levels[0])!r}"
                f"{' among its observed values' if np.any(codes[:, j] < 0) else ''}): "
                "it carries no information about the classes; drop it"
            )
    names = [name(j) for j in range(len(categories))]
    check_level_counts(categories, float(counts.sum()), names)
    once = []
    for j in range(codes.shape[1]):
        seen = codes[:, j] >= 0
        tally = np.bincount(codes[seen, j].astype(np.int64), weights=counts[seen])
        if np.any(tally == 1):
            level = categories[j][int(np.argmax(tally == 1))]
            once.append(f"{name(j)} level {plain(level)!r}")
    if once:
        warnings.warn(
            "levels seen only once (their class probabilities rest on one row): "
            + ", ".join(once[:5])
            + ("" if len(once) <= 5 else f" and {len(once) - 5} more")
            + "; consider merging rare levels",
            UserWarning,
            stacklevel=stacklevel,
        )

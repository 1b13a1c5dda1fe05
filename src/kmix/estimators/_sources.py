"""Rows that are not an in-memory array: files, globs, Arrow tables, polars and Dask frames.

Such data are read once, in a streamed (or distributed) pass that counts the
distinct rows of labels (:func:`kmix.data.tally`); the estimator then fits
those rows with their counts as frequency weights, which is the fit of the raw
rows: every kmix likelihood of discrete data depends on the rows only through
these counts. The statistic is exact and does not depend on chunking.

The missing-value rule is applied here, on the counts, so that messages and
``n_rows_dropped_`` count rows read, not distinct rows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..data import as_source, is_source, tally
from ..exceptions import DataError

__all__ = ["SourceRows", "source_rows"]


@dataclass(frozen=True)
class SourceRows:
    """Distinct rows of a source (missing rule applied), their counts, names, rows dropped,
    and the missing cells of each column among the rows read."""

    values: NDArray[Any]
    counts: NDArray[np.float64]
    columns: list[str]
    n_dropped: int
    n_missing: NDArray[np.int64]


def source_rows(
    X: Any, sample_weight: Any, *, missing: str | None, columns: Any = None, stacklevel: int = 3
) -> SourceRows | None:
    """The rows of a source; None for in-memory arrays and pandas DataFrames (the
    estimators read those directly).

    ``missing``: ``"error"`` refuses a missing cell (naming its row in reading order),
    ``"drop"`` drops rows with one, ``"fiml"`` drops rows without any value, None keeps
    every row (the estimator refuses gaps itself).
    """
    if not is_source(X):
        return None
    source = as_source(X, columns=columns)
    if sample_weight is not None:
        raise DataError(
            f"sample_weight cannot be given with {source.describe()}: its rows are counted as "
            "they are read; pass an array to weight rows"
        )
    rows = tally(source).labelled(narrow=True)
    values, counts = rows.values, rows.counts
    n_missing = rows.missing_per_column()
    if missing is None or rows.first_missing is None:
        return SourceRows(values, counts, rows.columns, 0, n_missing)
    row, column = rows.first_missing
    if missing == "error":
        raise DataError(
            f"{source.describe()} has missing values in {rows.n_missing_rows:,} of "
            f"{rows.n_rows:,} rows (first at row {row}, column {column!r}); pass "
            "missing='fiml' to fit every observed answer (values missing at random), "
            "missing='drop' to drop those rows, or impute them"
        )
    kept, dropped = rows.dropping("gappy" if missing == "drop" else "empty")
    if dropped == rows.n_rows:
        raise DataError(f"no rows left to fit: every row of {source.describe()} has a gap")
    if dropped:
        why = (
            "with missing values (missing='fiml' would use their observed answers)"
            if missing == "drop"
            else "without any observed value: they carry no information and are left out"
        )
        warnings.warn(
            f"dropped {dropped:,} of {rows.n_rows:,} rows {why}", UserWarning, stacklevel=stacklevel
        )
    return SourceRows(kept.values, kept.counts, rows.columns, dropped, n_missing)

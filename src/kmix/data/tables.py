"""Delimited text tables (CSV, TSV) to numpy arrays and back.

Files are parsed by pyarrow (:mod:`kmix.data.csvread`); the rules below are kmix's.

:func:`read_table` returns a float array when every column is numeric and an
object array otherwise, numeric columns holding floats and the others strings
(the levels of categorical data). Empty cells are missing values: ``nan`` in a
numeric column, ``None`` in a text column, so the estimators can name them.

The first row is a header unless every one of its cells is a number (or
empty); ``header=True``/``False`` overrides the guess. :func:`write_table`
always writes a header, so its files read back unambiguously even when every
column holds text.
"""

from __future__ import annotations

import csv
import importlib
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..exceptions import DataError
from .csvread import read_csv_values
from .files import atomic_write

__all__ = ["Table", "read_table", "write_table"]

PathLike = str | os.PathLike[str]


class Table(NamedTuple):
    """A table read from a file: the values and the column names.

    Unpacks as ``X, columns = read_table(path)``.

    Attributes
    ----------
    values : ndarray of shape (n_rows, n_columns)
        ``float64`` when every column is numeric, otherwise ``object`` with
        floats in numeric columns and strings in the others.
    columns : list of str
        Header names, or ``x0, x1, ...`` when the file has no header.
    """

    values: NDArray[Any]
    columns: list[str]

    def text_columns(self) -> list[int]:
        """Indices of the columns that hold text (categorical levels)."""
        if self.values.dtype != object:
            return []
        is_text = np.frompyfunc(lambda v: isinstance(v, str), 1, 1)
        found = np.asarray(is_text(self.values), dtype=bool).any(axis=0)
        return [int(j) for j in np.flatnonzero(found)]

    def to_frame(self) -> Any:
        """The table as a :class:`pandas.DataFrame` (needs the ``pandas`` extra)."""
        pd = _import_pandas()
        return pd.DataFrame(self.values, columns=self.columns)


def _import_pandas() -> Any:
    try:
        return importlib.import_module("pandas")
    except ImportError:
        raise ImportError(
            "this needs pandas, which is optional: pip install 'kmix[pandas]'"
        ) from None


def _delimiter(path: Path, delimiter: str | None) -> str:
    if delimiter is not None:
        if len(delimiter) != 1:
            raise DataError(f"delimiter must be one character; got {delimiter!r}")
        return delimiter
    return "\t" if path.suffix.lower() in (".tsv", ".tab") else ","


def read_table(
    path: PathLike,
    *,
    header: bool | None = None,
    delimiter: str | None = None,
    labels: bool = False,
) -> Table:
    """Read a delimited text file into an array and its column names.

    Parameters
    ----------
    path : str or path-like
        A CSV file (UTF-8, optional byte-order mark); ``.tsv``/``.tab`` files
        are read tab-separated unless ``delimiter`` says otherwise.
    header : bool or None, default None
        Whether the first row holds column names. ``None`` guesses: the
        first row is a header when some non-empty cell in it is not a number.
    delimiter : str or None
        Field separator; default ``","`` (tab for ``.tsv``).
    labels : bool, default False
        Read every column as category labels, exactly as written: a column
        becomes int64 only when every non-empty cell is a canonical integer
        (``"7"``, ``"-3"``; not ``"07"``, ``"7.0"`` or a value beyond int64),
        so no two labels can merge into one level; other columns keep their
        text. The default reads numeric columns as float64 (for measured
        values, where ``"07"`` is the number 7).

    Returns
    -------
    Table
        ``(values, columns)``; see :class:`Table`.

    Raises
    ------
    DataError
        If the file is missing, empty, not UTF-8, not valid CSV, has no data
        rows, or has rows with differing numbers of fields.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "bags.csv"
    ...     _ = path.write_text("colour,count\\nred,3\\nblue,\\n")
    ...     X, columns = read_table(path)
    >>> columns, X.tolist()
    (['colour', 'count'], [['red', 3.0], ['blue', nan]])
    """
    source = Path(path)
    values, columns = read_csv_values(
        source, _delimiter(source, delimiter), header=header, labels=labels
    )
    return Table(values, columns)


_is_missing = np.frompyfunc(lambda v: v is None or (isinstance(v, float) and v != v), 1, 1)
_is_whole_float = np.frompyfunc(
    lambda v: isinstance(v, (float, np.floating)) and float(v).is_integer(), 1, 1
)
_to_str = np.frompyfunc(str, 1, 1)
_to_int_str = np.frompyfunc(lambda v: str(int(v)), 1, 1)


def _format_column(col: NDArray[Any]) -> NDArray[np.str_]:
    """Cells of one column as strings that read back to the same values."""
    kind = col.dtype.kind
    if kind == "b":
        return col.astype(np.int8).astype(np.str_)
    if kind in "iu":
        return col.astype(np.str_)
    if kind == "f":
        finite = np.isfinite(col)
        integral = finite & (col == np.round(col)) & (np.abs(col) < 2.0**53)
        out = np.where(finite, col, 0.0).astype(np.str_).astype(object)
        out[integral] = col[integral].astype(np.int64).astype(np.str_)
        out[~finite] = ""
        return np.asarray(out, dtype=np.str_)
    if kind == "U":
        return col
    items = col.astype(object)
    gaps = np.asarray(_is_missing(items), dtype=bool)
    whole = np.asarray(_is_whole_float(items), dtype=bool) & ~gaps
    text = np.asarray(_to_str(items), dtype=object)
    text[whole] = np.asarray(_to_int_str(items[whole]), dtype=object)
    text[gaps] = ""
    return np.asarray(text, dtype=np.str_)


def write_table(
    path: PathLike | IO[str],
    X: ArrayLike,
    columns: Sequence[str] | None = None,
    *,
    delimiter: str = ",",
) -> None:
    """Write a 2-d array as CSV with a header row.

    Integral floats are written without a decimal point, other floats in
    their shortest round-trip form, missing values (``nan``, ``None``) as
    empty cells.

    Parameters
    ----------
    path : str, path-like or text stream
        Destination file, or an open text stream such as ``sys.stdout``.
    X : array-like of shape (n_rows, n_columns) or (n_rows,)
        Values; a 1-d array is written as one column.
    columns : sequence of str, optional
        Header names; default ``x0, x1, ...``.
    delimiter : str, default ","

    Raises
    ------
    DataError
        If ``X`` is not 1-d or 2-d, ``columns`` has the wrong length, or the
        file cannot be written (missing folder, no permission, full disk: the
        previous file is then unchanged; see :func:`kmix.data.files.atomic_write`).
    """
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataError(f"X must be 1-d or 2-d to be written as a table; got shape {arr.shape}")
    names = [f"x{j}" for j in range(arr.shape[1])] if columns is None else list(columns)
    if len(names) != arr.shape[1]:
        raise DataError(f"columns has {len(names)} names but X has {arr.shape[1]} columns")
    cells = [_format_column(arr[:, j]) for j in range(arr.shape[1])]
    body = np.stack(cells, axis=1) if cells else np.empty((arr.shape[0], 0), dtype=np.str_)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(body.tolist())
    if not isinstance(path, (str, os.PathLike)):
        path.write(buffer.getvalue())
        return
    # through a temporary file, fsync and rename: a failure leaves the old file intact
    atomic_write(path, buffer.getvalue(), what="table")

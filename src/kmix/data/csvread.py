"""Delimited text read by pyarrow's CSV reader, with kmix's rules for headers, types and gaps.

The file is parsed once by ``pyarrow.csv`` (multi-threaded, in C++). Numbers
are recognised by pyarrow's type inference for the default reading, and
every cell is kept as text for ``labels=True`` (the labels exactly as
written). The rules on top, all vectorised over columns in Arrow or numpy:

* a first row is a header unless each of its cells is a number or empty;
* cells are stripped of surrounding spaces; empty cells are missing;
* rows of empty cells at the end of the file (a spreadsheet's export) are
  no data rows;
* ``labels=True``: a column becomes int64 only when every non-empty cell is
  the canonical text of an integer (``"7"``, ``"-3"``; not ``"07"``,
  ``"+1"`` or ``"7.0"``), so no two labels can merge into one level.

A malformed file (rows of differing widths, an unterminated quote, bytes that
are not UTF-8) is re-scanned with the standard library's ``csv`` module to
name the first offending line; that scan runs only on the error path.
"""

from __future__ import annotations

import csv
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError
from .sources import is_number

__all__ = ["read_csv_values"]

#: Tables of at least this many cells are copied into the array by parallel threads
PARALLEL_CELLS = 1 << 20


def _problem(path: Path, delimiter: str, detail: str) -> DataError:
    """The first malformed line of ``path``, found by the standard library's csv reader."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter, strict=True)
            width, first_line = None, 0
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip() and row[0] != ""):
                    if row and width not in (None, 1):
                        return DataError(
                            f"{path}, line {reader.line_num}: a line of spaces only; delete it "
                            "or give it every field"
                        )
                    continue
                if width is None:
                    width, first_line = len(row), reader.line_num
                elif len(row) != width and any(c.strip() for c in row):
                    return DataError(
                        f"{path}, line {reader.line_num}: {len(row)} fields, but line "
                        f"{first_line} has {width}; every row needs the same number of columns"
                    )
    except UnicodeDecodeError as exc:
        return DataError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 CSV"
        )
    except csv.Error as exc:
        return DataError(f"{path} is not valid CSV: {exc}")
    return DataError(f"{path} is not valid CSV: {detail}")


def _read(path: Path, delimiter: str, text: bool, header: bool = False) -> Any:
    """The file as a pyarrow Table: every row a data row (names f0, f1, ...), or, with
    ``header``, the first row the names."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    parse = pcsv.ParseOptions(delimiter=delimiter)
    read = pcsv.ReadOptions(autogenerate_column_names=not header)
    try:
        if text:
            width = len(pcsv.open_csv(str(path), read_options=read, parse_options=parse).schema)
            types = {f"f{j}": pa.string() for j in range(width)}
        else:
            types = {}
        convert = pcsv.ConvertOptions(
            column_types=types,
            null_values=[""],
            true_values=[],
            false_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        return pcsv.read_csv(
            str(path), read_options=read, parse_options=parse, convert_options=convert
        )
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            raise DataError(f"{path} is empty; expected rows of comma-separated values") from None
        raise _problem(path, delimiter, str(exc)) from None


def _texts(col: Any) -> Any:
    """A column as stripped text, ``""`` where empty or null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        if pa.types.is_binary(col.type):
            raise DataError("binary")
        col = pc.cast(col, pa.string())
    return pc.fill_null(pc.utf8_trim_whitespace(col), "")


def _first_row(table: Any) -> list[str]:
    return [
        "" if v is None else (repr(v) if isinstance(v, float) else str(v))
        for v in table.slice(0, 1).to_pylist()[0].values()
    ]


def read_csv_values(
    path: Path, delimiter: str, *, header: bool | None, labels: bool
) -> tuple[NDArray[Any], list[str]]:
    """``(values, column names)`` of a CSV file by kmix's rules (see the module notes)."""
    import pyarrow as pa

    if path.is_dir():
        raise DataError(f"{path} is a directory, not a data file")
    if not path.exists():
        raise DataError(f"data file {path} does not exist")
    table = _read(path, delimiter, text=True) if labels else _peek(path, delimiter)
    if any(pa.types.is_binary(t) for t in table.schema.types):
        raise _problem(path, delimiter, "bytes that are not UTF-8")
    if table.num_rows == 0:
        raise DataError(f"{path} is empty; expected rows of comma-separated values")
    # trailing rows of empty cells are no data rows
    table = _trimmed(table)
    if table.num_rows == 0:
        raise DataError(f"{path} is empty; expected rows of comma-separated values")
    first = [c.strip() for c in _first_row(table)]
    if header is None:
        header = not all(cell == "" or is_number(cell) for cell in first)
    names = (
        [name or f"x{j}" for j, name in enumerate(first)]
        if header
        else [f"x{j}" for j in range(table.num_columns)]
    )
    if labels:
        table = table.slice(1) if header else table
    else:
        # the whole file, pyarrow inferring the numbers of the data rows
        table = _read(path, delimiter, text=False, header=header)
        if any(pa.types.is_binary(t) for t in table.schema.types):
            raise _problem(path, delimiter, "bytes that are not UTF-8")
        table = _trimmed(table)
    if table.num_rows == 0:
        raise DataError(f"{path} has a header row but no data rows")
    return (_labels(table) if labels else _numbers(table)), names


def _peek(path: Path, delimiter: str, block: int = 1 << 16) -> Any:
    """The first block of the file, every row a data row (for the header guess)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        reader = pcsv.open_csv(
            str(path),
            read_options=pcsv.ReadOptions(autogenerate_column_names=True, block_size=block),
            parse_options=pcsv.ParseOptions(delimiter=delimiter),
            convert_options=pcsv.ConvertOptions(
                null_values=[""], true_values=[], false_values=[], strings_can_be_null=False
            ),
        )
        return pa.Table.from_batches([reader.read_next_batch()])
    except StopIteration:
        raise DataError(f"{path} is empty; expected rows of comma-separated values") from None
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            raise DataError(f"{path} is empty; expected rows of comma-separated values") from None
        if "straddling" in str(exc) and block < 1 << 26:  # a row longer than the block
            return _peek(path, delimiter, block * 16)
        raise _problem(path, delimiter, str(exc)) from None


def _trimmed(table: Any) -> Any:
    """Trailing rows of empty cells dropped (the end of the table is read, in growing
    pieces, until a row with a value shows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n, size = table.num_rows, 1024
    while True:
        start = max(0, n - size)
        tail = table.slice(start)
        filled = np.zeros(tail.num_rows, dtype=bool)
        for col in tail.columns:
            typed = not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type))
            has = pc.is_valid(col) if typed else pc.not_equal(_texts(col), "")
            filled |= np.asarray(has.to_numpy(zero_copy_only=False), dtype=bool)
        if filled.any():
            return table.slice(0, start + int(np.flatnonzero(filled)[-1]) + 1)
        if start == 0:
            return table.slice(0, 0)
        size *= 16


def _retyped(table: Any) -> Any:
    """Columns that are numbers (every non-empty stripped cell) as float64, others text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = []
    for col in table.columns:
        if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
            cols.append(col)  # numbers already (made float64 by the caller)
            continue
        text = _texts(col)
        gaps = pc.equal(text, "")
        try:
            cols.append(pc.cast(pc.if_else(gaps, pa.scalar(None, pa.string()), text), pa.float64()))
        except pa.ArrowInvalid:
            cols.append(text)
    return pa.Table.from_arrays(cols, names=table.column_names)


def _numbers(table: Any) -> NDArray[Any]:
    """float64 when every column is numeric, otherwise object (floats and text, None/NaN)."""
    import pyarrow as pa

    table = _retyped(table)
    n, d = table.num_rows, table.num_columns
    numeric = [pa.types.is_floating(t) or pa.types.is_integer(t) for t in table.schema.types]
    if all(numeric):
        # column-major, as the file's columns arrive: each chunk copied (and cast) once, in
        # place; columns in parallel threads on large tables (numpy's casts release the GIL)
        out = np.empty((n, d), order="F")

        def fill(j: int) -> None:
            pos = 0
            for chunk in table.column(j).chunks:
                out[pos : pos + len(chunk), j] = chunk.to_numpy(zero_copy_only=False)
                pos += len(chunk)

        workers = min(d, os.cpu_count() or 1) if n * d >= PARALLEL_CELLS else 1
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(fill, range(d)))
        else:
            for j in range(d):
                fill(j)
        return out
    obj = np.empty((n, d), dtype=object)
    for j, col in enumerate(table.columns):
        if numeric[j]:
            obj[:, j] = col.to_numpy().astype(np.float64)
        else:
            cells = np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)
            cells[cells == ""] = None
            obj[:, j] = cells
    return obj


def _labels(table: Any) -> NDArray[Any]:
    """Text, or int64 where every non-empty cell is a canonical integer (see module notes)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n, d = table.num_rows, table.num_columns
    out = np.empty((n, d), dtype=object)
    all_int = True
    for j, col in enumerate(table.columns):
        text = _texts(col)
        gaps = np.asarray(pc.equal(text, "").to_numpy(zero_copy_only=False))
        cells = np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
        present = text.filter(pa.array(~gaps))
        ints = None
        if len(present):
            try:
                cast = pc.cast(present, pa.int64())
                if pc.all(pc.equal(pc.cast(cast, pa.string()), present)).as_py():
                    ints = np.asarray(cast.to_numpy(zero_copy_only=False))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                ints = None
        if ints is not None:
            cells[~gaps] = ints.astype(object)  # Python ints, exact
            all_int &= not gaps.any()
        else:
            all_int = False
        cells[gaps] = None
        out[:, j] = cells
    return out.astype(np.int64) if all_int and d else out

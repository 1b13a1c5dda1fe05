"""``--columns``: which columns of the data file a command reads.

One syntax for every command (``fit``, ``select-k``, ``predict``, ``effect``):
a comma-separated list whose entries are

* a column name from the header (``MORALG``);
* a 1-based position (``3``);
* an inclusive range ``FIRST:LAST`` of names or positions, in file order
  (``MORALG:INTELB``, ``3:14``).

An entry that is exactly a column name is that column (a header may hold a
column called ``3``). Columns are read in the order listed; a column listed
twice is refused. A file without a header has no names to use: its columns
are chosen by position.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..data import Table, read_table
from ..estimators._checks import missing_cells
from ..exceptions import DataError

__all__ = ["COLUMNS_HELP", "add_columns_option", "read_data", "select_columns"]

COLUMNS_HELP = (
    "columns to read, comma-separated: header names (MORALG,CARESG), 1-based positions "
    "(3,5), or inclusive ranges FIRST:LAST of names or positions in file order "
    "(MORALG:INTELB, 3:14); an entry that is exactly a header name is that column. "
    "Default every column; a file without a header is read by position"
)
#: Names listed in an error about an unknown column before the list is cut short.
MAX_LISTED = 40


def add_columns_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--columns SPEC`` (see :data:`COLUMNS_HELP`) to a sub-command."""
    parser.add_argument("--columns", metavar="SPEC", default=None, help=COLUMNS_HELP)


def _listing(columns: list[str]) -> str:
    shown = ", ".join(columns[:MAX_LISTED])
    more = f", ... ({len(columns)} in all)" if len(columns) > MAX_LISTED else ""
    return f"{shown}{more} (or positions 1 to {len(columns)})"


def _position(token: str, columns: list[str], source: str) -> int:
    """0-based index of one name or 1-based position."""
    if token in columns:
        return columns.index(token)
    if token.isdigit():
        pos = int(token)
        if 1 <= pos <= len(columns):
            return pos - 1
        raise DataError(
            f"--columns: position {pos} is outside {source}, whose columns are numbered "
            f"1 to {len(columns)}"
        )
    hint = ""
    if re.fullmatch(r"\d+\s*-\s*\d+", token):
        first, last = (part.strip() for part in token.split("-"))
        hint = f" (a range is written FIRST:LAST, here {first}:{last})"
    raise DataError(
        f"--columns: {source} has no column {token!r}{hint}; its columns are {_listing(columns)}"
    )


def select_columns(spec: str, columns: list[str], source: str) -> list[int]:
    """Indices (0-based, in the order listed) of the columns ``spec`` names.

    Parameters
    ----------
    spec : str
        The ``--columns`` value (see the module docstring).
    columns : list of str
        The file's column names, in file order.
    source : str
        The file, for messages.

    Returns
    -------
    list of int

    Raises
    ------
    DataError
        On an unknown name (listing the columns there are), a position
        outside the file, a range that runs backwards, an empty entry or a
        column listed twice.

    Examples
    --------
    >>> cols = ["ID", "MORALG", "CARESG", "KNOWG", "AGE"]
    >>> select_columns("MORALG:KNOWG", cols, "survey.csv")
    [1, 2, 3]
    >>> select_columns("2,5", cols, "survey.csv")
    [1, 4]
    """
    chosen: list[int] = []
    for raw in spec.split(","):
        entry = raw.strip()
        if not entry:
            raise DataError(
                f"--columns {spec!r} has an empty entry; separate the columns by single commas"
            )
        if entry in columns or ":" not in entry:
            indices = [_position(entry, columns, source)]
        else:
            first, _, last = (part.strip() for part in entry.partition(":"))
            i, j = _position(first, columns, source), _position(last, columns, source)
            if j < i:
                raise DataError(
                    f"--columns: the range {entry!r} runs backwards ({first!r} is column "
                    f"{i + 1}, {last!r} column {j + 1}); write {last}:{first}"
                )
            indices = list(range(i, j + 1))
        for index in indices:
            if index in chosen:
                raise DataError(
                    f"--columns {spec!r} lists column {columns[index]!r} (position "
                    f"{index + 1}) twice; list every column once"
                )
            chosen.append(index)
    return chosen


def read_data(args: argparse.Namespace, *, labels: bool = False) -> Table:
    """The data file of ``args.data``, read as :func:`kmix.data.read_table` reads it,
    restricted to ``args.columns`` when that is given.

    Parameters
    ----------
    args : argparse.Namespace
        ``data``, ``header`` and (optionally) ``columns`` are read.
    labels : bool
        Read the cells as category labels, exactly as written.
    """
    table = read_table(args.data, header=args.header, labels=labels)
    spec = getattr(args, "columns", None)
    if spec is None:
        return table
    keep = select_columns(spec, table.columns, os.fspath(args.data))
    return Table(table.values[:, keep], [table.columns[i] for i in keep])


def split_covariates(
    args: argparse.Namespace, *, labels: bool
) -> tuple[Table, dict[str, NDArray[Any]]]:
    """The items (``--columns``, default every column not in ``--covariates``; read as
    labels when ``labels``) and the covariates by name (numbers where they are numbers)."""
    source = os.fspath(args.data)
    cells = read_table(args.data, header=args.header, labels=labels)
    cov_at = select_columns(args.covariates, cells.columns, source)
    item_at = (
        select_columns(args.columns, cells.columns, source)
        if args.columns is not None
        else [j for j in range(len(cells.columns)) if j not in cov_at]
    )
    if set(cov_at) & set(item_at):
        both = [cells.columns[j] for j in sorted(set(cov_at) & set(item_at))]
        raise DataError(f"column(s) {both} are both items and covariates; give each one role")
    numbers = cells if not labels else read_table(args.data, header=args.header)
    covariates = {cells.columns[j]: numbers.values[:, j] for j in cov_at}
    return Table(cells.values[:, item_at], [cells.columns[j] for j in item_at]), covariates


def refuse_empty_cells(table: Table, source: str) -> None:
    """Raise :class:`DataError` in command-line terms (``--missing``) if a cell is empty."""
    missing = missing_cells(table.values, infinite=False)
    if not missing.any():
        return
    i, j = (int(v) for v in np.argwhere(missing)[0])
    raise DataError(
        f"{source} has empty cells in {int(missing.any(axis=1).sum())} row(s) "
        f"(first in data row {i + 1}, column {table.columns[j]!r}); pass --missing fiml to "
        "fit every observed answer, --missing drop to leave those rows out, or fill them in"
    )

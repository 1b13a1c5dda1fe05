"""Where rows come from: arrays, DataFrames, Arrow tables, CSV and Parquet files, Dask.

A :class:`Source` names the rows a model reads without reading them: an
in-memory table (numpy array, pandas or polars DataFrame, pyarrow Table, any
object with the Arrow PyCapsule stream interface), a file, a glob or a
directory of CSV or Parquet files, or a Dask DataFrame. :meth:`Source.batches`
yields pyarrow record batches of bounded size, so a file larger than memory
is read one batch at a time (pyarrow datasets; The Apache Arrow project,
https://arrow.apache.org). Everything goes through pyarrow; pandas, polars
and Dask are imported only when such an object is passed.

Files are checked before any row is read: each path exists, a glob matches,
every file of a set holds every column asked for, and a column has one type
in every Parquet file. CSV cells are read as text (the labels exactly as
written; :mod:`kmix.data.tally` turns canonical integers into numbers), so a
column cannot change type between the blocks of a large file.
"""

from __future__ import annotations

import glob as globlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import DataError

__all__ = [
    "BATCH_ROWS",
    "Source",
    "as_source",
    "blank_as_null",
    "is_dask",
    "is_number",
    "is_source",
]

#: Rows per batch when a source is streamed
BATCH_ROWS = 1 << 18
#: Batches pyarrow reads ahead of the one in use (its default, 16, with whole row groups
#: pre-buffered, held 520 MiB for a 1e7 x 5 float file that this setting reads in 100 MiB at
#: the same speed)
READAHEAD = 4
#: File suffixes read as each format
SUFFIXES = {".csv": "csv", ".tsv": "csv", ".tab": "csv", ".txt": "csv", ".parquet": "parquet"}
SUFFIXES[".pq"] = "parquet"


def _module(obj: Any) -> str:
    return type(obj).__module__.split(".")[0]


def is_dask(obj: Any) -> bool:
    """Whether ``obj`` is a Dask DataFrame (without importing Dask)."""
    return _module(obj) in ("dask", "dask_expr") and hasattr(obj, "map_partitions")


def is_source(obj: Any) -> bool:
    """Whether ``obj`` is read through a :class:`Source` rather than as an in-memory array:
    a path, a :class:`Source`, a pyarrow table, a polars or Dask DataFrame."""
    if isinstance(obj, (str, os.PathLike, Source)):
        return True
    if (
        isinstance(obj, (list, tuple))
        and obj
        and all(isinstance(p, (str, os.PathLike)) for p in obj)
    ):
        return True
    return _module(obj) in ("pyarrow", "polars") or is_dask(obj)


def _expand(spec: str | os.PathLike[str]) -> list[Path]:
    """The files a path, glob or directory names, sorted."""
    text = os.fspath(spec)
    if any(ch in text for ch in "*?["):
        found = sorted(Path(p) for p in globlib.glob(text, recursive=True) if Path(p).is_file())
        if not found:
            raise DataError(f"no file matches {text!r}")
        return found
    path = Path(text)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        if not found:
            raise DataError(
                f"directory {path} holds no data file (suffixes {', '.join(sorted(SUFFIXES))})"
            )
        return found
    if not path.exists():
        raise DataError(f"data file {path} does not exist")
    return [path]


def _format(paths: Sequence[Path], given: str | None) -> str:
    if given is not None:
        if given not in ("csv", "parquet"):
            raise DataError(f"format must be 'csv' or 'parquet'; got {given!r}")
        return given
    kinds = {SUFFIXES.get(p.suffix.lower(), "csv") for p in paths}
    if len(kinds) > 1:
        raise DataError(
            f"the files mix CSV and Parquet ({paths[0].name}, ...); pass one format at a time"
        )
    return kinds.pop()


@dataclass(frozen=True)
class Source:
    """Rows to be read: in memory, in files, or on a Dask cluster.

    Build with :func:`as_source`. ``kind`` is ``"table"`` (``table`` holds a
    pyarrow Table), ``"files"`` (``paths`` and ``format``) or ``"dask"``
    (``frame``). ``columns`` are the names read, in order.
    """

    kind: str
    columns: tuple[str, ...]
    table: Any = None
    paths: tuple[Path, ...] = ()
    format: str = ""
    delimiter: str = ","
    frame: Any = None
    n_rows: int | None = None
    schema_types: dict[str, str] = field(default_factory=dict)
    batch_rows: int = BATCH_ROWS

    def describe(self) -> str:
        """One phrase for messages: what the rows are."""
        if self.kind == "files":
            first = str(self.paths[0])
            return first if len(self.paths) == 1 else f"{len(self.paths)} files ({first}, ...)"
        return "a Dask DataFrame" if self.kind == "dask" else "a table in memory"

    def batches(self, batch_rows: int | None = None) -> Iterator[Any]:
        """pyarrow RecordBatches of at most ``batch_rows`` rows (default: the source's own
        ``batch_rows``), ``columns`` in order.

        CSV cells arrive as text (empty cells null), Parquet and in-memory
        columns with their own types.
        """
        batch_rows = self.batch_rows if batch_rows is None else int(batch_rows)
        if batch_rows < 1:
            raise DataError(f"batch_rows must be a positive number of rows; got {batch_rows}")
        if self.kind == "table":
            yield from self.table.select(list(self.columns)).to_batches(max_chunksize=batch_rows)
            return
        if self.kind == "dask":
            raise DataError("a Dask DataFrame is read on its cluster: use kmix.data.tally")
        import pyarrow.dataset as ds

        for path in self.paths:
            dataset = ds.dataset(str(path), format=self._file_format(path))
            try:
                yield from dataset.to_batches(
                    columns=list(self.columns),
                    batch_size=batch_rows,
                    batch_readahead=READAHEAD,
                    fragment_readahead=1,
                    fragment_scan_options=self._scan_options(),
                )
            except OSError as exc:
                raise DataError(f"{path}: {exc}") from None
            except Exception as exc:  # pyarrow's ArrowInvalid: a malformed file
                raise DataError(f"{path} could not be read: {exc}") from None

    def _scan_options(self) -> Any:
        """Parquet: no pre-buffering of whole row groups (it serves remote stores, and on
        local files only holds memory); None for other formats."""
        import pyarrow.dataset as ds

        if self.format != "parquet":
            return None
        return ds.ParquetFragmentScanOptions(pre_buffer=False)

    def _file_format(self, path: Path) -> Any:
        if self.format == "parquet":
            return "parquet"
        import pyarrow as pa
        import pyarrow.csv as csv
        import pyarrow.dataset as ds

        # every file holds the columns checked when the source was made: all read as text
        names = self.schema_types or dict.fromkeys(_csv_header(path, self.delimiter))
        return ds.CsvFileFormat(
            parse_options=csv.ParseOptions(delimiter=self.delimiter),
            convert_options=csv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )


def _csv_header(path: Path, delimiter: str) -> list[str]:
    """The column names of a CSV file (its first row)."""
    import pyarrow.csv as csv

    try:
        reader = csv.open_csv(
            str(path),
            read_options=csv.ReadOptions(block_size=1 << 16),
            parse_options=csv.ParseOptions(delimiter=delimiter),
        )
    except Exception as exc:
        raise DataError(f"{path} is not a readable CSV file: {exc}") from None
    return [str(name) for name in reader.schema.names]


def blank_as_null(col: Any) -> Any:
    """A text column as :func:`kmix.data.read_table` reads cells: stripped of surrounding
    spaces, an empty cell missing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = pc.utf8_trim_whitespace(col)
    return pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)


def is_number(text: str) -> bool:
    """Whether ``text`` reads as a number (``float`` accepts it)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _file_columns(
    paths: Sequence[Path], fmt: str, delimiter: str
) -> tuple[list[str], dict[str, str]]:
    """Columns common to the files in the first file's order, and each column's type;
    a column missing in one file, or typed differently in two, is an error naming them."""
    per_file: list[tuple[Path, dict[str, str]]] = []
    if fmt == "parquet":
        import pyarrow.parquet as pq

        for path in paths:
            try:
                schema = pq.read_schema(str(path))
            except Exception as exc:
                raise DataError(f"{path} is not a readable Parquet file: {exc}") from None
            per_file.append(
                (path, {n: str(t) for n, t in zip(schema.names, schema.types, strict=True)})
            )
    else:
        per_file = [(p, dict.fromkeys(_csv_header(p, delimiter), "string")) for p in paths]
        for path, cols in per_file:
            if all(is_number(name) for name in cols):
                raise DataError(
                    f"{path}: its first row holds numbers only ({', '.join(list(cols)[:4])}, "
                    "...); a CSV file read in batches needs a header row naming its columns"
                )
    first_path, first = per_file[0]
    for path, cols in per_file[1:]:
        for name, kind in first.items():
            if name not in cols:
                raise DataError(
                    f"column {name!r} is missing in {path} (it is in {first_path}); every file "
                    "of a set needs the same columns, or choose columns present in all"
                )
            if cols[name] != kind:
                raise DataError(
                    f"column {name!r} has type {kind} in {first_path} but {cols[name]} in "
                    f"{path}; write it with one type in every file"
                )
    return list(first), first


def _arrow_table(obj: Any, names: Sequence[str] | None) -> Any:
    """An in-memory object as a pyarrow Table (NaN and None become null)."""
    import pyarrow as pa

    mod = _module(obj)
    if mod == "pyarrow":
        table = obj if isinstance(obj, pa.Table) else pa.Table.from_batches([obj])
    elif mod == "polars":
        table = obj.to_arrow()
    elif mod == "pandas" and hasattr(obj, "columns"):
        try:
            table = pa.Table.from_pandas(obj, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(f"a column mixes types ({exc}); give each column one type") from None
        table = table.replace_schema_metadata(None)
    elif hasattr(obj, "__arrow_c_stream__"):
        table = pa.table(obj)
    else:
        arr = np.asarray(obj)
        if arr.ndim != 2:
            raise DataError(f"X must be 2-d (n_samples, n_features); got shape {arr.shape}")
        cols = []
        for j in range(arr.shape[1]):
            try:
                cols.append(pa.array(arr[:, j], from_pandas=True))
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise DataError(
                    f"column {j} mixes types ({exc}); give each column one type"
                ) from None
        table = pa.Table.from_arrays(cols, names=[f"x{j}" for j in range(arr.shape[1])])
    if names is not None:
        if len(names) != table.num_columns:
            raise DataError(f"{len(names)} column names for {table.num_columns} columns")
        table = table.rename_columns([str(n) for n in names])
    return table


def _pick(available: Sequence[str], columns: Sequence[str] | None, where: str) -> tuple[str, ...]:
    if columns is None:
        return tuple(str(c) for c in available)
    missing = [c for c in columns if c not in available]
    if missing:
        raise DataError(
            f"column {missing[0]!r} is not in {where}; its columns are {list(available)}"
        )
    return tuple(str(c) for c in columns)


def as_source(
    obj: Any,
    *,
    columns: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    format: str | None = None,
    delimiter: str | None = None,
    batch_rows: int | None = None,
) -> Source:
    """A :class:`Source` for ``obj``.

    Parameters
    ----------
    obj : path, glob, directory, list of paths, array, DataFrame, pyarrow Table,
        Dask DataFrame or Source
        Files are CSV or Parquet by suffix (``format`` overrides); a directory
        is every such file under it.
    columns : sequence of str, optional
        The columns to read, in this order (default: all).
    names : sequence of str, optional
        Names for an array's columns (default ``x0, x1, ...``).
    format : {"csv", "parquet"}, optional
    delimiter : str, optional
        CSV field separator (default ``","``, tab for ``.tsv``/``.tab``).
    batch_rows : int, optional
        Rows per batch when streamed (default :data:`BATCH_ROWS`).

    Examples
    --------
    >>> import numpy as np
    >>> src = as_source(np.array([[0, 1], [1, 1]]), names=["a", "b"], columns=["b"])
    >>> src.kind, src.columns, [b.num_rows for b in src.batches(1)]
    ('table', ('b',), [1, 1])
    """
    if batch_rows is not None and int(batch_rows) < 1:
        raise DataError(f"batch_rows must be a positive number of rows; got {batch_rows!r}")
    source = _make(obj, columns, names, format, delimiter)
    return source if batch_rows is None else replace(source, batch_rows=int(batch_rows))


def _make(
    obj: Any,
    columns: Sequence[str] | None,
    names: Sequence[str] | None,
    format: str | None,
    delimiter: str | None,
) -> Source:
    if isinstance(obj, Source):
        if columns is None:
            return obj
        return replace(obj, columns=_pick(obj.columns, columns, obj.describe()))
    if is_dask(obj):
        return Source("dask", _pick(list(obj.columns), columns, "the Dask DataFrame"), frame=obj)
    if isinstance(obj, (str, os.PathLike)) or (
        isinstance(obj, (list, tuple)) and obj and isinstance(obj[0], (str, os.PathLike))
    ):
        specs = [obj] if isinstance(obj, (str, os.PathLike)) else list(obj)
        paths = [p for spec in specs for p in _expand(spec)]
        fmt = _format(paths, format)
        sep = delimiter or ("\t" if paths[0].suffix.lower() in (".tsv", ".tab") else ",")
        if len(sep) != 1:
            raise DataError(f"delimiter must be one character; got {sep!r}")
        available, types = _file_columns(paths, fmt, sep)
        what = str(paths[0]) if len(paths) == 1 else f"the files ({paths[0]}, ...)"
        picked = _pick(available, columns, what)
        return Source(
            "files", picked, paths=tuple(paths), format=fmt, delimiter=sep, schema_types=types
        )
    table = _arrow_table(obj, names)
    picked = _pick(table.column_names, columns, "the table")
    return Source("table", picked, table=table, n_rows=int(table.num_rows))

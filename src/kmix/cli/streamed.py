"""Data the command line counts as it reads: Parquet files, globs, directories, Dask.

``kmix fit 'data/*.parquet' --model product`` never holds the rows: one
streamed pass (or one distributed pass, ``--engine dask``) counts the distinct
rows of labels (:func:`kmix.data.tally`), with a bar of rows read and rows per
second, and the model is fitted to them with their counts as frequency weights.
A single CSV file is read whole unless ``--engine stream`` or ``dask`` asks
otherwise.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import TextIO

import numpy as np
from numpy.typing import NDArray

from ..data import Labelled, Table, as_source, tally
from ..data.distributed import read_dask
from ..exceptions import DataError
from .columns import select_columns

__all__ = ["ENGINES", "RowsBar", "add_engine_options", "counted_rows", "streams"]

#: --engine choices: auto (a CSV file whole, anything else streamed), memory, stream, dask
ENGINES = ("auto", "memory", "stream", "dask")


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--engine`` and ``--scheduler``."""
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="how the data are read: memory (the whole file), stream (pyarrow batches, "
        "bounded memory), dask (on a Dask cluster, see --scheduler); default auto: a CSV "
        "file whole, Parquet files, globs and directories streamed",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="--engine dask: the address of a running Dask scheduler (tcp://host:8786); "
        "default: Dask's own scheduler on this machine",
    )


def streams(args: argparse.Namespace) -> bool:
    """Whether ``args.data`` is counted as it is read rather than read whole."""
    engine = getattr(args, "engine", "auto")
    if getattr(args, "scheduler", None) is not None and engine != "dask":
        raise DataError("--scheduler is the address of a Dask cluster; it needs --engine dask")
    if engine in ("stream", "dask"):
        return True
    if engine == "memory":
        return False
    spec = os.fspath(args.data)
    plain_csv = (
        not any(ch in spec for ch in "*?[")
        and not Path(spec).is_dir()
        and Path(spec).suffix.lower() not in (".parquet", ".pq")
    )
    return not plain_csv


class RowsBar:
    """Rows read and rows per second on a text stream (redrawn in place on a terminal)."""

    def __init__(self, stream: TextIO, what: str, *, enabled: bool = True) -> None:
        self.stream, self.what, self.enabled = stream, what, enabled
        self.live = enabled and bool(getattr(stream, "isatty", lambda: False)())
        self._drawn = 0.0

    def __call__(self, rows: int, rate: float) -> None:
        if not self.live or time.perf_counter() - self._drawn < 0.1:
            return
        self._drawn = time.perf_counter()
        self.stream.write(f"\rreading {self.what}: {rows:,} rows ({rate:,.0f} rows/s)")
        self.stream.flush()

    def close(self, rows: int, seconds: float) -> None:
        if not self.enabled:
            return
        if self.live:
            self.stream.write("\r")
        rate = rows / max(seconds, 1e-9)
        self.stream.write(
            f"read {self.what}: {rows:,} rows in {seconds:.1f} s ({rate:,.0f} rows/s)\n"
        )


def counted_rows(
    args: argparse.Namespace, err: TextIO
) -> tuple[Table, NDArray[np.float64], Labelled]:
    """The distinct rows of ``args.data`` (``--columns`` applied) with their counts.

    Returns
    -------
    table : Table
        Distinct rows of labels (``None``/NaN where empty) and the column names.
    counts : ndarray
    labelled : Labelled
        The whole statistic (rows read, first missing cell).
    """
    source = as_source(args.data)
    spec = getattr(args, "columns", None)
    if spec is not None:
        keep = select_columns(spec, list(source.columns), source.describe())
        source = as_source(source, columns=[source.columns[i] for i in keep])
    bar = RowsBar(err, source.describe(), enabled=not getattr(args, "quiet", False))
    t0 = time.perf_counter()
    if args.engine == "dask":
        client = None
        if args.scheduler is not None:
            from ..data.distributed import connect

            client = connect(args.scheduler)
        try:
            counted = tally(read_dask(source), progress=bar)
        finally:
            if client is not None:
                client.close()
    else:
        counted = tally(source, progress=bar)
    rows = counted.labelled()
    bar.close(rows.n_rows, time.perf_counter() - t0)
    return Table(rows.values, rows.columns), rows.counts, rows

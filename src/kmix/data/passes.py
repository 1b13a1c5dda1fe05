"""Passes over numeric rows that are read again at every use: files larger than memory and Dask.

A model whose statistic does not compress into distinct rows (continuous
components) is fitted by passes: each EM iteration maps a function over the
rows, chunk by chunk (on this machine) or partition by partition (on the Dask
cluster the frame lives on), and adds up the small results. This module gives
those passes over any source of :func:`kmix.data.as_source` without knowing
what the function computes:

- :func:`map_reduce`: ``fn(values, offset)`` on every chunk (``values`` a float
  array of the chunk's rows, NaN where a cell is missing; ``offset`` the
  position of its first row among all the rows), the results combined in row
  order by ``reduce``;
- :func:`count_rows_of`: the rows of a source (from Parquet metadata when it
  has them);
- :func:`systematic_sample`: every ``s``-th row, ``s = ceil(n / budget)``,
  chosen by global row position, so the sample is the same however the rows
  are chunked or partitioned (the systematic sampling of W. G. Cochran,
  *Sampling Techniques*, 3rd ed., 1977, ch. 8).
"""

from __future__ import annotations

import logging
import math
import operator
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError
from .distributed import tree_reduce
from .scan import PROGRESS_EVERY
from .sources import Source, as_source, blank_as_null

__all__ = ["count_rows_of", "map_reduce", "numeric_values", "systematic_sample"]

logger = logging.getLogger("kmix.data")
T = TypeVar("T")
FloatArray = NDArray[np.float64]
_EXTRA = "this needs Dask, which is optional: pip install 'kmix[dask]'"


def numeric_values(batch: Any, columns: tuple[str, ...] | list[str]) -> FloatArray:
    """A pyarrow RecordBatch or Table as a float array (rows, columns), NaN for a missing cell.

    Text cells (CSV files are read as text) are stripped and read as numbers;
    a column that holds anything else is refused, named.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    names = list(batch.schema.names)
    out = np.empty((int(batch.num_rows), len(columns)))
    for j, name in enumerate(columns):
        col = batch.column(names.index(name))
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = blank_as_null(col)
            try:
                col = pc.cast(col, pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataError(
                    f"column {name!r} holds text that is not a number ({exc}); a continuous "
                    "family reads numbers only"
                ) from None
        elif not (
            pa.types.is_integer(col.type)
            or pa.types.is_floating(col.type)
            or pa.types.is_boolean(col.type)
            or pa.types.is_null(col.type)
        ):
            raise DataError(
                f"column {name!r} is of type {col.type}; a continuous family reads numbers only"
            )
        if col.null_count:
            col = pc.cast(col, pa.float64())
        out[:, j] = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
    return out


def _partition_values(frame: Any, columns: list[str]) -> FloatArray:
    """One pandas partition of a Dask frame as a float array."""
    import pyarrow as pa

    return numeric_values(pa.Table.from_pandas(frame[columns], preserve_index=False), columns)


def _apply(fn: Callable[[FloatArray, int], T], frame: Any, columns: list[str], offset: int) -> T:
    return fn(_partition_values(frame, columns), offset)


def _length(frame: Any) -> int:
    return len(frame)


#: Row counts of the partitions of Dask frames already counted in this process, by the
#: frame object (held, so its id is not reused): repeated passes count them once
_LENGTHS: dict[int, tuple[Any, list[int]]] = {}


def _partition_lengths(source: Source) -> list[int]:
    from dask import compute, delayed

    frame = source.frame
    known = _LENGTHS.get(id(frame))
    if known is not None and known[0] is frame:
        return known[1]
    lengths = [int(n) for n in compute(*[delayed(_length)(p) for p in frame.to_delayed()])]
    if len(_LENGTHS) >= 16:
        _LENGTHS.pop(next(iter(_LENGTHS)))
    _LENGTHS[id(frame)] = (frame, lengths)
    return lengths


def map_reduce(
    data: Any,
    fn: Callable[[FloatArray, int], T],
    *,
    reduce: Callable[[T, T], T] = operator.add,
    batch_rows: int | None = None,
    what: str = "pass",
) -> T:
    """``reduce`` over the chunks of ``data`` of ``fn(values, offset)``, in row order.

    Parameters
    ----------
    data : Source or anything :func:`kmix.data.as_source` reads
    fn : callable
        ``fn(values, offset)``: ``values`` the chunk as a float array (NaN
        where missing), ``offset`` the position of its first row. On a Dask
        frame it runs on the workers, so it must pickle (a module-level
        function or a :func:`functools.partial` of one).
    reduce : callable
        Combines two results, earlier rows first (default ``+``). On Dask the
        results are combined in a binary tree on the cluster.
    batch_rows : int, optional
        Rows per chunk read on this machine.
    what : str
        Named in the progress log.
    """
    source = data if isinstance(data, Source) else as_source(data)
    cols = list(source.columns)
    if source.kind == "dask":
        try:
            from dask import delayed
        except ImportError:
            raise ImportError(_EXTRA) from None
        lengths = _partition_lengths(source)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64).tolist()
        parts = [
            delayed(_apply)(fn, p, cols, int(o))
            for p, o, n in zip(source.frame.to_delayed(), offsets, lengths, strict=True)
            if n
        ]
        if not parts:
            raise DataError("the Dask DataFrame holds no rows")
        result: T = tree_reduce(parts, reduce).compute()
        return result
    total: Any = None
    done = 0
    t0 = last = time.perf_counter()
    for batch in source.batches(batch_rows):
        n = int(batch.num_rows)
        if n == 0:
            continue
        part = fn(numeric_values(batch, cols), done)
        total = part if total is None else reduce(total, part)
        done += n
        now = time.perf_counter()
        if now - last >= PROGRESS_EVERY:
            last = now
            logger.info(
                "%s: %s rows of %s (%.0f rows/s)",
                what,
                f"{done:,}",
                source.describe(),
                done / (now - t0),
            )
    if total is None:
        raise DataError(f"{source.describe()} holds no rows")
    return total


def count_rows_of(data: Any) -> int:
    """The rows of a source: Parquet metadata, a table's length, or a counting pass."""
    source = data if isinstance(data, Source) else as_source(data)
    if source.n_rows is not None:
        return int(source.n_rows)
    if source.kind == "table":
        return int(source.table.num_rows)
    if source.kind == "dask":
        return int(sum(_partition_lengths(source)))
    if source.format == "parquet":
        import pyarrow.parquet as pq

        return int(sum(pq.ParquetFile(str(p)).metadata.num_rows for p in source.paths))
    return int(sum(int(b.num_rows) for b in source.batches()))


def _every(stride: int, values: FloatArray, offset: int) -> FloatArray:
    first = (-offset) % stride
    return values[first::stride]


def _stack(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.concatenate([a, b])


def systematic_sample(data: Any, budget: int) -> tuple[FloatArray, int]:
    """Every ``ceil(n / budget)``-th row of ``data`` (rows 0, s, 2s, ...) and ``n``.

    The rows are chosen by their position among all the rows, so chunking and
    Dask partitions do not change the sample.
    """
    if budget < 1:
        raise DataError(f"budget must be a positive number of rows; got {budget}")
    source = data if isinstance(data, Source) else as_source(data)
    n = count_rows_of(source)
    if n == 0:
        raise DataError(f"{source.describe()} holds no rows")
    from functools import partial

    stride = max(1, math.ceil(n / budget))
    sample = map_reduce(source, partial(_every, stride), reduce=_stack, what="sample")
    return sample, n

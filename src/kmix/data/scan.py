"""One pass over a source of rows: the labelled rows counted, with progress.

Files and in-memory tables are read batch by batch on this machine; a Dask
DataFrame is counted on its cluster (:mod:`kmix.data.distributed`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..exceptions import DataError
from .distributed import tally_dask
from .sources import as_source
from .tally import LabelTally

__all__ = ["PROGRESS_EVERY", "tally"]

logger = logging.getLogger("kmix.data")
#: Seconds between progress reports of a streamed pass
PROGRESS_EVERY = 2.0


def tally(
    data: Any,
    *,
    columns: Sequence[str] | None = None,
    batch_rows: int | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> LabelTally:
    """Count the distinct labelled rows of ``data`` in one streamed (or distributed) pass.

    Parameters
    ----------
    data : anything :func:`kmix.data.as_source` reads
        Arrays, DataFrames, pyarrow Tables, CSV and Parquet files and globs,
        Dask DataFrames (a tally per partition on the cluster, merged there).
    columns : sequence of str, optional
    batch_rows : int, optional
        Rows per batch read (default: the source's, :data:`kmix.data.sources.BATCH_ROWS`).
    progress : callable, optional
        ``progress(rows_done, rows_per_second)`` after each batch; the library
        also logs progress on the ``kmix.data`` logger every few seconds.

    Returns
    -------
    LabelTally
    """
    source = as_source(data, columns=columns)
    if source.kind == "dask":
        return tally_dask(source.frame, list(source.columns), progress)
    out = LabelTally.empty(source.columns)
    t0 = last = time.perf_counter()
    for batch in source.batches(batch_rows):
        out.update(batch)
        now = time.perf_counter()
        rate = out.n_rows / max(now - t0, 1e-9)
        if progress is not None:
            progress(out.n_rows, rate)
        if now - last >= PROGRESS_EVERY:
            logger.info(
                "read %s rows of %s (%.0f rows/s)", f"{out.n_rows:,}", source.describe(), rate
            )
            last = now
    if out.n_rows == 0:
        raise DataError(f"{source.describe()} holds no rows")
    return out

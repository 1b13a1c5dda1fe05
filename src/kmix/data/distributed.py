"""The tally of a Dask DataFrame, computed on its cluster: a map over partitions and a tree
of merges (Dask: M. Rocklin, "Dask: parallel computation with blocked algorithms and task
scheduling", SciPy 2015).

Each partition becomes a :class:`~kmix.data.tally.LabelTally` where it lives; pairs of
tallies merge in a binary tree, so only the (small) statistics cross the network and the
driver receives one. The client in effect (``dask.distributed.Client``, e.g. on a
``LocalCluster`` or a scheduler address) runs the graph; without one, Dask's default
scheduler does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..exceptions import DataError
from .sources import Source
from .tally import LabelTally

__all__ = ["connect", "read_dask", "tally_dask", "tree_reduce"]


logger = logging.getLogger("kmix.data")
_EXTRA = "this needs Dask, which is optional: pip install 'kmix[dask]'"


def _partition(frame: Any, columns: Sequence[str]) -> LabelTally:
    """The tally of one pandas partition."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame[list(columns)], preserve_index=False)
    return LabelTally.empty(columns).update(table)


def _merge(a: LabelTally, b: LabelTally) -> LabelTally:
    return a.merge(b)


def _rows(tally: LabelTally) -> int:
    return tally.n_rows


def _client() -> Any:
    """The ``dask.distributed`` client in effect, or None."""
    try:
        from dask.distributed import get_client
    except ImportError:
        return None
    try:
        return get_client()
    except ValueError:  # no client: Dask's own scheduler on this machine
        return None


def tree_reduce(parts: list[Any], combine: Callable[[Any, Any], Any]) -> Any:
    """``combine`` over delayed results in a binary tree, partitions kept in order (earlier
    rows first), so the combining runs on the cluster."""
    from dask import delayed

    while len(parts) > 1:
        parts = [
            delayed(combine)(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    return parts[0]


def tally_dask(
    frame: Any,
    columns: Sequence[str],
    progress: Callable[[int, float], None] | None = None,
) -> LabelTally:
    """:class:`LabelTally` of a Dask DataFrame's ``columns``, computed on the cluster.

    With a ``dask.distributed`` client in effect, the partitions' tallies are
    submitted as futures that stay on the workers, the merges run there too,
    and ``progress(rows_done, rows_per_second)`` is called (and logged on
    ``kmix.data`` every few seconds) as partitions finish.
    """
    try:
        from dask import delayed
    except ImportError:
        raise ImportError(_EXTRA) from None
    parts = [delayed(_partition)(p, list(columns)) for p in frame.to_delayed()]
    if not parts:
        raise DataError("the Dask DataFrame has no partitions")
    client = _client()
    if client is None:
        out: LabelTally = tree_reduce(parts, _merge).compute()
    else:
        from dask.distributed import as_completed

        futures = client.compute(parts)
        sizes = client.map(_rows, futures)  # row counts travel, tallies stay on the workers
        done, t0, last = 0, time.perf_counter(), 0.0
        for finished in as_completed(sizes):
            done += int(finished.result())
            now = time.perf_counter()
            if progress is not None:
                progress(done, done / max(now - t0, 1e-9))
            if now - last >= 2.0:
                last = now
                logger.info(
                    "counted %s rows on the cluster (%.0f rows/s)",
                    f"{done:,}",
                    done / max(now - t0, 1e-9),
                )
        while len(futures) > 1:  # the same tree of merges, on the workers
            futures = [
                client.submit(_merge, futures[i], futures[i + 1])
                if i + 1 < len(futures)
                else futures[i]
                for i in range(0, len(futures), 2)
            ]
        out = futures[0].result()
    if out.n_rows == 0:
        raise DataError("the Dask DataFrame holds no rows")
    return out


def read_dask(source: Source) -> Any:
    """The files of a :class:`~kmix.data.sources.Source` as a Dask DataFrame (the cells of
    CSV files as text, empty cells missing, as :func:`kmix.data.tally` reads them)."""
    try:
        import dask.dataframe as dd
    except ImportError:
        raise ImportError(_EXTRA) from None
    if source.kind != "files":
        raise DataError(f"read_dask reads files; got {source.describe()}")
    paths = [str(p) for p in source.paths]
    cols = list(source.columns)
    if source.format == "parquet":
        return dd.read_parquet(paths, columns=cols)
    return dd.read_csv(
        paths, sep=source.delimiter, dtype=str, keep_default_na=False, na_values=[""], usecols=cols
    )


def connect(address: str, timeout: float = 10.0) -> Any:
    """A ``dask.distributed.Client`` on the scheduler at ``address``; a clear error when
    nothing answers there."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise ImportError(_EXTRA) from None
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise DataError(
            f"no Dask scheduler answers at {address!r} within {timeout:g} s ({exc}); start one "
            "(dask scheduler) or check the address"
        ) from None

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

from collections.abc import Sequence
from typing import Any

from ..exceptions import DataError
from .sources import Source
from .tally import LabelTally

__all__ = ["connect", "read_dask", "tally_dask"]


_EXTRA = "this needs Dask, which is optional: pip install 'kmix[dask]'"


def _partition(frame: Any, columns: Sequence[str]) -> LabelTally:
    """The tally of one pandas partition."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame[list(columns)], preserve_index=False)
    return LabelTally.empty(columns).update(table)


def _merge(a: LabelTally, b: LabelTally) -> LabelTally:
    return a.merge(b)


def tally_dask(frame: Any, columns: Sequence[str]) -> LabelTally:
    """:class:`LabelTally` of a Dask DataFrame's ``columns``, computed on the cluster."""
    try:
        from dask import delayed
    except ImportError:
        raise ImportError(_EXTRA) from None
    parts = [delayed(_partition)(p, list(columns)) for p in frame.to_delayed()]
    if not parts:
        raise DataError("the Dask DataFrame has no partitions")
    while len(parts) > 1:  # a binary tree of merges, partitions kept in order
        parts = [
            delayed(_merge)(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    out: LabelTally = parts[0].compute()
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

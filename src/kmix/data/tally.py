"""Labelled rows counted chunk by chunk: the statistic every discrete model starts from.

A :class:`LabelTally` holds, for a set of columns, the labels seen in each
(as written: numbers, text, booleans) and how often each distinct row of
labels occurs, missing cells included. It grows by :meth:`LabelTally.update`
(one pyarrow batch at a time, memory bounded by the distinct rows, not the
rows) and combines by :meth:`LabelTally.merge`, so a file larger than memory
is one streamed pass and a Dask DataFrame is a map (a tally per partition)
and a tree of merges. :meth:`LabelTally.labelled` gives the distinct rows of
labels with their counts in a canonical order (labels sorted per column, rows
lexicographic), so the result is the same however the rows were chunked or
distributed; a model fitted to those rows with the counts as frequency
weights is the model of the raw rows.

Text labels that are all canonical integers (``"7"``, ``"-3"``; not ``"07"``
or ``"7.0"``) become integers, as :func:`kmix.data.read_table` reads labels,
so a CSV file and the Parquet file of the same integers give one statistic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError
from ..stats import code_dtype, count_rows
from .sources import blank_as_null

__all__ = ["LabelTally", "Labelled"]


@dataclass(frozen=True)
class Labelled:
    """Distinct rows of labels and their counts (see :meth:`LabelTally.labelled`).

    Attributes
    ----------
    values : ndarray of shape (m, n_columns)
        ``int64`` when every column holds integers and no cell is missing,
        ``float64`` (NaN where missing) when every column is numeric,
        otherwise ``object`` (``None`` where missing).
    counts : ndarray of shape (m,)
    columns : list of str
    n_rows : int
        Rows read.
    first_missing : (int, str) or None
        The first row (0-based, in reading order) with a missing cell, and its column.
    n_missing_rows : int
        Rows with at least one missing cell.
    """

    values: NDArray[Any]
    counts: NDArray[np.float64]
    columns: list[str]
    n_rows: int
    first_missing: tuple[int, str] | None
    n_missing_rows: int

    def gaps(self) -> NDArray[np.bool_]:
        """Missing cells of ``values``."""
        if self.values.dtype.kind == "f":
            return np.isnan(self.values)
        if self.values.dtype == object:
            return np.asarray(self.values == None, dtype=bool)  # noqa: E711 (elementwise)
        return np.zeros(self.values.shape, dtype=bool)

    def missing_per_column(self) -> NDArray[np.int64]:
        """Missing cells of each column among the rows read."""
        gaps = self.gaps()  # column by column: no (m, d) float temporary
        sums = [float(self.counts[gaps[:, j]].sum()) for j in range(gaps.shape[1])]
        return np.rint(np.asarray(sums, dtype=np.float64)).astype(np.int64)

    def dropping(self, rows: str) -> tuple[Labelled, int]:
        """Without the rows that have a gap (``rows="gappy"``) or nothing but gaps
        (``rows="empty"``), and how many rows read that removes."""
        if rows not in ("gappy", "empty"):
            raise DataError(f"rows must be 'gappy' or 'empty'; got {rows!r}")
        gaps = self.gaps()
        out = gaps.any(axis=1) if rows == "gappy" else gaps.all(axis=1)
        dropped = int(self.counts[out].sum())
        kept = Labelled(
            self.values[~out],
            self.counts[~out],
            self.columns,
            self.n_rows,
            self.first_missing,
            self.n_missing_rows,
        )
        return kept, dropped


#: Queued distinct rows below this many are not merged yet (small batches merge together).
MERGE_ROWS = 1 << 16


@dataclass
class LabelTally:
    """Additive statistic of labelled rows: labels per column and distinct rows with counts.

    ``codes`` rows hold ``1 + `` the label's index in ``labels[j]`` (in the
    order first seen), ``0`` where missing.

    Examples
    --------
    >>> import pyarrow as pa
    >>> t = LabelTally.empty(["a", "b"])
    >>> _ = t.update(pa.table({"a": ["x", "y", "x"], "b": [1, None, 1]}))
    >>> out = t.labelled()
    >>> out.values.tolist(), out.counts.tolist(), out.first_missing
    ([['x', 1], ['y', None]], [2.0, 1.0], (1, 'b'))
    """

    columns: list[str]
    labels: list[list[Any]]
    codes: NDArray[np.integer[Any]]
    counts: NDArray[np.float64]
    n_rows: int = 0
    first_missing: tuple[int, str] | None = None
    n_missing_rows: int = 0
    _index: list[dict[Any, int]] = field(default_factory=list, repr=False)
    _pending: list[tuple[NDArray[np.integer[Any]], NDArray[np.float64]]] = field(
        default_factory=list, repr=False
    )

    @classmethod
    def empty(cls, columns: Sequence[str]) -> LabelTally:
        """The statistic of no rows."""
        cols = [str(c) for c in columns]
        return cls(
            cols,
            [[] for _ in cols],
            np.empty((0, len(cols)), dtype=np.int64),
            np.empty(0),
            _index=[{} for _ in cols],
        )

    @property
    def n_unique(self) -> int:
        """Distinct rows seen."""
        self._flush()
        return int(self.codes.shape[0])

    def _register(self, j: int, values: list[Any]) -> NDArray[np.int64]:
        """``1 +`` the index of each value among column ``j``'s labels (new ones appended)."""
        index, labels = self._index[j], self.labels[j]
        out = np.empty(len(values), dtype=np.int64)
        for i, v in enumerate(values):  # over a column's distinct labels, never over rows
            code = index.get(v)
            if code is None:
                code = index[v] = len(labels)
                labels.append(v)
            out[i] = code + 1
        return out

    def _column(self, j: int, col: Any) -> NDArray[np.int64]:
        """Codes of one pyarrow column (0 where null or NaN)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        if pa.types.is_integer(col.type) and col.null_count == 0 and len(col):
            # integers of a small range: their codes by one lookup table, no hashing
            v = np.asarray(col.to_numpy(), dtype=np.int64)
            lo, hi = int(v.min()), int(v.max())
            if hi - lo < 1 << 16:
                seen = np.flatnonzero(np.bincount(v - lo, minlength=hi - lo + 1))
                lut = np.zeros(hi - lo + 1, dtype=np.int64)
                lut[seen] = self._register(j, (seen + lo).tolist())
                out_int: NDArray[np.int64] = lut[v - lo]
                return out_int
        if pa.types.is_floating(col.type):
            col = pc.if_else(pc.is_nan(col), pa.scalar(None, col.type), col)
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            # text labels as read_table reads them: stripped, empty cells missing
            col = blank_as_null(col)
        enc = col if pa.types.is_dictionary(col.type) else pc.dictionary_encode(col)
        idx = np.asarray(enc.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
        present = idx >= 0
        used = np.flatnonzero(np.bincount(idx[present], minlength=len(enc.dictionary)) > 0)
        lut = np.zeros(len(enc.dictionary) + 1, dtype=np.int64)
        if used.size:
            lut[used + 1] = self._register(j, enc.dictionary.take(pa.array(used)).to_pylist())
        out: NDArray[np.int64] = lut[idx + 1]
        return out

    def update(self, batch: Any) -> LabelTally:
        """Add a pyarrow RecordBatch or Table (its columns named as ``columns``); returns self."""
        n = int(batch.num_rows)
        if n == 0:
            return self
        names = list(batch.schema.names)
        missing = [c for c in self.columns if c not in names]
        if missing:
            raise DataError(f"column {missing[0]!r} is not in the batch; it has {names}")
        # column-major: each column's codes written in one contiguous run, in the narrowest
        # type that holds every column's labels (one byte a cell up to 126 labels)
        parts = [self._column(j, batch.column(names.index(c))) for j, c in enumerate(self.columns)]
        codes = np.empty((n, len(self.columns)), dtype=self._code_type(), order="F")
        for j, part in enumerate(parts):
            codes[:, j] = part
        del parts
        gappy = (codes == 0).any(axis=1) if codes.min() == 0 else None  # 0: a missing cell
        if gappy is not None and gappy.any():
            if self.first_missing is None:
                i = int(np.argmax(gappy))
                self.first_missing = (self.n_rows + i, self.columns[int(np.argmax(codes[i] == 0))])
            self.n_missing_rows += int(gappy.sum())
            values, counts = count_rows(codes, dtype=codes.dtype)
        else:  # no gap: codes from 0, a smaller code range (counted faster)
            codes -= 1
            values, counts = count_rows(codes, dtype=codes.dtype)
            values += 1
        self.n_rows += n
        self._add(values, counts)
        return self

    def _code_type(self) -> np.dtype[Any]:
        """The narrowest type of the codes ``0 .. labels`` of every column."""
        return code_dtype(max((len(lab) for lab in self.labels), default=0) + 1)

    def _add(self, codes: NDArray[np.integer[Any]], weights: NDArray[np.float64]) -> None:
        """Queue distinct rows with counts; they are merged into ``codes`` once the queue
        holds as many rows as ``codes`` (so each row is re-counted O(log n) times, not once
        per batch, when most rows are distinct)."""
        self._pending.append((codes, weights))
        if sum(c.shape[0] for c, _ in self._pending) >= max(self.codes.shape[0], MERGE_ROWS):
            self._flush()

    def _flush(self) -> None:
        """Merge the queued rows into ``codes`` and ``counts``."""
        if not self._pending:
            return
        parts = ([(self.codes, self.counts)] if self.codes.shape[0] else []) + self._pending
        both = np.concatenate([c for c, _ in parts])
        w = np.concatenate([c for _, c in parts])
        self.codes, self.counts = count_rows(both, w, dtype=self._code_type())
        self._pending = []

    def merge(self, other: LabelTally) -> LabelTally:
        """The statistic of both row sets, ``self``'s rows first (a new object)."""
        if other.columns != self.columns:
            raise DataError(f"cannot merge tallies of columns {self.columns} and {other.columns}")
        out, d = LabelTally.empty(self.columns), len(self.columns)
        for j in range(d):
            out._register(j, self.labels[j])
        if self.n_unique:
            out._add(self.codes, self.counts)
        if other.n_unique:
            luts = [np.concatenate([[0], out._register(j, other.labels[j])]) for j in range(d)]
            remap = np.empty(other.codes.shape, dtype=out._code_type())
            for j, lut in enumerate(luts):
                remap[:, j] = lut[other.codes[:, j]]
            out._add(remap, other.counts)
        out.n_rows = self.n_rows + other.n_rows
        out.n_missing_rows = self.n_missing_rows + other.n_missing_rows
        out.first_missing = self.first_missing
        if out.first_missing is None and other.first_missing is not None:
            out.first_missing = (self.n_rows + other.first_missing[0], other.first_missing[1])
        return out

    def labelled(self, *, narrow: bool = False) -> Labelled:
        """Distinct rows of labels, canonical order; text integers as integers.

        ``narrow``: integer labels in the narrowest integer type that holds them
        (int8 for codes such as 0/1: a byte a cell for millions of distinct rows).
        """
        self._flush()
        m, d = self.codes.shape
        cols: list[NDArray[Any]] = []
        ranks = np.empty((m, d), dtype=self.codes.dtype)
        for j in range(d):
            labels = _typed(self.labels[j])
            order = np.argsort(labels, kind="stable") if labels.size else np.empty(0, np.int64)
            rank = np.empty(len(order) + 1, dtype=np.int64)
            rank[0] = 0
            rank[order + 1] = np.arange(1, len(order) + 1)
            ranks[:, j] = rank[self.codes[:, j]]
            cols.append(labels[order])
        if m:
            ranks, cnt = count_rows(ranks, self.counts, dtype=ranks.dtype)
        else:
            cnt = self.counts
        gaps = ranks == 0
        numeric = all(c.dtype.kind in "biuf" for c in cols)
        if numeric and not gaps.any() and all(c.dtype.kind in "biu" for c in cols):
            kind: Any = np.int64
            if narrow and d and any(c.size for c in cols):
                lo = min(int(c.min()) for c in cols if c.size)
                hi = max(int(c.max()) for c in cols if c.size)
                kind = next(
                    t
                    for t in (np.int8, np.int16, np.int32, np.int64)
                    if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max
                )
            values: NDArray[Any] = np.empty((ranks.shape[0], d), dtype=kind)
        elif numeric:
            values = np.full((ranks.shape[0], d), np.nan)
        else:
            values = np.full((ranks.shape[0], d), None, dtype=object)
        for j, labels in enumerate(cols):
            here = ~gaps[:, j]
            if labels.size:
                values[here, j] = labels[ranks[here, j] - 1]
        return Labelled(
            values, cnt, list(self.columns), self.n_rows, self.first_missing, self.n_missing_rows
        )


def _typed(labels: list[Any]) -> NDArray[Any]:
    """A column's labels as an array that sorts them: int64, float64, or text objects;
    text that is every one a canonical integer becomes int64."""
    if not labels:
        return np.empty(0, dtype=np.int64)
    kinds = {type(v) for v in labels}
    if kinds <= {bool}:
        return np.array(labels, dtype=np.int64)
    if kinds <= {int, bool}:
        try:
            return np.array(labels, dtype=np.int64)
        except OverflowError:
            return np.array(labels, dtype=object)
    if kinds <= {int, float, bool}:
        return np.array(labels, dtype=np.float64)
    if kinds <= {str}:
        text = np.array(labels, dtype=np.str_)
        try:
            ints = text.astype(np.int64)
        except (ValueError, OverflowError):
            return np.array(labels, dtype=object)
        if bool(np.all(ints.astype(np.str_) == text)):
            return ints
        return np.array(labels, dtype=object)
    if len({k.__name__ for k in kinds}) > 1:
        raise DataError(
            f"a column mixes label types ({', '.join(sorted(k.__name__ for k in kinds))}); "
            "give it one type"
        )
    return np.array(labels, dtype=object)

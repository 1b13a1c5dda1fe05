"""``kmix.data.tally``: labelled rows counted chunk by chunk, from every kind of source.

References: the counts of distinct rows by :class:`collections.Counter` over the raw rows
(an independent implementation, one Python tuple per row), and identity between sources
that hold the same cells.
"""

from __future__ import annotations

import importlib
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kmix.data import LabelTally, as_source, tally
from kmix.exceptions import DataError


def _counter(labelled) -> Counter:
    """The tally's rows as a Counter of tuples (NaN/None both read as None)."""
    out: Counter = Counter()
    for row, c in zip(labelled.values.tolist(), labelled.counts.tolist(), strict=True):
        key = tuple(None if (v is None or v != v) else v for v in row)
        out[key] += c
    return out


tally_module = importlib.import_module("kmix.data.tally")  # the module, not the function
cells = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))
tables = st.lists(st.tuples(cells, st.sampled_from([0, 1, 2]), cells), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    rows=tables,
    sizes=st.lists(st.integers(1, 7), min_size=1, max_size=10),
    merge_rows=st.sampled_from([1, tally_module.MERGE_ROWS]),
)
def test_chunks_and_merges_give_the_counts_of_the_rows(rows, sizes, merge_rows) -> None:
    """Reference: Counter over the raw rows; any chunking, and any merge order, agree
    (queued rows merged after every batch, or only at the end)."""
    default, tally_module.MERGE_ROWS = tally_module.MERGE_ROWS, merge_rows
    try:
        _check_chunks_and_merges(rows, sizes)
    finally:
        tally_module.MERGE_ROWS = default


def _check_chunks_and_merges(rows, sizes) -> None:
    table = pa.table(
        {"p": [r[0] for r in rows], "q": [r[1] for r in rows], "r": [r[2] for r in rows]}
    )
    whole = tally(table).labelled()
    assert _counter(whole) == Counter(tuple(r) for r in rows)
    # chunked: the given chunk sizes, cycled
    chunked = LabelTally.empty(["p", "q", "r"])
    start, i = 0, 0
    while start < len(rows):
        size = sizes[i % len(sizes)]
        chunked.update(table.slice(start, size))
        start, i = start + size, i + 1
    got = chunked.labelled()
    np.testing.assert_array_equal(got.values, whole.values)
    np.testing.assert_array_equal(got.counts, whole.counts)
    # merged halves, either way round
    cut = len(rows) // 2
    a = LabelTally.empty(["p", "q", "r"]).update(table.slice(0, cut))
    b = LabelTally.empty(["p", "q", "r"]).update(table.slice(cut))
    for merged in (a.merge(b), b.merge(a)):
        m = merged.labelled()
        np.testing.assert_array_equal(m.values, whole.values)
        np.testing.assert_array_equal(m.counts, whole.counts)
        assert m.n_rows == len(rows)
    gaps = [i for i, r in enumerate(rows) if None in r]
    assert whole.n_missing_rows == len(gaps)
    if gaps:
        assert a.merge(b).first_missing[0] == gaps[0]


def test_files_frames_and_arrays_give_one_statistic(tmp_path: Path) -> None:
    """Reference: identity; the same integers from numpy, pandas, polars, Arrow, Parquet
    (several files) and CSV (text read as canonical integers) give the same rows, exactly."""
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(5000, 6))
    names = [f"v{j}" for j in range(6)]
    frame = pd.DataFrame(X, columns=names)
    pq.write_table(
        pa.Table.from_pandas(frame.iloc[:2000], preserve_index=False), tmp_path / "a.parquet"
    )
    pq.write_table(
        pa.Table.from_pandas(frame.iloc[2000:], preserve_index=False), tmp_path / "b.parquet"
    )
    frame.to_csv(tmp_path / "x.csv", index=False)
    ref = tally(X, columns=None).labelled()
    assert ref.values.dtype == np.int64 and ref.counts.sum() == 5000
    for src in (
        frame,
        pl.from_pandas(frame),
        pa.Table.from_pandas(frame),
        str(tmp_path / "*.parquet"),
    ):
        got = tally(src).labelled()
        np.testing.assert_array_equal(got.values, ref.values)
        np.testing.assert_array_equal(got.counts, ref.counts)
    for rows in (1, 333, 10_000):
        got = tally(as_source(tmp_path / "x.csv", batch_rows=rows)).labelled()
        np.testing.assert_array_equal(got.values, ref.values)
        np.testing.assert_array_equal(got.counts, ref.counts)
    assert got.columns == names


def test_labels_as_written_and_gaps(tmp_path: Path) -> None:
    """Reference: the cells; '07' and '7' stay two labels, so the column stays text; an empty
    cell is missing; a nullable pandas column's NA is missing."""
    pd = pytest.importorskip("pandas")
    path = tmp_path / "z.csv"
    path.write_text("zip,n\n07,1\n 7 ,2\n,3\n07,\n")  # cells stripped, as read_table does
    got = tally(path).labelled()
    assert got.values.tolist() == [[None, 3], ["07", None], ["07", 1], ["7", 2]]
    assert got.first_missing == (2, "zip") and got.n_missing_rows == 2
    frame = pd.DataFrame({"a": pd.array([1, None, 1], dtype="Int64"), "b": ["x", "y", None]})
    got = tally(frame).labelled()
    assert got.values.tolist() == [[None, "y"], [1, None], [1, "x"]]
    assert got.n_missing_rows == 2 and got.counts.tolist() == [1.0, 1.0, 1.0]


def test_columns_by_name_and_progress(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    table = pa.table({"a": [0, 1, 1, 0], "b": ["x", "y", "x", "x"], "c": [5, 5, 5, 5]})
    seen: list[int] = []
    got = tally(table, columns=["b", "a"], batch_rows=1, progress=lambda n, rate: seen.append(n))
    assert got.columns == ["b", "a"] and seen == [1, 2, 3, 4]
    assert got.labelled().values.tolist() == [["x", 0], ["x", 1], ["y", 1]]
    with pytest.raises(DataError, match=r"column 'zz' is not in the table; its columns are"):
        tally(table, columns=["zz"])


def test_a_column_of_mixed_label_types_is_named() -> None:
    t = LabelTally.empty(["m"])
    t.update(pa.table({"m": [1, 2]}))
    t.update(pa.table({"m": ["a", "b"]}))
    with pytest.raises(DataError, match="mixes label types"):
        t.labelled()

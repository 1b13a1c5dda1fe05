"""``kmix.data.as_source``: what a source names, and the errors that name a bad one.

References: the files written here (their names, columns and types are known).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kmix.data import as_source, is_source, tally
from kmix.exceptions import DataError


def _parquet(path: Path, **cols) -> Path:
    pq.write_table(pa.table(cols), path)
    return path


def test_files_globs_and_directories(tmp_path: Path) -> None:
    _parquet(tmp_path / "p1.parquet", a=[0, 1], b=[1, 1])
    _parquet(tmp_path / "p2.parquet", a=[1], b=[0])
    src = as_source(str(tmp_path / "p*.parquet"))
    assert src.kind == "files" and src.format == "parquet" and len(src.paths) == 2
    assert src.columns == ("a", "b") and "2 files" in src.describe()
    assert as_source(tmp_path).paths == src.paths  # a directory: every data file in it
    assert sum(b.num_rows for b in src.batches(1)) == 3
    assert as_source(src, columns=["b"]).columns == ("b",)
    assert is_source(str(tmp_path)) and is_source(pa.table({"a": [1]}))
    assert not is_source(np.zeros((2, 2)))


def test_bad_sources_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data file .*nope.parquet does not exist"):
        as_source(tmp_path / "nope.parquet")
    with pytest.raises(DataError, match=r"no file matches '.*\*.parquet'"):
        as_source(str(tmp_path / "*.parquet"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="holds no data file"):
        as_source(empty)
    _parquet(tmp_path / "a1.parquet", x=[0, 1], y=[1, 0])
    _parquet(tmp_path / "a2.parquet", x=[0, 1])
    with pytest.raises(DataError, match=r"column 'y' is missing in .*a2.parquet \(it is in .*a1"):
        as_source(str(tmp_path / "a*.parquet"))
    _parquet(tmp_path / "b1.parquet", x=[0, 1])
    _parquet(tmp_path / "b2.parquet", x=["0", "1"])
    with pytest.raises(DataError, match=r"column 'x' has type int64 in .*b1.* but string in"):
        as_source(str(tmp_path / "b*.parquet"))
    (tmp_path / "c.csv").write_text("x\n1\n")
    with pytest.raises(DataError, match="mix CSV and Parquet"):
        as_source([tmp_path / "c.csv", tmp_path / "b1.parquet"])
    with pytest.raises(DataError, match="column 'q' is not in"):
        as_source(tmp_path / "c.csv", columns=["q"])
    with pytest.raises(DataError, match="batch_rows must be a positive"):
        as_source(tmp_path / "c.csv", batch_rows=0)
    (tmp_path / "n.csv").write_text("0,1\n1,1\n")
    with pytest.raises(DataError, match="needs a header row naming its columns"):
        as_source(tmp_path / "n.csv")
    with pytest.raises(DataError, match="holds no rows"):
        (tmp_path / "h.csv").write_text("x,y\n")
        tally(tmp_path / "h.csv")


def test_mixed_types_in_a_column_are_named() -> None:
    pd = pytest.importorskip("pandas")
    with pytest.raises(DataError, match="mixes types"):
        as_source(pd.DataFrame({"m": [1, "a", 2.5]}))
    with pytest.raises(DataError, match="column 0 mixes types"):
        as_source(np.array([[1], ["a"]], dtype=object))

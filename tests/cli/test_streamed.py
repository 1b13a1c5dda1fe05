"""``kmix fit`` on Parquet files, globs and Dask: the data counted as they are read.

References: the published carcinoma fit (Agresti 2002, Table 13.1; poLCA's output,
``kmix/_bundled/SOURCES.md``: log-likelihood -293.705), reached from the same rows split
over Parquet files, and the same command on the CSV file read whole (identical printout
but for the reading line).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kmix.data import write_table
from kmix.datasets import carcinoma
from tests.helpers.cli import assert_one_error_line, number, run


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("streamed")
    rows = carcinoma().expand()
    write_table(root / "carcinoma.csv", rows, list("ABCDEFG"))
    parts = root / "parts"
    parts.mkdir()
    for i, chunk in enumerate(np.array_split(rows.astype(np.int64), 3)):
        table = pa.table({name: chunk[:, j] for j, name in enumerate("ABCDEFG")})
        pq.write_table(table, parts / f"part-{i}.parquet")
    gappy = rows.astype(np.float64)
    gappy[[4, 50], 2] = np.nan
    write_table(root / "gaps.csv", gappy, list("ABCDEFG"))
    return root


def test_parquet_parts_reach_the_published_fit(files: Path, capsys) -> None:
    whole = run(
        capsys, "fit", str(files / "carcinoma.csv"), "--model", "product", "-k", "3", "--seed", "0"
    )
    for spec, extra in (
        (str(files / "parts" / "*.parquet"), ()),
        (str(files / "parts"), ()),
        (str(files / "carcinoma.csv"), ("--engine", "stream")),
        (str(files / "parts" / "*.parquet"), ("--engine", "dask")),
    ):
        status, out, err = run(
            capsys, "fit", spec, "--model", "product", "-k", "3", "--seed", "0", *extra
        )
        assert status == 0, err
        assert "118 rows" in err and "rows/s" in err
        assert abs(number(out, "log-likelihood") - (-293.705)) <= 1e-3
        # the same printout as the CSV read whole, but for the file named in the first line
        assert out.splitlines()[1:] == whole[1].splitlines()[1:]


def test_gaps_and_bad_options_are_named(files: Path, capsys) -> None:
    gaps = str(files / "gaps.csv")
    assert_one_error_line(
        run(
            capsys,
            "fit",
            gaps,
            "--model",
            "product",
            "--engine",
            "stream",
            "--missing",
            "error",
            "-q",
        ),
        1,
        r"empty cells in 2 row\(s\) \(first in data row 5, column 'C'\)",
    )
    status, out, _ = run(
        capsys,
        "fit",
        gaps,
        "--model",
        "product",
        "--engine",
        "stream",
        "--missing",
        "drop",
        "--seed",
        "0",
    )
    assert status == 0 and "116 rows of 118, 2 with empty cells dropped" in out
    assert_one_error_line(
        run(capsys, "fit", str(files / "parts"), "-k", "2"),
        1,
        "are read by --model product",
    )
    assert_one_error_line(
        run(capsys, "fit", gaps, "--model", "product", "--scheduler", "tcp://127.0.0.1:9"),
        1,
        "--scheduler is the address of a Dask cluster; it needs --engine dask",
    )
    assert_one_error_line(
        run(capsys, "fit", str(files / "nope" / "*.parquet"), "--model", "product"),
        1,
        r"no file matches",
    )

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
        run(capsys, "fit", str(files / "parts"), "--family", "bernoulli", "-k", "2"),
        1,
        r"are read by --model product \(counted as read\) and --family gaussian",
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


def test_gaussian_rows_are_fitted_by_passes(tmp_path: Path, capsys) -> None:
    """Reference: the model's own BIC on the rows in memory (``FiniteMixture.bic``), the
    in-memory fit's log-likelihood, and the same command on a Dask frame."""
    from kmix import FiniteMixture
    from kmix.io import load

    pd = pytest.importorskip("pandas")

    rng = np.random.default_rng(4)
    z = rng.random(6000) < 0.3
    X = np.where(z[:, None], [3.0, -1.0], [-1.0, 2.0]) + rng.normal(size=(6000, 2))
    for i, part in enumerate(np.array_split(X, 3)):
        pq.write_table(pa.table({"a": part[:, 0], "b": part[:, 1]}), tmp_path / f"g{i}.parquet")
    spec = str(tmp_path / "g*.parquet")
    args = ("--family", "gaussian", "-k", "2", "--seed", "0", "--tol", "1e-12")
    status, out, err = run(capsys, "fit", spec, *args, "--out", str(tmp_path / "g.json"))
    assert status == 0, err
    assert "EM pass 1: log-likelihood" in err and "6,000 rows x 2 columns" in out
    model = load(tmp_path / "g.json")
    frame = pd.DataFrame(X, columns=["a", "b"])  # the model's column names
    assert number(out, "BIC") == pytest.approx(model.bic(frame), abs=1e-3)
    ref = FiniteMixture(2, family="gaussian", random_state=0, tol=1e-12).fit(X)
    assert number(out, "log-likelihood") == pytest.approx(ref.log_likelihood_, abs=1e-3)
    status, dask_out, err = run(capsys, "fit", spec, *args, "--engine", "dask")
    assert status == 0, err
    assert dask_out.splitlines()[1:] == out.splitlines()[1:-1]  # but the saved-model line
    assert_one_error_line(
        run(capsys, "fit", spec, "--family", "poisson", "--engine", "dask"),
        1,
        r"--engine applies only to --family gaussian or --model product",
    )

"""CSV tables: header detection, column types, round trips and clear errors.

References: hand-written files whose parsed values are known exactly, and the
identity for write-then-read round trips.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kmix.data import Table, read_table, write_table
from kmix.exceptions import DataError


def _write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_numeric_file_with_header(tmp_path: Path) -> None:
    """Reference: the literal cells of the file."""
    X, columns = read_table(_write(tmp_path, "a,b\n1,0\n0.5,-2e3\n"))
    assert columns == ["a", "b"]
    assert X.dtype == np.float64
    assert X.tolist() == [[1.0, 0.0], [0.5, -2000.0]]


def test_all_numeric_first_row_is_data(tmp_path: Path) -> None:
    """Reference: the header rule; an all-numeric first row is data, named x0, x1, ..."""
    X, columns = read_table(_write(tmp_path, "1,0\n0,1\n\n1,1\n"))
    assert columns == ["x0", "x1"]
    assert X.tolist() == [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]


def test_header_can_be_forced_either_way(tmp_path: Path) -> None:
    path = _write(tmp_path, "red,big\nblue,small\n")
    guessed = read_table(path)
    assert guessed.columns == ["red", "big"] and guessed.values.shape == (1, 2)
    X, columns = read_table(path, header=False)
    assert columns == ["x0", "x1"]
    assert X.tolist() == [["red", "big"], ["blue", "small"]]
    numeric = read_table(_write(tmp_path, "1,2\n3,4\n", "n.csv"), header=True)
    assert numeric.columns == ["1", "2"] and numeric.values.tolist() == [[3.0, 4.0]]


def test_mixed_columns_keep_text_and_mark_missing(tmp_path: Path) -> None:
    """Reference: text stays text, numbers become floats, empty cells become None / nan."""
    text = "\ufeffcolour, count ,note\nred,3,a\nblue,,b\n green ,4,\n"
    table = read_table(_write(tmp_path, text))
    X, columns = table
    assert columns == ["colour", "count", "note"]
    assert X.dtype == object
    assert X[:, 0].tolist() == ["red", "blue", "green"]
    assert X[0, 1] == 3.0 and np.isnan(X[1, 1]) and X[2, 1] == 4.0
    assert X[:, 2].tolist() == ["a", "b", None]
    assert table.text_columns() == [0, 2]


def test_tab_separated_by_suffix(tmp_path: Path) -> None:
    X, columns = read_table(_write(tmp_path, "u\tv\n1\t2\n", "data.tsv"))
    assert columns == ["u", "v"] and X.tolist() == [[1.0, 2.0]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("\n\n  \n", "is empty"),
        ("a,b\n", "header row but no data rows"),
        ("a,b\n1,2\n3\n", r"line 3: 1 fields, but line 1 has 2"),
        ("1,2,3\n4,5\n", r"line 2: 2 fields"),
        ('a,b\n"unterminated,1\n', "not valid CSV"),
    ],
)
def test_malformed_tables_raise_data_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_table(_write(tmp_path, text))


def test_missing_file_directory_and_binary(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a directory"):
        read_table(tmp_path)
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"a,b\n\xff\xfe,1\n")
    with pytest.raises(DataError, match="not UTF-8"):
        read_table(binary)


def test_round_trip_of_floats_is_exact(tmp_path: Path) -> None:
    """Reference: identity; the shortest repr of a float reads back to the same float."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(50, 3)) * 1e3, rng.integers(0, 5, (50, 1))], axis=1)
    X[3, 1] = np.nan
    path = tmp_path / "x.csv"
    write_table(path, X, ["a", "b", "c", "d"])
    Y, columns = read_table(path)
    assert columns == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(Y, X)  # nan == nan for assert_array_equal
    assert path.read_text().splitlines()[1].endswith(f",{int(X[0, 3])}")  # integers as "2"


def test_round_trip_of_text_and_default_names(tmp_path: Path) -> None:
    """Reference: identity; a header is always written, so all-text tables read back."""
    X = np.array([["red", "big, round"], ["blue", 'say "hi"']], dtype=object)
    path = tmp_path / "t.csv"
    write_table(path, X)
    Y, columns = read_table(path)
    assert columns == ["x0", "x1"]
    assert Y.tolist() == X.tolist()


def test_write_to_stream_and_one_dimensional() -> None:
    buffer = io.StringIO()
    write_table(buffer, np.array([2, 0, 1]), ["component"])
    assert buffer.getvalue() == "component\n2\n0\n1\n"


def test_write_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="2 names but X has 3 columns"):
        write_table(tmp_path / "a.csv", np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(DataError, match="1-d or 2-d"):
        write_table(tmp_path / "a.csv", np.zeros((2, 2, 2)))
    with pytest.raises(DataError, match="does not exist"):
        write_table(tmp_path / "no" / "a.csv", np.zeros((2, 2)))


def test_to_frame_names_the_extra_when_pandas_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    with pytest.raises(ImportError, match=r"kmix\[pandas\]"):
        Table(np.zeros((1, 1)), ["a"]).to_frame()


# --------------------------------------------------- category labels, as written
def test_labels_that_look_like_numbers_stay_apart(tmp_path: Path) -> None:
    """Reference: the cells' text; '01' and '1' are two zip codes, not the number 1."""
    path = _write(tmp_path, "zip\n01\n1\n02\n2\n")
    assert read_table(path).values[:, 0].tolist() == [1.0, 1.0, 2.0, 2.0]  # as numbers
    assert read_table(path, labels=True).values[:, 0].tolist() == ["01", "1", "02", "2"]


def test_identifiers_beyond_two_to_the_53_stay_exact(tmp_path: Path) -> None:
    """Reference: Python's integers; float64 would merge 2**53 and 2**53 + 1."""
    big = [2**53, 2**53 + 1, 2**63 - 1, -(2**63)]
    path = _write(tmp_path, "id\n" + "\n".join(map(str, big)) + "\n")
    X = read_table(path, labels=True).values
    assert X.dtype == np.int64 and X[:, 0].tolist() == big
    beyond = _write(tmp_path, "id\n" + "\n".join(map(str, [2**64, 5])) + "\n", "b.csv")
    assert read_table(beyond, labels=True).values[:, 0].tolist() == [str(2**64), "5"]


_CELL = st.one_of(
    st.from_regex(r"-?[0-9]{1,21}(\.[0-9]{0,3})?", fullmatch=True),
    st.text(alphabet="ab01-.eE ,\"'", min_size=1, max_size=6).map(str.strip).filter(bool),
)


@st.composite
def _tables(draw: st.DrawFn, empty: bool) -> list[list[str]]:
    n_cols = draw(st.integers(3, 5))
    n_rows = draw(st.integers(4, 16))
    cell = st.one_of(_CELL, st.just("")) if empty else _CELL
    columns = [draw(st.lists(cell, min_size=n_rows, max_size=n_rows)) for _ in range(n_cols)]
    return [list(row) for row in zip(*columns, strict=True)]


@given(table=_tables(empty=True))
@settings(max_examples=60, deadline=None)
def test_text_number_and_empty_cells_round_trip(table: list[list[str]]) -> None:
    """Reference: the cells as a CSV reader sees them as text (pandas' ``dtype=str``)."""
    import tempfile

    raw = np.array([[c or None for c in row] for row in table], dtype=object)
    expected = [[c or None for c in row] for row in table]
    while expected and not any(expected[-1]):
        expected.pop()  # empty rows at the end are no data rows
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        write_table(path, raw, [f"c{j}" for j in range(raw.shape[1])])
        if not expected:
            with pytest.raises(DataError, match="has a header row but no data rows"):
                read_table(path, labels=True)
            return
        back = read_table(path, labels=True).values
    seen = [[None if v is None else str(v) for v in row] for row in back.tolist()]
    assert seen == expected


def test_empty_rows_inside_are_missing_and_trailing_ones_are_dropped(tmp_path: Path) -> None:
    """Reference: the file's lines. A row of empty fields between data rows is a row of
    missing values (dropping it would shift every later prediction); the empty rows a
    spreadsheet adds at the end are no data."""
    X, _ = read_table(_write(tmp_path, "a,b\n1,0\n,\n0,1\n,\n,\n"))
    assert X.shape == (3, 2) and np.isnan(X[1]).all()


@pytest.mark.parametrize("parallel_cells", [1, 1 << 40])
def test_large_numeric_tables_by_threads_or_not(tmp_path: Path, monkeypatch, parallel_cells):
    """Reference: numpy.loadtxt of the same file; the columns copied into the array by
    parallel threads (every table above the threshold) or one after another."""
    from kmix.data import csvread

    monkeypatch.setattr(csvread, "PARALLEL_CELLS", parallel_cells)
    rng = np.random.default_rng(3)
    X = np.round(rng.normal(size=(40_000, 7)), 3)
    X[:, 2] = rng.integers(0, 5, 40_000)  # an integer column among floats
    path = tmp_path / "big.csv"
    np.savetxt(path, X, delimiter=",", fmt="%.3f", header="a,b,c,d,e,f,g", comments="")
    got = read_table(path)
    np.testing.assert_array_equal(got.values, np.loadtxt(path, delimiter=",", skiprows=1))
    assert got.columns == list("abcdefg")

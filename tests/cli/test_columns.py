"""``--columns``: the columns a command reads (kmix.cli.columns).

References: the library fitted to the same columns selected by hand (the same
log-likelihood, predictions and effect), the file's header (the names an error
must list), and "exactly one line on standard error" for every error exit.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from kmix.cli.columns import select_columns
from kmix.data import write_table
from kmix.datasets import carcinoma
from kmix.estimators import BayesNetMixture, CoinMixture, ProductMixture
from kmix.exceptions import DataError
from tests.helpers.cli import assert_one_error_line, number, run

ITEMS = list("ABCDEFG")


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The carcinoma ratings between an id column and a 60-level 'AGE' column."""
    X = carcinoma().expand()
    ages = np.random.default_rng(0).integers(20, 80, X.shape[0])
    table = np.column_stack([np.arange(1, X.shape[0] + 1), X, ages])
    path = tmp_path_factory.mktemp("columns") / "survey.csv"
    write_table(path, table, ["ID", *ITEMS, "AGE"])
    return path


def _library_log_likelihood(k: int) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(ProductMixture(k, random_state=0).fit(carcinoma().expand()).log_likelihood_)


@pytest.mark.parametrize("spec", ["A:G", "2:8", "A,B,C,D,E,F,G", "A:C,5,E:8"])
def test_fit_reads_the_columns_named(survey: Path, spec: str, capsys) -> None:
    """Reference: the library fit on the seven rating columns alone."""
    status, out, err = run(
        capsys,
        "fit",
        str(survey),
        "--model",
        "product",
        "-k",
        "2",
        "--seed",
        "0",
        "--columns",
        spec,
    )
    assert status == 0, err
    assert "118 rows x 7 columns" in out.splitlines()[0]
    assert number(out, "log-likelihood") == pytest.approx(_library_log_likelihood(2), abs=1e-4)
    assert "warning" not in err  # neither ID nor AGE was read


def test_every_column_of_the_survey_names_the_fix(survey: Path, capsys) -> None:
    """Reference: the header; ID has one level per row (the estimator's identifier rule),
    AGE 60 levels (more than kmix.cli.product.MANY_LEVELS)."""
    outcome = run(capsys, "fit", str(survey), "--model", "product", "-k", "2")
    assert_one_error_line(outcome, 1, r"column 'ID' of .*survey\.csv has 118 distinct levels")
    status, _, err = run(capsys, "fit", str(survey), "--model", "product", "--columns", "2:9")
    assert status == 0, err
    warned = [line for line in err.splitlines() if line.startswith("kmix: warning: column")]
    assert len(warned) == 1 and "'AGE'" in warned[0] and "--columns" in warned[0], err


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("A,FOO", r"has no column 'FOO'; its columns are ID, A, B, C, D, E, F, G, AGE \(or "),
        ("2-8", r"no column '2-8' \(a range is written FIRST:LAST, here 2:8\)"),
        ("G:A", r"range 'G:A' runs backwards .*write A:G"),
        ("0", r"position 0 is outside .*numbered 1 to 9"),
        ("A:12", r"position 12 is outside"),
        ("A,,B", r"empty entry"),
        ("A:C,B", r"lists column 'B' \(position 3\) twice"),
    ],
)
def test_bad_columns_print_one_line(survey: Path, spec: str, message: str, capsys) -> None:
    """Reference: the header of the file, and one error line."""
    outcome = run(capsys, "fit", str(survey), "--model", "product", "--columns", spec)
    assert_one_error_line(outcome, 1, message)


def test_names_win_over_positions_and_order_is_kept() -> None:
    """Reference: the documented rule (an entry that is exactly a name is that column)."""
    columns = ["id", "3", "x", "y"]
    assert select_columns("3", columns, "f.csv") == [1]
    assert select_columns("4,1", columns, "f.csv") == [3, 0]
    assert select_columns("3:y", columns, "f.csv") == [1, 2, 3]
    with pytest.raises(DataError, match="no column 'z'"):
        select_columns("z", columns, "f.csv")


def test_predict_and_select_k_read_the_columns_named(survey: Path, tmp_path: Path, capsys):
    """Reference: the library's predictions of the saved model on the rating columns."""
    model = tmp_path / "m.json"
    status, _, err = run(
        capsys,
        *("fit", str(survey), "--model", "product", "-k", "2", "--seed", "0"),
        *("--columns", "A:G", "--out", str(model)),
    )
    assert status == 0, err
    status, out, err = run(capsys, "predict", str(model), str(survey), "--columns", "A:G")
    assert status == 0, err
    from kmix import io as kio

    labels = np.array(out.split()[1:], dtype=np.int64)
    assert np.array_equal(labels, kio.load(model).predict(carcinoma().expand()))
    status, out, err = run(
        capsys, "select-k", str(survey), "--columns", "A:G", "--max-k", "2", "--seed", "0"
    )
    assert status == 0, err
    assert "model: product, chosen from the data (7 columns of discrete items" in out


def test_coins_read_the_columns_named(tmp_path: Path, capsys) -> None:
    """Reference: CoinMixture on the head counts; the id column is left out."""
    rng = np.random.default_rng(0)
    heads = rng.binomial(5, np.where(rng.random(3000) < 0.4, 0.2, 0.7))
    path = tmp_path / "coins.csv"
    rows = "\n".join(f"{i},{h},5" for i, h in enumerate(heads))
    path.write_text("id,heads,trials\n" + rows + "\n")
    status, out, err = run(
        capsys, "fit", str(path), "--model", "coins", "-k", "2", "--columns", "heads,trials"
    )
    assert status == 0, err
    ref = CoinMixture(2).fit(heads, n_trials=5)
    assert number(out, "log-likelihood") == pytest.approx(ref.log_likelihood_, abs=1e-3)


def test_effect_reads_the_columns_named(tmp_path: Path, capsys) -> None:
    """Reference: BayesNetMixture fitted to the DAG's columns; the extra column is left out."""
    from kmix.datasets import bayesnet_mixture, random_sparse_dag

    dag = random_sparse_dag(6, 2, random_state=3)
    X, truth = bayesnet_mixture(dag, 2, 20_000, separation=0.2, random_state=3)
    extra = np.random.default_rng(1).integers(0, 3, X.shape[0])
    path = tmp_path / "data.csv"
    names = list(truth.columns)
    rows = "\n".join(",".join(map(str, [e, *r])) for e, r in zip(extra, X, strict=True))
    path.write_text(",".join(["noise", *names]) + "\n" + rows + "\n")
    graph = tmp_path / "graph.txt"
    graph.write_text("\n".join(f"{a} -> {b}" for a, b in dag.edges) + "\n" + "\n".join(dag.nodes))
    x, y = next(iter(dag.edges))
    argv = ["effect", str(path), "--dag", str(graph), "-k", "2", "--treatment", x]
    argv += ["--outcome", y, "--n-boot", "0", "--seed", "0"]
    status, _, err = run(capsys, *argv)
    assert status == 1 and "noise" in err  # not a DAG node
    status, out, err = run(capsys, *argv, "--columns", f"{names[0]}:{names[-1]}")
    assert status == 0, err
    model = BayesNetMixture(dag, 2, random_state=0).fit(X, columns=names)
    line = next(ln for ln in out.splitlines() if ln.strip().startswith(f"ATE of {x} on {y}"))
    ate = float(re.findall(r"[-+]\d+\.\d+", line)[0])
    assert ate == pytest.approx(model.ate(x, y), abs=1e-4)

"""``kmix select-k``: the model chosen from the data, the BLRT column and the progress lines.

References: the documented rule of :mod:`kmix.cli.guess` (two whole-number columns
heads <= trials: coins; three or more discrete columns: product); the library's
``select_k_coins`` and ``kmix.estimators.fitstats.blrt`` on the same data; and
"exactly one line on standard error" for every error exit.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from kmix.cli import main
from kmix.data import write_table
from kmix.datasets import carcinoma
from kmix.estimators import ProductMixture, select_k_coins
from tests.helpers.cli import assert_one_error_line, run


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("select")
    rng = np.random.default_rng(0)
    heads = rng.binomial(5, np.where(rng.random(4000) < 0.4, 0.2, 0.75))
    paths = {name: root / f"{name}.csv" for name in ("coins", "survey", "real", "one", "pairs")}
    paths["coins"].write_text("heads,trials\n" + "\n".join(f"{h},5" for h in heads.tolist()) + "\n")
    write_table(paths["survey"], carcinoma().expand(), list("ABCDEFG"))
    real = rng.normal(size=(200, 3)).round(3)
    write_table(paths["real"], real, ["x", "y", "z"])
    paths["one"].write_text("heads\n" + "\n".join(map(str, heads[:300].tolist())) + "\n")
    pairs = rng.integers(0, 4, size=(300, 2))
    pairs[0] = [3, 1]  # heads above trials: no coin table
    write_table(paths["pairs"], pairs, ["a", "b"])
    return paths


def test_two_whole_number_columns_are_read_as_coins(files: dict[str, Path], capsys) -> None:
    """Reference: select_k_coins on the same (heads, trials) pairs."""
    status, out, err = run(capsys, "select-k", str(files["coins"]))
    assert status == 0, err
    heads = np.loadtxt(files["coins"], delimiter=",", skiprows=1)[:, 0]
    expected = select_k_coins(heads, n_trials=5).best
    assert re.search(rf"^\s*choice: k = {expected}$", out, flags=re.M), out
    assert "model: coins, chosen from the data (two whole-number columns with 0 <= heads" in out


def test_discrete_items_are_read_as_a_survey(files: dict[str, Path], capsys) -> None:
    """Reference: the carcinoma ratings are seven 0/1 items: a latent class survey."""
    status, out, err = run(capsys, "select-k", str(files["survey"]), "--max-k", "2")
    assert status == 0, err
    assert "model: product, chosen from the data (7 columns of discrete items" in out
    assert "rank-test table:" in out


@pytest.mark.parametrize(
    ("name", "extra", "message"),
    [
        ("real", [], r"column 'x' of .*real\.csv holds -?\d\.\d+ .*not a whole number.*--model"),
        ("one", [], r"one column of whole numbers: .*--n-trials T"),
        ("pairs", [], r"not heads <= trials .*--model"),
        ("survey", ["--n-trials", "5", "--missing", "drop"], r"belong to different models"),
    ],
)
def test_data_that_no_model_reads_are_refused_in_one_line(
    files: dict[str, Path], name: str, extra: list[str], message: str, capsys
) -> None:
    """Reference: the documented rule, and one error line naming the --model to pass."""
    outcome = run(capsys, "select-k", str(files[name]), *extra)
    assert_one_error_line(outcome, 1, message)


def test_options_of_one_model_decide_it(files: dict[str, Path], capsys) -> None:
    """Reference: --n-trials is read by coins only (so one column is head counts)."""
    status, out, err = run(capsys, "select-k", str(files["one"]), "--n-trials", "5")
    assert status == 0, err
    assert "model: coins, chosen from the data (--n-trials applies to it)" in out
    outcome = run(capsys, "select-k", str(files["coins"]), "--model", "coins", "--blrt", "9")
    assert_one_error_line(outcome, 1, r"--blrt applies only to --model product")


def test_blrt_column_matches_the_library(files: dict[str, Path], capsys) -> None:
    """Reference: kmix.estimators.fitstats.blrt on the library's 2-class fit, same seed."""
    from kmix.estimators.fitstats import blrt

    argv = ["select-k", str(files["survey"]), "--model", "product", "--max-k", "2"]
    status, out, err = run(capsys, *argv, "--seed", "0", "--blrt", "9")
    assert status == 0, err
    assert "BLRT p" in out.splitlines()[0]
    row = re.search(r"^\s*2\s.*\s(\S+)$", out, flags=re.M)
    assert row is not None, out
    X = carcinoma().expand()
    direct = blrt(ProductMixture(2, random_state=0).fit(X), X, n_boot=9, random_state=0)
    assert float(row.group(1)) == pytest.approx(direct.p_value, abs=1e-4)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_lines_on_a_terminal_only(files: dict[str, Path], monkeypatch, capsys) -> None:
    """Reference: one line per fitted k on a terminal; none with --quiet or on a pipe."""
    argv = ["select-k", str(files["survey"]), "--model", "product", "--max-k", "3"]
    for quiet, expected in (([], 3), (["-q"], 0)):
        err = _Terminal()
        monkeypatch.setattr(sys, "stderr", err)
        monkeypatch.setattr(sys, "stdout", io.StringIO())
        assert main([*argv, "--seed", "0", *quiet]) == 0
        lines = [ln for ln in err.getvalue().splitlines() if ln.startswith("select-k: k = ")]
        assert len(lines) == expected, err.getvalue()
        if lines:
            assert re.fullmatch(
                r"select-k: k = 1: log-likelihood -\d+\.\d{4}, BIC \d+\.\d{4} \(\d+\.\d s\)",
                lines[0],
            )
    monkeypatch.undo()
    status, _, err = run(capsys, *argv)
    assert status == 0 and "select-k: k =" not in err

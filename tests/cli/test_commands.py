"""``kmix simulate``, ``fit`` and ``predict`` (kmix.cli.commands), called in-process.

References: the library API (``kmix.io.load(...).predict``) for the
fit/predict round trip, the simulation's known parameters for recovery, the
library API for the printed numbers of a coin fit, and "exactly one line on
standard error" for every error exit.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from kmix import CoinMixture
from kmix import io as kio
from kmix.cli import main
from kmix.data import read_table
from kmix.datasets import coin_flips, marbles, random_coins
from tests.helpers.cli import number, run


def test_simulate_fit_predict_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference: known factories for recovery; kmix.io + predict for the CLI's predictions."""
    data, labels_file = tmp_path / "bags.csv", tmp_path / "labels.csv"
    status, out, _ = run(
        capsys,
        *("simulate", "--marbles", "-n", "3000", "--draws", "6", "--seed", "4"),
        *("--p-red", "0.9", "0.2", "--weights", "0.5", "0.5"),
        *("--out", str(data), "--labels-out", str(labels_file)),
    )
    assert status == 0 and "3,000 rows written" in out
    X, columns = read_table(data)
    assert X.shape == (3000, 6) and columns[0] == "draw_1"
    assert set(np.unique(X).tolist()) == {0.0, 1.0}

    model_file = tmp_path / "model.json"
    status, out, err = run(
        capsys,
        *("fit", str(data), "--family", "bernoulli", "-k", "2", "--n-init", "2"),
        *("--seed", "0", "--out", str(model_file)),
    )
    assert status == 0, err
    assert "EM restart 2/2" in err  # progress on stderr
    assert "converged        yes" in out and f"model saved to {model_file}" in out
    weights = re.search(r"weight\s+(\d\.\d+)\s+(\d\.\d+)", out)
    assert weights is not None
    assert sorted(float(w) for w in weights.groups()) == pytest.approx([0.5, 0.5], abs=0.05)
    for name in ("log-likelihood", "BIC", "AIC"):
        number(out, name)

    predictions = tmp_path / "pred.csv"
    status, out, err = run(
        capsys, "predict", str(model_file), str(data), "--proba", "--out", str(predictions)
    )
    assert status == 0, err
    P, names = read_table(predictions)
    assert names == ["component", "proba_0", "proba_1"]
    model = kio.load(model_file)
    np.testing.assert_array_equal(P[:, 0], model.predict(X))
    np.testing.assert_allclose(P[:, 1:], model.predict_proba(X), rtol=0, atol=0)
    truth = read_table(labels_file).values[:, 0]
    agreement = np.mean(P[:, 0] == truth)
    assert max(agreement, 1 - agreement) > 0.95  # six draws separate 0.9 from 0.2 bags

    status, out, _ = run(capsys, "predict", str(model_file), str(data))
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "component" and len(lines) == 3001
    assert [int(v) for v in lines[1:]] == model.predict(X).tolist()


def test_simulate_to_stdout_writes_csv_and_truth_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(
        capsys, "simulate", "--family", "poisson", "-k", "2", "-n", "5", "--features", "3"
    )
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "x0,x1,x2" and len(lines) == 6
    assert "true parameter" in err and "rate[x2]" in err


def test_categorical_text_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Reference: the library fit on the same table; labels in the summary are the levels."""
    rows = ["red,big"] * 30 + ["blue,small"] * 25 + ["red,small"] * 5 + ["blue,big"] * 4
    data = tmp_path / "c.csv"
    data.write_text("colour,size\n" + "\n".join(rows) + "\n")
    model_file = tmp_path / "c.json"
    status, out, _ = run(
        capsys, "fit", str(data), "--family", "categorical", "-k", "2", "--seed", "1",
        "--out", str(model_file), "-q", "--allow-unidentified",  # two items, two classes
    )  # fmt: skip
    assert status == 0
    assert "P(colour=blue)" in out and "P(size=small)" in out
    status, out, _ = run(capsys, "predict", str(model_file), str(data), "--proba")
    assert status == 0
    P = np.array([line.split(",") for line in out.splitlines()[1:]], dtype=float)
    model = kio.load(model_file)
    np.testing.assert_array_equal(P[:, 1:], model.predict_proba(read_table(data).values))


def test_max_iter_warning_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    X, _ = marbles(500, n_draws=3, random_state=0)
    data = tmp_path / "d.csv"
    data.write_text("a,b,c\n" + "\n".join(",".join(map(str, r)) for r in X.tolist()) + "\n")
    status, out, err = run(
        capsys, "fit", str(data), "--family", "bernoulli", "--max-iter", "2", "--seed", "0", "-q",
        "--init", "random",  # (the default latent class start is converged already)
    )  # fmt: skip
    assert status == 0
    assert "no (raise --max-iter)" in out
    assert err.count("kmix: warning: EM stopped at max_iter=2") == 1
    assert len(err.splitlines()) == 1


def test_tampered_model_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Reference: the checksum; one changed digit must stop ``kmix predict``."""
    data = tmp_path / "d.csv"
    data.write_text("a\n1\n0\n1\n1\n")
    model_file = tmp_path / "m.json"
    fit = ["fit", str(data), "--family", "bernoulli", "--out", str(model_file)]
    assert run(capsys, *fit, "--allow-unidentified")[0] == 0  # (one item, two classes)
    text = model_file.read_text()
    model_file.write_text(text.replace('"n_iter_": ', '"n_iter_": 1', 1))
    status, _, err = run(capsys, "predict", str(model_file), str(data))
    assert status == 1 and "checksum mismatch" in err and len(err.splitlines()) == 1


# --------------------------------------------------------------------------------- coins
@pytest.fixture()
def coins_csv(tmp_path):
    mix = random_coins(3, separation=0.25, min_weight=0.2, random_state=4)
    h = coin_flips(mix, 50_000, 5, random_state=5)
    both = tmp_path / "coins.csv"
    np.savetxt(
        both,
        np.column_stack([h, np.full_like(h, 5)]),
        fmt="%d",
        delimiter=",",
        header="heads,trials",
        comments="",
    )
    one = tmp_path / "heads.csv"
    np.savetxt(one, h, fmt="%d", header="heads", comments="")
    flips = tmp_path / "flips.csv"
    F = (np.arange(5)[None, :] < h[:, None]).astype(int)
    np.savetxt(flips, F, fmt="%d", delimiter=",", header="a,b,c,d,e", comments="")
    return both, one, flips, h


def test_cli_fits_coins_like_the_library(coins_csv, capsys):
    both, one, flips, h = coins_csv
    ref = CoinMixture(3).fit(h, n_trials=5)
    for argv in (
        ["fit", str(both), "--model", "coins", "-k", "3"],
        ["fit", str(one), "--model", "coins", "-k", "3", "--n-trials", "5"],
        ["fit", str(flips), "--model", "coins", "-k", "3", "--flips"],
    ):
        assert main(argv) == 0
        out = capsys.readouterr().out
        biases = [float(b) for b in re.findall(r"^\s+\d\s+([0-9.]+)", out, flags=re.M)]
        np.testing.assert_allclose(biases, ref.biases_, atol=5e-5)
        ll = float(re.search(r"log-likelihood\s+(-?[0-9.]+)", out).group(1))
        assert ll == pytest.approx(ref.log_likelihood_, abs=1e-3)


def test_cli_coin_errors_are_one_line(coins_csv, capsys):
    both, one, _, _ = coins_csv
    cases = [
        (["fit", str(both), "--model", "coins", "-k", "4"], "2k-1 = 7 flips"),
        (["fit", str(one), "--model", "coins", "-k", "2"], "two columns"),
        (["fit", str(both), "--model", "coins", "--n-trials", "5"], "one column"),
    ]
    for argv, match in cases:
        assert main(argv) != 0
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("kmix: error")]
        assert len(errors) == 1 and match in errors[0], err
        assert "Traceback" not in err


def test_cli_select_k(coins_csv, capsys):
    both, _, _, _ = coins_csv
    assert main(["select-k", str(both)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"choice: k = 3", out), out


def test_cli_saves_a_coin_model(coins_csv, capsys, tmp_path):
    from kmix import io as kio

    both, _, _, h = coins_csv
    out = tmp_path / "m.json"
    assert main(["fit", str(both), "--model", "coins", "-k", "3", "--out", str(out)]) == 0
    assert "model saved to" in capsys.readouterr().out
    np.testing.assert_allclose(kio.load(out).biases_, CoinMixture(3).fit(h, n_trials=5).biases_)


def test_select_k_on_one_repeated_count_prints_readable_z_scores(tmp_path: Path, capsys) -> None:
    """Reference: 200 trials of 2 heads in 5 flips support one coin; their moments have no
    spread, so the Hankel z-scores are huge and must print in scientific notation."""
    data = tmp_path / "c.csv"
    data.write_text("heads,trials\n" + "2,5\n" * 200)
    status, out, err = run(capsys, "select-k", str(data))
    assert status == 0, err
    assert "choice: k = 1" in out
    assert re.search(r"\s-2\.\d\de\+12\s", out), out
    assert not re.search(r"\d{7,}\.\d", out), out  # no 13-digit fixed-point noise


def test_messages_print_levels_as_plain_values(tmp_path: Path, capsys) -> None:
    """Reference: the cell's text; numpy's repr (np.int64(1)) is no message for a user."""
    data = tmp_path / "k.csv"
    data.write_text("a,b,c\n1,0,1\n1,1,0\n1,0,0\n1,1,1\n")
    status, _, err = run(capsys, "fit", str(data), "--model", "product", "-k", "1")
    assert status == 1 and "column 0 is constant (only level 1)" in err
    assert "np." not in err

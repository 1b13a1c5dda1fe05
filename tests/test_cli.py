"""The ``kmix`` command line, called in-process through ``main([...])``.

References: the closed form of the two-factory estimate for the demo, the
library API (``kmix.io.load(...).predict``) for the fit/predict round trip,
the simulation's known parameters for recovery, and "exactly one line on
standard error" for every error exit.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import time
from pathlib import Path

import numpy as np
import pytest

from kmix import io as kio
from kmix.cli import main
from kmix.data import read_table
from kmix.datasets import marbles


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _number(text: str, label: str) -> float:
    match = re.search(rf"^\s*{re.escape(label)}\s+(-?\d+\.\d+)", text, flags=re.MULTILINE)
    assert match is not None, f"{label!r} not found in output:\n{text}"
    return float(match.group(1))


# -------------------------------------------------------------------- demo
@pytest.fixture(scope="module")
def demo_run() -> tuple[int, str, float]:
    buffer = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(buffer):
        status = main(["demo"])
    return status, buffer.getvalue(), time.perf_counter() - start


def test_demo_estimate_matches_closed_form_and_truth(demo_run: tuple[int, str, float]) -> None:
    """Reference: the MLE of P(F1) with known colours is (P(red) - 0.3) / 0.5; truth 0.6."""
    status, out, seconds = demo_run
    assert status == 0
    assert seconds < 45, f"the demo took {seconds:.1f} s"
    estimate = _number(out, "EM estimate")
    closed = _number(out, "closed form")
    assert _number(out, "truth") == 0.6
    assert abs(estimate - 0.6) <= 0.03
    assert abs(estimate - closed) <= 0.03
    gap = re.search(r"\|EM - closed form\| = ([0-9.e+-]+)", out)
    assert gap is not None, out
    assert float(gap.group(1)) <= 1e-6, "EM must reach the closed-form maximum"
    # the printed closed form is the one of the simulated marbles (seed 0 by default)
    X, _ = marbles(10_000, random_state=0)
    match = re.search(r"([\d,]+) red, ([\d,]+) blue", out)
    assert match is not None
    n_red = int(match.group(1).replace(",", ""))
    assert n_red == int(X.sum())
    assert closed == pytest.approx((n_red / 10_000 - 0.3) / 0.5, abs=5e-5)


def test_demo_shows_em_climbing_towards_the_estimate(demo_run: tuple[int, str, float]) -> None:
    """Reference: EM never lowers the log-likelihood, starts at P(F1) = 0.5 and ends at the MLE."""
    _, out, _ = demo_run
    rows = re.findall(r"^\s+(\d+)\s+(-\d+\.\d+)\s+(\d\.\d{4})$", out, flags=re.MULTILINE)
    assert len(rows) >= 4
    iterations = [int(r[0]) for r in rows]
    loglik = [float(r[1]) for r in rows]
    weight = [float(r[2]) for r in rows]
    assert iterations[0] == 0 and weight[0] == 0.5
    assert iterations == sorted(iterations)
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(loglik))
    assert weight[-1] == pytest.approx(_number(out, "EM estimate"), abs=1e-4)


def test_demo_recovers_three_factories(demo_run: tuple[int, str, float]) -> None:
    """Reference: the simulated P(red) = 0.9, 0.5, 0.1 and weights 0.5, 0.3, 0.2."""
    _, out, _ = demo_run
    rows = re.findall(r"^\s+F(\d)\s+" + r"\s+".join([r"(\d\.\d{3})"] * 5) + "$", out, re.M)
    assert [int(r[0]) for r in rows] == [1, 2, 3]
    table = np.array([[float(v) for v in r[1:]] for r in rows])
    np.testing.assert_array_equal(table[:, 0], [0.9, 0.5, 0.1])
    np.testing.assert_array_equal(table[:, 2], [0.5, 0.3, 0.2])
    assert np.abs(table[:, 1] - table[:, 0]).max() < 0.08  # learned P(red)
    assert np.abs(table[:, 3] - table[:, 2]).max() < 0.03  # weights with colours known
    assert np.abs(table[:, 4] - table[:, 2]).max() < 0.08  # weights with colours learned


def test_demo_sections_can_be_chosen(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "demo", "--section", "factories", "--seed", "3")
    assert status == 0
    assert "EM estimate" in out and "factories, 5 marbles" not in out
    X, _ = marbles(10_000, random_state=3)
    assert _number(out, "closed form") == pytest.approx((X.mean() - 0.3) / 0.5, abs=5e-5)
    status, _, err = _run(capsys, "demo", "--section", "nope")
    assert status == 1 and err.startswith("kmix: error: unknown demo section")


# ---------------------------------------------------- simulate / fit / predict
def test_simulate_fit_predict_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference: known factories for recovery; kmix.io + predict for the CLI's predictions."""
    data, labels_file = tmp_path / "bags.csv", tmp_path / "labels.csv"
    status, out, _ = _run(
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
    status, out, err = _run(
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
        _number(out, name)

    predictions = tmp_path / "pred.csv"
    status, out, err = _run(
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

    status, out, _ = _run(capsys, "predict", str(model_file), str(data))
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "component" and len(lines) == 3001
    assert [int(v) for v in lines[1:]] == model.predict(X).tolist()


def test_simulate_to_stdout_writes_csv_and_truth_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = _run(
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
    status, out, _ = _run(
        capsys, "fit", str(data), "--family", "categorical", "-k", "2", "--seed", "1",
        "--out", str(model_file), "-q",
    )  # fmt: skip
    assert status == 0
    assert "P(colour=blue)" in out and "P(size=small)" in out
    status, out, _ = _run(capsys, "predict", str(model_file), str(data), "--proba")
    assert status == 0
    P = np.array([line.split(",") for line in out.splitlines()[1:]], dtype=float)
    model = kio.load(model_file)
    np.testing.assert_array_equal(P[:, 1:], model.predict_proba(read_table(data).values))


def test_max_iter_warning_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    X, _ = marbles(500, n_draws=3, random_state=0)
    data = tmp_path / "d.csv"
    data.write_text("a,b,c\n" + "\n".join(",".join(map(str, r)) for r in X.tolist()) + "\n")
    status, out, err = _run(
        capsys, "fit", str(data), "--family", "bernoulli", "--max-iter", "2", "--seed", "0", "-q"
    )
    assert status == 0
    assert "no (raise --max-iter)" in out
    assert err.count("kmix: warning: EM stopped at max_iter=2") == 1
    assert len(err.splitlines()) == 1


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "--version")
    assert status == 0 and re.fullmatch(r"kmix \d+\.\d+\.\d+\S*\n", out)


# ------------------------------------------------------------------ errors
_BAD_FILES = {
    "bits.csv": "a,b\n0,1\n1,2\n1,0\n",
    "text.csv": "colour\nred\nblue\n",
    "ragged.csv": "a,b\n1,0\n1\n",
    "model.json": '{"format": "kmix-model", "version": 1',
}


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str, int]]:
    """Command lines that must fail; the files they name live under ``tmp_path``."""
    bits, text, ragged, model = (str(tmp_path / name) for name in _BAD_FILES)
    return {
        "missing file": (["fit", str(tmp_path / "nope.csv")], "does not exist", 1),
        "bad family": (["fit", bits, "--family", "nosuch"], "family='nosuch' is not valid", 1),
        "bernoulli with a 2": (["fit", bits, "--family", "bernoulli"], r"X\[1, 1\] = 2", 1),
        "text for bernoulli": (["fit", text, "--family", "bernoulli"], "is text but the", 1),
        "ragged rows": (["fit", ragged], "line 3: 1 fields", 1),
        "binomial without trials": (["fit", bits, "--family", "binomial"], "--n-trials", 1),
        "negative alpha": (["fit", bits, "--family", "bernoulli", "--alpha", "0"], "alpha", 1),
        "truncated model": (["predict", model, bits], "not valid JSON", 1),
        "model missing": (["predict", str(tmp_path / "m.json"), bits], "does not exist", 1),
        "zero components": (["fit", bits, "-k", "0"], "positive integer", 2),
        "unknown option": (["fit", bits, "--colour"], "unrecognized arguments", 2),
        "no command": ([], "choose a command", 2),
        "simulate without family": (["simulate"], "--family", 1),
        "simulate bad family": (["simulate", "--family", "nosuch"], "not valid", 1),
    }


@pytest.mark.parametrize("case", sorted(_bad_inputs(Path("unused"))))
def test_errors_print_one_line_and_fail(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference: one ``kmix: error:`` line on stderr, nothing else, a non-zero status."""
    for name, content in _BAD_FILES.items():
        (tmp_path / name).write_text(content)
    argv, message, expected_status = _bad_inputs(tmp_path)[case]
    status, out, err = _run(capsys, *argv)
    assert status == expected_status
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kmix: error: ")
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in err and out == ""


def test_tampered_model_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Reference: the checksum; one changed digit must stop ``kmix predict``."""
    data = tmp_path / "d.csv"
    data.write_text("a\n1\n0\n1\n1\n")
    model_file = tmp_path / "m.json"
    assert _run(capsys, "fit", str(data), "--family", "bernoulli", "--out", str(model_file))[0] == 0
    text = model_file.read_text()
    model_file.write_text(text.replace('"n_iter_": ', '"n_iter_": 1', 1))
    status, _, err = _run(capsys, "predict", str(model_file), str(data))
    assert status == 1 and "checksum mismatch" in err and len(err.splitlines()) == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_redraws_on_a_terminal_and_logs_on_a_pipe() -> None:
    """Reference: one line per finished restart on a pipe; carriage returns on a terminal."""
    from kmix.cli.display import ProgressLine
    from kmix.solvers.em.loop import EMProgress

    def step(restart: int, iteration: int, value: float) -> EMProgress:
        return EMProgress(restart, iteration, value, np.array([0.5, 0.5]))

    pipe = io.StringIO()
    progress = ProgressLine(pipe, n_init=2)
    for restart in range(2):
        for iteration, value in enumerate([-10.0, -9.0, -8.5]):
            progress(step(restart, iteration, value - restart))
    progress.close()
    lines = pipe.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("EM restart 1/2") and "iteration    2" in lines[0]
    assert "log-likelihood -9.500000" in lines[1] and "change 5.00e-01" in lines[1]

    terminal = _Terminal()
    live = ProgressLine(terminal, n_init=1)
    live(step(0, 0, -3.0))
    live.close()
    assert terminal.getvalue().startswith("\rEM restart 1/1 [####################]")
    assert terminal.getvalue().endswith("\n")

    quiet = io.StringIO()
    silent = ProgressLine(quiet, n_init=1, enabled=False)
    silent(step(0, 0, -1.0))
    silent.close()
    assert quiet.getvalue() == ""


@pytest.mark.parametrize("model", ["mixture", "product"])
def test_n_init_counts_starts_in_all_and_zero_is_refused(capsys, tmp_path, model):
    """``--n-init`` has one meaning for every model (EM starts in all), so 0 is refused."""
    data = tmp_path / "bits.csv"
    rows = np.random.default_rng(0).integers(0, 2, size=(60, 3))
    data.write_text("a,b,c\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    argv = ["fit", str(data), "--family", "bernoulli", "--model", model, "--n-init", "0"]
    status, _, err = _run(capsys, *argv)
    assert status == 2 and "--n-init: expected a positive integer, got 0" in err

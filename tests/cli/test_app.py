"""Argument parsing and error handling of ``kmix`` (kmix.cli.app).

Reference: "exactly one line on standard error" for every error exit, with
the exit status of its kind (2 for command-line usage, 1 for the rest).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.cli import assert_one_error_line, run


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--version")
    assert status == 0 and re.fullmatch(r"kmix \d+\.\d+\.\d+\S*\n", out)


# -------------------------------------------------------------------------------- errors
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
    assert_one_error_line(run(capsys, *argv), expected_status, message)


@pytest.mark.parametrize("model", ["mixture", "product"])
def test_n_init_counts_starts_in_all_and_zero_is_refused(capsys, tmp_path, model):
    """``--n-init`` has one meaning for every model (EM starts in all), so 0 is refused."""
    data = tmp_path / "bits.csv"
    rows = np.random.default_rng(0).integers(0, 2, size=(60, 3))
    data.write_text("a,b,c\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    argv = ["fit", str(data), "--family", "bernoulli", "--model", model, "--n-init", "0"]
    status, _, err = run(capsys, *argv)
    assert status == 2 and "--n-init: expected a positive integer, got 0" in err


def test_sigterm_ends_a_command_cleanly(monkeypatch, capsys):
    """Reference: exit status 128 + 15 and one line on standard error; the handler of
    SIGTERM is restored afterwards."""
    import os
    import signal

    import kmix.cli.commands as commands
    from kmix.cli import main

    before = signal.getsignal(signal.SIGTERM)

    def simulate(args, out, err):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the command")

    monkeypatch.setattr(commands, "simulate", simulate)
    status = main(["simulate", "--family", "bernoulli"])
    assert status == 143 and capsys.readouterr().err == "kmix: error: terminated\n"
    assert signal.getsignal(signal.SIGTERM) == before

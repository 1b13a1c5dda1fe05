"""What the command line writes, and what it refuses to write or to ignore.

References: the bytes of the user's files before and after a refused or failed
command (identity), the folder's listing (no temporary file left), and the
predictions of the same model on the columns in their fitted order.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from kmix.data import files as files_module
from kmix.datasets import make_mixture
from tests.helpers.cli import run


@pytest.fixture
def data(tmp_path: Path) -> Path:
    X, _ = make_mixture("bernoulli", 400, 2, 5, random_state=0)
    path = tmp_path / "d.csv"
    path.write_text("a,b,c,d,e\n" + "\n".join(",".join(map(str, r)) for r in X.tolist()) + "\n")
    return path


@pytest.fixture
def model(tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "m.json"
    status, _, err = run(capsys, "fit", str(data), "--family", "bernoulli", "--out", str(path))
    assert status == 0, err
    return path


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------ outputs that are inputs
def test_fit_refuses_to_write_the_model_over_its_data(data, capsys):
    before = data.read_bytes()
    status, _, err = run(capsys, "fit", str(data), "--family", "bernoulli", "--out", str(data))
    assert status == 1 and f"--out {data} is also the data file" in err
    assert data.read_bytes() == before


def test_predict_refuses_to_write_over_its_data_or_model(data, model, capsys):
    for target, what in ((data, "data file"), (model, "model file")):
        before = target.read_bytes()
        status, _, err = run(capsys, "predict", str(model), str(data), "--out", str(target))
        assert status == 1 and f"is also the {what}" in err
        assert target.read_bytes() == before


def test_simulate_refuses_one_file_for_data_and_labels(tmp_path, capsys):
    out = tmp_path / "x.csv"
    status, _, err = run(
        capsys, "simulate", "--family", "bernoulli", "--out", str(out), "--labels-out", str(out)
    )
    assert status == 1 and "is also the --labels-out file" in err
    assert not out.exists()


def test_an_unwritable_out_is_refused_before_the_fit(data, tmp_path, capsys, monkeypatch):
    """The fit never starts: the solver is replaced by one that fails the test if called."""
    import kmix.solvers.em.loop as loop

    monkeypatch.setattr(loop, "run_em", lambda *a, **k: pytest.fail("the fit ran"))
    target = tmp_path / "no" / "m.json"
    status, _, err = run(capsys, "fit", str(data), "--family", "bernoulli", "--out", str(target))
    assert status == 1 and f"cannot write --out {target}: directory" in err


# --------------------------------------------------------------- full disk
def _full_disk(monkeypatch: pytest.MonkeyPatch, *, after: int = 0) -> None:
    """The disk fills up after ``after`` files were written."""
    written = []

    def fsync(fd: int) -> None:
        if len(written) >= after:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(fd)

    monkeypatch.setattr(files_module.os, "fsync", fsync)


@pytest.mark.parametrize(
    "command",
    ["fit", "predict", "simulate --out", "simulate --labels-out"],
)
def test_every_output_survives_a_full_disk(command, data, model, tmp_path, capsys, monkeypatch):
    """Each output already holds the user's earlier file; the write fails with ENOSPC."""
    target = tmp_path / ("earlier.json" if command == "fit" else "out.csv")
    target.write_text("the user's earlier file\n")
    before = target.read_bytes()
    argv = {
        "fit": ["fit", str(data), "--family", "bernoulli", "--out", str(target)],
        "predict": ["predict", str(model), str(data), "--out", str(target)],
        "simulate --out": ["simulate", "--family", "bernoulli", "--out", str(target)],
        "simulate --labels-out": [
            "simulate",
            "--family",
            "bernoulli",
            "--out",
            str(tmp_path / "x.csv"),
            "--labels-out",
            str(target),
        ],
    }[command]
    listing = _listing(tmp_path)
    _full_disk(monkeypatch, after=1 if command == "simulate --labels-out" else 0)
    status, _, err = run(capsys, *argv)
    assert status == 1
    assert f"{target}: no space left on the device" in err and "unchanged" in err
    assert target.read_bytes() == before
    assert [n for n in _listing(tmp_path) if n.endswith(".tmp")] == []
    if command != "simulate --labels-out":
        assert _listing(tmp_path) == listing


# ---------------------------------------------------------- columns by name
def test_predict_matches_columns_by_name(data, model, tmp_path, capsys):
    """Reference: the predictions on the columns in the order of fit."""
    status, first, _ = run(capsys, "predict", str(model), str(data), "--proba")
    assert status == 0
    lines = data.read_text().splitlines()
    order = [4, 2, 0, 1, 3]
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text(
        "\n".join(",".join(line.split(",")[j] for j in order) for line in lines) + "\n"
    )
    status, second, err = run(capsys, "predict", str(model), str(shuffled), "--proba")
    assert status == 0 and "taken by name" in err
    assert second == first


def test_predict_refuses_missing_or_extra_columns(data, model, tmp_path, capsys):
    lines = [line.split(",") for line in data.read_text().splitlines()]
    fewer = tmp_path / "fewer.csv"
    fewer.write_text("\n".join(",".join(row[:4]) for row in lines) + "\n")
    status, _, err = run(capsys, "predict", str(model), str(fewer))
    assert status == 1 and "lacks the model's column(s) ['e']" in err
    extra = tmp_path / "extra.csv"
    rows = [",".join([*row, "id" if i == 0 else str(i)]) for i, row in enumerate(lines)]
    extra.write_text("\n".join(rows) + "\n")
    status, _, err = run(capsys, "predict", str(model), str(extra))
    assert status == 1 and "has column(s) ['id'] the model was not fitted on" in err


# ----------------------------------------------------- options that do not apply
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "product", "--alpha", "2"], "--alpha applies only to --family"),
        (["--model", "coins", "--family", "poisson"], "--family applies only to --model mixture"),
        (["--family", "bernoulli", "--flips"], "--flips applies only to --model coins"),
        (["--family", "gaussian", "--n-trials", "3"], "--n-trials applies only to"),
        (["--family", "bernoulli", "--covariance-type", "diag"], "--covariance-type applies"),
    ],
)
def test_fit_refuses_options_that_do_not_apply(argv, message, data, capsys):
    status, _, err = run(capsys, "fit", str(data), *argv)
    assert status == 1 and message in err and "remove it" in err


def test_select_k_refuses_trials_for_latent_classes(data, capsys):
    status, _, err = run(capsys, "select-k", str(data), "--model", "product", "--n-trials", "3")
    assert status == 1 and "--n-trials applies only to --model coins" in err


def test_a_negative_seed_names_the_option(data, capsys):
    status, _, err = run(capsys, "fit", str(data), "--family", "bernoulli", "--seed", "-1")
    assert status == 2 and "--seed: expected a non-negative integer, got -1" in err


def test_predict_reads_levels_in_the_models_types(tmp_path, capsys):
    """Reference: the model's own prediction on the training file. The model saw '01', '1'
    and '2' (text); a file with only '1' and '2' reads as integers and must still match."""
    rng = np.random.default_rng(0)
    zips = np.array(["01", "1", "2"])[rng.integers(0, 3, 300)]
    bits = rng.integers(0, 2, size=(300, 4))
    train = tmp_path / "train.csv"
    rows = [",".join([z, *map(str, b)]) for z, b in zip(zips, bits, strict=True)]
    train.write_text("zip,a,b,c,d\n" + "\n".join(rows) + "\n")
    later = tmp_path / "later.csv"
    kept = [r for r in rows if not r.startswith("01,")]
    later.write_text("zip,a,b,c,d\n" + "\n".join(kept) + "\n")
    model = tmp_path / "m.json"
    assert (
        run(capsys, "fit", str(train), "--model", "product", "-k", "1", "--out", str(model))[0] == 0
    )
    status, all_rows, _ = run(capsys, "predict", str(model), str(train), "--proba")
    status_later, some_rows, err = run(capsys, "predict", str(model), str(later), "--proba")
    assert status == 0 and status_later == 0, err
    expected = [
        line
        for line, row in zip(all_rows.splitlines()[1:], rows, strict=True)
        if not row.startswith("01,")
    ]
    assert some_rows.splitlines()[1:] == expected

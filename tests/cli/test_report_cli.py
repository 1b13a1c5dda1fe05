"""``kmix report`` end to end: fit or effect saves a model file, report turns it into a page.

References: the files the commands wrote (the command recorded in the model file's
metadata shows in the page's header), the refusals the commands document (``--treatment``
on a latent class model, ``predict`` on a network), and the PNG signature of the demo's
figures.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from kmix.cli import main
from kmix.data import write_table
from kmix.datasets import HOSPITALS_DAG, stouffer_toby, two_hospitals
from tests.helpers.cli import assert_one_error_line, run

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stouffer-Toby, one row per respondent (items A..D), plus a numeric outcome Y."""
    root = tmp_path_factory.mktemp("report-survey")
    X = stouffer_toby().expand()
    y = np.round(X.sum(axis=1) + np.random.default_rng(0).normal(size=X.shape[0]), 3)
    path = root / "survey.csv"
    write_table(path, np.column_stack([X, y]), ["A", "B", "C", "D", "Y"])
    return path


@pytest.fixture(scope="module")
def fitted(survey: Path) -> tuple[Path, list[str]]:
    """``kmix fit --model product`` on the items, saved next to the data."""
    model = survey.parent / "m.json"
    argv = [
        *("fit", str(survey), "--model", "product", "-k", "2"),
        *("--columns", "A,B,C,D", "--seed", "0", "--out", str(model)),
    ]
    assert main(argv) == 0
    return model, argv


@pytest.fixture(scope="module")
def effect_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two hospitals (5,000 rows) with ``HOSPITALS_DAG`` as a DAG file."""
    root = tmp_path_factory.mktemp("report-effect")
    codes, truth = two_hospitals(5000, random_state=0)
    data = root / "hospitals.csv"
    write_table(data, codes, list(truth.columns))
    dag = root / "dag.txt"
    dag.write_text(HOSPITALS_DAG + "\n")
    return {"data": data, "dag": dag, "root": root}


def header_lines(page: str) -> list[str]:
    return re.findall(r'<p class="meta">(.*?)</p>', page)


def test_report_of_a_fitted_latent_class_model(
    capsys: pytest.CaptureFixture[str], survey: Path, fitted: tuple[Path, list[str]]
) -> None:
    """Expected: exit 0, a page with figures (convergence and profiles) and the statistics
    of the data, whose header names the model file and the ``kmix fit ...`` that made it."""
    model, argv = fitted
    out_path = survey.parent / "r.html"
    status, out, err = run(
        capsys, "report", str(model), "--data", str(survey), "--out", str(out_path)
    )
    assert status == 0, err
    assert out.startswith(f"report written to {out_path} (") and "self-contained" in out
    page = out_path.read_text(encoding="utf-8")
    assert page.count("<svg") == 2 and "<script" not in page
    assert "<h2>Fit statistics on the data</h2>" in page
    meta = header_lines(page)
    assert meta[0] == "ProductMixture from m.json"
    assert meta[1] == "Command: " + shlex.join(["kmix", *argv])
    assert meta[1].startswith("Command: kmix fit ")
    assert meta[2] == f"Data: {survey}"


def test_report_with_a_distal_outcome(
    capsys: pytest.CaptureFixture[str], survey: Path, fitted: tuple[Path, list[str]]
) -> None:
    """Expected: ``--distal Y`` adds the section "Distal outcome: Y" and its figure (3)."""
    model, _ = fitted
    out_path = survey.parent / "distal.html"
    status, _, err = run(
        capsys,
        *("report", str(model), "--data", str(survey), "--distal", "Y"),
        *("--distal-method", "ml", "--out", str(out_path)),
    )
    assert status == 0, err
    page = out_path.read_text(encoding="utf-8")
    assert "<h2>Distal outcome: Y</h2>" in page and page.count("<svg") == 3
    assert "Y by class (ml)" in page


def test_report_refusals_are_one_error_line(
    capsys: pytest.CaptureFixture[str], survey: Path, fitted: tuple[Path, list[str]]
) -> None:
    """Expected: exit 1 with one line naming the problem, and no page written."""
    model, _ = fitted
    root = survey.parent
    treatment = run(
        capsys,
        "report",
        str(model),
        "--treatment",
        "A",
        "--outcome",
        "B",
        "--out",
        str(root / "t.html"),
    )
    assert_one_error_line(
        treatment, 1, r"--treatment/--outcome draw a BayesNetMixture's effect; .* ProductMixture"
    )
    assert not (root / "t.html").exists()
    not_html = run(capsys, "report", str(model), "--out", str(root / "r.txt"))
    assert_one_error_line(not_html, 1, r"ending in \.html")
    no_data = run(capsys, "report", str(model), "--distal", "Y", "--out", str(root / "d.html"))
    assert_one_error_line(no_data, 1, r"--distal needs the data")
    missing = run(
        capsys,
        "report",
        str(model),
        "--data",
        str(survey),
        "--distal",
        "Z",
        "--out",
        str(root / "z.html"),
    )
    assert_one_error_line(missing, 1, r"lacks the column\(s\) \['Z'\]")


def test_effect_then_report_shows_the_effect(
    capsys: pytest.CaptureFixture[str], effect_files: dict[str, Path]
) -> None:
    """Expected: ``kmix effect ... --n-boot 3 --out e.json`` saves the model with its
    bootstrap and the query; ``kmix report e.json`` then draws "Effect of X on Y" (from the
    file's metadata) with its figure, 4 figures in all (convergence, DAG, effect, sources)."""
    root = effect_files["root"]
    saved = root / "e.json"
    status, out, err = run(
        capsys,
        *("effect", str(effect_files["data"]), "--dag", str(effect_files["dag"])),
        *("--treatment", "X", "--outcome", "Y", "--n-boot", "3", "--seed", "0"),
        *("--out", str(saved)),
    )
    assert status == 0, err
    assert f"model and its bootstrap saved to {saved}" in out
    page_path = root / "e.html"
    status, _, err = run(capsys, "report", str(saved), "--out", str(page_path))
    assert status == 0, err
    page = page_path.read_text(encoding="utf-8")
    assert "<h2>Effect of X on Y</h2>" in page and page.count("<svg") == 4
    meta = header_lines(page)
    assert meta[0] == "BayesNetMixture with its bootstrap from e.json"
    assert meta[1].startswith("Command: kmix effect ")
    # predict labels rows of mixtures of items only: a network (with or without bootstrap) is
    # refused, naming what the file holds
    refused = run(capsys, "predict", str(saved), str(effect_files["data"]))
    assert_one_error_line(refused, 1, r"e\.json holds a BayesNetBootstrap")
    plain = root / "plain.json"
    status, _, err = run(
        capsys,
        *("effect", str(effect_files["data"]), "--dag", str(effect_files["dag"])),
        *("--treatment", "X", "--outcome", "Y", "--n-boot", "0", "--out", str(plain)),
    )
    assert status == 0, err
    refused = run(capsys, "predict", str(plain), str(effect_files["data"]))
    assert_one_error_line(refused, 1, r"plain\.json holds a BayesNetMixture")
    # a named effect on the plain network: no bootstrap, so no intervals
    status, _, err = run(
        capsys,
        "report",
        str(plain),
        "--treatment",
        "A",
        "--outcome",
        "Y",
        "--out",
        str(root / "a.html"),
    )
    assert status == 0, err
    page = (root / "a.html").read_text(encoding="utf-8")
    assert "<h2>Effect of A on Y</h2>" in page and "bootstrap replicates" not in page


def test_demo_writes_the_coin_figures(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Expected: ``kmix demo --section coins --plots DIR`` writes coins.png and coins-k.png
    (demo_plots.py draws those two for this section), as PNG files. It runs in ~3.5 s (a
    million trials of seven flips), so it is not marked slow."""
    plots = tmp_path / "plots"
    status, out, err = run(capsys, "demo", "--section", "coins", "--plots", str(plots))
    assert status == 0, err
    assert sorted(p.name for p in plots.iterdir()) == ["coins-k.png", "coins.png"]
    for name in ("coins.png", "coins-k.png"):
        data = (plots / name).read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 10_000
        assert f"wrote {plots / name}" in out


ELECTION = (
    Path(__file__).resolve().parents[2] / "src" / "kmix" / "datasets" / "data" / "election.csv"
)


def test_report_of_a_covariate_model_reads_its_covariates_from_the_data(tmp_path, capsys):
    """The election survey (bundled CSV): a latent class regression on PARTY, then its report
    with the data and AGE as a distal outcome. The model's covariate column is read from the
    data for the fit statistics and the distal table; the 25 rows whose PARTY is empty (the
    count of empty PARTY cells in the CSV) are left
    out, with a note."""
    model = tmp_path / "elec.json"
    argv = [
        *("fit", str(ELECTION), "--model", "product", "-k", "3", "--columns", "MORALG:INTELB"),
        *("--covariates", "PARTY", "--covariate-missing", "drop", "--seed", "1"),
        *("--out", str(model)),
    ]
    assert main(argv) == 0
    page = tmp_path / "elec.html"
    capsys.readouterr()
    code, _, err = run(
        capsys, "report", str(model), "--data", str(ELECTION), "--distal", "AGE", "--out", str(page)
    )
    assert code == 0, err
    text = page.read_text(encoding="utf-8")
    for heading in ("Covariates of class membership", "Fit statistics on the data"):
        assert f"<h2>{heading}</h2>" in text
    assert "<h2>Distal outcome: AGE</h2>" in text
    assert "25 row(s)" in err and "empty covariate" in err

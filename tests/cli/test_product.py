"""Latent class models on the command line (kmix.cli.product).

References: the published maximum-likelihood fits of the carcinoma data
(Agresti 2002, Table 13.1; poLCA's printed output, ``kmix/_bundled/SOURCES.md``:
log-likelihood -293.705, BIC 697.1357, AIC 633.41, 23 parameters, shares
0.4447 / 0.3736 / 0.1817), the identifiability bound ``n >= 2k - 1`` for
binary items, the library API for a saved model, and "exactly one line on
standard error" for every error exit.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kmix import io as kio
from kmix.data import write_table
from kmix.datasets import carcinoma, stouffer_toby
from kmix.estimators import ProductMixture
from tests.helpers.cli import assert_one_error_line, number, run
from tests.helpers.latent_class import LEVELS, three_level


def _row(text: str, label: str) -> list[float]:
    match = re.search(rf"^\s*{re.escape(label)}((?:\s+-?\d+\.\d+)+)\s*$", text, flags=re.MULTILINE)
    assert match is not None, f"row {label!r} not found in output:\n{text}"
    return [float(v) for v in match.group(1).split()]


@pytest.fixture(scope="module")
def surveys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The carcinoma and Stouffer-Toby data, one row per respondent, headers A.. ."""
    root = tmp_path_factory.mktemp("surveys")
    paths = {"carcinoma": root / "carcinoma.csv", "stouffer": root / "stouffer.csv"}
    write_table(paths["carcinoma"], carcinoma().expand(), list("ABCDEFG"))
    write_table(paths["stouffer"], stouffer_toby().expand(), list("ABCD"))
    return paths


# ----------------------------------------------------------------------------------- fit
def test_cli_fit_reproduces_the_published_carcinoma_fit(
    surveys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference: Agresti's three-class model (poLCA output): -293.705, shares, BIC, AIC."""
    status, out, err = run(
        capsys, "fit", str(surveys["carcinoma"]), "--model", "product", "-k", "3", "--seed", "0"
    )
    assert status == 0, err
    assert "kmix: error" not in err
    header = out.splitlines()[0]
    for part in ("ProductMixture", "k=3", "carcinoma.csv", "118 rows", "7 columns"):
        assert part in header, header
    published = carcinoma().published[3]
    assert abs(number(out, "log-likelihood") - published["log_likelihood"]) <= 1e-3
    assert number(out, "BIC") == pytest.approx(697.1357, abs=1e-3)
    assert number(out, "AIC") == pytest.approx(633.41, abs=1e-3)
    assert re.search(r"^\s*free parameters\s+23$", out, flags=re.MULTILINE), out
    shares = _row(out, "share")
    assert shares == pytest.approx(published["weights"], abs=2e-4)  # both largest first
    for j, item in enumerate("ABCDEFG"):
        printed = _row(out, f"P({item}=1)")
        expected = [published["probs"][u][j] for u in range(3)]
        assert printed == pytest.approx(expected, abs=2e-3), item
    assert "binary variables: n = 7 >= 2k - 1 = 5" in out
    assert re.search(r"^\s*EM\s+\d+ iteration\(s\), converged", out, flags=re.MULTILINE), out
    views = re.search(r"^\s*views used\s+(\d+) triple\(s\)", out, flags=re.MULTILINE)
    assert views is not None and int(views.group(1)) >= 1, out
    assert 0 < number(out, "singular value ratio") <= 1
    assert number(out, "eigengap") > 0


def test_cli_fit_prints_the_fit_statistics_poLCA_prints(
    surveys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference: poLCA's three-class carcinoma output, G^2 = 15.26171 and X^2 = 20.50336 on
    95 residual df (Linzer & Lewis 2011); SABIC, CAIC from their closed forms with
    log-likelihood -293.705, 23 parameters and N = 118; the entropy R^2 computed here from
    the library's posterior."""
    status, out, err = run(
        capsys, "fit", str(surveys["carcinoma"]), "--model", "product", "-k", "3", "--seed", "0"
    )
    assert status == 0, err
    ll = number(out, "log-likelihood")
    assert number(out, "SABIC") == pytest.approx(-2 * ll + 23 * np.log(120 / 24), abs=1e-3)
    assert number(out, "CAIC") == pytest.approx(-2 * ll + 23 * (np.log(118) + 1), abs=1e-3)
    assert number(out, "G^2") == pytest.approx(15.26171, abs=1e-3)
    assert number(out, "X^2") == pytest.approx(20.50336, abs=1e-3)
    assert re.search(
        r"^\s*G\^2\s+\S+ \(df 95, against the saturated table of 128 cells\)", out, re.M
    )
    X = carcinoma().expand()
    tau = ProductMixture(3, random_state=0).fit(X).predict_proba(X)
    entropy = -float(np.sum(tau * np.log(np.clip(tau, 1e-300, None))))
    assert number(out, "entropy R^2") == pytest.approx(1 - entropy / (118 * np.log(3)), abs=1e-4)


def test_cli_fit_saves_a_model_that_predict_reads(
    surveys: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference: the library API (``kio.load(...).predict_proba``) on the same rows."""
    model_path = tmp_path / "model.json"
    status, out, err = run(
        capsys,
        "fit",
        str(surveys["carcinoma"]),
        "--model",
        "product",
        "-k",
        "3",
        "--seed",
        "1",
        "--n-init",
        "5",
        "--out",
        str(model_path),
    )
    assert status == 0, err
    assert f"model saved to {model_path}" in out
    assert "(best of 5 starts)" in out  # three moment candidates and two random starts
    model = kio.load(model_path)
    assert isinstance(model, ProductMixture)
    assert model.log_likelihood_ == pytest.approx(number(out, "log-likelihood"), abs=1e-4)
    assert kio.read_metadata(model_path)["columns"] == list("ABCDEFG")
    posterior = tmp_path / "posterior.csv"
    status, out, err = run(
        capsys,
        "predict",
        str(model_path),
        str(surveys["carcinoma"]),
        "--proba",
        "--out",
        str(posterior),
    )
    assert status == 0, err
    rows = np.loadtxt(posterior, delimiter=",", skiprows=1)
    X = carcinoma().expand().astype(np.float64)
    assert np.array_equal(rows[:, 0].astype(int), model.predict(X))
    np.testing.assert_allclose(rows[:, 1:], model.predict_proba(X), rtol=1e-15, atol=0)


def test_cli_fit_prints_every_level_of_text_items(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference: each class's level probabilities of an item sum to one."""
    X, _ = three_level(1500)
    path = tmp_path / "survey.csv"
    write_table(path, X, [f"q{j}" for j in range(6)])
    status, out, err = run(capsys, "fit", str(path), "--model", "product", "-k", "2", "--seed", "0")
    assert status == 0, err
    for j in range(6):
        rows = np.array([_row(out, f"P(q{j}={level})") for level in LEVELS])
        assert rows.shape == (3, 2)
        np.testing.assert_allclose(rows.sum(axis=0), 1.0, atol=2e-4)
    assert re.search(r"^\s*identifiability\s+three views", out, flags=re.MULTILINE), out


def test_missing_cells_are_fitted_refused_or_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference: the count of rows with an empty cell, the fit of the complete rows (drop)
    and the API's full-information fit of every row (the default)."""
    X = carcinoma().expand().astype(object)
    X[[5, 40], [2, 6]] = None
    path = tmp_path / "gaps.csv"
    write_table(path, X, list("ABCDEFG"))
    status, out, err = run(capsys, "fit", str(path), "--model", "product", "-k", "2", "--seed", "0")
    assert status == 0, err
    assert "118 rows x 7 columns" in out and "2 empty cells fitted by full-information ML" in out
    assert "C 1, G 1" in out
    gaps = carcinoma().expand().astype(float)
    gaps[[5, 40], [2, 6]] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fiml = ProductMixture(2, random_state=0).fit(gaps)
    assert number(out, "log-likelihood") == pytest.approx(fiml.log_likelihood_, abs=1e-4)

    status, out, err = run(
        capsys, "fit", str(path), "--model", "product", "-k", "2", "--missing", "error"
    )
    assert status == 1 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kmix: error: "), err
    assert "2 row(s)" in lines[0] and "--missing drop" in lines[0] and "'C'" in lines[0]

    status, out, err = run(
        capsys,
        "fit",
        str(path),
        "--model",
        "product",
        "-k",
        "2",
        "--missing",
        "drop",
        "--seed",
        "0",
    )
    assert status == 0, err
    assert "116 rows of 118, 2 with empty cells dropped" in out
    assert "kmix: warning: dropped 2 of 118 rows" in err
    complete = np.delete(carcinoma().expand(), [5, 40], axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = ProductMixture(2, random_state=0).fit(complete)
    assert number(out, "log-likelihood") == pytest.approx(direct.log_likelihood_, abs=1e-4)

    status, out, err = run(
        capsys, "select-k", str(path), "--model", "product", "--max-k", "2", "--missing", "drop"
    )
    assert status == 0, err
    assert "kmix: warning: dropped 2 of 118 rows" in err


# ------------------------------------------------------------------------------ select-k
def test_select_k_chooses_three_classes_for_carcinoma(
    surveys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference: the published log-likelihoods for k = 2, 3, BIC's minimum at k = 3 and
    poLCA's G^2 = 15.26171 on 95 residual df for k = 3 (J. Stat. Softw. 42(10) output
    reproduced in kmix.estimators.fitstats); SABIC and CAIC from their closed forms."""
    status, out, err = run(
        capsys, "select-k", str(surveys["carcinoma"]), "--model", "product", "--seed", "0"
    )
    assert status == 0, err
    number_ = r"(-?\d+\.\d+)"
    pattern = (
        rf"^\s*(\d+)\s+(\S+)\s+{number_}\s+(\d+)"
        + rf"\s+{number_}" * 4
        + r"\s+(\S+)\s+"
        + number_
        + r"\s+(\d+)$"
    )
    table = {int(m.group(1)): m.groups()[1:] for m in re.finditer(pattern, out, flags=re.M)}
    assert sorted(table) == [1, 2, 3, 4], out
    ll = {k: float(v[1]) for k, v in table.items()}
    bic = {k: float(v[3]) for k, v in table.items()}
    assert ll[2] == pytest.approx(-317.2568, abs=1e-3)
    assert ll[3] == pytest.approx(-293.705, abs=1e-3)
    assert bic[3] == pytest.approx(697.1357, abs=1e-3)
    assert min(bic, key=lambda k: bic[k]) == 3
    params, sabic, caic = int(table[3][2]), float(table[3][4]), float(table[3][5])
    assert params == 23
    assert sabic == pytest.approx(-2 * ll[3] + 23 * np.log(120 / 24), abs=2e-3)
    assert caic == pytest.approx(-2 * ll[3] + 23 * (np.log(118) + 1), abs=2e-3)
    assert float(table[3][8]) == pytest.approx(15.26171, abs=1e-3) and table[3][9] == "95"
    assert table[1][7] == "-"  # entropy R^2 of one class
    assert re.search(r"^\s*BIC: 3 class\(es\)$", out, flags=re.MULTILINE), out
    assert re.search(r"^\s*choice: k = 3$", out, flags=re.MULTILINE), out
    # 118 rows pool the two-view table to 3 x 3: k >= 3 cannot be judged
    assert re.search(r"^\s*rank test: no answer: .*cannot judge k >= 3", out, flags=re.M), out
    assert re.search(r"^\s*3\s+n/a\s", out, flags=re.M), out
    assert "pooled to 3 x 3" in out


# -------------------------------------------------------------------------------- errors
def _product_errors(
    paths: dict[str, Path], tmp_path: Path
) -> dict[str, tuple[list[str], str, int]]:
    carc, stouffer = str(paths["carcinoma"]), str(paths["stouffer"])
    return {
        "five classes from four items": (
            ["fit", stouffer, "--model", "product", "-k", "5"],
            r"5 classes are not identifiable.*4 binary items, k = 5",
            1,
        ),
        "missing file": (
            ["fit", str(tmp_path / "nope.csv"), "--model", "product"],
            "does not exist",
            1,
        ),
        "bad init": (
            ["fit", carc, "--model", "product", "--init", "kmeans++"],
            "init='kmeans\\+\\+' is not valid",
            1,
        ),
        "missing option on a mixture": (
            ["fit", carc, "--missing", "drop"],
            "--missing applies only to --model product",
            1,
        ),
        "unidentified option on coins": (
            ["fit", carc, "--model", "coins", "--allow-unidentified"],
            "--allow-unidentified applies only to .*--model product \\(not to --model coins\\)",
            1,
        ),
        "select-k unknown model": (
            ["select-k", carc, "--model", "gaussian"],
            "invalid choice: 'gaussian'",
            2,
        ),
        "select-k bad max-k": (
            ["select-k", carc, "--model", "product", "--max-k", "0"],
            "positive integer",
            2,
        ),
    }


@pytest.mark.parametrize(
    "case", sorted(_product_errors({"carcinoma": Path(), "stouffer": Path()}, Path()))
)
def test_errors_print_one_line(
    case: str, surveys: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference: one ``kmix: error:`` line on stderr, nothing on stdout, a non-zero status."""
    argv, message, expected_status = _product_errors(surveys, tmp_path)[case]
    assert_one_error_line(run(capsys, *argv), expected_status, message)


def test_allow_unidentified_fits_with_a_warning(
    surveys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference: Goodman's unidentified three-class model of four items, maximum -503.3011."""
    status, out, err = run(
        capsys,
        "fit",
        str(surveys["stouffer"]),
        "--model",
        "product",
        "-k",
        "3",
        "--allow-unidentified",
        "--max-iter",
        "100",
        "--seed",
        "0",
    )
    assert status == 0, err
    assert re.search(r"^kmix: warning: 3 classes are not identifiable", err, flags=re.MULTILINE)
    assert re.search(r"^\s*identifiability\s+not identified: .*4 binary items, k = 3", out, re.M)
    # EM climbs from the random start but cannot pass the published maximum
    assert -543.6498 < number(out, "log-likelihood") <= -503.3011 + 1e-3
    assert re.search(r"^\s*moment step\s+did not run", out, flags=re.MULTILINE), out


# -------------------------------------------------------- levels exactly as written
def test_zip_codes_that_look_like_numbers_stay_apart(tmp_path: Path, capsys) -> None:
    """Reference: the file's text. '01' and '1' (and '02', '2') are four levels, not two."""
    rng = np.random.default_rng(0)
    zips = np.array(["01", "1", "02", "2"])[rng.integers(0, 4, 600)]
    bits = rng.integers(0, 2, size=(600, 4))
    rows = [",".join([z, *map(str, b)]) for z, b in zip(zips, bits, strict=True)]
    data = tmp_path / "z.csv"
    data.write_text("zip,a,b,c,d\n" + "\n".join(rows) + "\n")
    model_file = tmp_path / "m.json"
    status, _, err = run(
        capsys, "fit", str(data), "--model", "product", "-k", "1", "--out", str(model_file)
    )
    assert status == 0, err
    levels = kio.load(model_file).categories_[0]
    assert sorted(str(v) for v in levels) == ["01", "02", "1", "2"]


_CELL = st.one_of(
    st.from_regex(r"-?[0-9]{1,21}(\.[0-9]{0,2})?", fullmatch=True),
    st.text(alphabet="ab01-.eE,\"'", min_size=1, max_size=5).map(str.strip).filter(bool),
)


@given(
    columns=st.lists(st.lists(_CELL, min_size=6, max_size=6, unique=True), min_size=3, max_size=4),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=25, deadline=None)
def test_cli_product_sees_the_levels_a_text_reader_sees(columns, seed, tmp_path_factory) -> None:
    """Reference: each column's distinct cells as text (what pandas reads with dtype=str)."""
    import contextlib
    import io

    from kmix.cli import main

    rng = np.random.default_rng(seed)
    n = 40
    table = np.array([[col[i] for col in columns] for i in rng.integers(0, 6, n)], dtype=object)
    folder = tmp_path_factory.mktemp("levels")
    data, model_file = folder / "t.csv", folder / "m.json"
    write_table(data, table, [f"c{j}" for j in range(table.shape[1])])
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = main(
            ["fit", str(data), "--model", "product", "-k", "1", "-q", "--out", str(model_file)]
        )
    distinct = [sorted(set(table[:, j].tolist())) for j in range(table.shape[1])]
    if any(len(d) < 2 for d in distinct):
        assert status == 1 and "is constant" in err.getvalue()
        return
    assert status == 0, err.getvalue()
    learned = [sorted(str(v) for v in c) for c in kio.load(model_file).categories_]
    assert learned == distinct

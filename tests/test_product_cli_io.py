"""Latent class models on the command line and in model files.

References: the published maximum-likelihood fits of the carcinoma data
(Agresti 2002, Table 13.1; poLCA's printed output, ``kmix/_bundled/SOURCES.md``:
log-likelihood -293.705, BIC 697.1357, AIC 633.41, 23 parameters, shares
0.4447 / 0.3736 / 0.1817), the identifiability bound ``n >= 2k - 1`` for
binary items, the in-memory model for the file round trip, and "exactly one
line on standard error" for every error exit.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kmix import io as kio
from kmix.cli import main
from kmix.data import write_table
from kmix.datasets import carcinoma, stouffer_toby
from kmix.estimators import ProductMixture
from kmix.exceptions import DataError

LEVELS = np.array(["hi", "lo", "mid"], dtype=object)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _number(text: str, label: str) -> float:
    match = re.search(rf"^\s*{re.escape(label)}\s+(-?\d+\.\d+)", text, flags=re.MULTILINE)
    assert match is not None, f"{label!r} not found in output:\n{text}"
    return float(match.group(1))


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


def _three_level(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Six three-level items with text labels from two well-separated classes."""
    rng = np.random.default_rng(seed)
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]])
    labels = rng.choice(2, size=n, p=[0.6, 0.4])
    cum = np.cumsum(probs[labels], axis=1)
    codes = (rng.random((n, 6))[:, :, None] > cum[:, None, :]).sum(axis=2)
    return LEVELS[np.minimum(codes, 2)], labels


# ------------------------------------------------------------------- fit
def test_cli_fit_reproduces_the_published_carcinoma_fit(
    surveys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference: Agresti's three-class model (poLCA output): -293.705, shares, BIC, AIC."""
    status, out, err = _run(
        capsys, "fit", str(surveys["carcinoma"]), "--model", "product", "-k", "3", "--seed", "0"
    )
    assert status == 0, err
    assert "kmix: error" not in err
    header = out.splitlines()[0]
    for part in ("ProductMixture", "k=3", "carcinoma.csv", "118 rows", "7 columns"):
        assert part in header, header
    published = carcinoma().published[3]
    assert abs(_number(out, "log-likelihood") - published["log_likelihood"]) <= 1e-3
    assert _number(out, "BIC") == pytest.approx(697.1357, abs=1e-3)
    assert _number(out, "AIC") == pytest.approx(633.41, abs=1e-3)
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
    assert 0 < _number(out, "singular value ratio") <= 1
    assert _number(out, "eigengap") > 0


def test_cli_fit_saves_a_model_that_predict_reads(
    surveys: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference: the library API (``kio.load(...).predict_proba``) on the same rows."""
    model_path = tmp_path / "model.json"
    status, out, err = _run(
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
    assert model.log_likelihood_ == pytest.approx(_number(out, "log-likelihood"), abs=1e-4)
    assert kio.read_metadata(model_path)["columns"] == list("ABCDEFG")
    posterior = tmp_path / "posterior.csv"
    status, out, err = _run(
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
    X, _ = _three_level(1500)
    path = tmp_path / "survey.csv"
    write_table(path, X, [f"q{j}" for j in range(6)])
    status, out, err = _run(
        capsys, "fit", str(path), "--model", "product", "-k", "2", "--seed", "0"
    )
    assert status == 0, err
    for j in range(6):
        rows = np.array([_row(out, f"P(q{j}={level})") for level in LEVELS])
        assert rows.shape == (3, 2)
        np.testing.assert_allclose(rows.sum(axis=0), 1.0, atol=2e-4)
    assert re.search(r"^\s*identifiability\s+three views", out, flags=re.MULTILINE), out


def test_missing_cells_are_refused_or_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference: the count of rows with an empty cell, and the fit of the complete rows."""
    X = carcinoma().expand().astype(object)
    X[[5, 40], [2, 6]] = None
    path = tmp_path / "gaps.csv"
    write_table(path, X, list("ABCDEFG"))
    status, out, err = _run(capsys, "fit", str(path), "--model", "product", "-k", "2")
    assert status == 1 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kmix: error: "), err
    assert "2 row(s)" in lines[0] and "--missing drop" in lines[0] and "'C'" in lines[0]

    status, out, err = _run(
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
    assert _number(out, "log-likelihood") == pytest.approx(direct.log_likelihood_, abs=1e-4)

    status, out, err = _run(
        capsys, "select-k", str(path), "--model", "product", "--max-k", "2", "--missing", "drop"
    )
    assert status == 0, err
    assert "kmix: warning: dropped 2 of 118 rows" in err


# -------------------------------------------------------------- select-k
def test_select_k_chooses_three_classes_for_carcinoma(
    surveys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference: the published log-likelihoods for k = 2, 3 and BIC's minimum at k = 3."""
    status, out, err = _run(
        capsys, "select-k", str(surveys["carcinoma"]), "--model", "product", "--seed", "0"
    )
    assert status == 0, err
    table = {
        int(m.group(1)): (float(m.group(2)), float(m.group(3)), float(m.group(4)))
        for m in re.finditer(
            r"^\s*(\d+)\s+(\S+)\s+(-\d+\.\d+)\s+(\d+\.\d+)$", out, flags=re.MULTILINE
        )
    }
    assert sorted(table) == [1, 2, 3, 4], out
    assert table[2][1] == pytest.approx(-317.2568, abs=1e-3)
    assert table[3][1] == pytest.approx(-293.705, abs=1e-3)
    assert min(table, key=lambda k: table[k][2]) == 3
    assert re.search(r"^\s*BIC: 3 class\(es\)$", out, flags=re.MULTILINE), out
    assert re.search(r"^\s*choice: k = 3$", out, flags=re.MULTILINE), out
    assert re.search(r"^\s*rank test: \d+ class\(es\)", out, flags=re.MULTILINE), out


# ---------------------------------------------------------------- errors
def _product_errors(
    paths: dict[str, Path], tmp_path: Path
) -> dict[str, tuple[list[str], str, int]]:
    carc, stouffer = str(paths["carcinoma"]), str(paths["stouffer"])
    return {
        "five classes from four items": (
            ["fit", stouffer, "--model", "product", "-k", "5"],
            r"not identifiable.*n = 4 < 2k - 1 = 9",
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
            "--allow-unidentified applies only to --model product",
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
    status, out, err = _run(capsys, *argv)
    assert status == expected_status
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kmix: error: ")
    assert re.search(message, lines[0]), lines[0]
    assert out == ""


def test_allow_unidentified_fits_with_a_warning(
    surveys: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Reference: Goodman's unidentified three-class model of four items, maximum -503.3011."""
    status, out, err = _run(
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
    assert "n = 4 < 2k - 1 = 5" in out
    # EM climbs from the random start but cannot pass the published maximum
    assert -543.6498 < _number(out, "log-likelihood") <= -503.3011 + 1e-3
    assert re.search(r"^\s*moment step\s+did not run", out, flags=re.MULTILINE), out


# -------------------------------------------------------------- model files
def _fitted(kind: str) -> tuple[ProductMixture, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "binary":
            X = stouffer_toby().expand()
            return ProductMixture(2, n_init=2, random_state=0).fit(X), X
        X, _ = _three_level()
        return ProductMixture(2, random_state=0).fit(X), X


@pytest.mark.parametrize("kind", ["binary", "text"])
def test_round_trip_reproduces_the_model(kind: str, tmp_path: Path) -> None:
    """Reference: the in-memory model; every fitted array and every posterior equal."""
    model, X = _fitted(kind)
    path = kio.save(model, tmp_path / "model.json")
    loaded = kio.load(path)
    assert isinstance(loaded, ProductMixture)
    assert loaded.get_params() == model.get_params()
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert np.array_equal(loaded.score_samples(X), model.score_samples(X))
    assert len(loaded.categories_) == len(model.categories_)
    for a, b in zip(loaded.categories_, model.categories_, strict=True):
        assert a.dtype == b.dtype and a.tolist() == b.tolist()
    if kind == "binary":
        assert isinstance(loaded.probs_, np.ndarray) and loaded.probs_.shape == (2, 4)
        assert np.array_equal(loaded.probs_, model.probs_)
        assert np.array_equal(loaded.moment_probs_, model.moment_probs_)
    else:
        assert [c.tolist() for c in loaded.categories_] == [LEVELS.tolist()] * 6
        assert isinstance(loaded.probs_, list) and len(loaded.probs_) == 6
        for a, b in zip(loaded.probs_, model.probs_, strict=True):
            assert np.array_equal(a, b)
        for a, b in zip(loaded.moment_probs_, model.moment_probs_, strict=True):
            assert np.array_equal(a, b)
    assert np.array_equal(loaded.weights_, model.weights_)
    assert np.array_equal(loaded.moment_weights_, model.moment_weights_)
    for name in (
        "log_likelihood_",
        "n_samples_",
        "converged_",
        "n_iter_",
        "identifiability_",
        "n_rows_dropped_",
        "views_",
        "restart_log_likelihoods_",
        "n_starts_",
        "misfit_",
        "n_polish_iter_",
        "n_features_in_",
    ):
        assert getattr(loaded, name) == getattr(model, name), name
    assert np.array_equal(loaded.singular_values_, model.singular_values_)
    assert loaded.eigengap_ == model.eigengap_
    assert loaded.bic() == model.bic() and loaded.aic() == model.aic()
    assert np.array_equal(loaded.sample(20)[0], model.sample(20)[0])
    unseen = X.copy()
    unseen[0, 0] = "other" if kind == "text" else 2
    with pytest.raises(DataError, match=r"X\[0, 0\] = .* is a level not seen in fit"):
        loaded.predict_proba(unseen)


def test_round_trip_without_the_moment_step(tmp_path: Path) -> None:
    """Reference: a random-start fit has no moment answer, and NaN eigengap survives."""
    X = carcinoma().expand()
    model = ProductMixture(2, init="random", random_state=0).fit(X)
    assert not hasattr(model, "moment_weights_") and np.isnan(model.eigengap_)
    loaded = kio.load(kio.save(model, tmp_path / "m.json"))
    assert not hasattr(loaded, "moment_weights_") and np.isnan(loaded.eigengap_)
    assert loaded.views_ == [] and loaded.singular_values_.shape == (0,)
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_feature_names_are_stored(tmp_path: Path) -> None:
    """Reference: the names set on the model (as a DataFrame fit sets them)."""
    X = carcinoma().expand()
    model = ProductMixture(2, random_state=0).fit(X)
    model.feature_names_in_ = np.array(list("ABCDEFG"), dtype=object)
    loaded = kio.load(kio.save(model, tmp_path / "m.json"))
    assert loaded.feature_names_in_.dtype == object
    assert loaded.feature_names_in_.tolist() == list("ABCDEFG")
    document = json.loads(kio.dumps(model))
    assert document["fitted"]["feature_names_in_"] == list("ABCDEFG")


def test_feature_names_survive(tmp_path: Path) -> None:
    """Reference: the column names of the DataFrame the model saw."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(carcinoma().expand(), columns=list("ABCDEFG"))
    model = ProductMixture(2, random_state=0).fit(frame)
    loaded = kio.load(kio.save(model, tmp_path / "m.json"))
    assert loaded.feature_names_in_.tolist() == list("ABCDEFG")
    assert np.array_equal(loaded.predict_proba(frame), model.predict_proba(frame))


# --------------------------------------------------------- malformed files
@pytest.fixture(scope="module")
def saved() -> dict[str, str]:
    return {kind: kio.dumps(_fitted(kind)[0]) for kind in ("binary", "text")}


def _resigned(text: str, mutate: Callable[[dict[str, Any]], None]) -> str:
    """Apply ``mutate`` and recompute the checksum, so the checks behind it are reached."""
    document = json.loads(text)
    mutate(document["fitted"])
    document["sha256"] = kio.document_checksum(document)
    return json.dumps(document)


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(fitted: dict[str, Any]) -> None:
        fitted[key] = value

    return mutate


def _set_row(key: str, j: int, u: int, row: list[float]) -> Callable[[dict[str, Any]], None]:
    def mutate(fitted: dict[str, Any]) -> None:
        fitted[key][j][u] = row

    return mutate


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(fitted: dict[str, Any]) -> None:
        del fitted[key]

    return mutate


MALFORMED: dict[str, tuple[str, Callable[[dict[str, Any]], None], str]] = {
    "row not summing to one": (
        "binary",
        _set_row("probs_", 2, 1, [0.5, 0.7]),
        r"fitted\.probs_\[2\]: row 1 \(class 1\) sums to 1\.2",
    ),
    "three-level row not summing to one": (
        "text",
        _set_row("probs_", 4, 0, [0.2, 0.2, 0.2]),
        r"fitted\.probs_\[4\]: row 0 .*sums to 0\.6",
    ),
    "moment row not summing to one": (
        "binary",
        _set_row("moment_probs_", 0, 0, [0.1, 0.1]),
        r"fitted\.moment_probs_\[0\]: row 0",
    ),
    "negative probability": (
        "binary",
        _set_row("probs_", 0, 0, [-0.5, 1.5]),
        r"fitted\.probs_\[0\] must hold probabilities in \[0, 1\]",
    ),
    "wrong number of items": (
        "binary",
        _set("probs_", [[[0.5, 0.5]] * 2] * 3),
        r"fitted\.probs_ must be a list of 4",
    ),
    "ragged probabilities": (
        "binary",
        _set_row("probs_", 1, 0, [1.0]),
        r"fitted\.probs_\[1\] must be a rectangular",
    ),
    "levels do not match": (
        "text",
        _set("categories_", [{"dtype": "object", "values": ["hi", "lo"]}] * 6),
        r"fitted\.categories_\[0\]\.values must list the 3 levels",
    ),
    "unsorted levels": (
        "text",
        _set("categories_", [{"dtype": "object", "values": ["lo", "hi", "mid"]}] * 6),
        r"fitted\.categories_\[0\]\.values must list distinct levels in sorted order",
    ),
    "weights not on the simplex": (
        "binary",
        _set("weights_", [0.5, 0.6]),
        r"fitted\.weights_: weights must sum to 1",
    ),
    "weights of three classes": (
        "binary",
        _set("weights_", [0.2, 0.3, 0.5]),
        r"n_components=2 but weights_ has 3",
    ),
    "moment weights alone": (
        "binary",
        _drop("moment_probs_"),
        r"both moment_weights_ and moment_probs_",
    ),
    "view out of range": (
        "binary",
        _set("views_", [[[0], [1], [9]]]),
        r"fitted\.views_\[0\] must be three disjoint",
    ),
    "overlapping views": (
        "binary",
        _set("views_", [[[0], [0], [1]]]),
        r"fitted\.views_\[0\] must be three disjoint",
    ),
    "increasing singular values": (
        "binary",
        _set("singular_values_", [0.1, 0.3]),
        r"fitted\.singular_values_ must be",
    ),
    "positive log-likelihood": (
        "binary",
        _set("log_likelihood_", 3.0),
        r"fitted\.log_likelihood_ must be <= 0",
    ),
    "identifiability not text": (
        "binary",
        _set("identifiability_", 5),
        r"fitted\.identifiability_ must be a string",
    ),
    "negative rows dropped": (
        "binary",
        _set("n_rows_dropped_", -1),
        r"fitted\.n_rows_dropped_ must be >= 0",
    ),
    "feature names of the wrong length": (
        "binary",
        _set("feature_names_in_", ["A"]),
        r"fitted\.feature_names_in_ must be a list of 4 strings",
    ),
    "unknown member": ("binary", _set("secret_", 1), r"fitted has unknown members \['secret_'\]"),
    "incomplete": ("binary", _drop("categories_"), r"fitted lacks \['categories_'\]"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_are_refused_naming_the_member(
    case: str, saved: dict[str, str], tmp_path: Path
) -> None:
    """Reference: the validation a fresh fit passes; the message names file and member."""
    kind, mutate, message = MALFORMED[case]
    path = tmp_path / "bad.json"
    path.write_text(_resigned(saved[kind], mutate))
    with pytest.raises(DataError, match=message) as info:
        kio.load(path)
    assert str(path) in str(info.value)


def test_tampering_without_a_new_checksum_is_caught(saved: dict[str, str], tmp_path: Path) -> None:
    """Reference: the stored SHA-256."""
    document = json.loads(saved["binary"])
    document["fitted"]["probs_"][2][1] = [0.5, 0.7]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(DataError, match="checksum mismatch"):
        kio.load(path)


def test_the_helpers_alone_leave_a_loadable_file(saved: dict[str, str], tmp_path: Path) -> None:
    """Reference: re-signing an unchanged document changes nothing."""
    for kind, text in saved.items():
        path = tmp_path / f"{kind}.json"
        path.write_text(_resigned(text, lambda fitted: None))
        assert isinstance(kio.load(path), ProductMixture)

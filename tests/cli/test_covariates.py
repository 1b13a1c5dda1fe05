"""``kmix fit --model product --covariates``: latent class regression from the command line.

Reference: the published poLCA regression of the 2000 ANES election data on PARTY (poLCA
user's manual v1.4; bundled with its source in ``kmix/datasets/data/SOURCES.md``).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from kmix.datasets import election
from tests.helpers.cli import assert_one_error_line, number, run


@pytest.fixture(scope="module")
def election_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = election()
    path = tmp_path_factory.mktemp("lcr") / "election.csv"
    party = data.covariate("PARTY")
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow([*data.item_names, "PARTY"])
        for i in range(data.items.shape[0]):
            cells = ["" if np.isnan(v) else int(v) + 1 for v in data.items[i]]
            out.writerow([*cells, "" if np.isnan(party[i]) else int(party[i])])
    return path


def test_the_published_regression_from_the_command_line(election_csv, capsys) -> None:
    published = election().published_covariate_models["PARTY"]
    status, out, err = run(
        capsys, "fit", str(election_csv), "--model", "product", "-k", "3",
        "--covariates", "PARTY", "--missing", "drop", "--covariate-missing", "drop",
        "--covariate-se", "empirical", "--seed", "0", "--tol", "1e-12",
    )  # fmt: skip
    assert status == 0, err
    assert "1,300 rows, 485 dropped x 12 items; covariates PARTY" in out
    assert number(out, "log-likelihood") == pytest.approx(published["log_likelihood"], abs=5e-3)
    rows = re.findall(r"class (\d)\s+(\(Intercept\)|PARTY)\s+(\S+)\s+(\S+)", out)
    coef = np.array([float(r[2]) for r in rows]).reshape(2, 2)
    se = np.array([float(r[3]) for r in rows]).reshape(2, 2)
    np.testing.assert_allclose(coef, published["coefficients"], atol=1e-3)
    np.testing.assert_allclose(se, published["std_errors"], atol=2e-4)
    assert re.search(r"free parameters\s+112\n", out)


def test_roles_and_gaps_are_named(election_csv, capsys) -> None:
    assert_one_error_line(
        run(capsys, "fit", str(election_csv), "--model", "product", "--covariates", "PARTY",
            "--columns", "MORALG:PARTY", "--missing", "drop"),
        1,
        r"column\(s\) \['PARTY'\] are both items and covariates",
    )  # fmt: skip
    assert_one_error_line(
        run(capsys, "fit", str(election_csv), "--model", "product", "--covariates", "PARTY",
            "--missing", "drop", "-q"),
        1,
        r"covariate 'PARTY' is missing at row \d+ \(25 row\(s\)",
    )  # fmt: skip
    assert_one_error_line(
        run(capsys, "fit", str(election_csv), "-k", "2", "--family", "categorical",
            "--covariates", "PARTY"),
        1,
        "--covariates applies only to .*--model product",
    )  # fmt: skip


def test_mixture_weights_on_covariates_from_the_command_line(tmp_path, capsys) -> None:
    """Reference: the same fit through the API (FiniteMixture with covariates=)."""
    import pandas as pd

    from kmix import FiniteMixture

    rng = np.random.default_rng(5)
    n = 1500
    z, grp = rng.normal(size=n), rng.random(n) < 0.5
    u = rng.random(n) < 1.0 / (1.0 + np.exp(-(0.3 - z + 0.8 * grp)))
    frame = pd.DataFrame(
        {"x": np.where(u, 2.0, -2.0) + rng.normal(size=n), "z": z, "grp": np.where(grp, "b", "a")}
    )
    frame.to_csv(tmp_path / "gz.csv", index=False)
    status, out, err = run(
        capsys, "fit", str(tmp_path / "gz.csv"), "--family", "gaussian", "-k", "2",
        "--covariates", "z,grp", "--seed", "0", "-q",
    )  # fmt: skip
    assert status == 0, err
    ref = FiniteMixture(2, family="gaussian", random_state=0).fit(
        frame[["x"]].to_numpy(), covariates={"z": frame["z"], "grp": frame["grp"]}
    )
    rows = re.findall(r"class 1\s+(\(Intercept\)|z|grp\[b\])\s+(\S+)\s+(\S+)", out)
    assert [r[0] for r in rows] == ["(Intercept)", "z", "grp[b]"]
    np.testing.assert_allclose([float(r[1]) for r in rows], ref.coef_[0], atol=1e-5)
    np.testing.assert_allclose([float(r[2]) for r in rows], ref.coef_se_[0], atol=1e-5)

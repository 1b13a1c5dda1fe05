"""FiniteMixture of Gaussian components on files: EM with one pass over the rows per iteration.

References: EM over the same rows in memory (``FiniteMixture.fit`` on the array, whose
M-step centres at the new means in one piece, not from chunk sums), started at the same
point; the in-memory fit with its own restarts for the default start.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kmix import FiniteMixture
from kmix.data import as_source
from kmix.exceptions import DataError

MEANS = np.array([[0.0, 0.0, 0.0], [3.0, 1.0, -2.0], [-2.0, 4.0, 1.0]])


def _rows(n: int, seed: int = 0, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    return shift + MEANS[z] + rng.normal(size=(n, 3)) * np.array([1.0, 0.5, 2.0])


def _parquet(X: np.ndarray, path: Path, row_group: int = 1000) -> Path:
    table = pa.table({f"x{j}": X[:, j] for j in range(X.shape[1])})
    pq.write_table(table, path, row_group_size=row_group)
    return path


def _start(covariance_type: str) -> dict:
    cov = np.stack([np.eye(3) * 2.0] * 3)
    covs = cov if covariance_type == "full" else np.ones((3, 3)) * 2.0
    return {
        "params_init": {"means": MEANS + 0.5, "covariances": covs},
        "weights_init": np.array([0.4, 0.35, 0.25]),
    }


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
@pytest.mark.parametrize("batch_rows", [1, 7, 1000, None])
def test_passes_follow_in_memory_em_from_the_same_start(tmp_path, covariance_type, batch_rows):
    """Every chunking, 1-row chunks included, gives the in-memory EM's parameters to 1e-10;
    the data sit far from the origin (1e4), where raw second moments would cancel."""
    n = 600 if batch_rows == 1 else 3000
    X = _rows(n, seed=1, shift=1e4)
    path = _parquet(X, tmp_path / "g.parquet", row_group=250)
    opts = {"family": "gaussian", "covariance_type": covariance_type, "n_init": 1, "tol": 1e-13}
    opts["params_init"] = dict(_start(covariance_type)["params_init"])
    opts["params_init"]["means"] = opts["params_init"]["means"] + 1e4
    opts["weights_init"] = _start(covariance_type)["weights_init"]
    ref = FiniteMixture(3, **opts).fit(X)
    got = FiniteMixture(3, **opts).fit(as_source(path, batch_rows=batch_rows))
    assert got.n_iter_ == ref.n_iter_
    assert got.log_likelihood_ == pytest.approx(ref.log_likelihood_, rel=1e-13)
    np.testing.assert_allclose(got.weights_, ref.weights_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.params_.means, ref.params_.means, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.params_.covariances, ref.params_.covariances, rtol=0, atol=1e-10)
    assert got.n_samples_ == n and list(got.feature_names_in_) == ["x0", "x1", "x2"]


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_default_start_reaches_the_in_memory_maximum(tmp_path) -> None:
    """The start is the in-memory fit of a systematic sample; the passes then climb to the
    maximum the in-memory fit (four restarts) reaches on all the rows."""
    X = _rows(20_000, seed=2)
    path = _parquet(X, tmp_path / "g.parquet", row_group=3000)
    ref = FiniteMixture(3, family="gaussian", random_state=0, tol=1e-12).fit(X)
    got = FiniteMixture(3, family="gaussian", random_state=0, tol=1e-12).fit(path)
    assert got.converged_
    assert got.log_likelihood_ == pytest.approx(ref.log_likelihood_, rel=1e-9)
    np.testing.assert_allclose(got.weights_, ref.weights_, atol=1e-5)
    assert got.predict(X[:5]).shape == (5,)


def test_missing_cells_follow_the_rule(tmp_path) -> None:
    """Reference: the rows without a gap, fitted in memory from the same start."""
    X = _rows(2000, seed=3)
    X[[5, 700, 1500], [1, 0, 2]] = np.nan
    path = _parquet(X, tmp_path / "gaps.parquet", row_group=400)
    with pytest.raises(DataError, match=r"row 5, column 'x1' is missing.*missing='drop'"):
        FiniteMixture(3, family="gaussian", random_state=0).fit(path)
    opts = dict(family="gaussian", n_init=1, tol=1e-13, **_start("full"))
    got = FiniteMixture(3, missing="drop", **opts).fit(path)
    keep = ~np.isnan(X).any(axis=1)
    ref = FiniteMixture(3, **opts).fit(X[keep])
    assert got.n_rows_dropped_ == 3 and got.n_samples_ == 1997
    assert got.n_missing_.tolist() == [1, 1, 1]
    assert got.log_likelihood_ == pytest.approx(ref.log_likelihood_, rel=1e-13)
    np.testing.assert_allclose(got.params_.means, ref.params_.means, atol=1e-10)


def test_what_passes_cannot_do_is_refused(tmp_path) -> None:
    path = _parquet(_rows(500), tmp_path / "g.parquet")
    with pytest.raises(DataError, match="fixed_params and fixed_weights are not supported"):
        FiniteMixture(3, family="gaussian", fixed_weights=[0.5, 0.3, 0.2]).fit(path)
    with pytest.raises(DataError, match="sample_weight and n_trials cannot be given"):
        FiniteMixture(3, family="gaussian").fit(path, sample_weight=np.ones(500))
    text = tmp_path / "t.csv"
    text.write_text("a,b\n1.5,x\n2.5,y\n")
    with pytest.raises(DataError, match="column 'b' holds text that is not a number"):
        FiniteMixture(1, family="gaussian").fit(text)

"""Estimators fitted from files, Arrow tables and polars frames, streamed in chunks.

Reference: the same estimator fitted to the same rows in memory (a pandas DataFrame). The
streamed pass counts the distinct rows and the fit reads them with their counts as frequency
weights, so parameters and log-likelihoods agree to 1e-10 (here: exactly) for every chunk
size, including one row per chunk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kmix import BayesNetMixture, CoinMixture, ProductMixture
from kmix.data import as_source
from kmix.datasets import bayesnet_mixture
from kmix.exceptions import DataError
from kmix.params import DAG

pd = pytest.importorskip("pandas")


def _survey(n: int = 3000, seed: int = 1):
    rng = np.random.default_rng(seed)
    u = rng.random(n) < 0.3
    p = np.where(u[:, None], 0.8, 0.25) + np.linspace(-0.1, 0.1, 5)[None, :]
    X = (rng.random((n, 5)) < p).astype(np.int64)
    return pd.DataFrame(X, columns=[f"q{j}" for j in range(5)])


def _write(frame, folder: Path) -> None:
    half = len(frame) // 3
    pq.write_table(
        pa.Table.from_pandas(frame.iloc[:half], preserve_index=False), folder / "a.parquet"
    )
    pq.write_table(
        pa.Table.from_pandas(frame.iloc[half:], preserve_index=False), folder / "b.parquet"
    )
    frame.to_csv(folder / "all.csv", index=False)


def _same(a: ProductMixture, b: ProductMixture) -> None:
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, abs=1e-10, rel=0)
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(a.probs_, b.probs_, rtol=0, atol=1e-10)
    assert a.n_samples_ == b.n_samples_


def test_product_mixture_from_files_and_tables_in_chunks(tmp_path: Path) -> None:
    frame = _survey()
    _write(frame, tmp_path)
    ref = ProductMixture(2, random_state=0).fit(frame)
    sources = [
        str(tmp_path / "*.parquet"),
        as_source(tmp_path / "all.csv", batch_rows=1),
        as_source(tmp_path / "all.csv", batch_rows=7),
        as_source(str(tmp_path / "*.parquet"), batch_rows=1000),
        pa.Table.from_pandas(frame),
    ]
    pl = pytest.importorskip("polars")
    sources.append(pl.from_pandas(frame))
    for src in sources:
        got = ProductMixture(2, random_state=0).fit(src)
        _same(ref, got)
        assert list(got.feature_names_in_) == list(frame.columns)
    # columns by name: a source narrowed to three items is the fit of those three
    three = ProductMixture(2, random_state=0).fit(frame[["q0", "q2", "q4"]])
    got = ProductMixture(2, random_state=0).fit(
        as_source(tmp_path / "all.csv", columns=["q0", "q2", "q4"])
    )
    _same(three, got)


def test_missing_cells_in_a_file_follow_the_missing_rule(tmp_path: Path) -> None:
    frame = _survey(1200).astype("float64")
    frame.iloc[5, 2] = np.nan
    frame.iloc[[9, 40], 0] = np.nan
    frame.iloc[77, :] = np.nan  # a row without any answer
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    with pytest.raises(
        DataError, match=r"missing values in 4 of 1,200 rows \(first at row 5, column 'q2'\)"
    ):
        ProductMixture(2, missing="error").fit(tmp_path / "gaps.csv")
    with pytest.warns(UserWarning, match="dropped 4 of 1,200 rows with missing values"):
        dropped = ProductMixture(2, missing="drop", random_state=0).fit(tmp_path / "gaps.csv")
    assert dropped.n_rows_dropped_ == 4 and dropped.n_samples_ == 1196
    with pytest.warns(UserWarning, match="dropped 1 of 1,200 rows without any observed value"):
        fiml = ProductMixture(2, missing="fiml", random_state=0).fit(tmp_path / "gaps.csv")
    with pytest.warns(UserWarning, match="1 of 1200 rows have no observed value"):
        ref = ProductMixture(2, missing="fiml", random_state=0).fit(frame)
    _same(ref, fiml)
    with pytest.raises(DataError, match="sample_weight cannot be given with"):
        ProductMixture(2).fit(tmp_path / "gaps.csv", sample_weight=np.ones(1200))


def test_bayesnet_and_coin_mixtures_stream_too(tmp_path: Path) -> None:
    dag = DAG.from_edges(["A", "B", "C", "D", "E"], [("A", "B"), ("B", "C"), ("D", "E")])
    X, _ = bayesnet_mixture(dag, 2, 4000, random_state=3)
    frame = pd.DataFrame(X, columns=list(dag.nodes))
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "bn.parquet")
    ref = BayesNetMixture(dag, 2, random_state=0).fit(frame)
    for batch_rows in (1, 333):
        got = BayesNetMixture(dag, 2, random_state=0).fit(
            as_source(tmp_path / "bn.parquet", batch_rows=batch_rows)
        )
        assert got.log_likelihood_ == pytest.approx(ref.log_likelihood_, abs=1e-10, rel=0)
        np.testing.assert_allclose(got.weights_, ref.weights_, rtol=0, atol=1e-10)
        for a, b in zip(got.params_.cpts, ref.params_.cpts, strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
        assert got.n_rows_ == 4000
    # coins: a table of (heads, trials) per trial
    rng = np.random.default_rng(0)
    bias = np.where(rng.random(5000) < 0.4, 0.2, 0.7)
    heads = rng.binomial(9, bias)
    coins = pd.DataFrame({"heads": heads, "trials": np.full(5000, 9)})
    pq.write_table(pa.Table.from_pandas(coins, preserve_index=False), tmp_path / "coins.parquet")
    ref_c = CoinMixture(2, random_state=0).fit(coins.to_numpy())
    for batch_rows in (1, 7, 1000):
        got_c = CoinMixture(2, random_state=0).fit(
            as_source(tmp_path / "coins.parquet", batch_rows=batch_rows)
        )
        np.testing.assert_allclose(got_c.biases_, ref_c.biases_, rtol=0, atol=1e-10)
        np.testing.assert_allclose(got_c.weights_, ref_c.weights_, rtol=0, atol=1e-10)


def test_finite_mixture_streams_too(tmp_path: Path) -> None:
    """Reference: the same rows in memory; bernoulli components on the survey's items."""
    from kmix import FiniteMixture

    frame = _survey(2000, seed=4)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "s.parquet")
    ref = FiniteMixture(2, family="bernoulli", random_state=0).fit(frame)
    for batch_rows in (1, 100):
        got = FiniteMixture(2, family="bernoulli", random_state=0).fit(
            as_source(tmp_path / "s.parquet", batch_rows=batch_rows)
        )
        # the same EM over distinct rows with counts: sums in another order, equal to rounding
        assert got.lower_bound_ == pytest.approx(ref.lower_bound_, abs=1e-9, rel=0)
        np.testing.assert_allclose(got.weights_, ref.weights_, rtol=0, atol=1e-10)
        np.testing.assert_allclose(got.params_.p, ref.params_.p, rtol=0, atol=1e-10)
        assert list(got.feature_names_in_) == list(frame.columns)


def test_predictions_from_a_file_are_refused_with_the_way_out(tmp_path: Path) -> None:
    frame = _survey(500)
    frame.to_csv(tmp_path / "s.csv", index=False)
    model = ProductMixture(2, random_state=0).fit(tmp_path / "s.csv")
    with pytest.raises(DataError, match="predictions and scores read rows in memory"):
        model.predict_proba(str(tmp_path / "s.csv"))
    assert model.predict_proba(frame).shape == (500, 2)

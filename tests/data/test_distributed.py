"""Fits over a Dask cluster: a ``LocalCluster`` of two worker processes.

Reference: the statistic of the same rows counted in memory (identity, exactly) and the
estimator fitted to them in memory (parameters to 1e-10).
"""

from __future__ import annotations

import numpy as np
import pytest

from kmix import ProductMixture
from kmix.data import tally
from kmix.data.distributed import connect
from kmix.exceptions import DataError

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("dask.distributed")
pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def _frame(n: int = 4000) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    u = rng.random(n) < 0.4
    X = (rng.random((n, 6)) < np.where(u[:, None], 0.75, 0.2)).astype(np.int64)
    frame = pd.DataFrame(X, columns=[f"v{j}" for j in range(6)])
    frame["site"] = np.where(rng.random(n) < 0.5, "north", "south")  # a text column
    frame.loc[::97, "v3"] = None  # gaps, as a float column with NaN
    return frame


def test_statistics_and_fit_on_a_local_cluster(client) -> None:
    frame = _frame()
    ddf = dd.from_pandas(frame, npartitions=5)
    seen: list[int] = []
    here, there = tally(frame).labelled(), tally(ddf, progress=lambda n, r: seen.append(n))
    there = there.labelled()
    # one report per partition as it finishes, rows done growing to every row
    assert len(seen) == 5 and seen == sorted(seen) and seen[-1] == 4000
    np.testing.assert_array_equal(there.values, here.values)  # object rows: None == None
    np.testing.assert_array_equal(there.counts, here.counts)
    assert there.first_missing == here.first_missing == (0, "v3")
    assert there.n_rows == 4000
    ref = ProductMixture(2, random_state=0).fit(frame)
    got = ProductMixture(2, random_state=0).fit(ddf)
    assert got.log_likelihood_ == pytest.approx(ref.log_likelihood_, abs=1e-10, rel=0)
    np.testing.assert_allclose(got.weights_, ref.weights_, rtol=0, atol=1e-10)
    for a, b in zip(got.probs_, ref.probs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


def test_an_unreachable_scheduler_is_named() -> None:
    with pytest.raises(DataError, match=r"no Dask scheduler answers at 'tcp://127.0.0.1:9'"):
        connect("tcp://127.0.0.1:9", timeout=1.0)


def test_every_discrete_model_fits_on_the_cluster(client) -> None:
    """Reference: each model fitted in memory to the same rows."""
    from kmix import BayesNetMixture, CoinMixture, FiniteMixture
    from kmix.datasets import bayesnet_mixture
    from kmix.params import DAG

    dag = DAG.from_edges(["A", "B", "C", "D"], [("A", "B"), ("B", "C")])
    X, _ = bayesnet_mixture(dag, 2, 3000, random_state=5)
    frame = pd.DataFrame(X, columns=list(dag.nodes))
    ddf = dd.from_pandas(frame, npartitions=3)
    ref = BayesNetMixture(dag, 2, random_state=0).fit(frame)
    got = BayesNetMixture(dag, 2, random_state=0).fit(ddf)
    assert got.log_likelihood_ == pytest.approx(ref.log_likelihood_, abs=1e-10, rel=0)
    np.testing.assert_allclose(got.weights_, ref.weights_, rtol=0, atol=1e-10)
    for a, b in zip(got.params_.cpts, ref.params_.cpts, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    ref_f = FiniteMixture(2, family="bernoulli", random_state=0).fit(frame)
    got_f = FiniteMixture(2, family="bernoulli", random_state=0).fit(ddf)
    np.testing.assert_allclose(got_f.weights_, ref_f.weights_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got_f.params_.p, ref_f.params_.p, rtol=0, atol=1e-10)
    rng = np.random.default_rng(1)
    heads = rng.binomial(7, np.where(rng.random(2000) < 0.5, 0.25, 0.75))
    coins = pd.DataFrame({"heads": heads, "trials": np.full(2000, 7)})
    ref_c = CoinMixture(2, random_state=0).fit(coins.to_numpy())
    got_c = CoinMixture(2, random_state=0).fit(dd.from_pandas(coins, npartitions=4))
    np.testing.assert_allclose(got_c.biases_, ref_c.biases_, rtol=0, atol=1e-10)


def test_gaussian_em_by_passes_on_the_cluster(client) -> None:
    """Reference: the same passes over a pyarrow Table in memory (the systematic sample, so
    the start, does not depend on partitions), and EM over the array in memory from the
    passes' start: parameters to 1e-10."""
    import pyarrow as pa

    from kmix import FiniteMixture

    rng = np.random.default_rng(2)
    z = rng.random(3000) < 0.35
    X = np.where(z[:, None], [2.0, -1.0], [-1.0, 1.5]) + rng.normal(size=(3000, 2))
    frame = pd.DataFrame(X, columns=["a", "b"])
    here = FiniteMixture(2, family="gaussian", random_state=0, tol=1e-12).fit(
        pa.Table.from_pandas(frame, preserve_index=False)
    )
    there = FiniteMixture(2, family="gaussian", random_state=0, tol=1e-12).fit(
        dd.from_pandas(frame, npartitions=4)
    )
    assert there.n_iter_ == here.n_iter_
    np.testing.assert_allclose(there.weights_, here.weights_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(there.params_.means, here.params_.means, rtol=0, atol=1e-10)
    start = {"means": here.params_.means, "covariances": here.params_.covariances}
    opts = {"family": "gaussian", "n_init": 1, "tol": 1e-13, "weights_init": here.weights_}
    ref = FiniteMixture(2, params_init=start, **opts).fit(X)
    got = FiniteMixture(2, params_init=start, **opts).fit(dd.from_pandas(frame, npartitions=3))
    assert got.log_likelihood_ == pytest.approx(ref.log_likelihood_, rel=1e-13)
    np.testing.assert_allclose(got.params_.covariances, ref.params_.covariances, atol=1e-10)

"""Data at any size: the statistics pass in memory, from Parquet in chunks and on a Dask
cluster; CSV reading against pandas; peak memory of fits from files larger than the budget.

Parts (all on binary data, the latent class model's sufficient statistic: the distinct rows
and their counts):

1. Throughput of the statistics pass over 1e7 rows x 15 binary columns (uint8, 143 MiB):
   in memory (``kmix.stats.count_rows``, what ``ProductMixture.fit`` computes from an
   array), chunked from a Parquet file (``kmix.data.tally``, pyarrow batches) and on a
   ``dask.distributed.LocalCluster`` of 2 worker processes (a tally per partition, merged
   on the cluster); the bound is one read of the same bytes (``np.sum`` over the uint8
   array). The three statistics must be identical. Target: in memory >= 25% of the bound.
2. Reading a 1e6 x 15 CSV file of 0/1: ``kmix.data.read_table`` against
   ``pandas.read_csv(engine="pyarrow")``, best of 9 each (interleaved), same file, one run.
   Target: kmix no slower.
3. Peak resident memory, each fit in a fresh process (its ``VmHWM``):
   ``ProductMixture`` (k = 2) on a Parquet file of 5e7 rows x 15 binary columns (target
   < 1 GiB), ``ProductMixture`` on a 1e7 x 15 uint8 array in memory (reported), and
   ``BayesNetMixture`` (k = 2) on 32 binary nodes x 1e7 rows from Parquet (target < 4 GiB),
   and ``FiniteMixture`` (gaussian, k = 3) on 1e7 x 5 floats from Parquet by EM passes
   (reported; its rows/s count the rows read by every pass).

``--quick``: 1e6 rows for part 1, 5e6 for the Parquet fit, 1e6 for the network and the
Gaussian rows; the targets
are judged on the full sizes only. Each fit's process may take 8 GiB of address space at most;
beyond that its allocation fails and the table says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from common import BenchResult, log, machine_info, markdown_table

NAME = "data"
SEED = 20261206
N_COLS = 15
GIB = 1024**3
#: Reads of the CSV file by each reader, interleaved; the best of each counts
CSV_REPEATS = 9


def _binary_chunks(n_rows: int, seed: int, chunk: int = 1_000_000):
    """Rows of a two-class latent class model, uint8, in chunks (bounded memory)."""
    rng = np.random.default_rng(seed)
    probs = np.array([np.linspace(0.15, 0.35, N_COLS), np.linspace(0.85, 0.6, N_COLS)])
    done = 0
    while done < n_rows:
        m = min(chunk, n_rows - done)
        u = (rng.random(m) < 0.3).astype(np.intp)
        yield (rng.random((m, N_COLS)) < probs[u]).astype(np.uint8)
        done += m


def _write_parquet(path: Path, chunks, names: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for X in chunks:
        table = pa.table({name: X[:, j] for j, name in enumerate(names)})
        if writer is None:
            writer = pq.ParquetWriter(str(path), table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def _best(fn, repeats: int = 3) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return float(best)


def _throughput(n_rows: int, folder: Path) -> dict[str, Any]:
    import dask.dataframe as dd
    from dask.distributed import Client, LocalCluster

    from kmix.data import tally
    from kmix.stats import count_rows

    names = [f"x{j}" for j in range(N_COLS)]
    X = np.concatenate(list(_binary_chunks(n_rows, SEED)))
    path = folder / "throughput.parquet"
    _write_parquet(path, (X[i : i + 1_000_000] for i in range(0, n_rows, 1_000_000)), names)
    bound = _best(lambda: X.sum())
    mem = _best(lambda: count_rows(X))
    values, counts = count_rows(X)
    chunked = _best(lambda: tally(path), repeats=1)
    streamed = tally(path).labelled()
    same = bool(
        np.array_equal(streamed.values, values.astype(np.int64))
        and np.array_equal(streamed.counts, counts)
    )
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster),
    ):
        frame = dd.read_parquet(str(path), split_row_groups=True)
        t0 = time.perf_counter()
        spread = tally(frame).labelled()
        cluster_s = time.perf_counter() - t0
    same &= bool(
        np.array_equal(spread.values, streamed.values)
        and np.array_equal(spread.counts, streamed.counts)
    )
    return {
        "rows": n_rows,
        "bound_rows_per_s": n_rows / bound,
        "memory_rows_per_s": n_rows / mem,
        "parquet_rows_per_s": n_rows / chunked,
        "cluster_rows_per_s": n_rows / cluster_s,
        "share_of_bound": bound / mem,
        "identical": same,
    }


def _csv(folder: Path) -> dict[str, Any]:
    import pandas as pd

    from kmix.data import read_table

    path = folder / "read.csv"
    X = next(_binary_chunks(1_000_000, SEED + 1))
    pd.DataFrame(X, columns=[f"x{j}" for j in range(N_COLS)]).to_csv(path, index=False)
    kmix_s = pandas_s = np.inf
    for _ in range(CSV_REPEATS):  # interleaved, so a change of load touches both alike
        kmix_s = min(kmix_s, _best(lambda: read_table(path), repeats=1))
        pandas_s = min(pandas_s, _best(lambda: pd.read_csv(path, engine="pyarrow"), repeats=1))
    values = read_table(path).values
    return {
        "rows": 1_000_000,
        "kmix_s": kmix_s,
        "pandas_s": pandas_s,
        "same_values": bool(np.array_equal(values, pd.read_csv(path).to_numpy(np.float64))),
    }


_CHILD = textwrap.dedent(
    """
    import json, sys, time, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    kind, path = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    if kind == "product-parquet":
        from kmix import ProductMixture
        model = ProductMixture(2, random_state=0).fit(path)
        rows = model.n_samples_
    elif kind == "product-memory":
        from kmix import ProductMixture
        X = np.load(path)
        t0 = time.perf_counter()
        model = ProductMixture(2, random_state=0).fit(X)
        rows = X.shape[0]
    elif kind == "gaussian-parquet":
        from kmix import FiniteMixture
        model = FiniteMixture(3, family="gaussian", random_state=0).fit(path)
        rows = model.n_samples_ * (model.n_iter_ + 1)  # rows read by the EM passes
    else:
        from kmix import BayesNetMixture
        from kmix.params import DAG
        dag = DAG.from_edges([f"v{j}" for j in range(32)], json.loads(sys.argv[3]))
        model = BayesNetMixture(dag, 2, random_state=0).fit(path)
        rows = model.n_rows_
    seconds = time.perf_counter() - t0
    # VmHWM: this process image's own peak (ru_maxrss keeps the parent's across exec)
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith("VmHWM:"))
    peak = int(line.split()[1]) * 1024
    print(json.dumps({"seconds": seconds, "rows": float(rows), "peak_bytes": peak}))
    """
)


#: Address space a child may take (beyond it, its allocations fail instead of the machine's)
CHILD_LIMIT = 8 * GIB


def _limit() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (CHILD_LIMIT, CHILD_LIMIT))


def _child(*args: str) -> dict[str, Any]:
    """One fit in a fresh process; a failure (e.g. out of its memory) is recorded, not raised."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, preexec_fn=_limit
    )
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        log(f"child {args[0]} failed: {last}")
        return {
            "seconds": float("nan"),
            "rows": float("nan"),
            "peak_bytes": float("inf"),
            "error": last,
        }
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    log(f"child {args[0]}: {result}")
    return result


def _gaussian_file(n_rows: int, folder: Path) -> Path:
    """Rows of a three-component Gaussian mixture in 5 dimensions, float64, in chunks."""
    rng = np.random.default_rng(SEED + 5)
    means = rng.normal(scale=3.0, size=(3, 5))
    path = folder / "gaussian.parquet"

    def chunks():
        done = 0
        while done < n_rows:
            m = min(1_000_000, n_rows - done)
            z = rng.choice(3, m, p=[0.5, 0.3, 0.2])
            yield means[z] + rng.normal(size=(m, 5))
            done += m

    _write_parquet(path, chunks(), [f"g{j}" for j in range(5)])
    return path


def _network_file(n_rows: int, folder: Path) -> tuple[Path, list[tuple[str, str]]]:
    """Rows of a two-source mixture of networks on 32 binary nodes (a random sparse DAG)."""
    from kmix.datasets import bayesnet_mixture, random_sparse_dag
    from kmix.solvers.bayesnet.inference import sample

    rng = np.random.default_rng(SEED + 2)
    dag = random_sparse_dag(32, 2, random_state=rng)
    dag = type(dag).from_edges(
        [f"v{j}" for j in range(32)],
        [(f"v{dag.nodes.index(a)}", f"v{dag.nodes.index(b)}") for a, b in dag.edges],
    )
    _, params = bayesnet_mixture(dag, 2, 10, random_state=rng)
    path = folder / "network.parquet"

    def chunks():
        done = 0
        while done < n_rows:
            m = min(1_000_000, n_rows - done)
            X, _ = sample(params, m, rng=rng)
            yield np.asarray(X, dtype=np.uint8)
            done += m

    _write_parquet(path, chunks(), list(dag.nodes))
    return path, list(dag.edges)


def run(quick: bool) -> BenchResult:
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t_all = time.perf_counter()
    n_thru, n_big, n_net, n_gauss = (
        (1_000_000, 5_000_000, 1_000_000, 1_000_000)
        if quick
        else (10_000_000, 50_000_000, 10_000_000, 10_000_000)
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log("part 1: throughput")
        thru = _throughput(n_thru, folder)
        log(f"throughput: {thru}")
        log("part 2: CSV reading")
        csv = _csv(folder)
        log(f"CSV: {csv}")
        log("part 3: memory")
        big = folder / "big.parquet"
        _write_parquet(big, _binary_chunks(n_big, SEED + 3), [f"x{j}" for j in range(N_COLS)])
        product_file = _child("product-parquet", str(big))
        arr = folder / "memory.npy"
        np.save(
            arr,
            np.concatenate(list(_binary_chunks(10_000_000 if not quick else 1_000_000, SEED + 4))),
        )
        product_mem = _child("product-memory", str(arr))
        net_path, edges = _network_file(n_net, folder)
        network = _child("network", str(net_path), json.dumps(edges))
        gaussian = _child("gaussian-parquet", str(_gaussian_file(n_gauss, folder)))
    checks = {
        "throughput >= 25% of the bound in memory": thru["share_of_bound"] >= 0.25,
        "statistics identical in memory, chunked and on the cluster": thru["identical"],
        "CSV read no slower than pandas (pyarrow engine)": csv["kmix_s"] <= csv["pandas_s"],
        "ProductMixture from Parquet under 1 GiB": product_file["peak_bytes"] < GIB,
        "BayesNetMixture from Parquet under 4 GiB": network["peak_bytes"] < 4 * GIB,
    }
    ok = all(checks.values()) and not quick
    rows = [
        ["np.sum over the uint8 array (bound)", f"{thru['bound_rows_per_s'] / 1e6:,.1f}", "1.00"],
        [
            "in memory (count_rows)",
            f"{thru['memory_rows_per_s'] / 1e6:,.1f}",
            f"{thru['share_of_bound']:.2f}",
        ],
        [
            "chunked from Parquet (tally)",
            f"{thru['parquet_rows_per_s'] / 1e6:,.1f}",
            f"{thru['parquet_rows_per_s'] / thru['bound_rows_per_s']:.3f}",
        ],
        [
            "LocalCluster, 2 workers (tally)",
            f"{thru['cluster_rows_per_s'] / 1e6:,.1f}",
            f"{thru['cluster_rows_per_s'] / thru['bound_rows_per_s']:.3f}",
        ],
    ]

    def fit_row(what: str, res: dict[str, Any]) -> list[str]:
        if "error" in res:
            return [what, f"failed: {res['error'][:80]}", "-", "-"]
        return [
            what,
            f"{res['peak_bytes'] / 2**20:,.0f}",
            f"{res['seconds']:.2f}",
            f"{res['rows'] / res['seconds'] / 1e6:,.2f}",
        ]

    n_mem = 10_000_000 if not quick else 1_000_000
    fits = [
        fit_row(f"ProductMixture, Parquet, {n_big:,} x 15", product_file),
        fit_row(f"ProductMixture, uint8 array in memory, {n_mem:,} x 15", product_mem),
        fit_row(f"BayesNetMixture, Parquet, {n_net:,} x 32", network),
        fit_row(
            f"FiniteMixture (gaussian, k = 3), Parquet, {n_gauss:,} x 5, rows read in all passes",
            gaussian,
        ),
    ]
    md = [
        f"# Data at any size{' (quick)' if quick else ''}",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        f"## Statistics pass, {n_thru:,} rows x 15 binary columns",
        "",
        markdown_table(["pass", "million rows/s", "share of the bound"], rows, "lrr"),
        "",
        f"Statistics identical in the three passes: {'yes' if thru['identical'] else 'NO'}.",
        "",
        "## Reading a 1e6 x 15 CSV file",
        "",
        markdown_table(
            ["reader", "seconds (best of 9, interleaved)"],
            [
                ["kmix.data.read_table", f"{csv['kmix_s']:.3f}"],
                ["pandas.read_csv(engine='pyarrow')", f"{csv['pandas_s']:.3f}"],
            ],
            "lr",
        ),
        "",
        "## Peak memory of fits (fresh process each)",
        "",
        markdown_table(["fit", "peak MiB", "seconds", "million rows/s"], fits, "lrrr"),
        "",
        *(f"- {name}: {'PASS' if good else 'FAIL'}" for name, good in checks.items()),
        "",
        f"{(time.perf_counter() - t_all) / 60:.1f} min.",
    ]
    data = {
        "benchmark": NAME,
        "quick": quick,
        "started": started,
        "machine": machine_info(),
        "throughput": thru,
        "csv": csv,
        "fits": {
            "product_parquet": product_file,
            "product_memory": product_mem,
            "network": network,
            "gaussian": gaussian,
        },
        "checks": checks,
        "pass": ok,
    }
    return BenchResult(NAME, data, "\n".join(md))

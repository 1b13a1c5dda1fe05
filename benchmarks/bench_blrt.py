"""Bootstrap likelihood-ratio test benchmark: its rejection rate at the true number of classes.

Data sets of ``n_samples`` rows are drawn from a known two-class latent class
model over six binary items (:data:`WEIGHTS`, :data:`PROBS`). On each one
:func:`kmix.blrt` runs twice with ``ProductMixture`` at its defaults:

* **size**: 2 against 3 classes. The null is true, so the test should reject
  in a share ``alpha`` of the data sets (Nylund, Asparouhov & Muthén 2007 found
  the BLRT close to its nominal level). With ``n_boot = 39`` bootstrap data
  sets, ``alpha (n_boot + 1) = 2`` is whole, so the Monte Carlo test has level
  exactly ``alpha`` when the null's parameters are known; estimating them is
  what the benchmark measures.
* **power**: 1 against 2 classes, where the null is false.

The report gives each rejection rate at level ``alpha = 0.05`` with its exact
(Clopper-Pearson) 95% binomial interval; the size check passes when that
interval holds ``alpha``. Results: ``results/blrt.json`` and ``results/blrt.md``
(``python benchmarks/run.py --only blrt``; about 15 minutes on 2 cores, or
``--quick`` for a smoke run).
"""

from __future__ import annotations

import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
from scipy.stats import beta

from common import BenchResult, fmt_float, log, machine_info, markdown_table, n_workers

NAME = "blrt"
SEED = 20260717
ALPHA = 0.05
#: True class shares and P(item = 1 | class) of the two-class model the data come from.
WEIGHTS = (0.6, 0.4)
PROBS = (
    (0.85, 0.80, 0.75, 0.80, 0.20, 0.30),
    (0.20, 0.25, 0.30, 0.15, 0.70, 0.75),
)
#: (name, classes of the null, classes of the alternative); the truth has 2 classes.
TESTS = (("size", 2, 3), ("power", 1, 2))


@dataclass(frozen=True)
class Config:
    """Sizes of one run."""

    n_datasets: int
    n_boot: int
    n_samples: int


FULL = Config(n_datasets=100, n_boot=39, n_samples=500)
QUICK = Config(n_datasets=6, n_boot=19, n_samples=300)


def clopper_pearson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval of a proportion (Clopper & Pearson, Biometrika 26, 1934).

    Parameters
    ----------
    successes, trials : int
    level : float
        Coverage.

    Returns
    -------
    (lower, upper) : tuple of float
    """
    tail = (1.0 - level) / 2.0
    lo = 0.0 if successes == 0 else float(beta.ppf(tail, successes, trials - successes + 1))
    hi = (
        1.0 if successes == trials else float(beta.ppf(1 - tail, successes + 1, trials - successes))
    )
    return lo, hi


def draw(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Rows of the true two-class model."""
    probs = np.asarray(PROBS)
    z = rng.choice(len(WEIGHTS), size=n_samples, p=WEIGHTS)
    return (rng.random((n_samples, probs.shape[1])) < probs[z]).astype(np.int64)


def _worker_init() -> None:
    """Single-threaded BLAS in each worker: the workers already use every core."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    warnings.simplefilter("ignore")


def dataset_job(args: tuple[int, int, int]) -> dict[str, Any]:
    """Both tests on data set ``index``: p-values, statistics, seconds."""
    from kmix import ProductMixture, blrt

    index, n_samples, n_boot = args
    X = draw(n_samples, np.random.default_rng([SEED, index]))
    row: dict[str, Any] = {"dataset": index}
    for name, _, k_alt in TESTS:
        start = time.perf_counter()
        model = ProductMixture(k_alt, random_state=index).fit(X)
        res = blrt(model, X, n_boot=n_boot, random_state=np.random.default_rng([SEED, 1, index]))
        row[name] = {
            "p_value": res.p_value,
            "statistic": res.statistic,
            "bootstrap_max": float(res.statistics.max()),
            "n_warned": res.n_warned,
            "n_failed": res.n_failed,
            "rejected": bool(res.p_value <= ALPHA),
            "seconds": time.perf_counter() - start,
        }
    return row


def run_datasets(config: Config) -> list[dict[str, Any]]:
    """Every data set, in parallel worker processes."""
    import multiprocessing as mp

    jobs = [(i, config.n_samples, config.n_boot) for i in range(config.n_datasets)]
    workers = n_workers()
    log(f"[blrt] {len(jobs)} data sets, {config.n_boot} bootstrap sets each, {workers} worker(s)")
    rows = []
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_worker_init
    ) as pool:
        for row in pool.map(dataset_job, jobs):
            rows.append(row)
            log(
                f"[blrt] data set {row['dataset']:3d}: "
                + "  ".join(f"{name} p = {row[name]['p_value']:.3f}" for name, _, _ in TESTS)
            )
    return rows


def summarise(rows: list[dict[str, Any]], config: Config) -> list[dict[str, Any]]:
    """Rejection rate of each test with its exact 95% interval."""
    out = []
    for name, k_null, k_alt in TESTS:
        rejected = sum(r[name]["rejected"] for r in rows)
        lo, hi = clopper_pearson(rejected, len(rows))
        out.append(
            {
                "test": name,
                "null_classes": k_null,
                "alternative_classes": k_alt,
                "null_is_true": k_null == len(WEIGHTS),
                "n_datasets": len(rows),
                "n_boot": config.n_boot,
                "rejections": rejected,
                "rate": rejected / len(rows),
                "ci95": [lo, hi],
                "median_p_value": float(np.median([r[name]["p_value"] for r in rows])),
                "datasets_with_warnings": sum(r[name]["n_warned"] > 0 for r in rows),
                "bootstrap_sets_redrawn": sum(r[name]["n_failed"] for r in rows),
                "median_seconds": float(np.median([r[name]["seconds"] for r in rows])),
            }
        )
    return out


def report(data: dict[str, Any]) -> str:
    """Markdown: the rejection rates and the size check."""
    config = data["settings"]
    size = next(s for s in data["summary"] if s["test"] == "size")
    ok = size["ci95"][0] <= ALPHA <= size["ci95"][1]
    rows = [
        [
            s["test"],
            f"{s['null_classes']} vs {s['alternative_classes']}",
            "yes" if s["null_is_true"] else "no",
            str(s["rejections"]),
            fmt_float(s["rate"], 3),
            f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]",
            fmt_float(s["median_p_value"], 3),
            str(s["bootstrap_sets_redrawn"]),
            fmt_float(s["median_seconds"], 1),
        ]
        for s in data["summary"]
    ]
    headers = ["test", "classes", "null true", "rejected", "rate", "95% CI", "median p"]
    headers += ["redrawn", "s/test"]
    return "\n".join(
        [
            f"# Bootstrap likelihood-ratio test{' (quick)' if data['quick'] else ''}",
            "",
            f"{config['n_datasets']} data sets of {config['n_samples']:,} rows from a two-class "
            "latent class model over 6 binary items (shares 0.6 / 0.4); `kmix.blrt` with "
            f"`ProductMixture` at its defaults, {config['n_boot']} bootstrap data sets per test, "
            f"reject when p <= {ALPHA}. Interval: exact (Clopper-Pearson) 95%. Redrawn: "
            "bootstrap data sets drawn again because a fit refused them (`n_failed`).",
            "",
            markdown_table(headers, rows, "llllrlrrr"),
            "",
            f"{'PASS' if ok else 'FAIL'}: the size interval "
            f"[{size['ci95'][0]:.3f}, {size['ci95'][1]:.3f}] "
            f"{'holds' if ok else 'misses'} the nominal level {ALPHA}.",
            "",
            f"Elapsed: {data['elapsed_seconds'] / 60:.1f} min.",
            "",
        ]
    )


def run(quick: bool) -> BenchResult:
    """Run the BLRT benchmark."""
    config = QUICK if quick else FULL
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    machine = machine_info()
    rows = run_datasets(config)
    data: dict[str, Any] = {
        "benchmark": NAME,
        "quick": quick,
        "started": started,
        "machine": machine,
        "settings": {**asdict(config), "seed": SEED, "alpha": ALPHA},
        "truth": {"weights": list(WEIGHTS), "probs": [list(p) for p in PROBS]},
        "summary": summarise(rows, config),
        "datasets": rows,
    }
    data["elapsed_seconds"] = time.perf_counter() - t0
    markdown = report(data)
    log(f"[blrt] done in {data['elapsed_seconds'] / 60:.1f} min")
    return BenchResult(NAME, data, markdown)


if __name__ == "__main__":
    import sys

    from run import main

    sys.exit(main(["--only", NAME, *sys.argv[1:]]))

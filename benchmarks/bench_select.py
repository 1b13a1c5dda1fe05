"""Choosing the number of latent classes: the time of the search and the level of the rank test.

Two parts, each a table in ``results/select.md`` (all numbers in ``select.json``):

1. **Search time**: ``kmix.select_k_classes`` with its defaults (k up to 6, stop once
   BIC has risen twice in a row) on surveys of poLCA's election shape, 1,311 rows x 12
   four-level items: the bundled election data (complete rows) when
   ``kmix.datasets.election`` exists, and simulated three-class tables. Target: under
   30 s. The full run also times every k up to 10 without early stopping on one
   simulated table, to show how the cost of a fit grows with k (the search used to run
   up to the identifiability bound, k = 63 for these items).
2. **Level of the rank test on sparse tables**: the two-view table of two four-level
   items per view (16 x 16) from N = 1,311 rows of a three-class model, tested at the
   true k = 3 (size) and at k = 2 (power), nominal level 5%, for the covariance at the
   observed table without pooling (the Ratsimalahelo form), at the maximum-likelihood
   table of k classes without pooling, and at that table after pooling sparse rows and
   columns by Cochran's rule (kmix's default). The size is compared with the nominal
   level's central 99% binomial interval for the number of tables.
"""

from __future__ import annotations

import time
import warnings
from datetime import datetime, timezone
from typing import Any

import numpy as np
from scipy.stats import binom

from common import BenchResult, log, machine_info, markdown_table, timed
from kmix import select_k_classes
from kmix.solvers.latent_class.ranktest import rank_test

NAME = "select"
SEED = 20261201
N_ROWS, N_ITEMS, N_LEVELS = 1311, 12, 4
WEIGHTS = np.array([0.45, 0.35, 0.20])
TARGET_SECONDS = 30.0
ALPHA = 0.05
#: (pool, covariance) of each rank-test variant, by name
VARIANTS = {
    "observed, unpooled": (False, "observed"),
    "fitted, unpooled": (False, "fitted"),
    "fitted, pooled (default)": (True, "fitted"),
}


def _items(rng: np.random.Generator, n_items: int, concentration: float = 1.0) -> np.ndarray:
    """(3, n_items, N_LEVELS) class-conditional level shares, Dirichlet(concentration)."""
    return rng.dirichlet(np.full(N_LEVELS, concentration), size=(3, n_items))


def _survey(seed: int) -> np.ndarray:
    """N_ROWS x N_ITEMS answers of a three-class model (codes 0 .. 3)."""
    rng = np.random.default_rng(seed)
    probs = _items(rng, N_ITEMS)
    z = rng.choice(3, size=N_ROWS, p=WEIGHTS)
    u = rng.random((N_ROWS, N_ITEMS))
    return np.minimum((u[:, :, None] > np.cumsum(probs[z], axis=2)).sum(axis=2), N_LEVELS - 1)


def _search_row(name: str, X: np.ndarray, **options: Any) -> dict[str, Any]:
    res = timed(select_k_classes, X, random_state=0, **options)
    sel = res.value
    fitted = [r for r in sel["table"] if "bic" in r]
    log(f"[select] {name}: {res.seconds:.2f} s, fitted k = {[r['k'] for r in fitted]}")
    return {
        "data": name,
        "options": options,
        "seconds": res.seconds,
        "fitted_k": [r["k"] for r in fitted],
        "seconds_per_k": [r["seconds"] for r in fitted],
        "bic": [r["bic"] for r in fitted],
        "rank_p_values": [r["rank_p_value"] for r in sel["table"]],
        "rank_k": sel["rank_k"],
        "bic_k": sel["bic_k"],
        "stopped": sel["stopped"],
        "tested_shape": list(sel["tested_shape"]),
        "warnings": res.warnings,
    }


def search_speed(quick: bool) -> dict[str, Any]:
    """Default search on election-shaped surveys; per-k cost up to k = 10 (full run)."""
    rows = []
    try:
        from kmix.datasets import election
    except ImportError:
        election = None
    if election is not None:
        data = election()
        X = data.items[data.complete()].astype(np.int64)
        rows.append(_search_row(f"election ({X.shape[0]:,} complete rows)", X))
    for s in range(1 if quick else 3):
        rows.append(_search_row(f"simulated, k = 3, seed {SEED + s}", _survey(SEED + s)))
    growth = None
    if not quick:
        growth = _search_row(
            f"simulated, k = 3, seed {SEED}, every k up to 10",
            _survey(SEED),
            max_components=10,
            patience=None,
        )
    return {"searches": rows, "growth": growth, "target_seconds": TARGET_SECONDS}


def _fixed_population() -> np.ndarray:
    """The sparse 16 x 16 table of tests/solvers/latent_class/test_ranktest.py."""
    item = np.array([[0.60, 0.20, 0.14, 0.06], [0.20, 0.60, 0.14, 0.06], [0.15, 0.15, 0.64, 0.06]])
    other = item[:, [1, 2, 0, 3]]
    a = np.einsum("ua,ub->uab", item, other).reshape(3, -1)
    b = np.einsum("ua,ub->uab", other[[2, 0, 1]], item).reshape(3, -1)
    return (a.T * WEIGHTS) @ b


def _random_population(rng: np.random.Generator) -> np.ndarray:
    """P(X_A, X_B) with two Dirichlet(1) four-level items per view."""
    probs = _items(rng, 4)
    a = np.einsum("ua,ub->uab", probs[:, 0], probs[:, 1]).reshape(3, -1)
    b = np.einsum("ua,ub->uab", probs[:, 2], probs[:, 3]).reshape(3, -1)
    return (a.T * WEIGHTS) @ b


def rank_level(quick: bool) -> dict[str, Any]:
    """Rejection rates at the true k = 3 and at k = 2 for every variant."""
    reps = 40 if quick else 200
    n_random = 1 if quick else 5
    rng = np.random.default_rng(SEED)
    populations = [("fixed sparse (unit test)", _fixed_population())]
    populations += [(f"random {i + 1}", _random_population(rng)) for i in range(n_random)]
    low, high = binom.ppf(0.005, reps, ALPHA), binom.isf(0.005, reps, ALPHA)
    rows = []
    for name, p in populations:
        tables = rng.multinomial(N_ROWS, p.ravel(), size=reps).reshape(reps, *p.shape)
        sigma = np.linalg.svd(p, compute_uv=False)
        for variant, (pool, covariance) in VARIANTS.items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                size = [rank_test(t, 3, pool=pool, covariance=covariance) for t in tables]
                power = [rank_test(t, 2, pool=pool, covariance=covariance) for t in tables]
            judged = [r for r in size if r.reason is None]
            rejected = sum(r.p_value < ALPHA for r in judged)
            rows.append(
                {
                    "population": name,
                    "variant": variant,
                    "tables": reps,
                    "judged": len(judged),
                    "size": rejected / max(len(judged), 1),
                    "rejections": int(rejected),
                    "inside_99_interval": bool(low <= rejected <= high),
                    "power_k2": float(np.mean([r.p_value < ALPHA for r in power])),
                    "sigma3_sqrt_n": float(sigma[2] * np.sqrt(N_ROWS)),
                    "median_shape": [float(np.median([r.shape[i] for r in size])) for i in (0, 1)],
                    "seconds_per_test": (time.perf_counter() - start) / (2 * reps),
                }
            )
            log(f"[select] {name}, {variant}: size {rows[-1]['size']:.3f}")
    return {"rows": rows, "reps": reps, "interval": [float(low), float(high)], "alpha": ALPHA}


def report(data: dict[str, Any]) -> str:
    """The markdown report."""
    speed, level = data["speed"], data["level"]
    lines = [
        f"# Choosing the number of latent classes ({'quick' if data['quick'] else 'full'})",
        "",
        f"## 1. Search time: select_k_classes, defaults, {N_ROWS:,} rows x {N_ITEMS} "
        f"items with {N_LEVELS} levels",
        "",
        markdown_table(
            ["data", "time", "k fitted", "seconds per k", "rank k", "BIC k", "stopped"],
            [
                [
                    r["data"],
                    f"{r['seconds']:.2f} s",
                    ",".join(map(str, r["fitted_k"])),
                    " ".join(f"{s:.2f}" for s in r["seconds_per_k"]),
                    str(r["rank_k"]),
                    str(r["bic_k"]),
                    r["stopped"],
                ]
                for r in speed["searches"]
            ],
            "lrlrrrl",
        ),
        "",
    ]
    ok = all(r["seconds"] < speed["target_seconds"] for r in speed["searches"])
    worst = max(r["seconds"] for r in speed["searches"])
    lines += [
        f"Target: under {speed['target_seconds']:.0f} s by default: "
        f"{'PASS' if ok else 'FAIL'} (slowest {worst:.2f} s).",
        "",
    ]
    if speed["growth"] is not None:
        g = speed["growth"]
        per_k = ", ".join(
            f"k={k}: {s:.2f} s" for k, s in zip(g["fitted_k"], g["seconds_per_k"], strict=True)
        )
        lines += [f"Every k up to 10 on one simulated table ({g['seconds']:.1f} s): {per_k}.", ""]
    lo, hi = level["interval"]
    lines += [
        f"## 2. Rank test on sparse 16 x 16 tables (N = {N_ROWS:,}, true k = 3, "
        f"{level['reps']} tables each, nominal {level['alpha']:g})",
        "",
        markdown_table(
            [
                "population",
                "sigma_3 sqrt(N)",
                "variant",
                "tested shape (median)",
                "size at k = 3",
                f"inside [{lo:.0f}, {hi:.0f}]",
                "power at k = 2",
                "ms per test",
            ],
            [
                [
                    r["population"],
                    f"{r['sigma3_sqrt_n']:.2f}",
                    r["variant"],
                    f"{r['median_shape'][0]:.0f} x {r['median_shape'][1]:.0f}",
                    f"{r['size']:.3f} ({r['rejections']}/{r['judged']})",
                    "yes" if r["inside_99_interval"] else "no",
                    f"{r['power_k2']:.3f}",
                    f"{1000 * r['seconds_per_test']:.1f}",
                ]
                for r in level["rows"]
            ],
            "lrllrlrr",
        ),
        "",
    ]
    default = [r for r in level["rows"] if r["variant"] == "fitted, pooled (default)"]
    inside = sum(r["inside_99_interval"] for r in default)
    lines += [
        f"Default test inside the central 99% binomial interval of the nominal level: "
        f"{inside} of {len(default)} populations "
        f"({'PASS' if inside == len(default) else 'FAIL'}).",
        "",
    ]
    return "\n".join(lines)


def run(quick: bool) -> BenchResult:
    """Run the selection benchmark."""
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    data: dict[str, Any] = {
        "benchmark": NAME,
        "quick": quick,
        "started": started,
        "machine": machine_info(),
        "settings": {"seed": SEED, "n_rows": N_ROWS, "n_items": N_ITEMS, "levels": N_LEVELS},
        "speed": search_speed(quick),
        "level": rank_level(quick),
    }
    data["elapsed_seconds"] = time.perf_counter() - t0
    log(f"[select] done in {data['elapsed_seconds'] / 60:.1f} min")
    return BenchResult(NAME, data, report(data))

"""Latent classes with missing values: kmix's full-information ML against StepMix's.

Both maximise the same observed-data likelihood, ``sum_i log sum_u pi_u
prod_{j observed} P(x_ij | u)`` (values missing at random): StepMix through its
``binary_nan`` and ``categorical_nan`` measurement models (Morin et al.,
"StepMix: A Python package for pseudo-likelihood estimation of generalized
mixture models with external variables", 2023), kmix through
``ProductMixture(missing="fiml")``, its default. Every log-likelihood is
computed by one function written here from each tool's parameters, so the
comparison does not rest on either tool's own arithmetic.

Data: the 2000 American National Election Study items bundled as
``kmix.datasets.election`` (1,785 rows, 12 four-level items, 474 rows with a
missing item; k = 2, 3, 4) and simulated binary data (k = 3, 8 items,
N = 5,000, 10-40% of cells missing completely at random or at random given an
always-observed item; 10 instances). StepMix: ``n_init=10`` random starts,
``rel_tol=1e-10``, ``max_iter=2000``; kmix: defaults. Target: kmix's
log-likelihood equal to StepMix's (within 1e-6 nats per row) or higher on
every case.
"""

from __future__ import annotations

import time
import warnings
from datetime import datetime, timezone
from typing import Any

import numpy as np

from common import BenchResult, log, machine_info, markdown_table

NAME = "missing"
SEED = 20261206
TOL = 1e-6


def observed_loglik(codes: np.ndarray, weights: np.ndarray, probs: np.ndarray) -> float:
    """``sum_i log sum_u pi_u prod_{j observed} P(x_ij | u)``; codes NaN where missing.

    ``probs`` has shape (k, n_items, n_levels).
    """
    logp = np.tile(np.log(np.maximum(weights, 1e-300)), (codes.shape[0], 1))
    for j in range(codes.shape[1]):
        seen = ~np.isnan(codes[:, j])
        logp[seen] += np.log(np.maximum(probs[:, j, :].T[codes[seen, j].astype(int)], 1e-300))
    top = logp.max(axis=1, keepdims=True)
    return float((np.log(np.exp(logp - top).sum(axis=1)) + top[:, 0]).sum())


def _kmix(codes: np.ndarray, k: int, d: int) -> tuple[np.ndarray, np.ndarray, float]:
    from kmix import ProductMixture

    t0 = time.perf_counter()
    model = ProductMixture(k, random_state=0).fit(codes)
    secs = time.perf_counter() - t0
    probs = np.zeros((k, codes.shape[1], d))
    for j, (p, levels) in enumerate(zip(model.params_.probs, model.categories_, strict=True)):
        probs[:, j, np.asarray(levels, dtype=int)] = p
    return model.weights_, probs, secs


def _stepmix(codes: np.ndarray, k: int, d: int) -> tuple[np.ndarray, np.ndarray, float]:
    from stepmix.stepmix import StepMix

    measurement = "binary_nan" if d == 2 else "categorical_nan"
    t0 = time.perf_counter()
    model = StepMix(
        n_components=k,
        measurement=measurement,
        n_init=10,
        max_iter=2000,
        abs_tol=0.0,
        rel_tol=1e-10,
        random_state=0,
        verbose=0,
        progress_bar=0,
    ).fit(codes)
    secs = time.perf_counter() - t0
    params = model.get_parameters()
    pis = np.asarray(params["measurement"]["pis"], dtype=np.float64)
    if d == 2:
        probs = np.stack([1.0 - pis, pis], axis=2)  # pis: P(X_j = 1 | u)
    else:
        probs = pis.reshape(k, codes.shape[1], -1)[:, :, :d]
    return np.asarray(params["weights"], dtype=np.float64), probs, secs


def _simulated(i: int) -> np.ndarray:
    rng = np.random.default_rng([SEED, i])
    k, n, N = 3, 8, 5000
    w = rng.dirichlet(np.full(k, 3.0))
    P = rng.uniform(0.05, 0.95, size=(k, n))
    z = rng.choice(k, size=N, p=w)
    X = (rng.random((N, n)) < P[z]).astype(np.float64)
    rate = rng.uniform(0.1, 0.4)
    if i % 2:
        gaps = rng.random((N, n)) < np.where(X[:, :1] == 1, 1.5 * rate, 0.5 * rate)
        gaps[:, 0] = False
    else:
        gaps = rng.random((N, n)) < rate
    X[gaps] = np.nan
    return X


def run(quick: bool) -> BenchResult:
    """Fit every case with both tools and compare their log-likelihoods."""
    from kmix.datasets import election

    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    cases: list[tuple[str, np.ndarray, int, int]] = []
    items = election().items
    for k in (2, 3) if quick else (2, 3, 4):
        cases.append((f"election, k={k}", items, k, 4))
    for i in range(2 if quick else 10):
        cases.append((f"simulated {i} ({'MAR' if i % 2 else 'MCAR'})", _simulated(i), 3, 2))
    rows, out = [], []
    for name, codes, k, d in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wk, pk, tk = _kmix(codes, k, d)
            ws, ps, ts = _stepmix(codes, k, d)
        llk, lls = observed_loglik(codes, wk, pk), observed_loglik(codes, ws, ps)
        gap = (llk - lls) / codes.shape[0]
        verdict = "higher" if gap > TOL else ("equal" if gap >= -TOL else "LOWER")
        log(f"{name}: kmix {llk:.3f}, StepMix {lls:.3f} ({verdict})")
        out.append(
            {
                "case": name,
                "k": k,
                "rows": int(codes.shape[0]),
                "missing_cells": int(np.isnan(codes).sum()),
                "kmix_ll": llk,
                "stepmix_ll": lls,
                "gap_per_row": gap,
                "kmix_seconds": tk,
                "stepmix_seconds": ts,
            }
        )
        rows.append(
            [
                name,
                str(k),
                f"{codes.shape[0]:,}",
                f"{100 * float(np.isnan(codes).mean()):.1f}%",
                f"{llk:,.3f}",
                f"{lls:,.3f}",
                f"{gap:+.1e}",
                verdict,
                f"{tk:.2f}",
                f"{ts:.2f}",
            ]
        )
    ok = all(r["gap_per_row"] >= -TOL for r in out)
    md = [
        f"# Missing values: full-information ML against StepMix{' (quick)' if quick else ''}",
        "",
        __doc__.split("\n\n")[2].replace("\n", " "),
        "",
        markdown_table(
            [
                "case",
                "k",
                "rows",
                "cells missing",
                "LL kmix",
                "LL StepMix",
                "kmix - StepMix (nats/row)",
                "verdict",
                "s kmix",
                "s StepMix",
            ],
            rows,
            "lrrrrrrlrr",
        ),
        "",
        f"kmix's log-likelihood equal to StepMix's or higher on every case: "
        f"{'PASS' if ok else 'FAIL'}.",
    ]
    data: dict[str, Any] = {
        "benchmark": NAME,
        "quick": quick,
        "started": started,
        "machine": machine_info(),
        "cases": out,
        "pass": ok,
    }
    return BenchResult(NAME, data, "\n".join(md))

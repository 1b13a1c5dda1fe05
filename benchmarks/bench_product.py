"""Latent class benchmark: kmix ``ProductMixture`` (tensor method, then EM) against EM peers.

Three parts, each a table in ``results/product.md`` (all numbers in ``product.json``):

1. **Reliability on sampled data** (issue 4 (a)): random instances, ``k`` in {2, 3, 4},
   ``n`` in {2k - 1, 3k, 15} binary variables, probabilities ``U(0.05, 0.95)``, weights
   ``Dirichlet(2)``, ``N = 1e5``. kmix's largest parameter error after the best permutation
   (max over ``|pi - pi_hat|`` and ``|P - P_hat|``, classes matched by the Hungarian method
   on the largest absolute difference of the rows of ``P``) must be within 1.2x of the
   error of the best (highest log-likelihood) of 20 EM runs from random starts, on every
   instance. The random-start runs (:func:`product_peers.fit_random_em`) start from flat
   Dirichlet draws of every parameter and run EM (accelerated) to a relative tolerance of
   1e-12, at most 20,000 maps, finishing by L-BFGS-B any run that did not settle: each
   reports the maximum of its own basin, not the point where an iteration cap stopped it
   (on the flat likelihoods of ``n = 2k - 1`` plain EM with ``max_iter=1000`` stops up to
   0.3 nats short, at parameters that differ from the maximum's by as much as 0.1). Also
   reported: the moment step's own error, and the share of single random-start runs whose
   error exceeds the best run's by more than 0.05. Instances run in parallel worker
   processes (one per core, each with single-threaded BLAS); their times are per instance,
   informative only.
2. **Agreement with StepMix** (issue 4 (b)): on a few instances of every ``(k, n)`` group
   and on the speed data, StepMix with 10 random restarts (``rel_tol`` = kmix's ``tol``,
   on the distinct rows with frequency weights: the same likelihood, far cheaper);
   kmix's log-likelihood must be equal (within 1e-6 nats per row) or higher.
3. **Speed** (issue 4 (c)): 1e6 rows x 15 binary variables, ``k = 4`` (the EM benchmark's
   bernoulli data set): the complete kmix fit against StepMix, pomegranate and pgmpy, one
   restart each, the EM benchmark's tolerance conventions (``REL_TOL`` translated to each
   tool, ``MAX_ITER`` everywhere; pgmpy has only a parameter-change rule, its ``atol``
   default 1e-8). pgmpy's EM loops over the distinct rows in Python; one iteration on the
   1e6 rows is measured, and a complete fit is run on a subsample (see the report).

Every tool's fitted parameters are scored by one float64 function
(:func:`product_peers.loglik`).
"""

from __future__ import annotations

import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

import numpy as np

from common import (
    BenchResult,
    log,
    machine_info,
    n_workers,
    package_versions,
    timed,
)
from em_config import LL_TOL_PER_ROW, MAX_ITER
from em_config import SEED as EM_SEED
from product_config import (
    FAR,
    FULL,
    KMIX_TOL,
    NAME,
    QUICK,
    RATIO_TARGET,
    SEED,
    SPEED_K,
    SPEED_N,
    Config,
    groups,
    instance_group,
    instance_seed,
)
from product_peers import (
    fit_pgmpy,
    fit_random_em,
    fit_stepmix_weighted,
    loglik,
    make_instance,
    max_error,
    unique_rows,
)
from product_report import report


# --------------------------------------------------------------------- part 1: reliability
def _worker_init() -> None:
    """Single-threaded BLAS in each worker: the workers already use every core."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    warnings.simplefilter("ignore")


def reliability_instance(args: tuple[int, int, int]) -> dict[str, Any]:
    """Fit instance ``i`` by kmix and by ``n_restarts`` random-start EM runs; score both."""
    i, n_samples, n_restarts = args
    k, n = instance_group(i)
    inst = make_instance(k, n, n_samples, instance_seed(i))
    values, counts = unique_rows(inst.X)
    row: dict[str, Any] = {
        "instance": i,
        "k": k,
        "n": n,
        "n_samples": n_samples,
        "n_unique_rows": int(values.shape[0]),
        "min_weight": float(inst.weights.min()),
        "loglik_truth": loglik(values, counts, inst.weights, inst.probs),
    }
    from kmix import ProductMixture

    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = ProductMixture(k, random_state=0).fit(inst.X)
        row["seconds_kmix"] = time.perf_counter() - t0
        row["kmix_warnings"] = sorted({f"{w.category.__name__}" for w in caught})
        row["error_kmix"] = max_error(inst.weights, inst.probs, model.weights_, model.probs_)
        row["loglik_kmix"] = loglik(values, counts, model.weights_, model.probs_)
        row["kmix_n_iter"] = int(model.n_iter_)
        row["kmix_converged"] = bool(model.converged_)
        row["kmix_n_polish_iter"] = int(model.n_polish_iter_)
        row["kmix_n_starts"] = int(model.n_starts_)
        row["kmix_weights"] = model.weights_
        if getattr(model, "moment_weights_", None) is not None:
            row["error_moment"] = max_error(
                inst.weights, inst.probs, model.moment_weights_, model.moment_probs_
            )
        else:
            row["error_moment"] = None
    except Exception as exc:  # a failed fit is a failed instance, not a crashed benchmark
        row["seconds_kmix"] = time.perf_counter() - t0
        row["kmix_error"] = f"{type(exc).__name__}: {exc}"
        row["error_kmix"] = None
        row["error_moment"] = None
        row["loglik_kmix"] = None
    t0 = time.perf_counter()
    runs = fit_random_em(values, counts, k, n_restarts, instance_seed(i) + 1)
    errs = [max_error(inst.weights, inst.probs, r.weights, r.probs) for r in runs]
    lls = [loglik(values, counts, r.weights, r.probs) for r in runs]
    iters = [r.n_iter for r in runs]
    conv = [r.em_converged for r in runs]
    row["seconds_random_em"] = time.perf_counter() - t0
    best = int(np.argmax(lls))
    row.update(
        error_best_em=errs[best],
        loglik_best_em=lls[best],
        best_em_restart=best,
        errors_em=errs,
        logliks_em=lls,
        n_iter_em=iters,
        converged_em=conv,
    )
    e_k = row["error_kmix"]
    row["ratio"] = None if e_k is None else e_k / errs[best]
    row["within_ratio"] = e_k is not None and e_k <= RATIO_TARGET * errs[best]
    row["loglik_gap"] = None if e_k is None else row["loglik_kmix"] - lls[best]
    row["em_far"] = int(sum(e > errs[best] + FAR for e in errs))
    row["em_below_best"] = int(sum(ll < lls[best] - LL_TOL_PER_ROW * n_samples for ll in lls))
    return row


def run_reliability(config: Config) -> list[dict[str, Any]]:
    """Part 1 over ``config.n_instances`` instances, in parallel worker processes."""
    import multiprocessing as mp

    jobs = [(i, config.n_samples, config.n_restarts) for i in range(config.n_instances)]
    rows = []
    workers = n_workers()
    log(f"[product] reliability: {len(jobs)} instances on {workers} worker(s)")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_worker_init
    ) as pool:
        for row in pool.map(reliability_instance, jobs):
            rows.append(row)
            e_k = row["error_kmix"]
            log(
                f"[product] instance {row['instance']:3d} k={row['k']} n={row['n']:2d}: "
                f"kmix {'-' if e_k is None else f'{e_k:.4f}'}  best EM "
                f"{row['error_best_em']:.4f}  {'ok' if row['within_ratio'] else 'FAIL'}"
            )
    return rows


# ----------------------------------------------------------------- part 2: StepMix agreement
def _agreement_row(
    label: str,
    k: int,
    n: int,
    X: Any,
    values: Any,
    counts: Any,
    config: Config,
    kmix_fit: Any = None,
) -> dict[str, Any]:
    from kmix import ProductMixture

    if kmix_fit is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kmix_fit = timed(ProductMixture(k, random_state=0).fit, X)
    model = kmix_fit.value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm = timed(
            fit_stepmix_weighted,
            values,
            counts,
            k,
            n_init=config.stepmix_n_init,
            rel_tol=KMIX_TOL,
            max_iter=MAX_ITER,
            seed=EM_SEED,
        )
    w_s, p_s, it_s = sm.value
    n_rows = float(counts.sum())
    ll_k = loglik(values, counts, model.weights_, model.probs_)
    ll_s = loglik(values, counts, w_s, p_s)
    diff = (ll_k - ll_s) / n_rows
    verdict = "higher" if diff > LL_TOL_PER_ROW else "equal" if diff >= -LL_TOL_PER_ROW else "lower"
    return {
        "case": label,
        "k": k,
        "n": n,
        "n_samples": int(n_rows),
        "n_unique_rows": int(values.shape[0]),
        "stepmix_n_init": config.stepmix_n_init,
        "loglik_kmix": ll_k,
        "loglik_stepmix": ll_s,
        "loglik_diff_per_row": diff,
        "verdict": verdict,
        "seconds_kmix": kmix_fit.seconds,
        "seconds_stepmix": sm.seconds,
        "stepmix_n_iter_best": it_s,
        "kmix_n_iter": int(model.n_iter_),
    }


def run_agreement(config: Config) -> list[dict[str, Any]]:
    """Part 2 on the first ``agree_per_group`` instances of every group (speed case added later)."""
    rows = []
    per_group: dict[tuple[int, int], int] = {}
    i = 0
    while len(rows) < config.agree_per_group * len(groups()):
        k, n = instance_group(i)
        if per_group.get((k, n), 0) < config.agree_per_group:
            per_group[(k, n)] = per_group.get((k, n), 0) + 1
            inst = make_instance(k, n, config.n_samples, instance_seed(i))
            values, counts = unique_rows(inst.X)
            row = _agreement_row(f"instance {i}", k, n, inst.X, values, counts, config)
            row["instance"] = i
            rows.append(row)
            log(
                f"[product] StepMix agreement instance {i} k={k} n={n}: "
                f"{row['loglik_diff_per_row']:+.2e} nats/row ({row['verdict']})"
            )
        i += 1
    return rows


# -------------------------------------------------------------------------- part 3: speed
def speed_data(n_samples: int) -> Any:
    """The EM benchmark's bernoulli data (``make_mixture``, k = 4, d = 15, its seed)."""
    from kmix.datasets import make_mixture

    X, truth = make_mixture("bernoulli", n_samples, SPEED_K, SPEED_N, random_state=EM_SEED)
    return np.asarray(X), truth


def _warm_up() -> None:
    """One small untimed fit per tool (imports, one-off initialisation)."""
    from em_peers import _pomegranate_tool, _stepmix_fit
    from em_scoring import loglik_rows, one_component, tolerances
    from kmix import ProductMixture

    X, _ = speed_data(500)
    tol = tolerances(float(loglik_rows("bernoulli", X, one_component("bernoulli", X)).sum()), 500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ProductMixture(SPEED_K, random_state=0).fit(X)
        ProductMixture(SPEED_K, random_state=0, refine=None).fit(X)
        _stepmix_fit("random")("bernoulli", X, 1, tol)
        _pomegranate_tool(30.0)("bernoulli", X, 1, tol)
        fit_pgmpy(X[:50], SPEED_K, max_iter=1, atol=1e-8, seed=0)


def _median_timed(fn: Any, repeats: int, *args: Any) -> tuple[float, list[float], Any]:
    runs = [timed(fn, *args) for _ in range(repeats)]
    secs = [r.seconds for r in runs]
    return float(np.median(secs)), secs, runs[0].value


def run_speed(config: Config) -> tuple[dict[str, Any], Any]:
    """Part 3. Returns the measurements and kmix's default-tolerance fit (for part 2)."""
    from em_peers import _pomegranate_extract, _pomegranate_tool, _stepmix_extract, _stepmix_fit
    from em_scoring import loglik_rows, one_component, tolerances
    from kmix import ProductMixture

    log("[product] speed: warm-up (untimed)")
    _warm_up()
    n_rows = config.speed_n
    X, truth = speed_data(n_rows)
    values, counts = unique_rows(X)
    ll_scale = float(counts @ loglik_rows("bernoulli", values, one_component("bernoulli", X)))
    tol = tolerances(ll_scale, n_rows)
    out: dict[str, Any] = {
        "n_samples": n_rows,
        "n_components": SPEED_K,
        "n_features": SPEED_N,
        "n_unique_rows": int(values.shape[0]),
        "tolerances": tol,
        "load_average_start": _load_average(),
        "fits": [],
    }

    def score(w: Any, p: Any) -> float:
        return loglik(values, counts, w, p)

    fits = out["fits"]

    def add(tool: str, settings: str, seconds: float, w: Any, p: Any, **extra: Any) -> None:
        ll = None if w is None else score(w, p)
        fits.append(
            {
                "tool": tool,
                "settings": settings,
                "seconds": seconds,
                "loglik": ll,
                "loglik_per_row": None if ll is None else ll / n_rows,
                **extra,
            }
        )
        log(
            f"[product] speed {tool:<12} {settings:<44} {seconds:9.3f} s  "
            f"LL/row {'-' if ll is None else f'{ll / n_rows:.6f}'}"
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        med, secs, model = _median_timed(
            ProductMixture(SPEED_K, random_state=0, tol=tol["kmix_tol"], max_iter=MAX_ITER).fit,
            config.kmix_repeats,
            X,
        )
        add(
            "kmix",
            f"ProductMixture(tol={tol['kmix_tol']:g}), moments + EM",
            med,
            model.weights_,
            model.probs_,
            all_seconds=secs,
            n_iter=int(model.n_iter_),
            role="complete",
        )
        med, secs, mom = _median_timed(
            ProductMixture(SPEED_K, random_state=0, refine=None).fit, config.kmix_repeats, X
        )
        add(
            "kmix",
            "ProductMixture(refine=None), moment step only",
            med,
            mom.weights_,
            mom.probs_,
            all_seconds=secs,
            role="moments",
        )
        default_fit = timed(ProductMixture(SPEED_K, random_state=0).fit, X)
        add(
            "kmix",
            f"ProductMixture() defaults (tol={KMIX_TOL:g})",
            default_fit.seconds,
            default_fit.value.weights_,
            default_fit.value.probs_,
            n_iter=int(default_fit.value.n_iter_),
            role="default",
        )
    for init in ("random", "kmeans"):
        t = timed(_stepmix_fit(init), "bernoulli", X, 1, tol)
        o = _stepmix_extract("bernoulli", t.value, 1)
        add(
            "StepMix",
            f"init_params={init!r}, rel_tol={tol['stepmix_rel_tol']:g}, 1 restart",
            t.seconds,
            o.mixture.weights,
            o.mixture.arrays["p"],
            n_iter=o.n_iter,
            converged=o.converged,
            warnings=t.warnings,
            role=f"stepmix-{init}",
        )
        del t, o
    t = timed(_pomegranate_tool(config.pomegranate_budget_s), "bernoulli", X, 1, tol)
    o = _pomegranate_extract("bernoulli", t.value, 1)
    add(
        "pomegranate",
        f"GeneralMixtureModel(Bernoulli), tol={tol['pomegranate_tol']:.3g}, float32",
        t.seconds,
        o.mixture.weights,
        o.mixture.arrays["p"],
        n_iter=o.n_iter,
        converged=o.converged,
        warnings=t.warnings,
        role="pomegranate",
    )
    del t, o
    # pgmpy: one iteration on every row (measured), a complete fit on a subsample
    log("[product] speed: pgmpy, one EM iteration on all rows")
    one = fit_pgmpy(X, SPEED_K, max_iter=1, atol=1e-8, seed=0)
    add(
        "pgmpy",
        "ExpectationMaximization, max_iter=1 (one iteration)",
        one.seconds_init + one.seconds_fit,
        None,
        None,
        seconds_init=one.seconds_init,
        seconds_fit=one.seconds_fit,
        n_iter=one.n_iter,
        warnings=one.warnings,
        role="pgmpy-one-iteration",
    )
    n_sub = config.pgmpy_sub_n
    Xs = X[:n_sub]
    v_sub, c_sub = unique_rows(Xs)
    log(f"[product] speed: pgmpy, complete fit on the first {n_sub} rows")
    sub = fit_pgmpy(
        Xs, SPEED_K, max_iter=MAX_ITER, atol=1e-8, seed=0, budget_s=config.pgmpy_budget_s
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km_sub = timed(
            ProductMixture(SPEED_K, random_state=0, tol=tol["kmix_tol"], max_iter=MAX_ITER).fit,
            Xs,
        )
    ll_pg = loglik(v_sub, c_sub, sub.weights, sub.probs)
    ll_km = loglik(v_sub, c_sub, km_sub.value.weights_, km_sub.value.probs_)
    per_iter_full = one.seconds_fit  # initial CPDs + the single iteration
    out["pgmpy"] = {
        "one_iteration_all_rows": asdict(one),
        "subsample": {
            "n_samples": n_sub,
            "n_unique_rows": int(v_sub.shape[0]),
            "seconds": sub.seconds_init + sub.seconds_fit,
            "n_iter": sub.n_iter,
            "converged": sub.converged,
            "budget_hit": sub.budget_hit,
            "budget_s": config.pgmpy_budget_s,
            "loglik_pgmpy": ll_pg,
            "loglik_kmix": ll_km,
            "seconds_kmix": km_sub.seconds,
            "loglik_diff_per_row": (ll_km - ll_pg) / n_sub,
            "warnings": sub.warnings,
        },
        "estimate_all_rows_seconds": one.seconds_init + per_iter_full * sub.n_iter,
        "linear_in_n_seconds": (sub.seconds_init + sub.seconds_fit) * n_rows / n_sub,
    }
    out["kmix_loglik_check"] = {
        "kmix_log_likelihood_": float(model.log_likelihood_),
        "independent": score(model.weights_, model.probs_),
    }
    out["truth_loglik"] = score(truth.weights, truth.params.p)
    out["load_average_end"] = _load_average()
    return out, (X, values, counts, default_fit)


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def run(quick: bool) -> BenchResult:
    """Run the latent class benchmark."""
    config = QUICK if quick else FULL
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    load_start = _load_average()
    machine = machine_info()
    parts: dict[str, float] = {}
    reliability = run_reliability(config)
    parts["reliability"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    speed, (_, values, counts, default_fit) = run_speed(config)
    parts["speed"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    agreement = run_agreement(config)
    speed_row = _agreement_row(
        f"speed data (N = {config.speed_n:,})",
        SPEED_K,
        SPEED_N,
        None,
        values,
        counts,
        config,
        kmix_fit=default_fit,
    )
    agreement.append(speed_row)
    log(f"[product] StepMix agreement speed data: {speed_row['loglik_diff_per_row']:+.2e}")
    parts["agreement"] = time.perf_counter() - t2
    data: dict[str, Any] = {
        "benchmark": NAME,
        "quick": quick,
        "started": started,
        "machine": machine,
        "versions": package_versions(
            ("kmix", "numpy", "scipy", "stepmix", "pomegranate", "torch", "pgmpy", "pandas")
        ),
        "settings": {**asdict(config), "seed": SEED, "em_seed": EM_SEED, "kmix_tol": KMIX_TOL},
        "reliability": reliability,
        "agreement": agreement,
        "speed": speed,
        "part_seconds": parts,
        "load_average": {"start": load_start, "end": _load_average()},
    }
    data["elapsed_seconds"] = time.perf_counter() - t0
    markdown = report(data, config)
    log(f"[product] done in {data['elapsed_seconds'] / 60:.1f} min")
    return BenchResult(NAME, data, markdown)

"""Mixture of Bayesian networks: kmix ``BayesNetMixture`` against pgmpy's EM with a latent ``U``.

Three parts (tables in ``results/bayesnet.md``, every number in ``bayesnet.json``):

1. **Accuracy**: the fixed DAG ``random_sparse_dag(8, 2, random_state=6)`` (8 binary nodes,
   8 edges), ``k = 2``, ``N = 2e5``, 30 parameterisations
   ``bayesnet_mixture(dag, 2, N, separation=0.1, random_state=SEED + i)``. The effect is
   the edge chosen by :func:`bayesnet_peers.pick_edge` (``V4 -> V6`` on this DAG). Per
   instance: kmix's ``|ATE error|`` (``BayesNetMixture.ate`` against the exact
   ``kmix.causal.ate`` of the truth), the naive ``|ATE error|`` (``naive_ate``, the
   confounded contrast), and kmix's log-likelihood. Target: median kmix error <= 0.02.
   pgmpy (``ExpectationMaximization`` with ``latent_card={"U": 2}``, its default
   ``max_iter=100``, ``atol=1e-8``, then ``CausalInference.query``) runs on the first
   instances until about ``pgmpy_budget_s`` of pgmpy time is spent: one pgmpy iteration is
   timed on all N rows of instance 0; if ``max_iter`` such iterations would exceed
   ``pgmpy_full_limit_s`` pgmpy fits the first ``pgmpy_sub_n`` rows instead (and kmix is
   refitted on those same rows for the comparison). Both models are scored on the same
   rows by one float64 function (:func:`bayesnet_peers.score`).
2. **Speed** (from part 1's pgmpy instances): pgmpy's time (EM + the two do-queries) over
   kmix's (fit + ATE) on the same rows, at equal (within ``ATE_EQUAL_TOL``) or better ATE
   error. Target: ratio >= 50. Also a measured lower bound on all N rows (pgmpy's single
   timed iteration over kmix's complete time) and, when pgmpy ran on a subsample, an
   estimate of its complete full-N fit (that iteration times the iterations it used).
3. **Scaling**: ``random_sparse_dag(n, d)`` for ``(n, d)`` in {(8, 2), (16, 3), (32, 3)},
   ``N`` in {1e4, 1e5, 1e6}, ``k = 2``: kmix fit time, tracemalloc peak of a second,
   traced fit (allocations during the fit; the input array excluded), ATE error on the
   :func:`pick_edge` edge, and ``len(model.reduction_.runs)``. pgmpy beside it when its
   estimated complete fit (one iteration on a probe of the first rows, scaled by the
   distinct rows, times ``max_iter``; one full iteration measured when that is cheap) is
   within ``scaling_pgmpy_limit_s``; otherwise the estimate is shown, marked not run.

kmix runs with its defaults (``BayesNetMixture(dag, 2, random_state=0)``: the reduction,
then accelerated EM to ``tol=1e-10``). Times are wall clock, one fit each.
"""

from __future__ import annotations

import resource
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from bayesnet_peers import (
    PGMPY_ATOL,
    compare_on_rows,
    dag_edges,
    fit_kmix,
    fit_pgmpy_bn,
    peak_fit_bytes,
    pgmpy_scaling_case,
    pick_edge,
    score,
    unique_rows,
)
from common import BenchResult, fmt_float, log, machine_info, markdown_table, package_versions

NAME = "bayesnet"
SEED = 20261123
DAG_NODES, DAG_DEGREE, DAG_SEED = 8, 2, 6
K = 2
SEPARATION = 0.1
ATE_TARGET = 0.02
SPEED_TARGET = 50.0
#: ATE errors within this of each other count as equal (speed target's accuracy condition).
ATE_EQUAL_TOL = 1e-3


@dataclass(frozen=True)
class Config:
    """Sizes of one run (see the module docstring for each part)."""

    n_instances: int
    n_samples: int
    pgmpy_budget_s: float
    pgmpy_full_limit_s: float
    pgmpy_sub_n: int
    pgmpy_max_iter: int
    scaling_dags: tuple[tuple[int, int, int], ...]  # (n_nodes, max_degree, dag seed)
    scaling_n: tuple[int, ...]
    scaling_pgmpy_limit_s: float
    probe_rows: int
    measure_iter_limit_s: float
    quick: bool


# fmt: off
FULL = Config(30, 200_000, 600.0, 600.0, 20_000, 100, ((8, 2, DAG_SEED), (16, 3, 2), (32, 3, 2)),
              (10_000, 100_000, 1_000_000), 600.0, 2_000, 60.0, False)
QUICK = Config(2, 20_000, 8.0, 15.0, 2_000, 5, ((8, 2, DAG_SEED), (16, 3, 2)), (5_000, 10_000),
               15.0, 300, 5.0, True)
# fmt: on


def _dag(n: int, degree: int, seed: int) -> Any:
    from kmix.datasets import random_sparse_dag

    return random_sparse_dag(n, degree, random_state=seed)


def _data(dag: Any, n_samples: int, seed: int) -> tuple[Any, Any]:
    from kmix.datasets import bayesnet_mixture

    return bayesnet_mixture(dag, K, n_samples, separation=SEPARATION, random_state=seed)


# ----------------------------------------------------------------------- part 1 (+ part 2)
def run_accuracy(config: Config) -> dict[str, Any]:
    """Part 1 (and the measurements of part 2)."""
    from kmix.causal import ate as exact_ate

    dag = _dag(DAG_NODES, DAG_DEGREE, DAG_SEED)
    edge = pick_edge(dag)
    N = config.n_samples
    log(f"[bayesnet] accuracy: {config.n_instances} instances, N={N:,}, edge {edge[0]}->{edge[1]}")
    rows: list[dict[str, Any]] = []
    pg_rows: list[dict[str, Any]] = []
    probe: dict[str, Any] = {}
    spent, n_sub = 0.0, N
    for i in range(config.n_instances):
        X, truth = _data(dag, N, SEED + i)
        values, counts = unique_rows(X)
        true_ate = float(exact_ate(truth, *edge))
        try:
            kf = fit_kmix(X, dag, K, edge)
        except Exception as exc:  # a failed fit is a result, not a crash
            rows.append({"instance": i, "true_ate": true_ate, "error": f"{exc!r}"[:300]})
            log(f"[bayesnet] instance {i:2d}: kmix error {exc!r}")
            continue
        model = kf["model"]
        naive = float(model.naive_ate(*edge))
        red = model.reduction_
        row = {
            "instance": i,
            "seed": SEED + i,
            "true_ate": true_ate,
            "true_weights": truth.weights,
            "kmix_ate": kf["ate"],
            "ate_error_kmix": abs(kf["ate"] - true_ate),
            "naive_ate": naive,
            "ate_error_naive": abs(naive - true_ate),
            "ate_error_reduction": abs(float(exact_ate(red.params, *edge)) - true_ate),
            "kmix_weights": model.weights_,
            "loglik_kmix": score(values, counts, model.params_),
            "loglik_kmix_attr": model.log_likelihood_,
            "loglik_truth": score(values, counts, truth),
            "n_runs": len(red.runs),
            "n_dropped_runs": len(red.dropped),
            "alignment_conflicts": int(red.alignment_conflicts),
            "n_iter": int(model.n_iter_),
            "converged": bool(model.converged_),
            "seconds_fit": kf["seconds_fit"],
            "seconds_ate": kf["seconds_ate"],
            "warnings": kf["warnings"],
        }
        row["loglik_gap_per_row"] = (row["loglik_kmix"] - row["loglik_truth"]) / N
        rows.append(row)
        log(
            f"[bayesnet] instance {i:2d}: ATE {true_ate:+.4f}  kmix err {row['ate_error_kmix']:.4f}"
            f"  naive err {row['ate_error_naive']:.4f}  {kf['seconds_fit']:.2f} s"
        )
        if i == 0:  # one pgmpy iteration on all N rows: the full-fit estimate and lower bound
            one = fit_pgmpy_bn(X, dag, K, max_iter=1, atol=PGMPY_ATOL, seed=SEED)
            spent += one.seconds_em
            probe = {
                "one_iteration_all_rows": one.summary(),
                "estimate_full_fit_seconds": one.seconds_em * config.pgmpy_max_iter,
            }
            if probe["estimate_full_fit_seconds"] > config.pgmpy_full_limit_s:
                n_sub = min(config.pgmpy_sub_n, N)
            probe["n_sub"] = n_sub
            log(
                f"[bayesnet] pgmpy one iteration on {N:,} rows: {one.seconds_em:.2f} s; "
                f"complete fits on {n_sub:,} rows"
            )
        expected = max([p["seconds_pgmpy"] for p in pg_rows], default=0.0)
        left = config.pgmpy_budget_s - spent
        if not pg_rows or expected <= left:
            kf_rows = kf if n_sub == N else fit_kmix(X[:n_sub], dag, K, edge)
            cmp = compare_on_rows(
                X[:n_sub],
                truth,
                edge,
                true_ate,
                kf_rows,
                max_iter=config.pgmpy_max_iter,
                seed=SEED + i,
                budget_s=max(left, 0.5 * config.pgmpy_budget_s),
            )
            cmp["instance"] = i
            spent += cmp["seconds_pgmpy"]
            pg_rows.append(cmp)
            pg = cmp["pgmpy"]
            log(
                f"[bayesnet]   pgmpy: {pg['n_iter']} it, {cmp['seconds_pgmpy']:.1f} s "
                f"(kmix {cmp['seconds_kmix']:.2f} s, x{cmp['ratio']:.0f}); ATE err "
                f"{_opt(cmp['ate_error_pgmpy'])} vs kmix {cmp['ate_error_kmix']:.4f}; "
                f"LL diff/row {_opt(cmp['loglik_diff_per_row'], 2, 'e')}"
            )
    return {
        "dag_edges": [list(e) for e in dag_edges(dag)],
        "edge": list(edge),
        "instances": rows,
        "pgmpy_probe": probe,
        "pgmpy": pg_rows,
        "pgmpy_seconds_spent": spent,
    }


def _opt(x: float | None, digits: int = 4, kind: str = "f") -> str:
    return "-" if x is None else f"{x:.{digits}{kind}}"


# ------------------------------------------------------------------------- part 3: scaling
def run_scaling(config: Config) -> list[dict[str, Any]]:
    """Part 3."""
    from kmix.causal import ate as exact_ate

    out = []
    for n_nodes, degree, dag_seed in config.scaling_dags:
        dag = _dag(n_nodes, degree, dag_seed)
        edge = pick_edge(dag)
        for j, N in enumerate(config.scaling_n):
            seed = SEED + 10_000 + 100 * n_nodes + j
            X, truth = _data(dag, N, seed)
            true_ate = float(exact_ate(truth, *edge))
            row: dict[str, Any] = {
                "n_nodes": n_nodes,
                "max_degree": degree,
                "dag_seed": dag_seed,
                "n_edges": len(dag_edges(dag)),
                "edge": list(edge),
                "n_samples": N,
                "seed": seed,
                "input_bytes": int(X.nbytes),
                "true_ate": true_ate,
            }
            log(f"[bayesnet] scaling n={n_nodes} (degree {degree}) N={N:,}: kmix")
            try:
                kf = fit_kmix(X, dag, K, edge)
                model = kf["model"]
                values, counts = unique_rows(X)
                row.update(
                    seconds_fit=kf["seconds_fit"],
                    seconds_ate=kf["seconds_ate"],
                    ate_error=abs(kf["ate"] - true_ate),
                    n_runs=len(model.reduction_.runs),
                    n_dropped_runs=len(model.reduction_.dropped),
                    n_iter=int(model.n_iter_),
                    converged=bool(model.converged_),
                    n_unique_rows=int(values.shape[0]),
                    loglik_kmix=score(values, counts, model.params_),
                    loglik_truth=score(values, counts, truth),
                    warnings=kf["warnings"],
                )
                del kf, model
                row["peak_bytes"] = peak_fit_bytes(X, dag, K)
            except Exception as exc:  # a failure is a result, not a crash
                row["error"] = f"{type(exc).__name__}: {exc}"
            log(
                f"[bayesnet]   kmix {_opt(row.get('seconds_fit'), 2)} s, peak "
                f"{_mib(row.get('peak_bytes'))} MiB, ATE err {_opt(row.get('ate_error'))}, "
                f"runs {row.get('n_runs', '-')}"
            )
            try:
                row["pgmpy"] = pgmpy_scaling_case(
                    X,
                    truth,
                    edge,
                    true_ate,
                    max_iter=config.pgmpy_max_iter,
                    seed=SEED,
                    probe_rows=config.probe_rows,
                    limit_s=config.scaling_pgmpy_limit_s,
                    measure_iter_limit_s=config.measure_iter_limit_s,
                )
            except Exception as exc:
                row["pgmpy"] = {"ran": False, "error": f"{type(exc).__name__}: {exc}"}
            pg = row["pgmpy"]
            log(
                f"[bayesnet]   pgmpy: {'ran' if pg.get('ran') else 'not run'}, estimate "
                f"{_opt(pg.get('estimate_fit_seconds'), 0)} s"
                + (f", took {pg['fit']['seconds_total']:.1f} s" if pg.get("ran") else "")
            )
            out.append(row)
            del X
    return out


def _mib(b: float | None) -> str:
    return "-" if b is None else f"{b / 2**20:,.1f}"


# ---------------------------------------------------------------------------------- report
def _med(vals: list[Any]) -> float | None:
    vals = [v for v in vals if v is not None]
    return float(np.median(vals)) if vals else None


def summarise(acc: dict[str, Any], scaling: list[dict[str, Any]], config: Config) -> dict[str, Any]:
    """Medians, ratios and the PASS/FAIL verdicts."""
    inst = [r for r in acc["instances"] if "error" not in r]
    pg = acc["pgmpy"]
    med_k = _med([r["ate_error_kmix"] for r in inst])
    s: dict[str, Any] = {
        "median_ate_error_kmix": med_k,
        "median_ate_error_naive": _med([r["ate_error_naive"] for r in inst]),
        "median_ate_error_reduction": _med([r["ate_error_reduction"] for r in inst]),
        "max_ate_error_kmix": max((r["ate_error_kmix"] for r in inst), default=None),
        "median_seconds_kmix_fit": _med([r["seconds_fit"] for r in inst]),
        "kmix_errors": len(acc["instances"]) - len(inst),
        "accuracy_pass": med_k is not None and med_k <= ATE_TARGET and len(inst) > 0,
    }
    ek = _med([p["ate_error_kmix"] for p in pg])
    ep = _med([p["ate_error_pgmpy"] for p in pg])
    ratio = _med([p["ratio"] for p in pg])
    accurate = ek is not None and ep is not None and ek <= ep + ATE_EQUAL_TOL
    s.update(
        pgmpy_instances=len(pg),
        pgmpy_rows=pg[0]["n_rows"] if pg else None,
        median_ate_error_kmix_on_pgmpy_rows=ek,
        median_ate_error_pgmpy=ep,
        median_ratio=ratio,
        min_ratio=min((p["ratio"] for p in pg), default=None),
        median_loglik_diff_per_row=_med([p["loglik_diff_per_row"] for p in pg]),
        kmix_ate_equal_or_better=accurate,
        speed_pass=bool(ratio is not None and ratio >= SPEED_TARGET and accurate),
        max_conversion_diff=max(
            (
                abs(p["pgmpy"]["ate"] - p["pgmpy"]["ate_kmix_formula"])
                for p in pg
                if p["pgmpy"]["ate"] is not None and p["pgmpy"]["ate_kmix_formula"] is not None
            ),
            default=None,
        ),
    )
    one = acc["pgmpy_probe"].get("one_iteration_all_rows")
    kmix_full = _med([r["seconds_fit"] + r["seconds_ate"] for r in inst])
    if one and kmix_full:
        s["lower_bound_ratio_all_rows"] = one["seconds_em"] / kmix_full
        iters = _med([p["pgmpy"]["n_iter"] for p in pg])
        if pg and pg[0]["n_rows"] < config.n_samples and iters:
            s["estimated_ratio_all_rows"] = one["seconds_em"] * iters / kmix_full
    big = [r for r in scaling if r["n_nodes"] == max(d[0] for d in config.scaling_dags)]
    biggest = max(big, key=lambda r: r["n_samples"]) if big else None
    s["largest_case"] = (
        None if biggest is None else f"{biggest['n_nodes']} nodes, N={biggest['n_samples']:,}"
    )
    s["largest_case_completed"] = bool(biggest is not None and "error" not in biggest)
    return s


def f4(x: float | None) -> str:
    return fmt_float(x, 4)


def _verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**FAIL**"


def report(data: dict[str, Any], config: Config) -> str:
    """Markdown report."""
    s, acc, scaling = data["summary"], data["accuracy"], data["scaling"]
    edge = "->".join(acc["edge"])
    lines = [
        f"# Mixture of Bayesian networks: kmix vs pgmpy{' (quick)' if config.quick else ''}",
        "",
        f"Started {data['started']}, {data['elapsed_seconds'] / 60:.1f} min; "
        f"{data['machine']['cpu_model']}, {data['machine']['cpu_count']} cores; "
        f"kmix {data['versions'].get('kmix')}, pgmpy {data['versions'].get('pgmpy')}.",
        "",
        "## Summary",
        "",
        f"- Accuracy ({config.n_instances} instances, N = {config.n_samples:,}, edge {edge}): "
        f"median kmix |ATE error| {f4(s['median_ate_error_kmix'])} (target <= {ATE_TARGET}) "
        f"{_verdict(s['accuracy_pass'])}; naive {f4(s['median_ate_error_naive'])}; "
        f"reduction before EM {f4(s['median_ate_error_reduction'])}; "
        f"worst kmix {f4(s['max_ate_error_kmix'])}; kmix errors: {s['kmix_errors']}.",
        f"- Speed vs pgmpy ({s['pgmpy_instances']} instance(s), complete pgmpy fits on "
        f"{fmt_float(s['pgmpy_rows'], 0)} rows, EM + do-query vs kmix fit + ATE): median ratio "
        f"x{fmt_float(s['median_ratio'], 1)} (min x{fmt_float(s['min_ratio'], 1)}; target "
        f">= {SPEED_TARGET:g}), median ATE error kmix "
        f"{f4(s['median_ate_error_kmix_on_pgmpy_rows'])}"
        f" vs pgmpy {f4(s['median_ate_error_pgmpy'])} (equal within {ATE_EQUAL_TOL:g} or better: "
        f"{'yes' if s['kmix_ate_equal_or_better'] else 'no'}) {_verdict(s['speed_pass'])}.",
        f"- Measured lower bound on all {config.n_samples:,} rows: one pgmpy iteration / complete "
        f"kmix = x{fmt_float(s.get('lower_bound_ratio_all_rows'), 1)}"
        + (
            f"; estimate of a complete full-N pgmpy fit (that iteration x its median iterations): "
            f"x{fmt_float(s['estimated_ratio_all_rows'], 1)} (an estimate)."
            if "estimated_ratio_all_rows" in s
            else "."
        ),
        f"- Log-likelihood on pgmpy's rows: median (kmix - pgmpy) per row "
        f"{_opt(s['median_loglik_diff_per_row'], 2, 'e')} nats.",
        f"- Scaling: largest case ({s['largest_case']}) completed: "
        f"{_verdict(s['largest_case_completed'])}.",
        "",
        "## 1. Accuracy",
        "",
        f"DAG `random_sparse_dag({DAG_NODES}, {DAG_DEGREE}, random_state={DAG_SEED})`, edges "
        + ", ".join(f"{a}->{b}" for a, b in acc["dag_edges"])
        + f". Effect {edge}. `bayesnet_mixture(dag, {K}, {config.n_samples}, "
        f"separation={SEPARATION}, random_state={SEED} + i)`. kmix: "
        f"`BayesNetMixture(dag, {K}, random_state=0)`; reduction: its start before EM; naive: "
        "`naive_ate` (E[Y|X=1] - E[Y|X=0] in the data). LL gap: (kmix - truth) per row.",
        "",
    ]
    table = [
        [
            str(r["instance"]),
            f"{r['true_ate']:+.4f}",
            f4(r["ate_error_kmix"]),
            f4(r["ate_error_naive"]),
            f4(r["ate_error_reduction"]),
            f"{r['loglik_gap_per_row']:+.2e}",
            str(r["n_runs"]),
            str(r["n_iter"]),
            fmt_float(r["seconds_fit"], 2),
        ]
        for r in acc["instances"]
        if "error" not in r
    ]
    heads = [
        "inst",
        "true ATE",
        "kmix err",
        "naive err",
        "reduction err",
        "LL gap/row",
        "runs",
        "EM it",
        "fit s",
    ]
    lines += [markdown_table(heads, table, "lrrrrrrrr"), ""]
    lines += [
        f"- instance {r['instance']}: kmix error {r['error']}"
        for r in acc["instances"]
        if "error" in r
    ]
    probe = acc["pgmpy_probe"]
    one = probe.get("one_iteration_all_rows", {})
    lines += [
        "### pgmpy comparison",
        "",
        f"pgmpy {data['versions'].get('pgmpy')}: `ExpectationMaximization(model, data)"
        f".get_parameters(latent_card={{'U': 2}}, max_iter={config.pgmpy_max_iter}, "
        f"atol={PGMPY_ATOL:g}, seed)`"
        f"{' (pgmpy defaults)' if config.pgmpy_max_iter == 100 else ''}, then "
        "`CausalInference(fitted).query([Y], do={X: x}, adjustment_set=PA(X) | {U})` for "
        "x = 0, 1 (it refuses the query without an adjustment set, U being latent); that "
        f"effect equals kmix's formula on the converted CPDs within "
        f"{_opt(s['max_conversion_diff'], 1, 'e')}. One pgmpy iteration (with its setup) on all "
        f"{config.n_samples:,} rows of instance 0 took {fmt_float(one.get('seconds_em'), 2)} s "
        f"({one.get('n_unique_rows', '-')} distinct rows), so a complete fit was estimated at "
        f"{fmt_float(probe.get('estimate_full_fit_seconds'), 0)} s; complete fits ran on "
        f"{fmt_float(probe.get('n_sub'), 0)} rows of the first instances until about "
        f"{config.pgmpy_budget_s:g} s of pgmpy time was spent ({acc['pgmpy_seconds_spent']:.0f} s)."
        " Both models scored on the same rows by one float64 function; kmix refitted on them "
        "when they are a subsample. Times: kmix fit + ATE; pgmpy EM + do-queries.",
        "",
    ]
    table = [
        [
            str(p["instance"]),
            fmt_float(p["n_rows"], 0),
            f"{p['pgmpy']['n_iter']}{'' if p['pgmpy']['converged'] else ' (not conv.)'}",
            _opt(p["loglik_diff_per_row"], 2, "e"),
            f4(p["ate_error_kmix"]),
            f4(p["ate_error_pgmpy"]),
            fmt_float(p["seconds_kmix"], 2),
            fmt_float(p["seconds_pgmpy"], 1),
            fmt_float(p["ratio"], 0),
        ]
        for p in acc["pgmpy"]
    ]
    heads = [
        "inst",
        "rows",
        "pgmpy it",
        "LL diff/row (kmix-pgmpy)",
        "kmix ATE err",
        "pgmpy ATE err",
        "kmix s",
        "pgmpy s",
        "ratio",
    ]
    lines += [markdown_table(heads, table, "lrrrrrrrr"), ""]
    lines += [
        "## 3. Scaling",
        "",
        "kmix fit seconds (one fit), peak = tracemalloc peak of a second, traced fit "
        "(allocations during the fit; input array excluded), ATE error on the edge named, "
        "runs = `len(model.reduction_.runs)`. pgmpy: complete fit when its estimate "
        f"<= {config.scaling_pgmpy_limit_s:g} s, else not run with the estimate (one iteration "
        f"on the first {config.probe_rows:,} rows scaled by distinct rows, or one measured "
        f"full iteration when that is <= {config.measure_iter_limit_s:g} s; times "
        f"max_iter={config.pgmpy_max_iter}).",
        "",
    ]
    table = []
    for r in scaling:
        pg = r.get("pgmpy", {})
        if pg.get("ran"):
            fit = pg["fit"]
            ll_k, ll_p = r.get("loglik_kmix"), pg["loglik"]
            gap = None if ll_k is None or ll_p is None else (ll_k - ll_p) / r["n_samples"]
            pg_cell = (
                f"{fit['seconds_total']:.1f} s, {fit['n_iter']} it, ATE err "
                f"{f4(pg['ate_error'])}, LL/row kmix - pgmpy {_opt(gap, 1, 'e')}"
            )
        elif "error" in pg:
            pg_cell = f"error: {pg['error'][:60]}"
        else:
            pg_cell = (
                f"not run: estimated {fmt_float(pg.get('estimate_fit_seconds'), 0)} s from one "
                f"iteration ({pg.get('estimate_source', '')})"
            )
        table.append(
            [
                f"{r['n_nodes']} (d {r['max_degree']}, {r['n_edges']} edges)",
                f"{r['n_samples']:,}",
                "->".join(r["edge"]),
                fmt_float(r.get("seconds_fit"), 2) if "error" not in r else "error",
                _mib(r.get("peak_bytes")),
                f4(r.get("ate_error")),
                str(r.get("n_runs", "-")),
                pg_cell,
            ]
        )
    heads = ["nodes", "N", "edge", "kmix s", "peak MiB", "ATE err", "runs", "pgmpy"]
    lines += [markdown_table(heads, table, "lrlrrrrl"), ""]
    for r in scaling:
        if "error" in r:
            lines.append(f"- kmix error at n={r['n_nodes']}, N={r['n_samples']:,}: {r['error']}")
    return "\n".join(lines) + "\n"


def run(quick: bool) -> BenchResult:
    """Run the mixture-of-Bayesian-networks benchmark."""
    config = QUICK if quick else FULL
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    machine = machine_info()
    acc = run_accuracy(config)
    t1 = time.perf_counter()
    scaling = run_scaling(config)
    data: dict[str, Any] = {
        "benchmark": NAME,
        "quick": quick,
        "started": started,
        "machine": machine,
        "versions": package_versions(("kmix", "numpy", "scipy", "pgmpy", "pandas", "networkx")),
        "settings": {
            **asdict(config),
            "seed": SEED,
            "dag": [DAG_NODES, DAG_DEGREE, DAG_SEED],
            "k": K,
            "separation": SEPARATION,
            "ate_target": ATE_TARGET,
            "speed_target": SPEED_TARGET,
            "ate_equal_tol": ATE_EQUAL_TOL,
            "pgmpy_atol": PGMPY_ATOL,
            "memory": "tracemalloc peak during a second kmix fit (input array excluded)",
        },
        "accuracy": acc,
        "scaling": scaling,
        "part_seconds": {"accuracy": t1 - t0, "scaling": time.perf_counter() - t1},
        "ru_maxrss_kib_end": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    data["summary"] = summarise(acc, scaling, config)
    data["elapsed_seconds"] = time.perf_counter() - t0
    markdown = report(data, config)
    log(f"[bayesnet] done in {data['elapsed_seconds'] / 60:.1f} min")
    return BenchResult(NAME, data, markdown)

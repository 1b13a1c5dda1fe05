"""Markdown report of the latent class benchmark (:mod:`bench_product`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from common import fmt_float, markdown_table
from em_config import LL_TOL_PER_ROW, MAX_ITER, REL_TOL
from product_config import (
    FAR,
    KMIX_TOL,
    PGMPY_TARGET,
    POMEGRANATE_TARGET,
    RATIO_TARGET,
    STEPMIX_TARGET,
    Config,
    groups,
)


def _med(rows: list[dict[str, Any]], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return float(np.median(vals)) if vals else None


def _f(x: float | None, digits: int = 4) -> str:
    return fmt_float(x, digits)


def _table(headers: list[str], rows: list[list[str]], align: str) -> str:
    """:func:`common.markdown_table`, with one-character right-aligned columns made left-aligned.

    A right-aligned column one character wide would get the delimiter cell ``:``, which
    GitHub does not accept as a table (it needs at least one ``-``).
    """
    widths = [max([len(h)] + [len(r[j]) for r in rows]) for j, h in enumerate(headers)]
    fixed = "".join("l" if w == 1 else a for a, w in zip(align, widths, strict=True))
    return markdown_table(headers, rows, fixed)


def report_reliability(rows: list[dict[str, Any]], config: Config) -> tuple[list[str], bool]:
    lines = [
        f"## 1. Reliability: kmix against the best of {config.n_restarts} random-start EM runs",
        "",
        f"{len(rows)} instances, N = {config.n_samples:,}, weights ~ Dirichlet(2), "
        "P(X_j = 1 | u) ~ U(0.05, 0.95). Error: largest of |pi - pi_hat| and |P - P_hat| after "
        "the best permutation. kmix: `ProductMixture(k, random_state=0)` (defaults: moment "
        "step, then accelerated EM with `tol=1e-10`, `max_iter=1000`, plus 10 random starts "
        "and a quasi-Newton finish where the table is small); moment step: its "
        "`moment_weights_`, `moment_probs_`; random EM: flat-Dirichlet starts, each run by "
        "EM to a relative tolerance of 1e-12 (at most 20,000 maps) and, if it did not settle, "
        "finished by L-BFGS-B (`product_peers.fit_random_em`); best EM: the run with the "
        "highest log-likelihood. Far runs: single random starts whose error exceeds the best "
        f"run's by more than {FAR}.",
        "",
    ]
    table = []
    for k, n in groups():
        sub = [r for r in rows if r["k"] == k and r["n"] == n]
        if not sub:
            continue
        single = [e for r in sub for e in r["errors_em"]]
        far = sum(r["em_far"] for r in sub)
        total = sum(len(r["errors_em"]) for r in sub)
        unconv = sum(not c for r in sub for c in r["converged_em"])
        fails = sum(not r["within_ratio"] for r in sub)
        table.append(
            [
                str(k),
                str(n),
                str(len(sub)),
                _f(_med(sub, "error_kmix")),
                _f(_med(sub, "error_moment")),
                _f(_med(sub, "error_best_em")),
                _f(float(np.median(single))),
                f"{fails}",
                f"{far}/{total} ({far / total:.1%})",
                f"{unconv}/{total}",
                f"{sum(not r.get('kmix_converged', False) for r in sub)}",
                f"{_f(_med(sub, 'seconds_kmix'), 2)} / {_f(_med(sub, 'seconds_random_em'), 2)}",
            ]
        )
    lines += [
        _table(
            [
                "k",
                "n",
                "inst.",
                "kmix err (med)",
                "moment err (med)",
                "best EM err (med)",
                "single EM err (med)",
                f"{RATIO_TARGET}x fails",
                "far runs",
                "EM runs finished by L-BFGS-B",
                "kmix not converged",
                f"s kmix / s {config.n_restarts} EM (med)",
            ],
            table,
            "rrrrrrrrrrrr",
        ),
        "",
    ]
    fails = [r for r in rows if not r["within_ratio"]]
    far = sum(r["em_far"] for r in rows)
    total = sum(len(r["errors_em"]) for r in rows)
    ok = not fails
    lines.append(
        f"kmix within {RATIO_TARGET}x of the best random-start EM's error on "
        f"{len(rows) - len(fails)} of {len(rows)} instances: {'PASS' if ok else 'FAIL'} "
        f"(target: every instance)."
    )
    lines.append(
        f"Single random-start runs more than {FAR} worse than the best of their instance: "
        f"{far} of {total} ({far / total:.1%}); ending more than {LL_TOL_PER_ROW:g} nats/row "
        f"below the best log-likelihood: {sum(r['em_below_best'] for r in rows)} of {total}."
    )
    lines.append("")
    if fails:
        lower = sum(
            1
            for r in fails
            if r["loglik_gap"] is None or r["loglik_gap"] < -LL_TOL_PER_ROW * r["n_samples"]
        )
        lines += [
            f"Failing instances ({len(fails)}; {lower} with a kmix log-likelihood more than "
            f"{LL_TOL_PER_ROW:g} nats/row below the best EM's, {len(fails) - lower} at an "
            "equal or higher log-likelihood). The maximum likelihood is at least the true "
            "parameters' log-likelihood, so a negative 'LL kmix - truth' proves that kmix "
            "stopped short of the global maximum:",
            "",
            _table(
                [
                    "instance",
                    "k",
                    "n",
                    "min weight",
                    "kmix err",
                    "best EM err",
                    "ratio",
                    "moment err",
                    "LL kmix - best EM (nats)",
                    "LL kmix - truth (nats)",
                    "kmix min weight",
                    "kmix iters",
                    "best EM iters",
                    "note",
                ],
                [
                    [
                        str(r["instance"]),
                        str(r["k"]),
                        str(r["n"]),
                        f"{r['min_weight']:.3f}",
                        _f(r["error_kmix"]),
                        _f(r["error_best_em"]),
                        "-" if r["ratio"] is None else f"{r['ratio']:.2f}",
                        _f(r["error_moment"]),
                        "-" if r["loglik_gap"] is None else f"{r['loglik_gap']:+.3f}",
                        "-"
                        if r["loglik_kmix"] is None
                        else f"{r['loglik_kmix'] - r['loglik_truth']:+.3f}",
                        "-" if r.get("kmix_weights") is None else f"{min(r['kmix_weights']):.4f}",
                        str(r.get("kmix_n_iter", "-")),
                        str(r["n_iter_em"][r["best_em_restart"]]),
                        r.get("kmix_error", "")
                        or (
                            "kmix LL lower"
                            if r["loglik_gap"] < -LL_TOL_PER_ROW * r["n_samples"]
                            else "kmix LL equal/higher"
                        ),
                    ]
                    for r in fails
                ],
                "rrrrrrrrrrrrrl",
            ),
            "",
        ]
    return lines, ok


def report_agreement(rows: list[dict[str, Any]]) -> tuple[list[str], bool]:
    bad = [r for r in rows if r["verdict"] == "lower"]
    ok = not bad
    lines = [
        "## 2. Agreement with StepMix (kmix log-likelihood equal or higher)",
        "",
        "StepMix: `StepMix(measurement='binary', init_params='random', n_init="
        f"{rows[0]['stepmix_n_init']}, rel_tol={KMIX_TOL:g}, abs_tol=0, max_iter={MAX_ITER})`, "
        "fitted to the distinct rows with `sample_weight` = their counts (the same likelihood "
        "as the raw rows). kmix: `ProductMixture(k, random_state=0)` (defaults). Both scored by "
        f"one float64 function; equal means within {LL_TOL_PER_ROW:g} nats per row.",
        "",
        _table(
            [
                "case",
                "k",
                "n",
                "N",
                "LL/row kmix",
                "LL/row StepMix",
                "kmix - StepMix (nats/row)",
                "verdict",
                "s kmix",
                "s StepMix",
            ],
            [
                [
                    r["case"],
                    str(r["k"]),
                    str(r["n"]),
                    f"{r['n_samples']:,}",
                    f"{r['loglik_kmix'] / r['n_samples']:.6f}",
                    f"{r['loglik_stepmix'] / r['n_samples']:.6f}",
                    f"{r['loglik_diff_per_row']:+.2e}",
                    r["verdict"],
                    f"{r['seconds_kmix']:.2f}",
                    f"{r['seconds_stepmix']:.2f}",
                ]
                for r in rows
            ],
            "lrrrrrrlrr",
        ),
        "",
        f"kmix equal or higher on {len(rows) - len(bad)} of {len(rows)} cases: "
        f"{'PASS' if ok else 'FAIL'} (target: every case)."
        + (
            " Lower on: " + ", ".join(f"{r['case']} (k={r['k']}, n={r['n']})" for r in bad) + "."
            if bad
            else ""
        ),
        "",
    ]
    return lines, ok


def report_speed(sp: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    fits = sp["fits"]
    n_rows = sp["n_samples"]
    kmix = next(f for f in fits if f.get("role") == "complete")
    t_k, ll_k = kmix["seconds"], kmix["loglik"]
    pg = sp["pgmpy"]
    rows = []
    for f in fits:
        ratio = f["seconds"] / t_k
        diff = None if f["loglik"] is None else (ll_k - f["loglik"]) / n_rows
        note = ""
        if f.get("role") == "pgmpy-one-iteration":
            note = "one iteration only (a lower bound on a fit); no log-likelihood"
        rows.append(
            [
                f["tool"],
                f["settings"],
                f"{f['seconds']:.3f} s",
                "-" if f.get("role") in ("complete",) else f"{ratio:.1f}x",
                "-" if f["loglik_per_row"] is None else f"{f['loglik_per_row']:.6f}",
                "-" if diff is None or f.get("role") == "complete" else f"{diff:+.1e}",
                str(f.get("n_iter", "-")),
                note,
            ]
        )
    s = pg["subsample"]
    rows.append(
        [
            "pgmpy",
            f"estimate: one iteration x {s['n_iter']} iterations (its count on the subsample)",
            f"{pg['estimate_all_rows_seconds']:.0f} s",
            f"{pg['estimate_all_rows_seconds'] / t_k:.0f}x",
            "-",
            "-",
            str(s["n_iter"]),
            "extrapolated, not run",
        ]
    )
    rows.append(
        [
            "pgmpy",
            f"linear-in-N extrapolation of the {s['n_samples']}-row fit",
            f"{pg['linear_in_n_seconds']:.0f} s",
            f"{pg['linear_in_n_seconds'] / t_k:.0f}x",
            "-",
            "-",
            "-",
            "extrapolated, not run; overstates (cost grows with distinct rows)",
        ]
    )
    lines = [
        f"## 3. Speed: {n_rows:,} rows x {sp['n_features']} binary variables, k = "
        f"{sp['n_components']} ({sp['n_unique_rows']:,} distinct rows)",
        "",
        "One restart per tool; the EM benchmark's data set and tolerance conventions "
        f"(relative tolerance {REL_TOL:g} translated to each tool, max_iter {MAX_ITER}); "
        "kmix's time is the median of its repeats. Ratio: the tool's time over kmix's complete "
        "fit. Every log-likelihood by the same float64 scorer.",
        "",
        _table(
            [
                "tool",
                "settings",
                "time",
                "vs kmix",
                "LL/row",
                "kmix - tool (nats/row)",
                "iters",
                "note",
            ],
            rows,
            "llrrrrrl",
        ),
        "",
        f"pgmpy complete fit on the first {s['n_samples']} rows ({s['n_unique_rows']} "
        f"distinct): {s['seconds']:.1f} s, {s['n_iter']} iterations, "
        + (
            "converged (parameter change < atol 1e-8)"
            if s["converged"]
            else f"stopped by the {s['budget_s']:.0f} s budget"
            if s["budget_hit"]
            else "hit max_iter"
        )
        + f"; log-likelihood per row there: pgmpy {s['loglik_pgmpy'] / s['n_samples']:.6f}, "
        f"kmix {s['loglik_kmix'] / s['n_samples']:.6f} (kmix - pgmpy "
        f"{s['loglik_diff_per_row']:+.1e} nats/row; kmix took {s['seconds_kmix']:.3f} s). "
        "pgmpy's E-step evaluates every distinct row's likelihood in Python, so its cost per "
        "iteration grows with the number of distinct rows (here "
        f"{sp['n_unique_rows']:,} of at most {2 ** sp['n_features']:,}), not with N: the "
        "one-iteration time on all rows is measured directly, and its product with the "
        "subsample's iteration count is the estimate above.",
        "",
    ]
    targets = []

    def target(label: str, role: str, need: float, primary: bool = True) -> None:
        f = next((x for x in fits if x.get("role") == role), None)
        if f is None:
            return
        ratio = f["seconds"] / t_k
        ll_ok = f["loglik"] is None or (ll_k - f["loglik"]) / n_rows >= -LL_TOL_PER_ROW
        met = bool(ratio >= need and ll_ok)
        targets.append(
            {
                "target": label,
                "speedup": ratio,
                "required": need,
                "loglik_ok": ll_ok,
                "meets_threshold": met,
                "primary": primary,
                "passed": met if primary else None,
            }
        )

    # as in the EM benchmark: StepMix at its default initialisation is the target, its
    # k-means initialisation a supplement (reported, not judged)
    target("StepMix (init random, its default)", "stepmix-random", STEPMIX_TARGET)
    target("StepMix (init k-means; supplement)", "stepmix-kmeans", STEPMIX_TARGET, False)
    target("pomegranate", "pomegranate", POMEGRANATE_TARGET)
    one = next(x for x in fits if x.get("role") == "pgmpy-one-iteration")
    pg_lower = one["seconds"] / t_k
    pg_est = pg["estimate_all_rows_seconds"] / t_k
    pg_ll_ok = s["loglik_diff_per_row"] >= -LL_TOL_PER_ROW
    targets.append(
        {
            "target": f"pgmpy (estimated complete fit: one iteration measured on all rows x "
            f"{s['n_iter']} iterations; log-likelihood compared on the {s['n_samples']}-row "
            f"subsample; measured lower bound, one iteration alone: {pg_lower:.1f}x)",
            "speedup": pg_est,
            "speedup_lower_bound": pg_lower,
            "required": PGMPY_TARGET,
            "loglik_ok": pg_ll_ok,
            "meets_threshold": bool(pg_est >= PGMPY_TARGET and pg_ll_ok),
            "primary": True,
            "passed": bool(pg_est >= PGMPY_TARGET and pg_ll_ok),
        }
    )
    mom = next(x for x in fits if x.get("role") == "moments")
    lines.append(
        f"kmix complete fit {t_k:.3f} s (moment step alone {mom['seconds']:.3f} s; "
        f"{kmix.get('n_iter', '-')} iteration(s) in its final EM run)."
    )
    for t in targets:
        verdict = "PASS" if t["passed"] else "FAIL" if t["passed"] is not None else "reported only"
        lines.append(
            f"- {t['target']}: kmix {t['speedup']:.1f}x faster (target {t['required']:.0f}x), "
            f"log-likelihood {'equal or better' if t['loglik_ok'] else 'LOWER'}: {verdict}"
        )
    lines.append("")
    return lines, targets


def report(data: dict[str, Any], config: Config) -> str:
    m = data["machine"]
    lines = [
        f"# Latent class benchmark ({'quick' if data['quick'] else 'full'})",
        "",
        f"{m.get('cpu_model')}, {m.get('cpu_affinity')} core(s), kmix "
        f"{data['versions'].get('kmix')}, StepMix {data['versions'].get('stepmix')}, "
        f"pomegranate {data['versions'].get('pomegranate')}, pgmpy "
        f"{data['versions'].get('pgmpy')}; src modified: "
        f"{m.get('kmix_git', {}).get('src_modified')}; load average "
        f"{data['load_average']['start']} at start, {data['load_average']['end']} at end; "
        f"{data['elapsed_seconds'] / 60:.1f} min in all (part 1 "
        f"{data['part_seconds']['reliability'] / 60:.1f} min).",
        "",
    ]
    rel_lines, ok_a = report_reliability(data["reliability"], config)
    agr_lines, ok_b = report_agreement(data["agreement"])
    sp_lines, targets = report_speed(data["speed"])
    ok_c = all(t["passed"] for t in targets if t["primary"])
    lines += [
        "## Summary",
        "",
        f"- (a) reliability, within {RATIO_TARGET}x of the best of {config.n_restarts} EM "
        f"restarts on every instance: {'PASS' if ok_a else 'FAIL'}",
        f"- (b) log-likelihood equal or higher than StepMix on every case: "
        f"{'PASS' if ok_b else 'FAIL'}",
        f"- (c) speed targets (StepMix at its default init {STEPMIX_TARGET:.0f}x, pomegranate "
        f"{POMEGRANATE_TARGET:.0f}x, pgmpy {PGMPY_TARGET:.0f}x): {'PASS' if ok_c else 'FAIL'}",
        "",
    ]
    lines += rel_lines + agr_lines + sp_lines
    data["targets"] = {"a": ok_a, "b": ok_b, "c": targets}
    return "\n".join(lines)

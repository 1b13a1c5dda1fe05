"""``kmix effect``: a causal effect despite a hidden population label."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any, TextIO

import numpy as np

from ..causal.dag_input import as_dag
from ..estimators.bayesnet import BayesNetMixture
from ..exceptions import DataError
from .columns import read_data
from .display import format_pairs, format_table, level_name, section

__all__ = ["effect", "effect_report"]


def effect_report(
    model: BayesNetMixture,
    treatment: str,
    outcome: str,
    boot: Any = None,
    *,
    level: float = 0.95,
) -> str:
    """The effect of ``treatment`` on ``outcome``: kmix's, with its interval, beside the naive one.

    Parameters
    ----------
    model : BayesNetMixture
        Fitted.
    treatment, outcome : str
        Node names; the treatment must be binary.
    boot : BayesNetBootstrap, optional
        Replicates for the intervals.
    level : float
        Coverage of the percentile intervals.
    """
    t0, t1 = model.treatment_levels(treatment)
    pct = f"{100 * level:g}%"
    rows = []
    for t in (t0, t1):
        causal = model.interventional(outcome, {treatment: t})
        naive = model.naive(outcome, {treatment: t})
        lo = hi = None
        if boot is not None:
            _, lo, hi = boot.interventional(outcome, {treatment: t}, level=level)
        for j, y in enumerate(model.categories_[outcome]):
            if len(model.categories_[outcome]) == 2 and j == 0:
                continue  # two levels: the second one says it all
            interval = "" if lo is None or hi is None else f"[{lo[j]:.4f}, {hi[j]:.4f}]"
            rows.append(
                [
                    f"P({outcome}={level_name(y)} | do({treatment}={level_name(t)}))",
                    f"{causal[j]:.4f}",
                    interval,
                    f"{naive[j]:.4f}",
                ]
            )
    ate = model.ate(treatment, outcome)
    naive_ate = model.naive_ate(treatment, outcome)
    interval = ""
    if boot is not None:
        _, lo_a, hi_a = boot.ate(treatment, outcome, level=level)
        interval = f"[{lo_a:.4f}, {hi_a:.4f}]"
    arms = f"({treatment}={level_name(t1)} vs {level_name(t0)})"
    rows.append(
        [f"ATE of {treatment} on {outcome} {arms}", f"{ate:+.4f}", interval, f"{naive_ate:+.4f}"]
    )
    header = ["", "kmix (causal)", f"{pct} interval" if boot is not None else "", "naive"]
    lines = [format_table(header, rows), ""]
    shares = []
    bounds = None if boot is None else boot.weights(level=level)[1:]
    for u, w in enumerate(model.weights_):
        extra = "" if bounds is None else f"  [{bounds[0][u]:.3f}, {bounds[1][u]:.3f}]"
        shares.append([f"population {u}", f"{w:.3f}{extra}"])
    lines += [format_pairs(shares), ""]
    lines.append(
        textwrap.fill(
            "naive: the contrast of P(outcome | treatment) in the data, confounded by the "
            "hidden population; kmix: the truncated factorisation of each population's "
            "network, summed over the recovered shares.",
            width=88,
            initial_indent="  ",
            subsequent_indent="  ",
        )
    )
    return "\n".join(lines)


def effect(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``kmix effect data.csv --dag graph.txt -k 2 --treatment X --outcome Y``.

    Returns
    -------
    int
        Exit status 0 (failures raise).
    """
    table = read_data(args, labels=True)  # levels as written
    dag = as_dag(args.dag, latent_name=args.latent_name)
    for role, node in (("treatment", args.treatment), ("outcome", args.outcome)):
        if node not in dag.nodes:
            raise DataError(f"--{role} {node!r} is not a node of the DAG; nodes: {list(dag.nodes)}")
    if args.treatment == args.outcome:
        raise DataError("--treatment and --outcome name the same node")
    model = BayesNetMixture(
        dag,
        args.n_components,
        ignore_extra_columns=args.ignore_extra_columns,
        latent_name=args.latent_name,
        random_state=args.seed,
    ).fit(table.values, columns=list(table.columns))
    boot = None
    if args.n_boot > 0:
        err.write(f"bootstrap: refitting {args.n_boot} resamples ...\n")
        tty = err.isatty()

        def progress(done: int, total: int) -> None:
            if tty:
                err.write(f"\r  resample {done}/{total}")
                if done == total:
                    err.write("\n")
                err.flush()

        boot = model.bootstrap(args.n_boot, random_state=args.seed, callback=progress)
    n_rows = round(model.n_samples_)
    out.write(
        section(
            f"Effect of {args.treatment} on {args.outcome}: {model.weights_.shape[0]} hidden "
            f"populations, {n_rows:,} rows, {len(model.columns_)} nodes"
        )
        + "\n"
    )
    out.write(effect_report(model, args.treatment, args.outcome, boot) + "\n")
    reduction = model.reduction_
    state = "converged" if model.converged_ else "not converged (raise max_iter)"
    if reduction is not None:
        ess = np.array([r.ess for r in reduction.runs]) if reduction.runs else np.zeros(1)
        out.write(
            "\n"
            + format_pairs(
                [
                    ["log-likelihood", f"{model.log_likelihood_:.4f}"],
                    [
                        "runs of k-MixProd",
                        f"{len(reduction.runs)} (effective sample size {ess.min():,.0f} to "
                        f"{ess.max():,.0f})",
                    ],
                    [
                        "EM",
                        f"{model.n_iter_} maps, {state}",
                    ],
                ]
            )
            + "\n"
        )
    return 0

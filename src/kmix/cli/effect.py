"""``kmix effect``: a causal effect despite a hidden population label."""

from __future__ import annotations

import argparse
import os
import textwrap
from typing import Any, TextIO

import numpy as np

from ..causal.dag_input import as_dag
from ..data import Table, check_output
from ..estimators._checks import missing_cells
from ..estimators.bayesnet import BayesNetMixture
from ..exceptions import DataError
from ..io import save
from .columns import read_data, refuse_empty_cells
from .display import format_pairs, format_table, level_name, section

__all__ = ["effect", "effect_report", "query_identification", "write_effect"]


def _arms(
    table: Table, treatment: str, treated: str | None, control: str | None
) -> tuple[Any, Any]:
    """The treatment levels to compare, checked against the data before anything is fitted.

    ``(None, None)`` for a binary treatment when neither arm is named (the
    model's level order decides); otherwise the levels as the data hold them.
    """
    column = table.values[:, list(table.columns).index(treatment)]
    levels = sorted(set(column[~missing_cells(column[:, None])[:, 0]].tolist()), key=str)
    names = [str(v) for v in levels]
    if (treated is None or control is None) and len(levels) != 2:
        raise DataError(
            f"--treatment {treatment!r} has {len(levels)} levels {names}: name the two arms "
            "to compare with --treated LEVEL --control LEVEL"
        )
    if treated is None and control is None:
        return None, None
    by_text = dict(zip(names, levels, strict=True))
    for flag, given in (("--treated", treated), ("--control", control)):
        if given is not None and given not in by_text:
            raise DataError(
                f"{flag} {given!r} is not a level of {treatment!r}; its levels: {names}"
            )
    if treated is not None and treated == control:
        raise DataError(f"--treated and --control name the same level {treated!r}")
    # one arm named on a binary treatment: the other is the other level
    treated = treated if treated is not None else next(n for n in names if n != control)
    control = control if control is not None else next(n for n in names if n != treated)
    return by_text[treated], by_text[control]


def query_identification(model: BayesNetMixture, treatment: str, outcome: str) -> str:
    """How ``P(outcome | do(treatment))`` is identified: by the CPTs it reads.

    The truncated factorisation reads the CPTs of the outcome's ancestors
    (itself included) other than the treatment's.
    """
    used = [v for v in model.dag_.ancestors(outcome, inclusive=True) if v != treatment]
    how = {v: model.cpt_identifiability_[v] for v in sorted(used, key=model.columns_.index)}
    kinds = set(how.values())
    if kinds == {"runs"}:
        return f"every CPT it reads ({len(how)}) identified by runs of k-MixProd"
    if kinds == {"generic (Jacobian rank)"}:
        return f"generically identified with the whole model ({len(how)} CPTs it reads)"
    if "not certified" in kinds:
        return "not certified (the rank check could not decide)"
    partial = [f"{v}: {h}" for v, h in how.items() if h != "runs"]
    return (
        f"identified by runs except parent rows that no run covered, which come from the EM "
        f"over the whole mixture alone ({'; '.join(partial)})"
    )


def effect_report(
    model: BayesNetMixture,
    treatment: str,
    outcome: str,
    boot: Any = None,
    *,
    treated: Any = None,
    control: Any = None,
    level: float = 0.95,
) -> str:
    """The effect of ``treatment`` on ``outcome``: kmix's, with its interval, beside the naive one.

    Parameters
    ----------
    model : BayesNetMixture
        Fitted.
    treatment, outcome : str
        Node names.
    boot : BayesNetBootstrap, optional
        Replicates for the intervals.
    treated, control : optional
        The treatment levels compared (default: a binary treatment's second and first).
    level : float
        Coverage of the percentile intervals.

    Notes
    -----
    The average effect ``E[Y | do(treated)] - E[Y | do(control)]`` is shown
    for a numeric outcome, and for a binary one as the difference in the
    probability of its second level; an outcome of more than two text levels
    has no mean, so only its distributions under each arm are shown.
    """
    t0, t1 = model.treatment_levels(treatment, treated, control)
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
    y_levels = model.categories_[outcome]
    numeric = model.numeric_levels(outcome)
    arms = f"({treatment}={level_name(t1)} vs {level_name(t0)})"
    if numeric or len(y_levels) == 2:
        ate = model.ate(treatment, outcome, treated=t1, control=t0)
        naive_ate = model.naive_ate(treatment, outcome, treated=t1, control=t0)
        interval = ""
        if boot is not None:
            _, lo_a, hi_a = boot.ate(treatment, outcome, treated=t1, control=t0, level=level)
            interval = f"[{lo_a:.4f}, {hi_a:.4f}]"
        what = (
            f"ATE of {treatment} on {outcome}"
            if numeric
            else f"effect on P({outcome}={level_name(y_levels[1])})"
        )
        rows.append([f"{what} {arms}", f"{ate:+.4f}", interval, f"{naive_ate:+.4f}"])
    header = ["", "kmix (causal)", f"{pct} interval" if boot is not None else "", "naive"]
    lines = [format_table(header, rows), ""]
    if not (numeric or len(y_levels) == 2):
        note = (
            f"{outcome} has {len(y_levels)} text levels and no mean: compare its "
            f"distributions under do({treatment}={level_name(t1)}) and "
            f"do({treatment}={level_name(t0)}) above."
        )
        lines += [textwrap.fill(note, width=88, initial_indent="  ", subsequent_indent="  "), ""]
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
    for option, target in (("--out", args.out), ("--graph-out", args.graph_out)):
        if target is not None:
            check_output(target, option=option, inputs=[("data file", args.data)])
    if args.graph_out is not None and not args.discover:
        raise DataError("--graph-out saves the learned graph; it needs --discover")
    table = read_data(args, labels=True)  # levels as written
    if args.missing == "error":
        refuse_empty_cells(table, os.fspath(args.data))
    if args.discover:
        return discovered_effect(args, table, out, err)
    if args.alpha is not None:
        raise DataError("--alpha is the level of --discover's tests; it needs --discover")
    dag = as_dag(args.dag, latent_name=args.latent_name)
    for role, node in (("treatment", args.treatment), ("outcome", args.outcome)):
        if node not in dag.nodes:
            raise DataError(f"--{role} {node!r} is not a node of the DAG; nodes: {list(dag.nodes)}")
    if args.treatment == args.outcome:
        raise DataError("--treatment and --outcome name the same node")
    if args.treatment in table.columns:
        treated_arm, control_arm = _arms(table, args.treatment, args.treated, args.control)
    else:
        treated_arm, control_arm = args.treated, args.control  # the fit names the column
    n_init = args.n_init if args.n_init is not None else (10 if args.init == "random" else 1)
    model = BayesNetMixture(
        dag,
        args.n_components,
        init=args.init,
        n_init=n_init,
        ignore_extra_columns=args.ignore_extra_columns,
        latent_name=args.latent_name,
        missing=args.missing,
        random_state=args.seed,
    ).fit(table.values, columns=list(table.columns))
    return write_effect(args, model, (treated_arm, control_arm), out, err)


def write_effect(
    args: argparse.Namespace,
    model: BayesNetMixture,
    arms: tuple[Any, Any],
    out: TextIO,
    err: TextIO,
) -> int:
    """The effect report of one fitted model, bootstrap intervals included."""
    treated_arm, control_arm = arms
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
    if getattr(args, "out", None) is not None:
        _save_effect(args, model, boot, out)
    n_rows = round(model.n_samples_)
    out.write(
        section(
            f"Effect of {args.treatment} on {args.outcome}: {model.weights_.shape[0]} hidden "
            f"populations, {n_rows:,} rows, {len(model.columns_)} nodes"
        )
        + "\n"
    )
    gaps = {name: c for name, c in model.n_missing_.items() if c}
    if gaps:
        what = (
            "rows with one left out"
            if args.missing == "drop"
            else "fitted by full-information ML, assuming values missing at random"
        )
        out.write(f"empty cells ({what}):\n")
        out.write(format_pairs([[name, f"{c:,}"] for name, c in gaps.items()]) + "\n")
    if model.n_rows_dropped_:
        out.write(f"rows left out: {model.n_rows_dropped_:,}\n")
    if gaps or model.n_rows_dropped_:
        out.write("\n")
    report = effect_report(
        model, args.treatment, args.outcome, boot, treated=treated_arm, control=control_arm
    )
    out.write(report + "\n")
    reduction = model.reduction_
    state = "converged" if model.converged_ else "not converged (raise max_iter)"
    ident = textwrap.fill(
        f"identifiability: {model.identifiability_}",
        width=88,
        initial_indent="  ",
        subsequent_indent="    ",
    )
    out.write("\n" + ident + "\n")
    how = query_identification(model, args.treatment, args.outcome)
    query = textwrap.fill(
        f"P({args.outcome} | do({args.treatment})): {how}",
        width=88,
        initial_indent="  ",
        subsequent_indent="    ",
    )
    out.write(query + "\n")
    pairs = [["log-likelihood", f"{model.log_likelihood_:.4f}"]]
    if reduction is not None:
        ess = np.array([r.ess for r in reduction.runs]) if reduction.runs else np.zeros(1)
        pairs.append(
            [
                "runs of k-MixProd",
                f"{len(reduction.runs)} (effective sample size {ess.min():,.0f} to "
                f"{ess.max():,.0f})",
            ]
        )
    pairs.append(["EM", f"{model.n_iter_} maps, {state}"])
    out.write("\n" + format_pairs(pairs) + "\n")
    return 0


def _save_effect(args: argparse.Namespace, model: BayesNetMixture, boot: Any, out: TextIO) -> None:
    """``--out``: the model (with its bootstrap replicates) and the query, for ``kmix report``."""
    path = args.out if getattr(args, "member", None) is None else _numbered(args.out, args.member)
    meta = {
        "command": getattr(args, "command_line", None),
        "data": os.fspath(args.data),
        "treatment": args.treatment,
        "outcome": args.outcome,
        "treated": args.treated,
        "control": args.control,
    }
    written = save(model if boot is None else boot, path, metadata=meta)
    what = "model and its bootstrap" if boot is not None else "model"
    out.write(f"{what} saved to {written} (kmix report {written} --out report.html)\n")


def _numbered(path: str, member: int) -> str:
    """``effect.json`` -> ``effect.2.json``: one file per parent set of the treatment."""
    stem, ext = os.path.splitext(path)
    return f"{stem}.{member}{ext or '.json'}"


def discovered_effect(args: argparse.Namespace, table: Table, out: TextIO, err: TextIO) -> int:
    """``kmix effect data.csv --discover``: the class, then one effect per treatment parent set."""
    from ..causal.discovery import ALPHA, discover
    from ..estimators.discovered import fit_over_class

    names = [str(c) for c in table.columns]
    for role, node in (("treatment", args.treatment), ("outcome", args.outcome)):
        if node not in names:
            raise DataError(f"--{role} {node!r} is not a column; columns: {names}")
    if args.treatment == args.outcome:
        raise DataError("--treatment and --outcome name the same node")
    arms = _arms(table, args.treatment, args.treated, args.control)
    alpha = ALPHA if args.alpha is None else args.alpha
    # the tests and the score read complete rows: rows with an empty cell sit out the
    # discovery (the fits over the class apply --missing themselves)
    incomplete = missing_cells(table.values, infinite=False).any(axis=1)
    complete = table.values[~incomplete]
    if incomplete.any():
        later = (
            "and the fits"
            if args.missing == "drop"
            else "; the fits over the class use every observed cell (--missing fiml)"
        )
        err.write(
            f"{int(incomplete.sum()):,} of {table.values.shape[0]:,} rows have empty cells: "
            f"left out of the discovery {later}\n"
        )
    err.write(f"discovering the graph (rank tests at level {alpha:g}, then a BIC search) ...\n")
    found = discover(
        complete, args.n_components, alpha=alpha, columns=names, random_state=args.seed
    )
    out.write(
        section(
            f"Learned graph: {len(names)} nodes, {found.n_tests:,} rank tests, BIC {found.bic:,.1f}"
        )
        + "\n"
    )
    out.write(found.to_text() + "\n\n")
    if args.graph_out is not None:  # saved before the fits, which may refuse the class
        meta = {"command": getattr(args, "command_line", None), "data": os.fspath(args.data)}
        written = save(found, args.graph_out, metadata=meta)
        out.write(f"learned graph saved to {written} (kmix report {written} --out g.html)\n\n")
    n_init = args.n_init if args.n_init is not None else (10 if args.init == "random" else 1)
    members = fit_over_class(
        table.values,
        found,
        args.treatment,
        args.n_components,
        columns=names,
        init=args.init,
        n_init=n_init,
        latent_name=args.latent_name,
        missing=args.missing,
        random_state=args.seed,
    )
    if len(members) == 1:
        out.write(
            f"The effect of {args.treatment} is identified within the class: its parents are "
            f"{list(members[0].parents)} in every DAG of it.\n\n"
        )
    else:
        out.write(
            f"The class leaves {args.treatment}'s parents open: {len(members)} parent sets, "
            "one effect each (the set of values the data allow):\n\n"
        )
    for i, m in enumerate(members, start=1):
        out.write(f"-- {args.treatment}'s parents {list(m.parents)} ({m.n_dags} DAG(s))\n")
        args.member = i if len(members) > 1 else None
        write_effect(args, m.model, arms, out, err)
        out.write("\n")
    return 0

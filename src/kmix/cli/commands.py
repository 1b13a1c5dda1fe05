"""The subcommands of ``kmix``: each takes the parsed arguments and two streams.

Results go to ``out`` (standard output), progress and notes to ``err``
(standard error), so that ``kmix predict model.json data.csv > preds.csv``
keeps the predictions clean.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, TextIO

import numpy as np

from ..data import Table, read_table, write_table
from ..datasets import make_mixture, marbles
from ..estimators import FiniteMixture
from ..exceptions import DataError
from ..io import load, read_metadata, save
from .demo import run_demo
from .display import ProgressLine, format_table, parameter_rows

__all__ = ["demo", "fit", "predict", "simulate"]


def _say(out: TextIO, text: str = "") -> None:
    out.write(text + "\n")


def _note(err: TextIO, text: str) -> None:
    err.write(f"kmix: {text}\n")


def demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``kmix demo``: the worked examples of :mod:`kmix.cli.demo`."""
    run_demo(out, seed=args.seed, sections=args.section)
    return 0


def _summary(model: FiniteMixture, table: Table, source: str, n_trials: Any, out: TextIO) -> None:
    X = table.values
    k = int(model.weights_.shape[0])
    _say(
        out,
        f"FiniteMixture: family={model.family_.name}, k={k}, fitted to {source} "
        f"({X.shape[0]:,} rows x {X.shape[1]} columns)",
    )
    _say(out)
    header = ["parameter", *(f"component {u}" for u in range(k))]
    rows = [["weight", *(f"{w:.4f}" for w in model.weights_.tolist())]]
    rows += parameter_rows(model.params_, table.columns, getattr(model, "categories_", None))
    _say(out, format_table(header, rows))
    _say(out)
    iterations = f"{model.n_iter_}"
    if model.n_init > 1:
        iterations += f" (best of {model.n_init} restarts)"
    stats = [
        ["log-likelihood", f"{model.log_likelihood_:.4f}"],
        ["BIC", f"{model.bic(X, n_trials=n_trials):.4f}"],
        ["AIC", f"{model.aic(X, n_trials=n_trials):.4f}"],
        ["free parameters", str(model.n_parameters())],
        ["converged", "yes" if model.converged_ else "no (raise --max-iter)"],
        ["iterations", iterations],
    ]
    width = max(len(label) for label, _ in stats)
    for label, value in stats:
        _say(out, f"  {label.ljust(width)}  {value}")


def fit(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``kmix fit``: fit a FiniteMixture to a CSV file, print it, optionally save it."""
    if args.family.strip().lower() == "binomial" and args.n_trials is None:
        raise DataError("the binomial family needs --n-trials (the trials behind each count)")
    table = read_table(args.data, header=args.header)
    progress = ProgressLine(err, args.n_init, enabled=not args.quiet)
    model = FiniteMixture(
        args.n_components,
        family=args.family,
        covariance_type=args.covariance_type,
        alpha=args.alpha,
        n_trials=args.n_trials,
        init=args.init,
        n_init=args.n_init,
        tol=args.tol,
        max_iter=args.max_iter,
        random_state=args.seed,
        callback=progress,
    )
    try:
        model.fit(table.values)
    finally:
        progress.close()
    _summary(model, table, os.fspath(args.data), args.n_trials, out)
    if args.out is not None:
        path = save(
            model, args.out, metadata={"columns": table.columns, "data": os.fspath(args.data)}
        )
        _say(out, f"model saved to {path}")
    return 0


def predict(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``kmix predict``: most probable component (and posteriors) of each row."""
    model = load(args.model)
    columns = read_metadata(args.model).get("columns")
    table = read_table(args.data, header=args.header)
    unnamed = [f"x{j}" for j in range(len(table.columns))]
    if isinstance(columns, list) and table.columns not in (columns, unnamed):
        _note(err, f"warning: columns {table.columns} differ from the model's {columns}")
    n_trials = args.n_trials
    labels = model.predict(table.values, n_trials=n_trials)
    names = ["component"]
    result: np.ndarray[Any, Any] = labels[:, None]
    if args.proba:
        proba = model.predict_proba(table.values, n_trials=n_trials)
        names += [f"proba_{u}" for u in range(proba.shape[1])]
        result = np.concatenate([labels[:, None].astype(np.float64), proba], axis=1)
    if args.out is None:
        write_table(out, result, names)
        return 0
    write_table(args.out, result, names)
    counts = np.bincount(labels, minlength=model.weights_.shape[0])
    share = ", ".join(f"{u}: {c:,}" for u, c in enumerate(counts.tolist()))
    _say(out, f"{labels.shape[0]:,} predictions written to {args.out} (rows per component {share})")
    return 0


def simulate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``kmix simulate``: sample a random mixture (or the marbles) to CSV."""
    if args.marbles:
        p_red = args.p_red
        weights = args.weights
        if weights is None:  # the seed example's 0.6 / 0.4 for two factories, else uniform
            weights = [0.6, 0.4] if len(p_red) == 2 else [1.0 / len(p_red)] * len(p_red)
        X, truth, labels = marbles(
            args.n_samples,
            p_red=p_red,
            weights=weights,
            n_draws=args.draws,
            random_state=args.seed,
            return_labels=True,
        )
        columns = [f"draw_{i + 1}" for i in range(X.shape[1])]
        description = f"marbles: {len(p_red)} factories, {args.draws} draw(s) per bag"
    else:
        if args.family is None:
            raise DataError("give --family NAME (or --marbles for the factories data)")
        X, truth, labels = make_mixture(
            args.family,
            args.n_samples,
            args.n_components,
            args.features,
            n_trials=args.n_trials,
            n_levels=args.n_levels,
            covariance_type=args.covariance_type,
            random_state=args.seed,
            return_labels=True,
        )
        columns = [f"x{j}" for j in range(X.shape[1])]
        description = f"{args.family} mixture: k={truth.n_components}, {X.shape[1]} features"
    info = out if args.out is not None else err
    if args.out is not None:
        write_table(args.out, X, columns)
        _say(info, f"{X.shape[0]:,} rows written to {args.out} ({description})")
    else:
        write_table(out, X, columns)
    if args.labels_out is not None:
        write_table(args.labels_out, labels, ["component"])
    k = truth.n_components
    header = ["true parameter", *(f"component {u}" for u in range(k))]
    rows = [["weight", *(f"{w:.4f}" for w in truth.weights.tolist())]]
    rows += parameter_rows(truth.params, columns)
    _say(info, format_table(header, rows))
    if not args.marbles and truth.params.family == "binomial":
        _say(info, f"fit these counts with --n-trials {args.n_trials}")
    return 0

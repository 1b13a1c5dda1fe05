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

from ..data import Table, check_output, write_table
from ..datasets import make_mixture, marbles
from ..estimators import CoinMixture, FiniteMixture, ProductMixture, select_k_coins
from ..exceptions import DataError
from ..io import load, read_metadata, save
from ..options import choose
from ..stats import CoinCounts
from .applicable import FIT, SELECT_K, check_applicable
from .columns import read_data, split_covariates
from .demo import run_demo
from .display import (
    COEFFICIENT_HEADER,
    ProgressLine,
    coefficient_rows,
    format_pairs,
    format_table,
    parameter_rows,
)
from .guess import guess_select_model
from .passes import fit_by_passes
from .product import fit_product, select_k_product
from .streamed import streams

__all__ = ["demo", "fit", "predict", "select_k", "simulate"]


def _say(out: TextIO, text: str = "") -> None:
    out.write(text + "\n")


def _note(err: TextIO, text: str) -> None:
    err.write(f"kmix: {text}\n")


def demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``kmix demo``: the worked examples of :mod:`kmix.cli.demo`."""
    keep: dict[str, Any] = {}
    run_demo(out, seed=args.seed, sections=args.section, keep=keep)
    if args.plots is not None:
        from .demo_plots import write_demo_figures  # matplotlib only when asked for

        for path in write_demo_figures(keep, args.plots):
            out.write(f"wrote {path}\n")
    return 0


def _summary(
    model: FiniteMixture,
    table: Table,
    source: str,
    n_trials: Any,
    out: TextIO,
    covariates: Any = None,
) -> None:
    X = table.values
    data = {} if covariates is None else {"covariates": covariates}
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
    n_starts = len(model.restart_log_likelihoods_)
    if n_starts > 1:
        iterations += f" (best of {n_starts} starts)"
    stats = [
        ["log-likelihood", f"{model.log_likelihood_:.4f}"],
        ["BIC", f"{model.bic(X, n_trials=n_trials, **data):.4f}"],
        ["AIC", f"{model.aic(X, n_trials=n_trials, **data):.4f}"],
        ["free parameters", str(model.n_parameters())],
        ["converged", "yes" if model.converged_ else "no (raise --max-iter)"],
        ["iterations", iterations],
    ]
    _say(out, format_pairs(stats))
    if covariates is not None:
        _say(out)
        _say(out, "Weights: multinomial logit, each component against component 0")
        _say(out, format_table(COEFFICIENT_HEADER, coefficient_rows(model)))


def _coin_data(args: argparse.Namespace) -> tuple[CoinCounts, str]:
    """The histogram of a coins table, and how the table was read."""
    table = read_data(args)
    X = np.asarray(table.values)
    if X.dtype == object:
        raise DataError(f"{args.data}: the coins model needs numeric columns; got {table.columns}")
    if args.flips:
        return CoinCounts.from_flips(X), f"{X.shape[1]} flip columns"
    if args.n_trials is not None:
        if X.shape[1] != 1:
            raise DataError(
                f"with --n-trials the file must hold one column of head counts; it has "
                f"{X.shape[1]} ({table.columns}). Drop --n-trials for a heads,trials table "
                "or add --flips for 0/1 flips"
            )
        return CoinCounts.from_arrays(X[:, 0], args.n_trials), f"heads of {args.n_trials} flips"
    if X.shape[1] != 2:
        raise DataError(
            f"the coins model reads two columns (heads, trials); {args.data} has "
            f"{X.shape[1]} ({table.columns}). Pass --n-trials T for one column of heads, "
            "or --flips for 0/1 flips"
        )
    return CoinCounts.from_arrays(X[:, 0], X[:, 1]), "columns heads, trials"


def _fit_coins(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    stats, how = _coin_data(args)
    if not args.quiet:
        _note(err, f"{stats.n_samples:,.0f} trials, {stats.heads.size} distinct (heads, trials)")
    model = CoinMixture(
        args.n_components,
        init="moments" if args.init == "auto" else args.init,
        n_init=1 if args.n_init is None else args.n_init,
        tol=args.tol,
        max_iter=args.max_iter,
        random_state=args.seed,
    ).fit(stats)
    k = int(model.weights_.shape[0])
    _say(
        out,
        f"CoinMixture: k={k}, fitted to {os.fspath(args.data)} ({stats.n_samples:,.0f} "
        f"trials, {how}; up to {stats.max_trials} flips per trial)",
    )
    _say(out)
    header = ["coin", "bias", "weight", "bias (moments)", "weight (moments)"]
    rows = [
        [
            str(u),
            f"{model.biases_[u]:.4f}",
            f"{model.weights_[u]:.4f}",
            f"{model.moment_biases_[u]:.4f}",
            f"{model.moment_weights_[u]:.4f}",
        ]
        for u in range(k)
    ]
    _say(out, format_table(header, rows))
    _say(out)
    assert model.log_likelihood_ is not None
    moments = "inside the moment space" if model.moments_valid_ else "projected onto it"
    stats_rows = [
        ["log-likelihood", f"{model.log_likelihood_:.4f}"],
        ["BIC", f"{model.bic():.4f}"],
        ["moments", moments],
        ["condition number", f"{model.condition_number_:.3g} (Chebyshev Hankel G0)"],
        ["coins supported", f"{model.n_supported_} (Hankel test)"],
        ["refinement", f"{model.n_iter_} EM iterations + quasi-Newton finish"],
    ]
    _say(out, format_pairs(stats_rows))
    if args.out is not None:
        path = save(
            model,
            args.out,
            metadata={
                "command": getattr(args, "command_line", None),
                "data": os.fspath(args.data),
                "read_as": how,
            },
        )
        _say(out, f"model saved to {path}")
    return 0


def _z_text(z: float) -> str:
    """A z-score for a table: one decimal, or three significant digits when it is huge.

    Exact moments (or a degenerate histogram) give a standard error near 0, and
    z-scores of 10^12; fixed-point digits would only print noise.
    """
    return f"{z:.1f}" if abs(z) < 1e4 else f"{z:.2e}"


def select_k(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``kmix select-k``: evidence for each candidate number of coins (or latent classes).

    Without ``--model`` the model is chosen from the data
    (:func:`kmix.cli.guess.guess_select_model`) and named in the last line of
    the output.
    """
    chosen = None
    if args.model is None:
        args.model, why = guess_select_model(args, read_data(args))
        chosen = f"  model: {args.model}, chosen from the data ({why}); pass --model to choose"
    check_applicable(args, SELECT_K)
    if args.model == "product":
        status = select_k_product(args, out, err)
        if chosen is not None:
            _say(out, chosen)
        return status
    stats, _ = _coin_data(args)
    sel = select_k_coins(stats, max_components=args.max_k, random_state=args.seed)
    header = ["k", "Hankel eigenvalue", "z", "log-likelihood", "BIC"]
    rows = []
    for row in sel.table:
        rows.append(
            [
                str(int(row["k"])),
                f"{row['hankel_eigenvalue']:.4g}" if "hankel_eigenvalue" in row else "-",
                _z_text(row["hankel_z"]) if "hankel_z" in row else "-",
                f"{row['log_likelihood']:.2f}" if "log_likelihood" in row else "-",
                f"{row['bic']:.2f}" if "bic" in row else "-",
            ]
        )
    _say(out, format_table(header, rows))
    _say(out)
    verdict = "" if sel.hankel_conclusive else " (at least; more flips would tell)"
    _say(out, f"  Hankel test: {sel.hankel_k} coin(s){verdict}")
    _say(out, f"  BIC: {sel.bic_k} coin(s)")
    _say(out, f"  choice: k = {sel.best}")
    if chosen is not None:
        _say(out, chosen)
    return 0


def fit(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``kmix fit``: fit a FiniteMixture (k coins, latent classes), print it, maybe save it."""
    check_applicable(args, FIT)
    if args.out is not None:  # before the fit: a long fit must not end in a refused path
        check_output(args.out, option="--out", inputs=[("data file", args.data)])
    if args.model == "product":
        return fit_product(args, out, err)
    if streams(args):
        if args.model == "mixture" and args.family.strip().lower() == "gaussian":
            return fit_by_passes(args, out, err)
        raise DataError(
            f"{os.fspath(args.data)}: Parquet files, globs and directories are read by "
            "--model product (counted as read) and --family gaussian (EM by passes); the "
            "other models read one CSV file"
        )
    if args.model == "coins":
        return _fit_coins(args, out, err)
    if args.family.strip().lower() == "binomial" and args.n_trials is None:
        raise DataError("the binomial family needs --n-trials (the trials behind each count)")
    categorical = choose(args.family, "FiniteMixture.family") == "categorical"
    # category levels exactly as written ("01" and "1" are two levels); numbers otherwise
    covariates = None
    if getattr(args, "covariates", None) is not None:
        table, covariates = split_covariates(args, labels=categorical)
    else:
        table = read_data(args, labels=categorical)
    n_init = "auto" if args.n_init is None else args.n_init
    model = FiniteMixture(
        args.n_components,
        family=args.family,
        covariance_type=args.covariance_type,
        alpha=args.alpha,
        n_trials=args.n_trials,
        init=args.init,
        n_init=n_init,
        allow_unidentified=args.allow_unidentified,
        tol=args.tol,
        max_iter=args.max_iter,
        random_state=args.seed,
    )
    # (the starts "auto" makes depend on the family and init the model was given)
    progress = ProgressLine(err, model.n_starts(), enabled=not args.quiet)
    model.set_params(callback=progress)
    try:
        model.fit(table.values, covariates=covariates)
    finally:
        progress.close()
    _summary(model, table, os.fspath(args.data), args.n_trials, out, covariates)
    if args.out is not None:
        path = save(
            model,
            args.out,
            metadata={
                "command": getattr(args, "command_line", None),
                "columns": table.columns,
                "data": os.fspath(args.data),
            },
        )
        _say(out, f"model saved to {path}")
    return 0


def _columns_by_name(table: Table, columns: Any, source: str, err: TextIO) -> Any:
    """The table's values in the model's column order, matched by name (or refused).

    A file without a header is read by position, and must have the model's
    number of columns; a file with one must hold exactly the model's columns,
    in any order.
    """
    if not isinstance(columns, list) or table.columns == columns:
        return table.values
    if table.columns == [f"x{j}" for j in range(len(table.columns))]:
        if len(table.columns) != len(columns):
            raise DataError(
                f"{source} has {len(table.columns)} unnamed columns but the model was fitted "
                f"on {len(columns)} ({', '.join(columns)})"
            )
        return table.values
    missing = [c for c in columns if c not in table.columns]
    extra = [c for c in table.columns if c not in columns]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"lacks the model's column(s) {missing}")
        if extra:
            parts.append(f"has column(s) {extra} the model was not fitted on")
        raise DataError(
            f"{source} {' and '.join(parts)}; the model's columns are {columns}. Give a file "
            "with exactly those columns (in any order)"
        )
    _note(err, f"note: columns of {source} taken by name in the model's order {columns}")
    return table.values[:, [table.columns.index(c) for c in columns]]


def _as_model_levels(X: Any, categories: Any) -> Any:
    """Cells in the type of the model's levels: a file whose column holds only ``1`` and ``2``
    reads as integers, but a model that also saw ``01`` keeps that column's levels as text."""
    out = np.array(X, dtype=object)
    for j, levels in enumerate(categories):
        if len(levels) and all(isinstance(v, str) for v in np.asarray(levels).tolist()):
            out[:, j] = [v if v is None or isinstance(v, str) else str(v) for v in out[:, j]]
    return out


def predict(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``kmix predict``: most probable component (and posteriors) of each row."""
    if args.out is not None:
        inputs = [("data file", args.data), ("model file", args.model)]
        check_output(args.out, option="--out", inputs=inputs)
    model = load(args.model)
    if not isinstance(model, (FiniteMixture, CoinMixture, ProductMixture)):
        raise DataError(
            f"kmix predict labels rows with a FiniteMixture, CoinMixture or ProductMixture; "
            f"{args.model} holds a {type(model).__name__} (kmix report describes it)"
        )
    columns = read_metadata(args.model).get("columns")
    if isinstance(model, ProductMixture) and hasattr(model, "feature_names_in_"):
        columns = [str(c) for c in model.feature_names_in_]
    levels = isinstance(model, ProductMixture) or getattr(model, "categories_", None) is not None
    table = read_data(args, labels=levels)
    X = _columns_by_name(table, columns, os.fspath(args.data), err)
    if levels:
        X = _as_model_levels(X, model.categories_)
    # a latent class model's rows are the whole observation: it takes no n_trials
    extra = {} if isinstance(model, ProductMixture) else {"n_trials": args.n_trials}
    labels = model.predict(X, **extra)
    names = ["component"]
    result: np.ndarray[Any, Any] = labels[:, None]
    if args.proba:
        proba = model.predict_proba(X, **extra)
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
    if args.out is not None:
        check_output(args.out, option="--out", inputs=[("--labels-out file", args.labels_out)])
    if args.labels_out is not None:
        check_output(args.labels_out, option="--labels-out")
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

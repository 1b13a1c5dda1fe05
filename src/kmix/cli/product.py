"""``kmix fit --model product`` and ``kmix select-k --model product``: latent class models.

A survey table (one row per respondent, one column per item, any labels; the
items chosen with ``--columns``) is read with :func:`kmix.data.read_table` and
handed to :class:`~kmix.estimators.ProductMixture` (the three-view tensor
method refined by EM) or to :func:`~kmix.estimators.select_k_classes` (a rank
test of a two-view table, with BIC and the other fit statistics beside it).
Fit statistics come from :func:`kmix.estimators.fitstats.fit_statistics`.
"""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

from ..data import Table
from ..estimators import ProductMixture, select_k_classes
from ..estimators._checks import check_level_counts, missing_cells
from ..estimators.fitstats import FitStatistics, fit_statistics
from ..estimators.product import MISFIT_Z
from ..exceptions import DataError
from ..io import save
from .columns import read_data, refuse_empty_cells, split_covariates
from .display import (
    COEFFICIENT_HEADER,
    coefficient_rows,
    format_pairs,
    format_table,
    level_name,
    likelihood_rows,
)
from .streamed import counted_rows, streams

__all__ = ["MANY_LEVELS", "fit_product", "select_k_product"]

#: An item with more levels than this is named in a warning: survey items have a handful
#: of answers, a column with dozens of values is usually a measurement (an age) or an id.
MANY_LEVELS = 20


def _say(out: TextIO, text: str = "") -> None:
    out.write(text + "\n")


def _read_survey(args: argparse.Namespace, *, allow_missing: bool) -> Table:
    """The survey table; rows with empty cells refused in command-line terms unless allowed.

    Parameters
    ----------
    args : argparse.Namespace
        ``data`` and ``header`` are read.
    allow_missing : bool
        Return rows with empty cells too (``--missing drop``).

    Returns
    -------
    Table
        The values and the column names, as :func:`read_table` gives them.
    """
    table = read_data(args, labels=True)  # levels as written
    _check_levels(table, os.fspath(args.data))
    if not allow_missing:
        refuse_empty_cells(table, os.fspath(args.data))
    return table


def _check_levels(table: Table, source: str) -> None:
    """Refuse identifier-like columns by name (the estimator's own rule), warn about columns
    with more than :data:`MANY_LEVELS` levels, naming ``--columns`` as the fix."""
    missing = missing_cells(table.values, infinite=False)
    levels = [
        np.array(sorted(set(table.values[~missing[:, j], j].tolist()), key=str))
        for j in range(len(table.columns))
    ]
    names = [f"column {name!r} of {source}" for name in table.columns]
    check_level_counts(levels, float(table.values.shape[0]), names)
    for name, found in zip(names, levels, strict=True):
        if found.shape[0] > MANY_LEVELS:
            warnings.warn(
                f"{name} has {found.shape[0]} levels, so as a latent class item it spreads "
                f"{table.values.shape[0]:,} rows over {found.shape[0]} levels; if it is not an "
                "item (an age, an income, an identifier), leave it out with --columns",
                UserWarning,
                stacklevel=3,
            )


def _per_level(model: ProductMixture) -> list[NDArray[np.float64]]:
    """``P(item j = level v | class u)`` as one (k, n_levels_j) array per item."""
    public = model.probs_
    if isinstance(public, np.ndarray):  # binary data: P(second level) per item
        return [
            np.stack([1.0 - public[:, j], public[:, j]], axis=1) for j in range(public.shape[1])
        ]
    return [np.asarray(p, dtype=np.float64) for p in public]


def _class_rows(model: ProductMixture, columns: Sequence[str]) -> list[list[str]]:
    """Share, then ``P(item = level | class)`` per item and level, one column per class.

    A two-level item gets one row, the probability of its second level
    (``P(item = 1 | class)`` for 0/1 items); other items one row per level.
    """
    rows = [["share", *(f"{w:.4f}" for w in model.weights_.tolist())]]
    for j, (probs, levels) in enumerate(zip(_per_level(model), model.categories_, strict=True)):
        for v in range(1 if len(levels) == 2 else 0, len(levels)):
            label = f"P({columns[j]}={level_name(levels[v])})"
            rows.append([label, *(f"{p:.4f}" for p in probs[:, v].tolist())])
    return rows


def _class_table(model: ProductMixture, columns: Sequence[str]) -> str:
    """:func:`_class_rows` under a ``class u`` header."""
    k = int(model.weights_.shape[0])
    return format_table(["", *(f"class {u}" for u in range(k))], _class_rows(model, columns))


def _views_text(model: ProductMixture, columns: Sequence[str]) -> str:
    """The view triples of the moment step as ``A,B / C / D; ...`` (views A, B, pivot)."""
    triples = [
        " / ".join(",".join(columns[c] for c in group) for group in triple)
        for triple in model.views_
    ]
    return f"{len(triples)} triple(s) (view A / view B / pivot): " + "; ".join(triples)


def _number(value: float, digits: int = 4) -> str:
    """Fixed-point text, ``-`` for NaN (a statistic that does not apply)."""
    return "-" if value != value else f"{value:.{digits}f}"


def _statistics_rows(stats: FitStatistics) -> list[list[str]]:
    """Information criteria, goodness of fit against the saturated table, entropy R^2."""
    cells = "" if stats.n_cells is None else f" of {stats.n_cells:,} cells"
    return [
        ["log-likelihood", f"{stats.log_likelihood:.4f}"],
        ["BIC", f"{stats.bic:.4f}"],
        ["AIC", f"{stats.aic:.4f}"],
        ["SABIC", f"{stats.sabic:.4f} (sample-size adjusted BIC)"],
        ["CAIC", f"{stats.caic:.4f} (consistent AIC)"],
        ["free parameters", str(stats.n_parameters)],
        ["entropy R^2", f"{_number(stats.entropy_r2)} (1: every row assigned with certainty)"],
        [
            "G^2",
            f"{_number(stats.g_squared)} (df {stats.df:g}, against the saturated table{cells})",
        ],
        ["X^2", f"{_number(stats.chi_squared)} (Pearson, same table)"],
    ]


def _diagnostics(
    model: ProductMixture, columns: Sequence[str], stats: FitStatistics
) -> list[list[str]]:
    """Fit statistics, the identifiability condition, EM and the moment step."""
    k = int(model.weights_.shape[0])
    em = f"{model.n_iter_} iteration(s), " + (
        "converged" if model.converged_ else "not converged (raise --max-iter)"
    )
    if model.n_starts_ > 1:
        em += f" (best of {model.n_starts_} starts)"
    rows = [
        *_statistics_rows(stats),
        ["identifiability", str(model.identifiability_)],
        ["EM", em if model.refine is not None else "not run (refine=None)"],
    ]
    if getattr(model, "misfit_", None) is not None:
        verdict = "good" if model.misfit_ <= MISFIT_Z else "poor: more classes, or other starts?"
        rows.append(["two-way margins", f"largest |z| {model.misfit_:.2f} ({verdict})"])
    if not model.views_:
        rows.append(["moment step", "did not run (EM started from random responsibilities)"])
        return rows
    rows.append(["views used", _views_text(model, columns)])
    s = np.asarray(model.singular_values_, dtype=np.float64)
    if s.shape[0] >= k and s[0] > 0:
        rows.append(
            [
                "singular value ratio",
                f"{s[k - 1] / s[0]:.4g} (sigma_{k} / sigma_1 of P(X_A, X_B), best triple)",
            ]
        )
    rows.append(["eigengap", f"{model.eigengap_:.4g} (relative, best triple)"])
    return rows


def _model(args: argparse.Namespace, mode: str, **options: Any) -> ProductMixture:
    """The ProductMixture the ``fit`` options describe."""
    return ProductMixture(
        args.n_components,
        init="moments" if args.init == "auto" else args.init,
        n_init="auto" if args.n_init is None else args.n_init,
        missing=mode,
        allow_unidentified=args.allow_unidentified,
        tol=args.tol,
        max_iter=args.max_iter,
        random_state=args.seed,
        **options,
    )


def fit_product(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``kmix fit --model product``: a latent class model of a survey table.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``fit`` arguments.
    out, err : text streams
        Results, and notes.

    Returns
    -------
    int
        Exit status 0 (failures raise).
    """
    mode = args.missing or "fiml"
    if getattr(args, "covariates", None) is not None:
        return _fit_regression(args, out, mode)
    weights: NDArray[np.float64] | None = None
    gap_counts = None
    if streams(args):
        table, weights, rows = counted_rows(args, err)
        n_rows, dropped, gap_counts = rows.n_rows, 0, rows.missing_per_column()
        if mode == "error" and rows.first_missing is not None:
            row, column = rows.first_missing
            raise DataError(
                f"{os.fspath(args.data)} has empty cells in {rows.n_missing_rows:,} row(s) "
                f"(first in data row {row + 1}, column {column!r}); pass --missing fiml to fit "
                "every observed answer, --missing drop to leave those rows out, or fill them in"
            )
        if mode != "error":
            rows, dropped = rows.dropping("gappy" if mode == "drop" else "empty")
            table, weights = Table(rows.values, table.columns), rows.counts
    else:
        table = _read_survey(args, allow_missing=mode != "error")
        n_rows, dropped = table.values.shape[0], 0
    model = _model(args, mode).fit(table.values, sample_weight=weights)
    n_cols = table.values.shape[1]
    dropped += model.n_rows_dropped_
    k = int(model.weights_.shape[0])
    what = "with empty cells" if mode == "drop" else "without any answer"
    used = f"{n_rows - dropped:,} rows" + (
        f" of {n_rows:,}, {dropped:,} {what} dropped" if dropped else ""
    )
    _say(
        out,
        f"ProductMixture: k={k}, fitted to {os.fspath(args.data)} ({used} x {n_cols} columns)",
    )
    per_column = model.n_missing_ if gap_counts is None else gap_counts
    n_gaps = int(per_column.sum())
    if mode == "fiml" and n_gaps:
        gaps = ", ".join(
            f"{name} {int(c)}" for name, c in zip(table.columns, per_column, strict=True) if c
        )
        _say(
            out,
            f"{n_gaps:,} empty cells fitted by full-information ML, assuming values missing at "
            f"random ({gaps})",
        )
    _say(out)
    _say(out, _class_table(model, table.columns))
    _say(out)
    # the statistics of the rows fitted (listwise deletion fits the complete rows only)
    fitted = table.values
    if mode == "drop" and weights is None:
        fitted = fitted[~missing_cells(fitted, infinite=False).any(axis=1)]
    stats = fit_statistics(model, fitted, sample_weight=weights)
    _say(out, format_pairs(_diagnostics(model, table.columns, stats)))
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


def _fit_regression(args: argparse.Namespace, out: TextIO, mode: str) -> int:
    """``kmix fit --model product --covariates COLS``: class shares a logit in covariates.

    The items are ``--columns`` (default: every other column), read as labels;
    the covariates are read as numbers where they are numbers, text otherwise.
    """
    if streams(args):
        raise DataError(
            "--covariates reads the file whole: give one CSV file (Parquet files, globs and "
            "directories are counted as read, without per-row covariates)"
        )
    source = os.fspath(args.data)
    items, covariates = split_covariates(args, labels=True)
    names = list(covariates)
    _check_levels(items, source)
    model = _model(
        args, mode, covariate_missing=args.covariate_missing, covariate_se=args.covariate_se
    ).fit(items.values, covariates=covariates)
    k, n = int(model.weights_.shape[0]), model.n_samples_
    dropped = model.n_covariate_rows_dropped_ + model.n_rows_dropped_
    note = f", {dropped:,} dropped" if dropped else ""
    _say(
        out,
        f"ProductMixture with covariates: k={k}, fitted to {source} ({n:,.0f} rows{note} x "
        f"{len(items.columns)} items; covariates {', '.join(names)})",
    )
    _say(out)
    _say(out, _class_table(model, items.columns))
    _say(out)
    what = f"{args.covariate_se} information"
    _say(out, f"Class membership: multinomial logit, each class against class 0 (SE: {what})")
    _say(out, format_table(COEFFICIENT_HEADER, coefficient_rows(model)))
    _say(out)
    stats = [*likelihood_rows(model), ["EM iterations", str(model.n_iter_)]]
    _say(out, format_pairs(stats))
    if args.out is not None:
        path = save(
            model,
            args.out,
            metadata={
                "command": getattr(args, "command_line", None),
                "columns": items.columns,
                "data": source,
            },
        )
        _say(out, f"model saved to {path}")
    return 0


def _progress(err: TextIO, enabled: bool) -> Callable[[dict[str, Any]], None] | None:
    """One line on ``err`` per number of classes fitted (a terminal only, unless ``--quiet``)."""
    if not enabled or not bool(getattr(err, "isatty", lambda: False)()):
        return None

    def show(row: dict[str, Any]) -> None:
        err.write(
            f"select-k: k = {row['k']}: log-likelihood {row['log_likelihood']:.4f}, "
            f"BIC {row['bic']:.4f} ({row['seconds']:.1f} s)\n"
        )
        err.flush()

    return show


def _p_text(value: float) -> str:
    """A p-value for the table: ``n/a`` where the test cannot judge."""
    return "n/a" if value != value else f"{value:.4g}"


def _selection_rows(table: list[dict[str, Any]], blrt: bool) -> list[list[str]]:
    """One row per k: the rank test, then the fit statistics (``-`` where k was not fitted)."""
    rows = []
    for row in table:
        cells = [str(int(row["k"])), _p_text(row["rank_p_value"])]
        if "log_likelihood" in row:
            cells += [
                f"{row['log_likelihood']:.4f}",
                str(int(row["n_parameters"])),
                *(f"{row[key]:.4f}" for key in ("bic", "sabic", "caic", "aic")),
                _number(row["entropy_r2"]),
                _number(row["g_squared"]),
                f"{row['df']:g}",
            ]
            if blrt:
                cells.append(_p_text(row.get("blrt_p_value", float("nan"))))
        else:
            cells += ["-"] * (9 + int(blrt))
        rows.append(cells)
    return rows


def select_k_product(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``kmix select-k --model product``: rank test and fit statistics per number of classes.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``select-k`` arguments.
    out, err : text streams
        Results, and notes (and, on a terminal, one progress line per ``k``).

    Returns
    -------
    int
        Exit status 0 (failures raise).
    """
    table = _read_survey(args, allow_missing=args.missing != "error")
    bad = missing_cells(table.values, infinite=False).any(axis=1)
    if bad.any() and args.missing == "drop":
        warnings.warn(
            f"dropped {int(bad.sum())} of {bad.shape[0]} rows with empty cells",
            UserWarning,
            stacklevel=2,
        )
        table = Table(table.values[~bad], table.columns)
    blrt = args.blrt is not None
    sel = select_k_classes(
        table.values,
        max_components=args.max_k,
        random_state=args.seed,
        blrt_boot=args.blrt or 0,
        progress=_progress(err, not args.quiet),
    )
    header = ["k", "rank-test p", "log-likelihood", "params", "BIC", "SABIC", "CAIC", "AIC"]
    header += ["entropy R^2", "G^2", "df"] + (["BLRT p"] if blrt else [])
    _say(out, format_table(header, _selection_rows(sel["table"], blrt)))
    _say(out)
    names = table.columns
    rank_k, bic_k = sel["rank_k"], sel["bic_k"]
    if sel["views"][0]:
        a, b = sel["views"]
        views = f"{','.join(names[c] for c in a)} against {','.join(names[c] for c in b)}"
        shape, tested = sel["table_shape"], sel["tested_shape"]
        pooled = "" if tuple(shape) == tuple(tested) else f", pooled to {tested[0]} x {tested[1]}"
        _say(out, f"  rank-test table: {views} ({shape[0]} x {shape[1]}{pooled})")
    rank_text = (
        f"{rank_k} class(es) (smallest k not rejected at 0.05)"
        if rank_k is not None
        else f"no answer: {sel['rank_reason']}"
    )
    _say(out, f"  rank test: {rank_text}")
    fitted = [row["k"] for row in sel["table"] if "bic" in row]
    falling = bic_k is not None and len(fitted) > 1 and bic_k == fitted[-1]
    bic_text = (
        "none (no candidate k is identified by these items)"
        if bic_k is None
        else f"{bic_k} class(es)"
        + (
            " (still falling at the largest k fitted: raise --max-k to look further)"
            if falling
            else ""
        )
    )
    _say(out, f"  BIC: {bic_text}")
    _say(out, f"  search: stopped, {sel['stopped']}")
    choice = bic_k if bic_k is not None else rank_k
    if choice is None:
        _say(out, "  choice: none (add items, or raise --max-k)")
    elif bic_k is not None and rank_k is not None and rank_k != bic_k:
        _say(out, f"  choice: k = {choice} (by BIC; the rank test says {rank_k})")
    else:
        _say(out, f"  choice: k = {choice}")
    return 0

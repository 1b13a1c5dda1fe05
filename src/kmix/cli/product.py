"""``kmix fit --model product`` and ``kmix select-k --model product``: latent class models.

A survey table (one row per respondent, one column per item, any labels) is
read with :func:`kmix.data.read_table` and handed to
:class:`~kmix.estimators.ProductMixture` (the three-view tensor method refined
by EM) or to :func:`~kmix.estimators.select_k_classes` (a rank test of a
two-view table, with BIC beside it).
"""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Sequence
from typing import TextIO

import numpy as np
from numpy.typing import NDArray

from ..data import Table, read_table
from ..estimators import ProductMixture, select_k_classes
from ..estimators._checks import missing_cells
from ..estimators.product import MISFIT_Z
from ..exceptions import DataError
from ..io import save
from .display import format_pairs, format_table, level_name

__all__ = ["fit_product", "select_k_product"]


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
    table = read_table(args.data, header=args.header, labels=True)  # levels as written
    missing = missing_cells(table.values, infinite=False)
    if allow_missing or not missing.any():
        return table
    i, j = (int(v) for v in np.argwhere(missing)[0])
    raise DataError(
        f"{os.fspath(args.data)} has empty cells in {int(missing.any(axis=1).sum())} row(s) "
        f"(first in data row {i + 1}, column {table.columns[j]!r}); pass --missing drop to "
        "leave those rows out, or fill them in"
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


def _views_text(model: ProductMixture, columns: Sequence[str]) -> str:
    """The view triples of the moment step as ``A,B / C / D; ...`` (views A, B, pivot)."""
    triples = [
        " / ".join(",".join(columns[c] for c in group) for group in triple)
        for triple in model.views_
    ]
    return f"{len(triples)} triple(s) (view A / view B / pivot): " + "; ".join(triples)


def _diagnostics(model: ProductMixture, columns: Sequence[str]) -> list[list[str]]:
    """Fit statistics, the identifiability condition, EM and the moment step."""
    k = int(model.weights_.shape[0])
    em = f"{model.n_iter_} iteration(s), " + (
        "converged" if model.converged_ else "not converged (raise --max-iter)"
    )
    if model.n_starts_ > 1:
        em += f" (best of {model.n_starts_} starts)"
    rows = [
        ["log-likelihood", f"{model.log_likelihood_:.4f}"],
        ["BIC", f"{model.bic():.4f}"],
        ["AIC", f"{model.aic():.4f}"],
        ["free parameters", str(model.n_parameters())],
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
    drop = args.missing == "drop"
    table = _read_survey(args, allow_missing=drop)
    model = ProductMixture(
        args.n_components,
        init="moments" if args.init == "auto" else args.init,
        n_init="auto" if args.n_init is None else args.n_init,
        missing="drop" if drop else "error",
        allow_unidentified=args.allow_unidentified,
        tol=args.tol,
        max_iter=args.max_iter,
        random_state=args.seed,
    ).fit(table.values)
    n_rows, n_cols = table.values.shape
    k = int(model.weights_.shape[0])
    used = f"{n_rows - model.n_rows_dropped_:,} rows" + (
        f" of {n_rows:,}, {model.n_rows_dropped_:,} with empty cells dropped"
        if model.n_rows_dropped_
        else ""
    )
    _say(
        out,
        f"ProductMixture: k={k}, fitted to {os.fspath(args.data)} ({used} x {n_cols} columns)",
    )
    _say(out)
    header = ["", *(f"class {u}" for u in range(k))]
    _say(out, format_table(header, _class_rows(model, table.columns)))
    _say(out)
    stats = _diagnostics(model, table.columns)
    _say(out, format_pairs(stats))
    if args.out is not None:
        path = save(
            model, args.out, metadata={"columns": table.columns, "data": os.fspath(args.data)}
        )
        _say(out, f"model saved to {path}")
    return 0


def select_k_product(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``kmix select-k --model product``: rank test and BIC for each number of classes.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``select-k`` arguments.
    out, err : text streams
        Results, and notes.

    Returns
    -------
    int
        Exit status 0 (failures raise).
    """
    table = _read_survey(args, allow_missing=args.missing == "drop")
    bad = missing_cells(table.values, infinite=False).any(axis=1)
    if bad.any():
        warnings.warn(
            f"dropped {int(bad.sum())} of {bad.shape[0]} rows with empty cells",
            UserWarning,
            stacklevel=2,
        )
        table = Table(table.values[~bad], table.columns)
    sel = select_k_classes(table.values, max_components=args.max_k, random_state=args.seed)
    header = ["k", "rank-test p-value", "log-likelihood", "BIC"]
    rows = [
        [
            str(int(row["k"])),
            f"{row['rank_p_value']:.4g}",
            f"{row['log_likelihood']:.4f}" if "log_likelihood" in row else "-",
            f"{row['bic']:.4f}" if "bic" in row else "-",
        ]
        for row in sel["table"]
    ]
    _say(out, format_table(header, rows))
    _say(out)
    a, b = sel["views"]
    names = table.columns
    views = f"{','.join(names[c] for c in a)} against {','.join(names[c] for c in b)}"
    rank_k, bic_k = sel["rank_k"], sel["bic_k"]
    top = len(sel["table"])
    rank_text = (
        f"{rank_k} class(es) (smallest k not rejected at 0.05; table of {views})"
        if rank_k is not None
        else f"more than {top} class(es): every k up to {top} is rejected (table of {views})"
    )
    _say(out, f"  rank test: {rank_text}")
    _say(
        out,
        f"  BIC: {bic_k} class(es)"
        if bic_k is not None
        else "  BIC: none (no candidate k is identified by these items)",
    )
    choice = bic_k if bic_k is not None else rank_k
    if choice is None:
        _say(out, "  choice: none (add items, or raise --max-k)")
    elif bic_k is not None and rank_k is not None and rank_k != bic_k:
        _say(out, f"  choice: k = {choice} (by BIC; the rank test says {rank_k})")
    else:
        _say(out, f"  choice: k = {choice}")
    return 0

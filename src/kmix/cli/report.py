"""``kmix report MODEL.json [--data FILE] --out report.html``: a fitted model as one HTML page."""

from __future__ import annotations

import argparse
import os
from typing import Any, TextIO

import numpy as np

from ..data import check_output, read_table
from ..estimators import BayesNetBootstrap, BayesNetMixture, CoinMixture, ProductMixture
from ..estimators._checks import missing_cells
from ..exceptions import DataError
from ..io import load, read_metadata

__all__ = ["report"]


def _column(values: Any, name: str) -> Any:
    """A column as numbers where every cell is one, else as the labels written."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return np.asarray(values, dtype=object)


def _data(
    args: argparse.Namespace, model: Any, meta: dict[str, Any], err: TextIO
) -> dict[str, Any]:
    """The report's data arguments read from ``--data``: items, head counts, distal outcomes."""
    if args.data is None:
        if args.distal:
            raise DataError("--distal needs the data: give --data FILE with the outcome's column")
        return {}
    source = os.fspath(args.data)
    if isinstance(model, CoinMixture):
        table = read_table(args.data, header=args.header)
        return {"data": np.asarray(table.values[:, 0], dtype=np.float64)}
    if not isinstance(model, ProductMixture):
        raise DataError(
            f"--data adds fit statistics and distal outcomes to latent class (ProductMixture) "
            f"and head counts to CoinMixture reports; {args.model} holds a {type(model).__name__}"
        )
    table = read_table(args.data, header=args.header, labels=True)
    names = getattr(model, "feature_names_in_", None)
    columns = [str(c) for c in names] if names is not None else meta.get("columns")
    if not isinstance(columns, list):
        columns = [c for c in table.columns if c not in (args.distal or [])]
    missing = [c for c in [*columns, *(args.distal or [])] if c not in table.columns]
    if missing:
        raise DataError(f"{source} lacks the column(s) {missing}; its columns: {table.columns}")
    items = table.values[:, [table.columns.index(c) for c in columns]]
    for j, levels in enumerate(model.categories_):  # cells in the type of the model's levels
        if len(levels) and all(isinstance(v, str) for v in np.asarray(levels).tolist()):
            items[:, j] = [v if v is None or isinstance(v, str) else str(v) for v in items[:, j]]
    distal = {
        name: _column(table.values[:, table.columns.index(name)], name)
        for name in (args.distal or [])
    }
    design = getattr(model, "covariate_design_", None)
    if design is None:
        return {"data": items, "distal": distal}
    absent = [c for c in design.columns if c not in table.columns]
    if absent:
        raise DataError(f"{source} lacks the model's covariate column(s) {absent}")
    covariates = {c: _column(table.values[:, table.columns.index(c)], c) for c in design.columns}
    known = np.ones(items.shape[0], dtype=bool)
    for column in covariates.values():
        known &= ~missing_cells(np.asarray(column, dtype=object), infinite=False)
    if not known.all():
        err.write(
            f"kmix: note: {int((~known).sum()):,} row(s) of {source} with an empty covariate "
            "are left out of the report's data tables\n"
        )
    return {
        "data": items[known],
        "distal": {name: y[known] for name, y in distal.items()},
        "covariates": {c: z[known] for c, z in covariates.items()},
    }


def report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``kmix report``: the HTML page of a saved model, bootstrap or learned graph."""
    from ..report import build_report, write_report  # matplotlib only for this command

    check_output(args.out, option="--out", inputs=[("model file", args.model)])
    if not os.fspath(args.out).lower().endswith((".html", ".htm")):  # before the work
        raise DataError(f"--out is an HTML file: give a name ending in .html; got {args.out}")
    obj = load(args.model)
    meta = read_metadata(args.model)
    model = obj.model if isinstance(obj, BayesNetBootstrap) else obj
    given = _data(args, model, meta, err)
    if (args.treatment is None) != (args.outcome is None):
        raise DataError("name both --treatment and --outcome (or neither)")
    if args.treatment is not None and not isinstance(model, BayesNetMixture):
        raise DataError(
            f"--treatment/--outcome draw a BayesNetMixture's effect; {args.model} holds a "
            f"{type(model).__name__}"
        )
    document = build_report(
        obj,
        metadata=meta,
        source=os.path.basename(os.fspath(args.model)),
        distal_method=args.distal_method,
        treatment=args.treatment,
        outcome=args.outcome,
        **given,
    )
    path = write_report(args.out, document)
    out.write(f"report written to {path} ({len(document) / 1024:,.0f} KiB, self-contained)\n")
    return 0

"""``kmix fit DATA --family gaussian`` on Parquet files, globs, directories or a Dask cluster.

Gaussian rows do not compress into distinct rows, so the rows are never held:
``FiniteMixture`` fits a systematic sample in memory and then runs EM with one
pass over the rows per iteration (:mod:`kmix.estimators._passes`), here in
pyarrow batches or, with ``--engine dask``, on the cluster. One line per pass
reports the log-likelihood (a pass over many rows takes a while).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, TextIO

from ..data import as_source
from ..data.distributed import connect, read_dask
from ..estimators import FiniteMixture
from ..io import save
from .columns import select_columns
from .display import format_pairs, format_table, likelihood_rows, parameter_rows

__all__ = ["fit_by_passes"]


class PassLines:
    """One line per EM pass on a text stream (``FiniteMixture`` callback)."""

    def __init__(self, stream: TextIO, *, enabled: bool = True) -> None:
        self.stream, self.enabled = stream, enabled
        self.previous: float | None = None
        self.t0 = time.perf_counter()

    def __call__(self, progress: Any) -> None:
        if not self.enabled:
            return
        value = float(progress.objective)
        change = "" if self.previous is None else f"  change {value - self.previous:.3e}"
        self.previous = value
        seconds = time.perf_counter() - self.t0
        self.stream.write(
            f"EM pass {int(progress.iteration) + 1}: log-likelihood {value:.6f}{change}  "
            f"({seconds:.1f} s)\n"
        )
        self.stream.flush()


def fit_by_passes(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Fit a Gaussian mixture to a source by EM passes; print it, maybe save it."""
    source = as_source(args.data)
    if getattr(args, "columns", None) is not None:
        keep = select_columns(args.columns, list(source.columns), source.describe())
        source = as_source(source, columns=[source.columns[i] for i in keep])
    columns = list(source.columns)
    model = FiniteMixture(
        args.n_components,
        family="gaussian",
        covariance_type=args.covariance_type,
        init=args.init,
        n_init="auto" if args.n_init is None else args.n_init,
        tol=args.tol,
        max_iter=args.max_iter,
        random_state=args.seed,
        callback=PassLines(err, enabled=not args.quiet),
    )
    data: Any = source
    client = None
    if args.engine == "dask":
        if args.scheduler is not None:
            client = connect(args.scheduler)
        data = read_dask(source)
    try:
        model.fit(data)
    finally:
        if client is not None:
            client.close()
    k, n = int(model.weights_.shape[0]), float(model.n_samples_)
    out.write(
        f"FiniteMixture: family=gaussian, k={k}, fitted by EM passes to {source.describe()} "
        f"({n:,.0f} rows x {len(columns)} columns)\n\n"
    )
    header = ["parameter", *(f"component {u}" for u in range(k))]
    rows = [["weight", *(f"{w:.4f}" for w in model.weights_.tolist())]]
    rows += parameter_rows(model.params_, columns, None)
    out.write(format_table(header, rows) + "\n\n")
    stats = likelihood_rows(model)
    stats.append(["EM passes", f"{model.n_iter_ + 1} (start: the fit of a systematic sample)"])
    if model.n_rows_dropped_:
        stats.append(["rows dropped", f"{model.n_rows_dropped_:,}"])
    out.write(format_pairs(stats) + "\n")
    if args.out is not None:
        path = save(
            model,
            args.out,
            metadata={
                "command": getattr(args, "command_line", None),
                "columns": columns,
                "data": os.fspath(args.data),
            },
        )
        out.write(f"model saved to {path}\n")
    return 0

"""Entry point of ``make bench``: run every benchmark module and write its results.

Each module ``bench_<name>.py`` listed in :data:`BENCHMARKS` exposes
``run(quick: bool) -> common.BenchResult``; this script writes
``results/<name>.json`` and ``results/<name>.md`` (``<name>-quick.*`` for a quick run, so a
smoke test never overwrites the full results) and prints the markdown report.

Usage::

    python benchmarks/run.py [--quick] [--only NAME ...] [--threads N]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import RESULTS_DIR, log, write_json, write_text

#: Benchmark name -> module (in this directory).
BENCHMARKS = {
    "em": "bench_em",
    "kcoin": "bench_kcoin",
    "product": "bench_product",
    "bayesnet": "bench_bayesnet",
    "blrt": "bench_blrt",
    "lc_reliability": "bench_lc_reliability",
    "missing": "bench_missing",
    "select": "bench_select",
    "bnlearn": "bench_bnlearn",
    "data": "bench_data",
    "discovery": "bench_discovery",
    "discovery_effects": "bench_discovery_effects",
    "discovery_scale": "bench_discovery_scale",
    "covariates": "bench_covariates",
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description="Run the kmix benchmarks against their peers.")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, one restart: a smoke test of the whole pipeline (about a minute)",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only this benchmark (repeatable); one of {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="limit BLAS/OpenMP and torch to N threads for every tool (default: their own "
        "defaults, normally one per core); 1 makes timings steadier on a busy machine",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS_DIR,
        help=f"directory of the JSON and markdown results (default {RESULTS_DIR})",
    )
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be a positive integer; got {args.threads}")
    unknown = sorted(set(args.only or ()) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)}")
    return args


def limit_threads(n_threads: int | None) -> contextlib.AbstractContextManager[Any]:
    """Cap the thread pools of every tool (numpy/scipy BLAS, OpenMP, torch) at ``n_threads``.

    Parameters
    ----------
    n_threads : int or None
        None leaves every library at its default.

    Returns
    -------
    context manager
        Restores the BLAS/OpenMP limits on exit (torch keeps its setting: the process ends).
    """
    if n_threads is None:
        return contextlib.nullcontext()
    # threadpoolctl only reaches libraries already loaded: load every BLAS/OpenMP first
    import scipy.linalg  # noqa: F401  (scipy's own OpenBLAS)
    import sklearn.cluster  # noqa: F401  (scikit-learn's OpenMP runtime)
    from threadpoolctl import threadpool_limits

    try:
        import torch

        torch.set_num_threads(n_threads)
    except ImportError:
        pass
    return threadpool_limits(limits=n_threads)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected benchmarks; return the process exit status."""
    args = parse_args(argv)
    names = args.only or list(BENCHMARKS)
    t0 = time.perf_counter()
    with limit_threads(args.threads):
        for name in names:
            module = importlib.import_module(BENCHMARKS[name])
            log(f"[run] benchmark {name!r}{' (quick)' if args.quick else ''}")
            result = module.run(quick=args.quick)
            stem = f"{result.name}-quick" if args.quick else result.name
            json_path, md_path = args.out / f"{stem}.json", args.out / f"{stem}.md"
            write_json(json_path, result.data)
            write_text(md_path, result.markdown)
            print(result.markdown, flush=True)
            log(f"[run] wrote {json_path} and {md_path}")
    log(f"[run] done in {(time.perf_counter() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())

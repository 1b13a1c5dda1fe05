"""Shared helpers of the benchmarks: timing, machine description, JSON and markdown output."""

from __future__ import annotations

import gc
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "RESULTS_DIR",
    "BenchResult",
    "Timed",
    "fmt_float",
    "git_state",
    "log",
    "machine_info",
    "markdown_table",
    "package_versions",
    "timed",
    "write_json",
    "write_text",
]

#: Where ``run.py`` writes ``<name>.json`` and ``<name>.md``.
RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: Distributions whose versions every result file records.
PACKAGES = (
    "kmix",
    "numpy",
    "scipy",
    "scikit-learn",
    "stepmix",
    "pomegranate",
    "torch",
    "threadpoolctl",
    "pandas",
)

T = TypeVar("T")


@dataclass
class BenchResult:
    """What a benchmark module hands back to ``run.py``.

    Attributes
    ----------
    name : str
        File stem of the outputs (``results/<name>.json`` and ``.md``).
    data : dict
        Everything measured, written as JSON.
    markdown : str
        Human-readable report (tables and PASS/FAIL lines).
    """

    name: str
    data: dict[str, Any]
    markdown: str


@dataclass
class Timed:
    """Value returned by a timed call, its wall time and the warnings it raised.

    Attributes
    ----------
    value : object
        Return value of the call.
    seconds : float
        Wall-clock time (``time.perf_counter``).
    warnings : list of str
        Distinct ``Category: message`` strings of the warnings raised during the call.
    """

    value: Any
    seconds: float
    warnings: list[str] = field(default_factory=list)


def timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> Timed:
    """Call ``fn(*args, **kwargs)`` once and measure its wall time.

    A garbage collection runs first (outside the timed region) so that one
    run's garbage is not collected on the next run's clock. Warnings are
    recorded instead of printed.

    Parameters
    ----------
    fn : callable
    *args, **kwargs
        Passed to ``fn``.

    Returns
    -------
    Timed
    """
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        value = fn(*args, **kwargs)
        seconds = time.perf_counter() - start
    seen: list[str] = []
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0][:160]}"
        if text not in seen:
            seen.append(text)
    return Timed(value, seconds, seen)


def n_workers() -> int:
    """One worker per usable core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def log(message: str) -> None:
    """Progress line on stderr (stdout carries the final table)."""
    print(message, file=sys.stderr, flush=True)


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (None when it is not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def git_state(path: Path | None = None) -> dict[str, Any]:
    """Commit of the repository holding the benchmarks and whether ``src/`` has local edits.

    Read-only (``git rev-parse`` and ``git status``); every field is None outside a git
    checkout or without git.
    """
    root = path or Path(__file__).resolve().parent.parent
    out: dict[str, Any] = {"commit": None, "src_modified": None}
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return out
    out["commit"] = commit
    out["src_modified"] = bool(status.strip())
    return out


def machine_info() -> dict[str, Any]:
    """CPU, memory, Python, package versions and BLAS/OpenMP thread pools.

    Returns
    -------
    dict
        JSON-serialisable description of the machine the numbers come from.
    """
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": _memory_gib(),
        "versions": package_versions(),
        "kmix_git": git_state(),
        "env_threads": {
            key: os.environ[key]
            for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            if key in os.environ
        },
    }
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = threadpool_info()
    except ImportError:
        info["threadpools"] = None
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch_threads"] = None
    return info


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def write_text(path: Path, text: str) -> None:
    """Write ``text`` through a temporary file, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON (numpy values converted, NaN/inf as null)."""
    write_text(path, json.dumps(_jsonable(data), indent=2, allow_nan=False) + "\n")


def fmt_float(value: float | None, digits: int = 3, *, signed: bool = False) -> str:
    """Fixed-point text of ``value`` with thousands separators; ``-`` for None/NaN."""
    if value is None or not np.isfinite(value):
        return "-"
    sign = "+" if signed else ""
    return f"{value:{sign},.{digits}f}"


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None
) -> str:
    """A GitHub-flavoured markdown table.

    Parameters
    ----------
    headers : sequence of str
    rows : sequence of sequences of str
        Cells, already formatted.
    align : str, optional
        One character per column: ``l`` (left) or ``r`` (right); default all left.

    Returns
    -------
    str
        The table, one line per row, without a trailing newline.
    """
    align = align or "l" * len(headers)
    if len(align) != len(headers):
        raise ValueError(f"align has {len(align)} characters for {len(headers)} columns")
    widths = [len(h) for h in headers]
    for row in rows:
        for j, cell in enumerate(row):
            widths[j] = max(widths[j], len(cell))

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(w) if a == "r" else c.ljust(w)
            for c, w, a in zip(cells, widths, align, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = [
        ("-" * (w - 1) + ":") if a == "r" else "-" * w for w, a in zip(widths, align, strict=True)
    ]
    return "\n".join(
        [line(headers), "|" + "|".join(f" {r} " for r in rule) + "|"] + [line(r) for r in rows]
    )

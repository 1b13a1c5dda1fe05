"""Plain-text output of the command line: aligned tables and a progress line."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "COEFFICIENT_HEADER",
    "ProgressLine",
    "coefficient_rows",
    "format_pairs",
    "format_table",
    "level_name",
    "likelihood_rows",
    "parameter_rows",
    "section",
]


def format_table(
    header: Sequence[str] | None, rows: Sequence[Sequence[Any]], *, indent: int = 2
) -> str:
    """Rows of cells as an aligned text table.

    The first column is left-aligned (labels), the others right-aligned
    (numbers). Cells are converted with ``str``; ``header=None`` prints the
    rows alone.

    Examples
    --------
    >>> print(format_table(["", "P(F1)"], [["EM estimate", "0.5960"], ["truth", "0.6000"]]))
                    P(F1)
      EM estimate  0.5960
      truth        0.6000
    """
    table = [[str(c) for c in row] for row in rows]
    if header is not None:
        table.insert(0, [str(c) for c in header])
    if not table:
        return ""
    widths = [max(len(r[j]) for r in table) for j in range(len(table[0]))]
    pad = " " * indent
    lines = []
    for r in table:
        cells = [
            r[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)),
        ]
        lines.append((pad + "  ".join(cells)).rstrip())
    return "\n".join(lines)


def format_pairs(pairs: Sequence[Sequence[str]], *, indent: int = 2) -> str:
    """``label  value`` lines with the labels padded to one width.

    Examples
    --------
    >>> print(format_pairs([("BIC", "1.0"), ("converged", "yes")]))
      BIC        1.0
      converged  yes
    """
    width = max(len(label) for label, _ in pairs)
    return "\n".join(f"{' ' * indent}{label.ljust(width)}  {value}" for label, value in pairs)


def likelihood_rows(model: Any) -> list[list[str]]:
    """Log-likelihood, BIC, AIC, free parameters and convergence of a fitted model, from its
    ``log_likelihood_``, ``n_samples_`` and ``n_parameters()`` (no pass over the rows)."""
    ll, p, n = float(model.log_likelihood_), model.n_parameters(), float(model.n_samples_)
    return [
        ["log-likelihood", f"{ll:.4f}"],
        ["BIC", f"{-2.0 * ll + p * math.log(n):.4f}"],
        ["AIC", f"{-2.0 * ll + 2.0 * p:.4f}"],
        ["free parameters", str(p)],
        ["converged", "yes" if model.converged_ else "no (raise --max-iter)"],
    ]


def coefficient_rows(model: Any) -> list[list[str]]:
    """One row per (class, term) of a fit with covariates: coefficient, SE, z and p."""
    table = model.covariate_table()
    rows = []
    for c, t, b, e, z, p in zip(
        table["class"], table["term"], table["coefficient"], table["std_error"], table["z"],
        table["p_value"], strict=True,
    ):  # fmt: skip
        p_text = f"{p:.3g}" if p >= 1e-300 else "<1e-300"
        rows.append([f"class {c}", str(t), f"{b:.5f}", f"{e:.5f}", f"{z:.3f}", p_text])
    return rows


#: The header of :func:`coefficient_rows`
COEFFICIENT_HEADER = ["", "term", "coefficient", "std. error", "z", "p"]


def section(title: str) -> str:
    """A section heading underlined to its width."""
    return f"{title}\n{'=' * len(title)}"


def level_name(level: Any) -> str:
    """A category label for display: integral floats without ``.0``."""
    if isinstance(level, (float, np.floating)) and float(level).is_integer():
        return str(int(level))
    return str(level)


def parameter_rows(
    params: Any,
    columns: Sequence[str],
    categories: Sequence[NDArray[Any]] | None = None,
    *,
    digits: int = 4,
) -> list[list[str]]:
    """One row per parameter, one column per component, labelled by feature.

    Handles every family through :meth:`~kmix.params.ComponentParams.to_dict`:
    ``p[col]`` (bernoulli, binomial), ``rate[col]`` (poisson),
    ``P(col=level)`` (categorical), ``mean[col]`` and ``var[col]`` (gaussian;
    the variances are the covariance diagonal).
    """
    data = params.to_dict()
    f = f"{{:.{digits}f}}"
    rows: list[list[str]] = []

    def add(label: str, values: NDArray[np.float64]) -> None:
        rows.append([label, *(f.format(v) for v in values.tolist())])

    if "probs" in data:
        for j, block in enumerate(data["probs"]):
            arr = np.asarray(block, dtype=np.float64)
            levels = categories[j] if categories is not None else range(arr.shape[1])
            for v, level in enumerate(levels):
                add(f"P({columns[j]}={level_name(level)})", arr[:, v])
        return rows
    if "means" in data:
        means = np.asarray(data["means"], dtype=np.float64)
        cov = np.asarray(data["covariances"], dtype=np.float64)
        var = np.diagonal(cov, axis1=1, axis2=2) if cov.ndim == 3 else cov
        for j, name in enumerate(columns):
            add(f"mean[{name}]", means[:, j])
        for j, name in enumerate(columns):
            add(f"var[{name}]", var[:, j])
        return rows
    key = "p" if "p" in data else "rate"
    arr = np.asarray(data[key], dtype=np.float64)
    for j, name in enumerate(columns):
        add(f"{key}[{name}]", arr[:, j])
    return rows


class ProgressLine:
    """EM progress on a text stream, usable as a ``FiniteMixture`` callback.

    On a terminal the line is redrawn in place (at most ten times a second);
    on a pipe or file one line is written per finished restart, so logs stay
    short. Call :meth:`close` after fitting.

    Parameters
    ----------
    stream : text stream
        Usually ``sys.stderr``.
    n_init : int
        Number of restarts, for the bar.
    enabled : bool
        ``False`` makes every call a no-op (``--quiet``).
    """

    def __init__(self, stream: TextIO, n_init: int, *, enabled: bool = True) -> None:
        self.stream = stream
        self.n_init = max(int(n_init), 1)
        self.enabled = enabled
        self.live = enabled and bool(getattr(stream, "isatty", lambda: False)())
        self._last: tuple[int, int, float, float] | None = None
        self._drawn = 0.0

    def _text(self, restart: int, iteration: int, value: float, change: float) -> str:
        width = 20
        filled = round(width * (restart + 1) / self.n_init)
        bar = "#" * filled + "-" * (width - filled)
        return (
            f"EM restart {restart + 1}/{self.n_init} [{bar}] iteration {iteration:4d}  "
            f"log-likelihood {value:.6f}  change {change:.2e}"
        )

    def __call__(self, progress: Any) -> None:
        """Record one E-step (an ``EMProgress``: the estimator's ``callback`` argument)."""
        if not self.enabled:
            return
        restart, iteration = int(progress.restart), int(progress.iteration)
        log_likelihood = float(progress.objective)
        previous = self._last
        if previous is not None and previous[0] != restart and not self.live:
            self.stream.write(self._text(*previous) + "\n")
        change = (
            log_likelihood - previous[2]
            if previous is not None and previous[0] == restart
            else float("nan")
        )
        self._last = (restart, iteration, log_likelihood, change)
        now = time.monotonic()
        if self.live and now - self._drawn >= 0.1:
            self.stream.write("\r" + self._text(*self._last))
            self.stream.flush()
            self._drawn = now

    def close(self) -> None:
        """Write the final state and end the line."""
        if not self.enabled or self._last is None:
            return
        prefix = "\r" if self.live else ""
        self.stream.write(prefix + self._text(*self._last) + "\n")
        self.stream.flush()
        self._last = None

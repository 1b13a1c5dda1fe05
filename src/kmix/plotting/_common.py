"""What every figure shares: the lazy matplotlib import, new axes, intervals, colours.

Figures are built as :class:`matplotlib.figure.Figure` objects directly, never
through ``pyplot``: no global figure registry, no backend chosen at import, and
a figure that is not kept is freed. ``fig.savefig(path)`` writes PNG, SVG or
PDF; in Jupyter a returned figure displays itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

from ..exceptions import DataError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "class_colour",
    "class_label",
    "describe",
    "new_axes",
    "normal_interval",
    "percentile_interval",
    "require_matplotlib",
    "twin_legend",
]

FloatArray = NDArray[np.float64]

#: Colour-blind-safe palette (Okabe & Ito, "Color universal design", 2008), one per class.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)
#: Colour of the naive (confounded) estimate and of the latent node.
GREY = "#7f7f7f"


def require_matplotlib() -> Any:
    """Import matplotlib, or raise an ImportError that names the extra to install."""
    try:
        return importlib.import_module("matplotlib")
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "kmix.plotting needs matplotlib: pip install 'kmix[plot]' (or pip install matplotlib)"
        ) from exc


def new_axes(ax: Axes | None, *, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """``(figure, axes)``: the given axes and their figure, or a new ``figsize`` figure."""
    require_matplotlib()
    if ax is not None:
        return ax.get_figure(root=True), ax  # type: ignore[return-value]
    figure = importlib.import_module("matplotlib.figure")
    fig = figure.Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def describe(obj: Any, wanted: str) -> str:
    """An argument's type for an error message; "an unfitted ``wanted`` (call fit first)" when
    it is the estimator wanted but not fitted (scikit-learn's convention: fitting sets the
    attributes whose names end in an underscore)."""
    name = type(obj).__name__
    fitted = any(v.endswith("_") and not v.startswith("_") for v in getattr(obj, "__dict__", {}))
    return f"an unfitted {name} (call fit first)" if name == wanted and not fitted else name


def twin_legend(ax: Axes, twin: Axes, **style: Any) -> None:
    """One legend on ``ax`` for the artists of ``ax`` and of its twin axes (``ax.twinx()``)."""
    handles, labels = ax.get_legend_handles_labels()
    more_handles, more_labels = twin.get_legend_handles_labels()
    ax.legend(
        handles + more_handles, labels + more_labels, fontsize="small", frameon=False, **style
    )


def class_colour(u: int) -> str:
    """The palette's colour of class (source) ``u``."""
    return PALETTE[u % len(PALETTE)]


def class_label(u: int, weight: float, *, noun: str = "class") -> str:
    """Legend text of class ``u`` (counted from 1, as in the printed tables) and its share."""
    return f"{noun} {u + 1} ({100.0 * weight:.1f}%)"


def _level(level: float) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise DataError(f"level must lie strictly between 0 and 1 (e.g. 0.95); got {level!r}")
    return level


def normal_interval(
    estimate: FloatArray, std_error: FloatArray, level: float
) -> tuple[FloatArray, FloatArray]:
    """Wald interval ``estimate -/+ z_{(1+level)/2} * std_error``."""
    z = float(norm.ppf(0.5 + _level(level) / 2.0))
    est, se = np.asarray(estimate, dtype=np.float64), np.asarray(std_error, dtype=np.float64)
    return est - z * se, est + z * se


def percentile_interval(draws: FloatArray, level: float) -> tuple[FloatArray, FloatArray]:
    """Percentile bootstrap interval over the first axis of ``draws`` (Efron & Tibshirani,
    *An Introduction to the Bootstrap*, 1993, ch. 13)."""
    a = (1.0 - _level(level)) / 2.0
    arr = np.asarray(draws, dtype=np.float64)
    return np.quantile(arr, a, axis=0), np.quantile(arr, 1.0 - a, axis=0)

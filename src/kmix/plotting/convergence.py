"""Convergence: the log-likelihood after every EM iteration of the start kept."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import DataError
from ._common import PALETTE, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["convergence"]


def convergence(model: Any, *, gap: bool = True, ax: Axes | None = None) -> Figure:
    """Log-likelihood per EM iteration (``log_likelihood_history_``) of a fitted model.

    EM never lowers the likelihood (Dempster, Laird & Rubin, "Maximum likelihood
    from incomplete data via the EM algorithm", JRSS B 39, 1977), so the curve
    rises and flattens; a long flat stretch before the end is slow convergence
    (near-duplicate classes, probabilities at the boundary).

    Parameters
    ----------
    model : FiniteMixture, CoinMixture, ProductMixture or BayesNetMixture
        Fitted.
    gap : bool, default True
        Add a lower panel with the distance to the final value on a log
        scale, where the rate of convergence shows as a slope.
    ax : matplotlib Axes, optional
        Draw the curve into these axes (the gap panel is then left out).

    Returns
    -------
    matplotlib.figure.Figure
    """
    history = getattr(model, "log_likelihood_history_", None)
    if history is None:
        raise DataError(
            f"convergence needs a fitted model with log_likelihood_history_; "
            f"this {type(model).__name__} has none (fit it first)"
        )
    ticker = importlib.import_module("matplotlib.ticker")
    h = np.asarray(history, dtype=np.float64)
    if h.size == 0:
        raise DataError("the model has no likelihood to draw (it was fitted to moments alone)")
    steps = np.arange(h.size)
    diff = h[-1] - h[:-1]
    if ax is None and gap and np.count_nonzero(diff > 0) >= 2:
        fig, ax = new_axes(None, figsize=(5.5, 4.2))
        fig.clear()
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
        ax = top
    else:
        fig, ax = new_axes(ax, figsize=(5.5, 3.0))
        bottom = None
    # drawn relative to the final value: the climb shows, whatever the likelihood's magnitude
    ax.plot(steps, h - h[-1], "-o", color=PALETTE[0], ms=3, lw=1.4)
    ax.set_ylabel(f"log-likelihood - ({h[-1]:.6g})")
    # no offset (the label names the final value); scientific below 1e-3, where a plain
    # formatter would print every tick of a climb of 1e-10 nats as the same "0.000000"
    ax.ticklabel_format(axis="y", useOffset=False, style="sci", scilimits=(-3, 6))
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_title(f"EM convergence ({h.size - 1} step{'s' * (h.size != 2)}, final {h[-1]:.4f})")
    ax.grid(color="0.92")
    if bottom is not None:
        positive = diff > 0
        bottom.semilogy(steps[:-1][positive], diff[positive], "-", color=PALETTE[1], lw=1.2)
        bottom.set_ylabel("final - current")
        bottom.grid(color="0.92")
        bottom.set_xlabel("EM step")
    else:
        ax.set_xlabel("EM step")
    return fig

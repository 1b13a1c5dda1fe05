"""k-coin figures: the recovered coins over the head counts they explain."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import binom

from ..exceptions import DataError
from ._common import GREY, class_colour, new_axes, twin_legend

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["coin_atoms"]


def coin_atoms(
    model: Any,
    heads: ArrayLike | None = None,
    *,
    n_trials: int | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The recovered coins (bias, weight) over the histogram of head counts.

    The fitted mixture of binomials ``sum_u w_u Binomial(h; t, p_u)`` (Rabani,
    Schulman & Swamy, "Learning mixtures of arbitrary distributions over large
    discrete domains", ITCS 2014) is drawn over the observed share of trials
    with ``h`` heads, on the axis ``h / t``; each coin is a stem at its bias
    ``p_u`` whose height is its weight ``w_u`` (right-hand axis).

    Parameters
    ----------
    model : CoinMixture
        Fitted.
    heads : array-like of int, optional
        Head counts per trial, each out of ``n_trials`` flips (default: no histogram).
    n_trials : int, optional
        Flips per trial (default: the model's most common ``n_trials_``).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    biases = np.asarray(getattr(model, "biases_", None), dtype=np.float64)
    weights = np.asarray(getattr(model, "weights_", None), dtype=np.float64)
    if biases.ndim != 1:
        raise DataError("coin_atoms needs a fitted CoinMixture (call fit first)")
    t = int(model.n_trials_ if n_trials is None else n_trials)
    if t < 1:
        raise DataError(f"n_trials must be a positive number of flips; got {n_trials!r}")
    fig, ax = new_axes(ax, figsize=(6.0, 3.6))
    h = np.arange(t + 1)
    if heads is not None:
        obs = np.asarray(heads).reshape(-1)
        if obs.size == 0 or np.any(obs < 0) or np.any(obs > t) or np.any(obs != np.round(obs)):
            raise DataError(
                f"heads must be whole numbers between 0 and n_trials={t}; got values from "
                f"{obs.min() if obs.size else 'none'} to {obs.max() if obs.size else 'none'}"
            )
        share = np.bincount(obs.astype(np.int64), minlength=t + 1) / obs.size
        ax.bar(h / t, share, width=0.8 / t, color="0.8", label=f"observed ({obs.size} trials)")
    pmf = (weights[:, None] * binom.pmf(h[None, :], t, biases[:, None])).sum(axis=0)
    ax.plot(h / t, pmf, "-", color=GREY, lw=1.5, marker=".", label="fitted mixture")
    ax.set_xlabel(f"share of heads (of {t} flips) / coin bias")
    ax.set_ylabel("share of trials")
    right = ax.twinx()
    for u in range(biases.shape[0]):
        c = class_colour(u)
        right.vlines(biases[u], 0.0, weights[u], color=c, lw=2.5)
        right.plot(
            [biases[u]],
            [weights[u]],
            "o",
            color=c,
            ms=7,
            label=f"coin {u + 1}: p = {biases[u]:.3f}, w = {weights[u]:.3f}",
        )
    right.set_ylim(0.0, 1.05)
    right.set_ylabel("coin weight")
    ax.set_xlim(-0.03, 1.03)
    twin_legend(ax, right, loc="upper center")
    ax.set_title(f"{biases.shape[0]} coins recovered")
    return fig

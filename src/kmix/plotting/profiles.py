"""Class profiles: each class's probability of every response, side by side.

The figure latent class analysts read first (Goodman, "Exploratory latent
structure analysis using both identifiable and unidentifiable models",
Biometrika 61, 1974; poLCA draws it as 3-d bars): here a dot plot with one
line per class over the cells ``item = level``, so that classes that differ
show as lines that part, with percentile bootstrap intervals when replicates
are given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError
from ._common import (
    class_colour,
    class_label,
    new_axes,
    percentile_interval,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["class_profiles", "profile_tables"]

FloatArray = NDArray[np.float64]


def _names(model: Any, n: int) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    return [str(v) for v in names] if names is not None else [f"x{j}" for j in range(n)]


def profile_tables(
    model: Any,
) -> tuple[list[str], list[list[str]], list[FloatArray], FloatArray]:
    """``(items, levels, tables, weights)`` of a fitted model with discrete items.

    ``tables[j][u, v] = P(item j = levels[j][v] | class u)``: a
    ProductMixture's ``params_.probs``; a BayesNetMixture's per-source
    marginals ``P_u(X_j)`` (its interventional distribution with nothing
    set); a FiniteMixture's bernoulli or categorical components.
    """
    weights = np.asarray(getattr(model, "weights_", None), dtype=np.float64)
    if weights.ndim != 1:
        raise DataError("class_profiles needs a fitted model (call fit first)")
    probs = getattr(getattr(model, "params_", None), "probs", None)
    if hasattr(model, "cpds_"):  # BayesNetMixture: marginals per source
        items = list(model.columns_)
        tables = [np.asarray(model.interventional(v, {}, per_source=True)) for v in items]
        levels = [[str(x) for x in model.categories_[v].tolist()] for v in items]
        return items, levels, tables, weights
    if probs is not None and hasattr(model, "categories_"):
        tables = [np.asarray(p, dtype=np.float64) for p in probs]
        levels = [[str(x) for x in np.asarray(c).tolist()] for c in model.categories_]
        return _names(model, len(tables)), levels, tables, weights
    p = getattr(getattr(model, "params_", None), "p", None)
    if p is not None and getattr(model.params_, "family", "") == "bernoulli":
        p = np.asarray(p, dtype=np.float64)
        tables = [np.stack([1.0 - p[:, j], p[:, j]], axis=1) for j in range(p.shape[1])]
        return _names(model, p.shape[1]), [["0", "1"]] * p.shape[1], tables, weights
    raise DataError(
        f"class_profiles draws models of discrete items (ProductMixture, BayesNetMixture, "
        f"FiniteMixture with bernoulli or categorical components); got {type(model).__name__}"
        + (f" with {model.params_.family} components" if hasattr(model, "params_") else "")
    )


def _cells(levels: list[list[str]]) -> list[tuple[int, int]]:
    """The ``(item, level)`` cells shown: a binary item's second level only, else every level."""
    return [
        (j, v) for j, lev in enumerate(levels) for v in range(len(lev)) if len(lev) > 2 or v == 1
    ]


def class_profiles(
    model: Any,
    *,
    bootstrap: Any = None,
    level: float = 0.95,
    items: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Each class's probability of every response, one line per class.

    Parameters
    ----------
    model : ProductMixture, BayesNetMixture or FiniteMixture
        Fitted, with discrete items (see :func:`profile_tables`). Classes are
        drawn in the model's order (ProductMixture: largest share first), their
        shares in the legend.
    bootstrap : ProductBootstrap, optional
        ``model.bootstrap(X, n_boot)``: percentile intervals of every
        probability (classes aligned to the fit).
    level : float, default 0.95
        Of the intervals.
    items : sequence of str, optional
        The items to show, in this order (default: all).
    names : sequence of str, optional
        The items' names, one per column of the model (default: its
        ``feature_names_in_``, or ``x0, x1, ...``); ``items`` refers to them.
    ax : matplotlib Axes, optional
        Draw into these axes; default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        x: the cells ``item = level`` (a binary item shows its second level),
        y: ``P(cell | class)``; one line per class.
    """
    names_, levels, tables, weights = profile_tables(model)
    if names is not None:
        if len(names) != len(names_):
            raise DataError(f"names gives {len(names)} names for the model's {len(names_)} items")
        names_ = [str(v) for v in names]
    names = names_
    order = list(range(len(names)))
    if items is not None:
        unknown = [v for v in items if v not in names]
        if unknown:
            raise DataError(f"items {unknown} are not in the model; its items: {names}")
        order = [names.index(v) for v in items]
    levels = [levels[j] for j in order]
    tables = [tables[j] for j in order]
    names = [names[j] for j in order]
    lo = hi = None
    if bootstrap is not None:
        draws = [np.asarray(d, dtype=np.float64) for d in bootstrap.probs]
        bounds = [percentile_interval(draws[j], level) for j in order]
        lo, hi = [b[0] for b in bounds], [b[1] for b in bounds]
    cells = _cells(levels)
    k = weights.shape[0]
    noun = "source" if hasattr(model, "cpds_") else "class"
    fig, ax = new_axes(ax, figsize=(max(5.5, 0.55 * len(cells) + 3.5), 3.6))
    x = np.arange(len(cells), dtype=np.float64)
    offset = 0.12 * (np.arange(k) - (k - 1) / 2.0) if lo is not None else np.zeros(k)
    for u in range(k):
        y = np.array([tables[j][u, v] for j, v in cells])
        colour = class_colour(u)
        ax.plot(
            x + offset[u],
            y,
            "-o",
            color=colour,
            ms=4.5,
            lw=1.4,
            label=class_label(u, weights[u], noun=noun),
        )
        if lo is not None and hi is not None:
            low = np.array([lo[j][u, v] for j, v in cells])
            high = np.array([hi[j][u, v] for j, v in cells])
            err = np.vstack([np.clip(y - low, 0.0, None), np.clip(high - y, 0.0, None)])
            ax.errorbar(
                x + offset[u], y, yerr=err, fmt="none", ecolor=colour, elinewidth=1.0, capsize=2
            )
    for j in range(1, len(names)):  # a faint line between items
        first = next(i for i, (jj, _) in enumerate(cells) if jj == j)
        ax.axvline(first - 0.5, color="0.85", lw=0.8, zorder=0)
    ax.set_xticks(x, [f"{names[j]} = {levels[j][v]}" for j, v in cells], rotation=45, ha="right")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("P(response | class)")
    ax.set_title(
        f"{noun.capitalize()} profiles"
        + (f" ({100 * level:g}% bootstrap intervals)" if lo is not None else "")
    )
    ax.legend(
        title=f"{noun} (share)",
        fontsize="small",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
    )
    ax.grid(axis="y", color="0.92")
    return fig

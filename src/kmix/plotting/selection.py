"""Choosing k: the rank (or Hankel) evidence and BIC against the number of classes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import DataError
from ._common import PALETTE, new_axes, twin_legend

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["choose_k"]

#: Significance of a Hankel eigenvalue, in standard errors, when the selection does not say.
Z_SUPPORT = 3.0


def _column(rows: list[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.array([float(r.get(key, np.nan)) if r.get(key) is not None else np.nan for r in rows])


def choose_k(selection: Any, *, z_support: float = Z_SUPPORT, ax: Axes | None = None) -> Figure:
    """BIC (left axis) and the rank-test evidence (right axis) for each candidate ``k``.

    Parameters
    ----------
    selection : dict or KSelection
        :func:`kmix.select_k_classes`'s answer (rank-test p-values, log
        scale, with the test's level ``alpha`` as a line: the answer is the
        smallest ``k`` not rejected) or :func:`kmix.select_k_coins`'s (the
        Hankel matrices' smallest eigenvalue in standard errors, with
        ``z_support`` as a line). Vertical lines mark the ``k`` each
        criterion picks (Schwarz, "Estimating the dimension of a model",
        Annals of Statistics 6, 1978, for BIC).
    z_support : float, default 3.0
        The Hankel threshold drawn for a coin selection.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    coins = hasattr(selection, "hankel_k")
    if coins:
        rows, test_k, bic_k = selection.table, selection.hankel_k, selection.bic_k
    elif isinstance(selection, Mapping) and "table" in selection:
        rows, test_k, bic_k = selection["table"], selection.get("rank_k"), selection.get("bic_k")
    else:
        raise DataError(
            "choose_k draws the answer of kmix.select_k_classes (a dict with 'table') or "
            f"kmix.select_k_coins; got {type(selection).__name__}"
        )
    if not rows:
        raise DataError("the selection has no candidate k to draw")
    k = np.array([int(r["k"]) for r in rows])
    bic = _column(rows, "bic")
    fig, ax = new_axes(ax, figsize=(5.5, 4.4))
    fitted = np.isfinite(bic)
    ax.plot(k[fitted], bic[fitted], "-o", color=PALETTE[0], label="BIC (left)")
    ax.set_xlabel(f"number of {'coins' if coins else 'classes'} k")
    ax.set_ylabel("BIC")
    ax.set_xticks(k)
    right = ax.twinx()
    if coins:
        z = _column(rows, "hankel_z")
        right.plot(k, z, "-s", color=PALETTE[1], label="Hankel eigenvalue / SE (right)")
        right.axhline(z_support, color=PALETTE[1], ls=":", lw=1, label=f"z = {z_support:g}")
        right.set_ylabel("smallest Hankel eigenvalue (SE)")
        test_name = "Hankel"
    else:
        p = _column(rows, "rank_p_value")
        shown = np.isfinite(p)
        right.semilogy(
            k[shown],
            np.clip(p[shown], 1e-300, 1.0),
            "-s",
            color=PALETTE[1],
            label="rank test p-value (right)",
        )
        alpha = float(selection.get("alpha", 0.05))
        right.axhline(alpha, color=PALETTE[1], ls=":", lw=1, label=f"alpha = {alpha:g}")
        right.set_ylabel("p-value of rank <= k")
        test_name = "rank test"
    for value, name, colour in ((test_k, test_name, PALETTE[1]), (bic_k, "BIC", PALETTE[0])):
        if value is not None:
            ax.axvline(
                int(value),
                color=colour,
                ls="--",
                lw=1.2,
                alpha=0.8,
                label=f"{name}: k = {int(value)}",
            )
    twin_legend(ax, right, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    ax.set_title(f"Choosing the number of {'coins' if coins else 'classes'}")
    ax.grid(axis="x", color="0.92")
    return fig

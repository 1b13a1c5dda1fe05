"""Covariate effects on class membership and distal outcomes per class, with intervals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import DataError
from ._common import class_colour, new_axes, normal_interval

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["covariate_effects", "distal_outcome"]


def covariate_effects(
    model: Any, *, level: float = 0.95, intercept: bool = False, ax: Axes | None = None
) -> Figure:
    """Multinomial-logit coefficients of class membership on the covariates (a forest plot).

    Each class ``c >= 2`` against class 1: ``log P(c | z) / P(1 | z) = z' beta_c``
    (Dayton & Macready, "Concomitant-variable latent-class models", JASA 83,
    1988), one row per term, the Wald interval ``beta -/+ z * SE`` from the
    model's standard errors (``coef_se_``).

    Parameters
    ----------
    model : ProductMixture or FiniteMixture
        Fitted with ``covariates=``.
    level : float, default 0.95
    intercept : bool, default False
        Show the intercepts too (they are on another scale than the slopes).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    coef = getattr(model, "coef_", None)
    if coef is None:
        raise DataError(
            f"covariate_effects needs a model fitted with covariates=...; "
            f"this {type(model).__name__} has no coef_"
        )
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    se = np.atleast_2d(np.asarray(model.coef_se_, dtype=np.float64))
    terms = [str(t) for t in model.covariate_terms_]
    keep = [i for i, t in enumerate(terms) if intercept or t not in ("(Intercept)", "intercept")]
    if not keep:
        raise DataError("the model's logit has only an intercept; pass intercept=True to draw it")
    lo, hi = normal_interval(coef, se, level)
    n_cls = coef.shape[0]
    fig, ax = new_axes(ax, figsize=(6.0, 0.35 * len(keep) * n_cls + 1.8))
    step = 0.8 / max(n_cls, 1)
    base = np.arange(len(keep))[::-1].astype(np.float64)
    for c in range(n_cls):
        yc = base + 0.4 - step * (c + 0.5)
        colour = class_colour(c + 1)
        ax.hlines(yc, lo[c, keep], hi[c, keep], color=colour, lw=2.0)
        ax.plot(coef[c, keep], yc, "o", color=colour, label=f"class {c + 2} vs 1")
    ax.axvline(0.0, color="0.6", lw=0.8)
    ax.set_yticks(base, [terms[i] for i in keep])
    ax.set_xlabel("log-odds of membership (per unit of the term)")
    ax.set_title(f"Covariate effects on class membership ({100 * level:g}% Wald intervals)")
    ax.legend(fontsize="small", frameon=False)
    ax.grid(axis="x", color="0.92")
    return fig


def distal_outcome(result: Any, *, level: float = 0.95, ax: Axes | None = None) -> Figure:
    """A distal outcome per class (:func:`kmix.distal`), with Wald intervals.

    A continuous outcome shows each class's mean; a categorical one each
    level's share per class. The title gives the method (BCH, ML, modal or
    one-step; Bolck, Croon & Hagenaars 2004; Vermunt 2010) and the Wald test
    that every class has the same outcome.

    Parameters
    ----------
    result : DistalResult
    level : float, default 0.95
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not hasattr(result, "estimates") or not hasattr(result, "std_errors"):
        raise DataError(
            f"distal_outcome draws a DistalResult (kmix.distal); got {type(result).__name__}"
        )
    est = np.asarray(result.estimates, dtype=np.float64)
    se = np.asarray(result.std_errors, dtype=np.float64)
    est2 = est.reshape(est.shape[0], -1)
    se2 = se.reshape(se.shape[0], -1)
    lo, hi = normal_interval(est2, se2, level)
    k, q = est2.shape
    levels = [str(v) for v in result.levels] if result.levels is not None else ["mean"]
    fig, ax = new_axes(ax, figsize=(max(4.0, 1.1 * q * k / 2 + 2.5), 3.4))
    width = 0.8 / k
    x = np.arange(q, dtype=np.float64)
    for u in range(k):
        xu = x - 0.4 + width * (u + 0.5)
        colour = class_colour(u)
        ax.vlines(xu, lo[u], hi[u], color=colour, lw=2.0)
        ax.plot(xu, est2[u], "o", color=colour, label=f"class {u + 1}")
    ax.set_xticks(x, levels)
    ax.set_ylabel("mean" if result.levels is None else "share of the level")
    ax.set_title(
        f"Distal outcome by class ({result.method}; equal classes: chi2 = {result.chi2:.1f}, "
        f"df = {result.df}, p = {result.p_value:.2g})",
        fontsize="medium",
    )
    ax.legend(fontsize="small", frameon=False)
    ax.grid(axis="y", color="0.92")
    return fig

"""The causal effect beside the naive contrast, with intervals and per-source effects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import DataError
from ._common import GREY, PALETTE, class_colour, describe, new_axes, percentile_interval

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["effect_figure", "effect_rows"]


def effect_rows(
    model: Any,
    treatment: str,
    outcome: str,
    *,
    bootstrap: Any = None,
    treated: Any = None,
    control: Any = None,
    level: float = 0.95,
) -> list[dict[str, Any]]:
    """The rows an effect figure shows: ``label, estimate, lower, upper, kind``.

    ``kind`` is ``"naive"`` (``E[Y | T = t1] - E[Y | T = t0]`` in the data,
    confounded by the hidden source), ``"kmix"`` (the ATE under the mixture,
    Pearl's adjustment within each source summed over the sources) or
    ``"source"`` (each source's own ATE); ``lower``/``upper`` are percentile
    bootstrap bounds (NaN without ``bootstrap``).
    """
    if not hasattr(model, "cpds_"):
        what = describe(model, "BayesNetMixture")
        raise DataError(f"effect_figure needs a fitted BayesNetMixture; got {what}")
    kw = {"treated": treated, "control": control}
    ate = float(model.ate(treatment, outcome, **kw))
    per_source = np.asarray(model.ate(treatment, outcome, per_source=True, **kw), dtype=np.float64)
    nan = float("nan")
    lo, hi = np.full(per_source.shape[0] + 1, nan), np.full(per_source.shape[0] + 1, nan)
    if bootstrap is not None:
        draws = np.array(
            [
                [
                    model.ate(treatment, outcome, params=p, **kw),
                    *model.ate(treatment, outcome, per_source=True, params=p, **kw),
                ]
                for p in bootstrap.replicates
            ],
            dtype=np.float64,
        )
        lo, hi = percentile_interval(draws, level)
    rows = [
        {
            "label": "naive (confounded)",
            "estimate": float(model.naive_ate(treatment, outcome, **kw)),
            "lower": nan,
            "upper": nan,
            "kind": "naive",
        },
        {
            "label": "kmix (U adjusted)",
            "estimate": ate,
            "lower": float(lo[0]),
            "upper": float(hi[0]),
            "kind": "kmix",
        },
    ]
    weights = np.asarray(model.weights_, dtype=np.float64)
    for u, value in enumerate(per_source):
        rows.append(
            {
                "label": f"source {u + 1} ({100 * weights[u]:.0f}%)",
                "estimate": float(value),
                "lower": float(lo[u + 1]),
                "upper": float(hi[u + 1]),
                "kind": "source",
            }
        )
    return rows


def effect_figure(
    model: Any,
    treatment: str,
    outcome: str,
    *,
    bootstrap: Any = None,
    treated: Any = None,
    control: Any = None,
    level: float = 0.95,
    truth: float | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The average effect of ``treatment`` on ``outcome``: naive, kmix and per source.

    ``E[Y | do(T = treated)] - E[Y | do(T = control)]`` from the mixture of
    networks (Pearl, *Causality*, 2009, eq. 3.10 within each source, summed
    over the sources' shares), with its percentile bootstrap interval, beside
    the naive contrast of the data and each source's own effect.

    Parameters
    ----------
    model : BayesNetMixture
        Fitted.
    treatment, outcome : str
        Nodes of the model's DAG.
    bootstrap : BayesNetBootstrap, optional
        ``model.bootstrap(n_boot)``: intervals for the effect and each source's.
    treated, control : optional
        The treatment levels compared (default: a binary treatment's two levels).
    level : float, default 0.95
    truth : float, optional
        A known true effect (simulations), drawn as a line.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        One row per estimate (top: naive), a dot with its interval.
    """
    rows = effect_rows(
        model,
        treatment,
        outcome,
        bootstrap=bootstrap,
        treated=treated,
        control=control,
        level=level,
    )
    fig, ax = new_axes(ax, figsize=(6.0, 0.45 * len(rows) + 1.6))
    y = np.arange(len(rows))[::-1].astype(np.float64)
    for i, (yi, row) in enumerate(zip(y, rows, strict=True)):
        kind = row["kind"]
        colour = {"naive": GREY, "kmix": "black"}.get(kind) or class_colour(i - 2)
        marker = "D" if kind == "kmix" else "s" if kind == "naive" else "o"
        if np.isfinite(row["lower"]):
            ax.hlines(yi, row["lower"], row["upper"], color=colour, lw=2.0)
        ax.plot([row["estimate"]], [yi], marker, color=colour, ms=8 if kind == "kmix" else 6)
        ax.annotate(
            f"{row['estimate']:+.3f}",
            (row["estimate"], yi),
            xytext=(0, 7),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    ax.axvline(0.0, color="0.6", lw=0.8)
    ax.margins(x=0.12)
    if truth is not None:
        ax.axvline(float(truth), color=PALETTE[2], ls="--", lw=1.2, label=f"truth {truth:+.3f}")
        ax.legend(fontsize="small", frameon=False, loc="lower right")
    ax.set_yticks(y, [r["label"] for r in rows])
    ax.set_ylim(y.min() - 0.7, y.max() + 0.7)
    arms = model.treatment_levels(treatment, treated, control)
    ax.set_xlabel(
        f"E[{outcome} | do({treatment}={arms[1]})] - E[{outcome} | do({treatment}={arms[0]})]"
    )
    interval = f", {100 * level:g}% bootstrap intervals" if bootstrap is not None else ""
    ax.set_title(f"Effect of {treatment} on {outcome}{interval}")
    ax.grid(axis="x", color="0.92")
    return fig

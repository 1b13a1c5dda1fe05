"""Graphs: a DAG with the hidden population drawn as a latent node, and a learned class.

Nodes are placed in layers by longest path from the roots (the layering of
Sugiyama, Tagawa & Toda, "Methods for visual understanding of hierarchical
system structures", IEEE SMC 11, 1981), ordered within a layer by their
parents' mean position; ``U`` sits above every layer with a dashed arrow to
each node it confounds. No graph library is needed.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..exceptions import DataError, IdentifiabilityError
from ..params import DAG
from ._common import GREY, PALETTE, describe, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["dag_figure", "discovered_graph", "layered_layout"]

#: Radius of a node's circle, in data units (layers are one unit apart).
RADIUS = 0.22


def layered_layout(
    nodes: Sequence[str], edges: Sequence[tuple[str, str]]
) -> dict[str, tuple[float, float]]:
    """``node -> (x, y)``: layer ``y = -depth`` (longest path from a root), spread along x."""
    parents: dict[str, list[str]] = {v: [] for v in nodes}
    for a, b in edges:
        parents[b].append(a)
    depth: dict[str, int] = {}
    for _ in range(len(nodes) + 1):
        changed = False
        for v in nodes:
            d = 1 + max((depth.get(p, 0) for p in parents[v]), default=-1)
            if depth.get(v) != d:
                depth[v], changed = d, True
        if not changed:
            break
    else:
        raise DataError("the edges hold a directed cycle; a DAG is needed to lay it out")
    pos: dict[str, tuple[float, float]] = {}
    for layer in range(max(depth.values(), default=-1) + 1):
        members = [v for v in nodes if depth[v] == layer]
        members.sort(
            key=lambda v: (
                sum(pos[p][0] for p in parents[v]) / len(parents[v]) if parents[v] else 0.0,
                nodes.index(v),
            )
        )
        width = len(members) - 1
        for i, v in enumerate(members):
            pos[v] = (1.3 * (i - width / 2.0), -float(layer))
    return pos


def _arrow(ax: Axes, a: tuple[float, float], b: tuple[float, float], **style: Any) -> None:
    head = style.pop("head", "-|>")
    ax.annotate(
        "",
        xy=b,
        xytext=a,
        arrowprops={
            "arrowstyle": head,
            "shrinkA": 13,
            "shrinkB": 13,
            "mutation_scale": 12,
            **style,
        },
    )


def _draw(
    ax: Axes,
    nodes: Sequence[str],
    pos: Mapping[str, tuple[float, float]],
    *,
    latent: str | None,
) -> None:
    circle = importlib.import_module("matplotlib.patches").Circle
    for v in nodes:
        ax.add_patch(
            circle(pos[v], RADIUS, facecolor="white", edgecolor=PALETTE[0], lw=1.6, zorder=3)
        )
        ax.text(*pos[v], v, ha="center", va="center", fontsize=9, zorder=4)
    if latent is not None:
        top = max(y for _, y in pos.values()) + 1.1
        u = (0.0, top)
        ax.add_patch(circle(u, RADIUS, facecolor="0.93", edgecolor=GREY, lw=1.4, ls="--", zorder=3))
        ax.text(*u, latent, ha="center", va="center", fontsize=9, style="italic", zorder=4)
        for v in nodes:
            _arrow(ax, u, pos[v], color=GREY, lw=0.7, ls=(0, (3, 3)), alpha=0.6)
    xs = [x for x, _ in pos.values()] or [0.0]
    ys = [y for _, y in pos.values()] or [0.0]
    top = max(ys) + (1.1 if latent is not None else 0.0)
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.5, top + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")


def _size(pos: Mapping[str, tuple[float, float]]) -> tuple[float, float]:
    xs = [x for x, _ in pos.values()] or [0.0]
    ys = [y for _, y in pos.values()] or [0.0]
    return (max(3.5, 1.3 * (max(xs) - min(xs)) + 1.5), max(2.5, 1.2 * (max(ys) - min(ys)) + 2.2))


def dag_figure(
    dag: Any, *, latent: str | None = "U", title: str | None = None, ax: Axes | None = None
) -> Figure:
    """A DAG, with the hidden population ``U`` drawn as a latent node pointing at every node.

    Parameters
    ----------
    dag : kmix.params.DAG, BayesNetMixture or DiscoveryResult
        A fitted BayesNetMixture's ``dag_`` is drawn; a learned class draws
        one DAG of it (see :func:`discovered_graph` for the class itself).
    latent : str or None, default "U"
        Name of the latent node; None leaves it out.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if hasattr(dag, "dag_"):
        dag = dag.dag_
    elif hasattr(dag, "to_dag"):
        dag = dag.to_dag()
    if not isinstance(dag, DAG):
        raise DataError(
            "dag_figure draws a kmix DAG, a fitted BayesNetMixture or a DiscoveryResult; "
            f"got {describe(dag, 'BayesNetMixture')}"
        )
    edges = [(p, v) for v in dag.nodes for p in dag.parents[v]]
    pos = layered_layout(list(dag.nodes), edges)
    fig, ax = new_axes(ax, figsize=_size(pos))
    for a, b in edges:
        _arrow(ax, pos[a], pos[b], color="black", lw=1.3)
    _draw(ax, list(dag.nodes), pos, latent=latent)
    ax.set_title(
        title
        if title is not None
        else f"DAG ({len(edges)} edges)" + (f", {latent} hidden" if latent else "")
    )
    return fig


def _evidence_label(ev: Any) -> str:
    margin = getattr(ev, "score_margin", None)
    if margin is not None and math.isfinite(margin):
        return f"{margin:+.0f}"
    p = float(ev.max_p)
    return "" if math.isnan(p) else f"p≤{p:.0e}" if p < 1e-3 else f"p≤{p:.3f}"


def discovered_graph(result: Any, *, latent: str | None = "U", ax: Axes | None = None) -> Figure:
    """A learned equivalence class (:func:`kmix.causal.discover`) with each edge's evidence.

    Directed edges are arrows, edges the class leaves open are plain lines.
    Each edge is labelled with its evidence: with the score search the BIC
    margin in nats of keeping it (``score_margin``), else the largest p-value
    of its conclusive tests (``max_p``: how close it came to going). Edges
    joined because the data cannot exclude them (``decided_by`` "fit" or "not
    identified") are dashed; edges fixed by background knowledge are green.

    Parameters
    ----------
    result : DiscoveryResult
    latent : str or None, default "U"
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not hasattr(result, "evidence") or not hasattr(result, "undirected"):
        raise DataError(f"discovered_graph draws a DiscoveryResult; got {type(result).__name__}")
    nodes = list(result.nodes)
    try:
        layout_edges = [(p, v) for v in nodes for p in result.to_dag().parents[v]]
    except IdentifiabilityError:  # contradictory tests: no DAG of the class, drawn by its arrows
        layout_edges = list(result.directed)
    pos = layered_layout(nodes, layout_edges)
    fig, ax = new_axes(ax, figsize=_size(pos))
    shown = [(a, b, "->") for a, b in result.directed] + [
        (a, b, "--") for a, b in result.undirected
    ]
    for a, b, kind in shown:
        ev = result.evidence.get((a, b), result.evidence.get((b, a)))
        decided = getattr(ev, "decided_by", "")
        colour = PALETTE[2] if decided == "background" else "black"
        style = (0, (4, 2)) if decided in ("fit", "not identified") else "-"
        _arrow(
            ax, pos[a], pos[b], color=colour, lw=1.4, ls=style, head="-|>" if kind == "->" else "-"
        )
        if ev is not None and (label := _evidence_label(ev)):
            mid = ((pos[a][0] + pos[b][0]) / 2.0, (pos[a][1] + pos[b][1]) / 2.0)
            ax.text(
                *mid,
                label,
                fontsize=7,
                color="0.25",
                ha="center",
                va="center",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
            )
    _draw(ax, nodes, pos, latent=latent)
    ax.set_title(
        f"Learned class (k = {result.n_components}): {len(result.directed)} directed, "
        f"{len(result.undirected)} undirected"
    )
    return fig

"""Report sections of a mixture of Bayesian networks and of a learned equivalence class."""

from __future__ import annotations

import math
from typing import Any

from .. import plotting
from .html import Section
from .models import fit_section

__all__ = ["bayesnet_sections", "discovery_sections"]


def _reduction(model: Any) -> Section:
    section = Section("How the sources were recovered")
    red = getattr(model, "reduction_", None)
    if red is None:
        return section.text("No reduction to latent class runs (EM from random starts).")
    section.text(
        f"{len(red.runs)} latent class runs solved and aligned ({len(red.dropped)} left out); "
        f"{red.alignment_conflicts} alignment conflict(s); {len(red.uncovered)} CPT row(s) "
        "that no run covered (set uniform before EM)."
    )
    section.table(
        {"run": [r.describe() for r in red.runs]}, folded=f"The {len(red.runs)} runs (with ESS)"
    )
    support = red.cpt_support
    spread = red.spread
    worst: dict[str, float] = {}
    for key, value in spread.items():
        node = str(key[0])
        worst[node] = max(worst.get(node, 0.0), float(value))
    section.table(
        {
            "node": list(support),
            "runs supplying its CPT": [int(v) for v in support.values()],
            "largest spread between runs": [worst.get(v, float("nan")) for v in support],
        }
    )
    return section


def _identifiability(model: Any) -> Section:
    section = Section("Identifiability")
    if getattr(model, "identifiability_", None):
        section.text(str(model.identifiability_))
    cpt = getattr(model, "cpt_identifiability_", None) or {}
    if cpt:
        section.table({"node": list(cpt), "condition": [str(v) for v in cpt.values()]})
    return section


def bayesnet_sections(
    model: Any,
    *,
    bootstrap: Any = None,
    treatment: str | None = None,
    outcome: str | None = None,
    treated: Any = None,
    control: Any = None,
    latent: str = "U",
) -> list[Section]:
    """The DAG, the sources' profiles and CPTs, the reduction, and the effect when named."""
    graph = Section("The DAG")
    graph.figure(
        plotting.dag_figure(model, latent=latent),
        f"The network each source follows; {latent} (dashed) is the hidden source.",
    )
    sections = [fit_section(model), graph]
    if treatment is not None and outcome is not None:
        effect = Section(f"Effect of {treatment} on {outcome}")
        effect.figure(
            plotting.effect_figure(
                model, treatment, outcome, bootstrap=bootstrap, treated=treated, control=control
            ),
            "The naive contrast of the data (confounded by the hidden source), kmix's effect "
            "(adjusted within each source) and each source's own effect"
            + (", with 95% percentile bootstrap intervals." if bootstrap is not None else "."),
        )
        rows = plotting.effect_rows(
            model, treatment, outcome, bootstrap=bootstrap, treated=treated, control=control
        )
        effect.table(
            {
                "estimate": [r["label"] for r in rows],
                "value": [r["estimate"] for r in rows],
                "lower": [r["lower"] for r in rows],
                "upper": [r["upper"] for r in rows],
            }
        )
        if bootstrap is not None:
            effect.note(f"{len(bootstrap.replicates)} bootstrap replicates.")
        sections.append(effect)
    sources = Section("Sources")
    sources.figure(
        plotting.class_profiles(model),
        "Each source's marginal distribution of every node, P_u(node = level).",
    )
    for node in model.columns_:
        table = model.cpd_table(node)
        sources.table(
            {name: list(col) for name, col in table.items()}, folded=f"CPT of {node} per source"
        )
    sections += [sources, _identifiability(model), _reduction(model)]
    return sections


def _p(value: float) -> float:
    return float("nan") if value is None or math.isnan(value) else float(value)


def discovery_sections(result: Any) -> list[Section]:
    """A learned equivalence class: the graph with its evidence, and every pair's record."""
    found = Section("Learned graph")
    found.pairs(
        {
            "nodes": len(result.nodes),
            "hidden classes (k)": result.n_components,
            "method": result.method,
            "test level (alpha)": result.alpha,
            "tests run": result.n_tests,
            "directed edges": ", ".join(f"{a} -> {b}" for a, b in result.directed) or "none",
            "undirected edges": ", ".join(f"{a} -- {b}" for a, b in result.undirected) or "none",
            "BIC": result.bic,
            "goodness-of-fit p-value": result.fit_p_value,
        }
    )
    found.figure(
        plotting.discovered_graph(result),
        "Arrows: directed in every DAG of the class; lines: left open. Labels: the BIC margin "
        "(nats) of keeping the edge, or its largest p-value; dashed: joined because the data "
        "cannot exclude it.",
    )
    ev = list(result.evidence.values())
    found.table(
        {
            "pair": [f"{e.pair[0]} – {e.pair[1]}" for e in ev],
            "adjacent": [bool(e.adjacent) for e in ev],
            "orientation": [e.orientation or "" for e in ev],
            "rule": [e.rule or "" for e in ev],
            "decided by": [e.decided_by for e in ev],
            "largest p": [_p(e.max_p) for e in ev],
            "tests": [int(e.n_tests) for e in ev],
            "score margin": [
                float("nan") if e.score_margin is None else float(e.score_margin) for e in ev
            ],
        },
        folded=f"Evidence for every pair ({len(ev)})",
    )
    if result.conflicts:
        found.note(f"{len(result.conflicts)} orientation conflict(s): {result.conflicts}")
    return [found]

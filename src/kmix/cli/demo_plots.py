"""``kmix demo --plots DIR``: the demo's figures, drawn from the models its sections kept."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import plotting

__all__ = ["write_demo_figures"]

#: Resolution of the PNG files (the README shows two of them).
DPI = 110


def write_demo_figures(keep: dict[str, Any], directory: str | os.PathLike[str]) -> list[Path]:
    """Draw the figures of the sections that ran and write them as PNG files.

    ``coins.png`` (the four coins over the head counts), ``coins-k.png`` (the
    Hankel test and BIC against k), ``profiles.png`` (Stouffer & Toby's two
    classes), ``convergence.png`` (EM from a random start on the simulated 15 items), ``dag.png``
    (the hospitals' DAG with the hidden hospital) and ``effect.png`` (naive,
    kmix and per-hospital effects against the truth).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {}
    if "coins" in keep:
        c = keep["coins"]
        figures["coins.png"] = plotting.coin_atoms(c["model"], c["heads"][:20_000])
        figures["coins-k.png"] = plotting.choose_k(c["selection"])
    if "latent-classes" in keep:
        lc = keep["latent-classes"]
        figures["profiles.png"] = plotting.class_profiles(lc["survey"], names=lc["items"])
        figures["convergence.png"] = plotting.convergence(lc["random_em"])
    if "effects" in keep:
        e = keep["effects"]
        figures["dag.png"] = plotting.dag_figure(e["model"], title="Each hospital's DAG; U hidden")
        figures["effect.png"] = plotting.effect_figure(e["model"], "X", "Y", truth=e["truth"])
    written = []
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=DPI, metadata={"Software": None})
        written.append(out / name)
    return written

"""The levels the k-MixBND runs hold their conditioning nodes at.

One global default assignment makes the keys of different runs coincide, so
their labels can be aligned; a frequent pattern keeps the runs' effective
sample sizes large, and a pattern re-centred on the rarer sources keeps
every source present in every run (Gordon, Mazaheri, Rabani & Schulman
2023 leave the choice open; these are kmix's rules).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from ...components.base import safe_log
from ...params import DAG, BayesNetMixtureParams
from .inference import source_joint
from .runs import RunDesign

__all__ = ["balanced_defaults", "default_assignment"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def default_assignment(
    dag: DAG, codes: IntArray, counts: FloatArray, levels: Sequence[int]
) -> dict[str, int]:
    """A frequent pattern to hold conditioning nodes at: modal levels given the parents'.

    In topological order, ``d_X = argmax_x count(X = x, PA(X) = d_PA(X))``
    (the marginal mode when no row matches the parents' defaults). Holding
    ``COND`` at this pattern keeps ``N P(COND = c)`` large, and one global
    pattern makes the keys of different runs coincide. Rows missing ``X``
    (a negative code) do not count for it.
    """
    col = {v: j for j, v in enumerate(dag.nodes)}
    out: dict[str, int] = {}
    for v in dag.nodes:
        pa = dag.parents[v]
        seen = codes[:, col[v]] >= 0
        mask = seen.copy()
        for p in pa:
            mask &= codes[:, col[p]] == out[p]
        d = int(levels[col[v]])
        tally = np.bincount(codes[mask, col[v]], weights=counts[mask], minlength=d)
        if tally.sum() <= 0:
            tally = np.bincount(codes[seen, col[v]], weights=counts[seen], minlength=d)
        out[v] = int(np.argmax(tally))
    return out


def balanced_defaults(
    designs: Sequence[RunDesign],
    params: BayesNetMixtureParams,
    start: Mapping[str, int],
    *,
    n_sweeps: int = 3,
) -> dict[str, int]:
    """Defaults that keep every source present in every run, from a pilot fit.

    The pattern that maximises ``N P(COND = c)`` is the one most typical of
    the largest source, so a run held there sees the others barely (its
    ``P(u | c)`` is skewed and the minority parameters are noisy). Coordinate
    ascent from ``start`` on the held levels maximises

    .. math:: \\sum_{\\text{runs}} \\log \\min_u \\hat\\pi_u \\hat P_u(COND = c),

    the smallest source's share of each run, under the pilot parameters
    ``params`` (exact ``P_u(COND)`` by variable elimination).
    """
    k = params.n_components
    tables: list[tuple[RunDesign, FloatArray]] = []
    for design in designs:
        if design.cond and len(design.varying) < len(design.cond):
            joint = source_joint(params, design.cond, {}, None)
            joint = joint / joint.sum(axis=tuple(range(1, joint.ndim)), keepdims=True)
            w = params.weights.reshape((k,) + (1,) * len(design.cond))
            tables.append((design, safe_log(joint * w)))

    def score(d: Mapping[str, int]) -> float:
        total = 0.0
        for design, logt in tables:
            idx = [slice(None) if x in design.varying else d[x] for x in design.cond]
            total += float(logt[(slice(None), *idx)].min(axis=0).sum())
        return total

    out = dict(start)
    held = [
        v for v in params.dag.nodes if any(v in t[0].cond and v not in t[0].varying for t in tables)
    ]
    best = score(out)
    for _ in range(n_sweeps):
        moved = False
        for v in held:
            for level in range(params.n_levels[params.dag.nodes.index(v)]):
                trial = {**out, v: level}
                value = score(trial)
                if value > best + 1e-12:
                    out, best, moved = trial, value, True
        if not moved:
            break
    return out

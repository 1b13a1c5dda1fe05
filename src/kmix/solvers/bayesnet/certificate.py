"""Generic local identifiability of a mixture of Bayesian networks on a known DAG.

The reduction to latent class runs (:mod:`kmix.solvers.bayesnet.reduction`)
identifies the mixture when every node has a run of enough members
independent given ``U``: a sufficient condition (Gordon, Mazaheri, Rabani &
Schulman, "Causal inference despite limited global confounding via mixture
models", CLeaR 2023). Where no such run exists (a hub, a dense corner) the
mixture may still be identified by its whole distribution. This module
checks that numerically, as :mod:`kmix.solvers.identification` explains:
the free parameters ``theta`` (``k - 1`` weights, and ``d_V - 1`` entries of
every CPT row of every source) map to observable tables, and full column
rank of the Jacobian at a random point proves generic local
identifiability (Rothenberg, "Identification in parametric models",
Econometrica 39, 1971), while a deficiency at every one of a few random
points is structural.

The observables are the tables of *ancestral* sets ``A`` (every parent of a
member is a member). Their margins need no summation:

.. math::
   P(x_A) = \\sum_u \\pi_u \\prod_{V \\in A} P_u(x_V \\mid x_{pa(V)}),

so the Jacobian is analytic. With ``f_u(x) = prod_V P_u(x_V | x_pa(V))``,
the free weight ``pi_u`` (the last is one minus the others) and the free CPT
entry ``theta = P_u(V = l | pa = c)`` (``l < d_V - 1``; the last level is one
minus the others) give

.. math::
   \\frac{\\partial P(x_A)}{\\partial \\pi_u} = f_u(x) - f_{k-1}(x), \\qquad
   \\frac{\\partial P(x_A)}{\\partial \\theta}
   = \\frac{\\pi_u f_u(x)}{P_u(x_V \\mid c)} [x_{pa(V)} = c]
     ([x_V = l] - [x_V = d_V - 1]).

The joint table is used when it has at most :data:`MAX_CELLS` cells;
otherwise, for each node, the ancestral closure of the node with its Markov
boundary (or of the node alone, when that is too large), grown by the nodes
nearest to it (with their ancestors) while the table stays within the cap.
Margins are functions of the joint, so full rank on them proves full rank on
the joint; a deficiency on margins proves nothing (the answer is then
"unknown" unless the joint was used).
The tables are folded one at a time into the triangular factor of a QR
decomposition, so memory stays at a table and a square of the parameters.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ...params.dag import DAG
from ..identification import LocalIdentifiability, local_identifiability

__all__ = ["MAX_CELLS", "MAX_PARAMETERS", "BayesNetIdentification", "identify_bayesnet"]

FloatArray = NDArray[np.float64]
#: Cells of one observable table at most
MAX_CELLS = 8192
#: Free parameters at most (a table's Jacobian is its cells times these: at most 130 MB)
MAX_PARAMETERS = 2000


@dataclass(frozen=True)
class BayesNetIdentification:
    """What the Jacobian rank says about a mixture of networks on a DAG.

    Attributes
    ----------
    kind : {"locally identified", "not identified", "unknown"}
    check : LocalIdentifiability or None
        The rank evidence (None when the check could not run).
    tables : list of tuple of str
        The ancestral node sets whose tables were the observables.
    reason : str
        One sentence for messages.
    """

    kind: str
    check: LocalIdentifiability | None
    tables: list[tuple[str, ...]]
    reason: str

    @property
    def identified(self) -> bool:
        return self.kind == "locally identified"


@dataclass(frozen=True)
class _Layout:
    """``P_u(V = l | pa = c)`` is column ``start[V] + u stride + c (d_V - 1) + l``."""

    start: list[int]
    stride: int
    n_columns: int


def _layout(dag: DAG, levels: Sequence[int], k: int) -> _Layout:
    d = dict(zip(dag.nodes, levels, strict=True))
    configs = [int(np.prod([d[p] for p in dag.parents[v]], dtype=np.int64)) for v in dag.nodes]
    per_source = [c * (d[v] - 1) for c, v in zip(configs, dag.nodes, strict=True)]
    start = [int(t) + (k - 1) for t in np.cumsum([0, *per_source[:-1]])]
    return _Layout(start, int(sum(per_source)), (k - 1) + k * int(sum(per_source)))


def _by_distance(dag: DAG, v: str) -> list[str]:
    """The other nodes, nearest to ``v`` in the moral graph first (then unconnected ones)."""
    near = dag.moral_neighbours
    seen, frontier, out = {v}, [v], []
    while frontier:
        nxt = [w for u in frontier for w in sorted(near[u]) if w not in seen]
        nxt = list(dict.fromkeys(nxt))
        seen.update(nxt)
        out += nxt
        frontier = nxt
    return out + [w for w in dag.nodes if w not in seen]


def _ancestral_tables(dag: DAG, levels: Sequence[int]) -> list[tuple[str, ...]] | None:
    """The node sets whose tables serve as observables (None: some node has none small enough)."""
    d = dict(zip(dag.nodes, levels, strict=True))

    def cells(s: frozenset[str]) -> int:
        return int(np.prod([d[v] for v in s], dtype=np.float64))

    everything = frozenset(dag.nodes)
    if cells(everything) <= MAX_CELLS:
        return [tuple(dag.nodes)]
    sets: list[frozenset[str]] = []
    for v in dag.nodes:
        wide = dag.ancestors(dag.markov_boundary(v) | {v}, inclusive=True)
        pick = wide if cells(wide) <= MAX_CELLS else dag.ancestors(v, inclusive=True)
        if cells(pick) > MAX_CELLS:
            return None
        # more nodes (with their ancestors) while the table stays small: a margin of
        # few variables cannot tell the sources apart, however many such margins
        for w in _by_distance(dag, v):
            grown = dag.ancestors(pick | {w}, inclusive=True)
            if cells(grown) <= MAX_CELLS:
                pick = grown
        sets.append(frozenset(pick))
    kept = [s for s in set(sets) if not any(s < t for t in sets)]
    order = {v: i for i, v in enumerate(dag.nodes)}
    return sorted((tuple(sorted(s, key=order.__getitem__)) for s in kept), key=len, reverse=True)


def _table_jacobian(
    dag: DAG,
    levels: Sequence[int],
    k: int,
    weights: FloatArray,
    cpts: list[FloatArray],
    members: tuple[str, ...],
    layout: _Layout,
) -> FloatArray:
    """``d P(x_A) / d theta`` of one ancestral table, rows in ``itertools.product`` order."""
    col = {v: j for j, v in enumerate(dag.nodes)}
    dims = [levels[col[v]] for v in members]
    x = np.array(list(itertools.product(*[range(t) for t in dims])), dtype=np.int64)
    at = {v: x[:, i] for i, v in enumerate(members)}
    m = x.shape[0]
    # every node's conditional at every cell, per source: (k, m)
    cond, config = {}, {}
    for v in members:
        j = col[v]
        pa = dag.parents[v]
        c = np.zeros(m, dtype=np.int64)
        for p in pa:
            c = c * levels[col[p]] + at[p]
        config[v] = c
        table = cpts[j].reshape(k, -1, levels[j])  # (k, configs, d)
        cond[v] = table[:, c, at[v]]
    f = np.prod(np.stack([cond[v] for v in members]), axis=0)  # (k, m)
    J = np.zeros((m, layout.n_columns))
    J[:, : k - 1] = (f[: k - 1] - f[k - 1]).T
    rows = np.arange(m)
    for v in members:
        j, d = col[v], levels[col[v]]
        if d < 2:
            continue
        last = at[v] == d - 1
        free = ~last
        for u in range(k):
            g = weights[u] * f[u] / cond[v][u]
            base = layout.start[j] + u * layout.stride + config[v] * (d - 1)
            J[rows[free], base[free] + at[v][free]] = g[free]
            for lv in range(d - 1):
                J[rows[last], base[last] + lv] = -g[last]
    return J


def identify_bayesnet(
    dag: DAG, n_levels: Sequence[int], k: int, *, rng: np.random.Generator
) -> BayesNetIdentification:
    """Generic local identifiability of ``k`` sources on ``dag`` by the Jacobian rank.

    Parameters
    ----------
    dag : DAG
    n_levels : sequence of int
        Levels per node, in ``dag.nodes`` order.
    k : int
    rng : numpy Generator
        Random interior points (flat Dirichlet CPT rows and weights).

    Returns
    -------
    BayesNetIdentification
    """
    levels = [int(t) for t in n_levels]
    layout = _layout(dag, levels, k)
    n_params = layout.n_columns
    tables = _ancestral_tables(dag, levels)
    if tables is None or n_params > MAX_PARAMETERS:
        why = (
            f"{n_params} free parameters (more than {MAX_PARAMETERS})"
            if tables is not None
            else f"a node whose ancestral table exceeds {MAX_CELLS} cells"
        )
        return BayesNetIdentification("unknown", None, [], f"the rank check cannot run: {why}")
    n_obs = sum(int(np.prod([levels[dag.nodes.index(v)] for v in t])) for t in tables)

    # every CPT's array shape (k, parent levels..., levels)
    shapes = [
        (k, *[levels[dag.nodes.index(p)] for p in dag.parents[v]], levels[j])
        for j, v in enumerate(dag.nodes)
    ]

    def draw(r: np.random.Generator) -> FloatArray:
        # only a key for the Jacobian below: the weights but the last, then every CPT flattened
        w = r.dirichlet(np.ones(k))
        cpts = [r.dirichlet(np.ones(shape[-1]), size=shape[:-1]) for shape in shapes]
        return np.concatenate([w[:-1], *[c.reshape(-1) for c in cpts]])

    def unpack(theta: FloatArray) -> tuple[FloatArray, list[FloatArray]]:
        w = np.append(theta[: k - 1], 1.0 - theta[: k - 1].sum())
        pos, cpts = k - 1, []
        for shape in shapes:
            size = int(np.prod(shape))
            cpts.append(theta[pos : pos + size].reshape(shape))
            pos += size
        return w, cpts

    def factor(theta: FloatArray) -> FloatArray:
        # one table's Jacobian at a time, folded into the triangular factor (whose columns
        # keep the Jacobian's norms; the rank is taken of the column-scaled factor)
        weights, cpts = unpack(theta)
        R = np.zeros((0, n_params))
        for t in tables:
            block = _table_jacobian(dag, levels, k, weights, cpts, t, layout)
            R = np.asarray(np.linalg.qr(np.vstack([R, block]), mode="r"))
        return R

    check = local_identifiability(None, draw, rng=rng, jacobian=factor)
    joint = len(tables) == 1 and len(tables[0]) == len(dag.nodes)
    what = "the joint table" if joint else f"{len(tables)} ancestral margins"
    rank = f"numerical rank {check.rank} of {n_params} on {what} ({n_obs:,} cells)"
    if check.identified:
        return BayesNetIdentification("locally identified", check, tables, rank)
    if joint:
        return BayesNetIdentification(
            "not identified",
            check,
            tables,
            f"{rank}: {check.deficiency} direction(s) of the parameters leave the joint "
            "distribution unchanged at every random point tried",
        )
    return BayesNetIdentification(
        "unknown", check, tables, f"{rank}; margins cannot prove a deficiency of the joint"
    )

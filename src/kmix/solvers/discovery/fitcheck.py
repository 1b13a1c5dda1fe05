"""Does the best graph fit the table, and could any graph be told apart from a denser one?

The BIC search (:mod:`~kmix.solvers.discovery.scoring`) picks the graph of
highest penalised likelihood; two checks follow it.

*Dimension.* The dimension of the mixture of networks on a DAG is the rank of
the Jacobian from its free parameters to the joint table at a generic point
(D. Geiger, D. Heckerman & C. Meek, "Asymptotic model selection for directed
networks with hidden variables", UAI 1996), computed by
:func:`kmix.solvers.bayesnet.certificate.identify_bayesnet` on the joint
table. When it equals the table's own (``prod(levels) - 1``) the mixture fits
every table: a denser graph fits no better, so the data exclude none of the
edges the graph lacks and the graph is not identified; every pair is then
left joined (a pair is removed only on evidence, as the rank tests remove
it). Dense graphs reach this early: a DAG on 7 binary variables whose
mixture has 2 x 64 + 1 free parameters already fills the 127 cells.

*Fit.* The likelihood-ratio statistic of the model against the saturated
table, ``G^2 = 2 sum_x n_x log(n_x / (N p(x)))``, is chi-square with
``(cells - 1) - dimension`` degrees of freedom when the model holds (Wilks
1938; for latent class models, e.g. L. A. Goodman, "Exploratory latent
structure analysis using both identifiable and unidentifiable models",
Biometrika 61, 1974). At small samples the BIC's penalty drops edges whose
effects are real but weak; while the test rejects the graph at the fit
level, the edge whose addition (``U`` refit by EM) gains most by its own
likelihood-ratio test joins it. The test needs expected counts of a few rows
per cell: it runs only with at least :data:`ROWS_PER_CELL` rows per cell of
the table (W. G. Cochran, "Some methods for strengthening the common
chi-square tests", Biometrics 10, 1954).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

from ...params.dag import DAG
from ..bayesnet.certificate import MAX_CELLS, identify_bayesnet
from .families import MAX_CONFIGS, Families, FloatArray, Parents, apply_move, reaches

__all__ = ["FIT_LEVEL", "ROWS_PER_CELL", "FitCheck", "check_fit", "complete_dag", "dimension"]

#: Level of the goodness-of-fit test below which edges join the best graph
FIT_LEVEL = 0.001
#: Rows per cell of the table at least for the fit test to run
ROWS_PER_CELL = 5.0
#: EM maps that refit U for each candidate edge
GROW_MAPS = 100

Fit = tuple[Parents, FloatArray, list[FloatArray], FloatArray, float]


@dataclass(frozen=True)
class FitCheck:
    """What the checks found (see the module notes).

    Attributes
    ----------
    dimension : int or None
        Of the mixture on the final graph (None beyond :data:`MAX_CELLS` cells).
    table_dimension : int
        ``prod(levels) - 1``.
    p_value : float or None
        Of the fit test on the final graph (None when the test cannot run).
    added : tuple of (int, int)
        Edges ``a -> b`` the fit test made join, in order.
    """

    dimension: int | None
    table_dimension: int
    p_value: float | None
    added: tuple[tuple[int, int], ...]

    @property
    def saturated(self) -> bool:
        """The mixture on the graph has the table's dimension: no edge is excluded."""
        return self.dimension is not None and self.dimension >= self.table_dimension


def dimension(parents: Sequence[Sequence[int]], levels: Sequence[int], k: int) -> int | None:
    """The mixture's dimension on the DAG ``parents``; None when the joint table is too large."""
    if float(np.prod([float(t) for t in levels])) > MAX_CELLS:
        return None
    names = tuple(str(i) for i in range(len(levels)))
    dag = DAG(names, {names[b]: tuple(names[a] for a in ps) for b, ps in enumerate(parents)})
    check = identify_bayesnet(dag, levels, k, rng=np.random.default_rng(0)).check
    return None if check is None else int(check.rank)


def _saturated_ll(counts: FloatArray) -> float:
    c = counts[counts > 0]
    return float((c * np.log(c / c.sum())).sum())


def check_fit(
    fam: Families,
    fit: Fit,
    allowed: NDArray[np.bool_],
    required: frozenset[tuple[int, int]],
    cap: int,
    *,
    level: float = FIT_LEVEL,
) -> tuple[Fit, FitCheck]:
    """The dimension and fit of the best model; edges join while the fit test rejects it.

    Parameters
    ----------
    fam : Families
        The rows (unique, with counts).
    fit : (parents, weights, cpts, resp, log-likelihood)
        The best model of the search.
    allowed, required, cap
        As in the search: the directions allowed, the edges kept, parents at most.
    level : float
        The fit test's level (``0``: no edge joins).
    """
    parents, weights, cpts, resp, ll = fit
    cells = int(np.prod([float(t) for t in fam.levels]))
    top = cells - 1
    testable = fam.total >= ROWS_PER_CELL * cells
    sat = _saturated_ll(fam.counts)
    memo: dict[Parents, int | None] = {}

    def dim(g: Parents) -> int | None:
        if g not in memo:
            memo[g] = dimension(g, fam.levels, fam.k)
        return memo[g]

    def p_of(g: Parents, lik: float) -> float | None:
        d = dim(g)
        if not testable or d is None:
            return None
        return 1.0 if d >= top else float(chi2.sf(max(2.0 * (sat - lik), 0.0), top - d))

    added: list[tuple[int, int]] = []
    p = p_of(parents, ll)
    while p is not None and p < level and (dim(parents) or 0) < top:
        best: tuple[float, float, Fit, tuple[int, int]] | None = None
        d0 = dim(parents) or 0
        for a in range(fam.n):
            for b in range(fam.n):
                if a == b or a in parents[b] or b in parents[a] or not allowed[a, b]:
                    continue
                if len(parents[b]) >= cap or reaches(parents, a, b):
                    continue
                if fam.n_configs((*parents[b], a)) > MAX_CONFIGS:
                    continue
                g = apply_move(parents, ("add", a, b))
                w, t = fam.m_step(resp, g)
                w, t, r, lik, _ = fam.em(w, t, g, GROW_MAPS)
                gain, extra = lik - ll, (dim(g) or d0) - d0
                if extra > 0:
                    pe = float(chi2.sf(max(2.0 * gain, 0.0), extra))
                else:  # a free edge: more likelihood at no cost in dimension
                    pe = 0.0 if gain > 1e-6 else 1.0
                if best is None or (pe, -gain) < (best[0], -best[1]):
                    best = (pe, gain, (g, w, t, r, lik), (a, b))
        if best is None:
            break
        parents, weights, cpts, resp, ll = best[2]
        added.append(best[3])
        p = p_of(parents, ll)
    check = FitCheck(dim(parents), top, p, tuple(added))
    return (parents, weights, cpts, resp, ll), check


def complete_dag(
    n: int,
    order_hint: Parents,
    required: Sequence[tuple[int, int]],
    forbidden: Sequence[tuple[int, int]],
) -> Parents | None:
    """A complete DAG (every pair joined, but pairs forbidden both ways) whose order keeps
    the required edges and avoids the forbidden directions; ties follow ``order_hint``'s
    topological order. None when the knowledge admits no such order."""
    gone = {(a, b) for a, b in forbidden} & {(b, a) for a, b in forbidden}
    before = {(a, b) for a, b in required} | {(b, a) for a, b in forbidden if (a, b) not in gone}
    rank = _topological_rank(order_hint)
    order: list[int] = []
    left = set(range(n))
    while left:
        free = [v for v in left if not any((u, v) in before for u in left if u != v)]
        if not free:
            return None
        v = min(free, key=lambda x: (rank[x], x))
        order.append(v)
        left.remove(v)
    pos = {v: i for i, v in enumerate(order)}
    return tuple(
        tuple(a for a in range(n) if pos[a] < pos[b] and (a, b) not in gone) for b in range(n)
    )


def _topological_rank(parents: Parents) -> dict[int, int]:
    n = len(parents)
    rank: dict[int, int] = {}
    left = set(range(n))
    while left:
        v = min(v for v in left if all(p not in left for p in parents[v]))
        rank[v] = len(rank)
        left.remove(v)
    return rank

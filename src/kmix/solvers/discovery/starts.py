"""Starts of the structural EM search that anchor the hidden ``U``: witnesses and grown graphs.

The latent class model of all variables, the search's plain start, is pulled
towards a hub's dependence and can leave ``U`` standing for the hub while a
variable that tells about ``U`` turns into a parent of many. Sets of
variables independent given ``U`` (witnesses, the k-MixProd step of
Mazaheri, Gordon, Rabani & Schulman, "Causal discovery under latent class
confounding", 2023) tell about ``U`` alone; a graph grown around them one
variable at a time keeps ``U`` anchored while edges join.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

from .families import (
    EM_MAPS,
    MAX_CONFIGS,
    Families,
    FloatArray,
    Parents,
    best_of,
    random_posteriors,
    reaches,
)

__all__ = [
    "SUBMODEL_MAPS",
    "WITNESS_LEVEL",
    "WITNESS_SETS",
    "grow",
    "submodel_bic",
    "witness_starts",
]

#: Sets of 2k variables scored as latent class models at most (drawn at random beyond)
WITNESS_SETS = 200
#: Level of the likelihood-ratio test that keeps a set as witnesses of U
WITNESS_LEVEL = 0.001
#: EM maps that refit U on the variables in when a grown family loses a parent
SUBMODEL_MAPS = 100


def witness_starts(
    fam: Families, rng: np.random.Generator, n_sets: int
) -> list[tuple[tuple[int, ...], FloatArray, bool]]:
    """Posteriors of ``U`` from sets of variables that a latent class model fits.

    Variables with no edge or observed path between them are independent given
    ``U``: a latent class model, identified from ``2k - 1`` of them (J. B.
    Kruskal, "Three-way arrays: rank and uniqueness of trilinear
    decompositions", Linear Algebra and its Applications 18, 1977; the
    k-MixProd step of Mazaheri et al. 2023) and testable from ``2k``. Every set
    of ``2k`` variables (at most :data:`WITNESS_SETS`, drawn at random beyond)
    is fitted by EM; the ``n_sets`` best fitting (likelihood-ratio statistic
    per degree of freedom) are returned with ``P(U | set)`` on every row (times
    the row's count) and whether the test keeps the model at level
    :data:`WITNESS_LEVEL` (witnesses of ``U``; their posteriors start a climb
    as they are). :func:`grow` builds a graph around any of them: at large
    ``N`` the test also refuses sets joined by weak paths, which still anchor
    ``U``, and a graph may have no four variables independent given ``U``.
    The latent class model of all variables, the other start, is pulled
    towards a hub's dependence and can leave ``U`` standing for the hub while a
    witness of ``U`` turns into a parent of many variables.
    """
    if fam.k == 1:
        return []
    k, n = fam.k, fam.n
    size = min(2 * k, n)
    if math.comb(n, size) <= WITNESS_SETS:
        combos = list(itertools.combinations(range(n), size))
    else:
        drawn = {
            tuple(sorted(rng.choice(n, size=size, replace=False).tolist()))
            for _ in range(WITNESS_SETS)
        }
        combos = sorted(drawn)
    scored = []
    for cols in combos:
        sub, where = np.unique(fam.values[:, cols], axis=0, return_inverse=True)
        cnt = np.bincount(where.reshape(-1), weights=fam.counts).astype(np.float64)
        part = Families(sub, cnt, [fam.levels[j] for j in cols], k)
        empty: Parents = tuple(() for _ in cols)
        top = best_of(part, empty, random_posteriors(part, rng, 3))
        cells = int(np.prod([fam.levels[j] for j in cols]))
        df = cells - 1 - part.n_params(empty)
        if df <= 0:
            continue
        g2 = 2.0 * float(cnt @ np.log(cnt / cnt.sum())) - 2.0 * top[3]
        # the latent class model fits: witnesses of U alone
        fits = bool(chi2.sf(g2, df) >= WITNESS_LEVEL)
        scored.append((g2 / df, cols, top[0], top[1], fits))
    scored.sort(key=lambda t: t[0])
    out = []
    for _, cols, w, t, fits in scored[:n_sets]:
        # P(U | the set's values) on every row, times the row's count
        rows = Families(fam.values[:, cols], fam.counts, [fam.levels[j] for j in cols], k)
        out.append((cols, rows.e_step(w, t, tuple(() for _ in cols))[0], fits))
    return out


def grow(
    fam: Families,
    resp: FloatArray,
    anchor: Sequence[int],
    allowed: NDArray[np.bool_],
    required: frozenset[tuple[int, int]],
    cap: int,
) -> tuple[Parents, FloatArray]:
    """A graph grown around witnesses of ``U``, one variable at a time, ``U`` kept anchored.

    The model starts as the latent class model of the ``anchor`` set (posteriors
    ``resp``). Each step adds the variable whose best family among the
    variables already in (forward selection of parents by expected BIC,
    posteriors held fixed) has the fewest parents, the higher expected score
    per row breaking ties, and refits the model of the variables in by
    :data:`EM_MAPS` EM maps. Every posterior of ``U`` so comes from a model
    that explains the variables in: a climb over all variables from the
    witnesses' posteriors alone (which are weak, from ``2k`` variables) adds
    every edge that the weak posteriors leave unexplained, and at large ``N``
    EM cannot leave the dense graph again. This is the order of discovery of
    the k-MixProd reduction of a mixture of networks (Gordon, Mazaheri,
    Rabani & Schulman, "Identifying mixtures of Bayesian network
    distributions", 2023: sources anchored on variables independent given
    ``U``, then every other variable with its parents), used here as a start.

    The parents are chosen forwards by the expected BIC and then dropped,
    one at a time while the score rises, by the observed BIC of the model of
    the variables in with ``U`` refit (:func:`submodel_bic`): under the
    posteriors of the variables in, which are not certain of ``U``, every
    witness of ``U`` still tells about the new variable, and with many rows
    the expected score takes it as a parent; refit, ``U`` explains that
    dependence and the parent goes. The variables join roughly in a
    topological order, so the set in is close to ancestral and its marginal
    is the mixture on the induced graph.
    """
    n = fam.n
    parents = [tuple(sorted(a for a, b in required if b == i)) for i in range(n)]
    inside = list(anchor)

    def family(v: int) -> tuple[int, float, tuple[int, ...]]:
        cur = parents[v]
        best = fam.score(resp, v, cur)
        while len(cur) < cap:
            step = None
            for p in inside:
                if p in cur or not allowed[p, v] or reaches(parents, p, v):
                    continue
                trial = tuple(sorted((*cur, p)))
                if fam.n_configs(trial) > MAX_CONFIGS:
                    continue
                score = fam.score(resp, v, trial)
                if score > best + 1e-9 and (step is None or score > step[0]):
                    step = (score, trial)
            if step is None:
                break
            best, cur = step
        cols = [*inside, v]

        def observed(ps: tuple[int, ...]) -> float:
            return submodel_bic(
                fam, resp, cols, [ps if i == v else q for i, q in enumerate(parents)]
            )

        kept = observed(cur)
        while True:
            drop = None
            for p in cur:
                if (p, v) in required:
                    continue
                trial = tuple(q for q in cur if q != p)
                score = observed(trial)
                if score > kept + 1e-6 and (drop is None or score > drop[0]):
                    drop = (score, trial)
            if drop is None:
                break
            kept, cur = drop
        return len(cur), -fam.score(resp, v, cur) / fam.total, cur

    def refit(r: FloatArray) -> FloatArray:
        for _ in range(EM_MAPS):
            weights, cpts = fam.m_step(r, tuple(parents))
            r = fam.e_step(weights, cpts, tuple(parents), only=inside)[0]
        return r

    resp = refit(resp)
    rest = [v for v in range(n) if v not in inside]
    while rest:
        _, _, chosen, v = min((*family(v), v) for v in rest)
        parents[v] = chosen
        inside.append(v)
        rest.remove(v)
        resp = refit(resp)
    return tuple(parents), resp


def submodel_bic(
    fam: Families, resp: FloatArray, cols: Sequence[int], parents: Sequence[Sequence[int]]
) -> float:
    """Observed BIC of the mixture on the variables ``cols`` alone, ``U`` refit by EM.

    The rows are reduced to the distinct values of ``cols``; EM
    (:data:`SUBMODEL_MAPS` maps) starts from the posteriors ``resp`` (times
    counts) summed over the rows so merged; ``parents`` (of every variable,
    only those of ``cols`` read) give the graph, a parent outside ``cols`` (a
    required edge from a variable not yet in) left out.
    """
    sub, where = np.unique(fam.values[:, list(cols)], axis=0, return_inverse=True)
    where = where.reshape(-1)
    cnt = np.bincount(where, weights=fam.counts).astype(np.float64)
    start: FloatArray = np.stack(
        [np.bincount(where, weights=resp[:, u], minlength=cnt.size) for u in range(fam.k)],
        axis=1,
    ).astype(np.float64)
    pos = {c: i for i, c in enumerate(cols)}
    graph: Parents = tuple(tuple(sorted(pos[p] for p in parents[c] if p in pos)) for c in cols)
    part = Families(sub, cnt, [fam.levels[j] for j in cols], fam.k)
    weights, cpts = part.m_step(start, graph)
    ll = part.em(weights, cpts, graph, SUBMODEL_MAPS)[3]
    return part.bic(ll, graph)

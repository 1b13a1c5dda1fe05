"""Score search over DAGs with a hidden class ``U`` pointing at every variable: structural EM.

The model of a DAG ``G`` over the observed variables is the mixture of Bayesian
networks ``P(x) = sum_u P(u) prod_i P(x_i | pa_i(x), u)``. Its BIC,
``log L - (log N / 2) * (#free parameters)``, is a consistent score for the
equivalence class of ``G`` (Schwarz, "Estimating the dimension of a model",
Annals of Statistics 6, 1978; the class is that of ``G`` itself, since ``U`` is
adjacent to every variable and so forms no collider). The score of an observed
table has no closed form, so the search is N. Friedman's structural EM
("Learning belief networks in the presence of missing values and hidden
variables", ICML 1997): with the posteriors ``P(u | x)`` of the current model
held fixed, the expected BIC decomposes over families,

.. math::

    \\sum_i \\Big[\\sum_{u, s, v} \\bar N_i(u, s, v) \\log
    \\frac{\\bar N_i(u, s, v)}{\\bar N_i(u, s)}
    - \\frac{\\log N}{2}\\, k\\, |\\mathcal{S}_i| (d_i - 1)\\Big],

with ``\\bar N_i(u, s, v)`` the expected count of ``U = u``, parents ``s`` and
``X_i = v``; greedy additions, deletions and reversals of single edges climb
it, EM maps refit the parameters on the new graph, and the two alternate;
every round raises the observed BIC (Friedman 1997, theorem 3.1). Restarts
from other graphs and other posteriors, the best observed BIC kept: the
latent class model's posteriors, random ones, given graphs (the rank tests'),
the posteriors from sets of variables that a latent class model fits on their
own (witnesses of ``U``), and graphs grown around such sets
(:mod:`~kmix.solvers.discovery.starts`), which first climb by the observed BIC
with ``U`` refit for every move (:mod:`~kmix.solvers.discovery.observed`).
The best model is then kicked and climbed again, the better kept (iterated
local search, :func:`_perturb`), its edges tried for deletion with ``U``
refit, by the observed BIC (:func:`_prune`), and its fit and dimension
checked (:mod:`~kmix.solvers.discovery.fitcheck`).

Everything runs on unique rows with counts: a family's expected counts are one
``bincount`` over the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ...exceptions import DataError
from .families import (
    EM_MAPS,
    FINAL_MAPS,
    MAX_CONFIGS,
    Families,
    FloatArray,
    Parents,
    apply_move,
    best_of,
    random_posteriors,
    reaches,
    single_moves,
)
from .fitcheck import FIT_LEVEL, FitCheck, check_fit
from .observed import observed_climb
from .starts import grow, witness_starts

__all__ = ["ScoredDAG", "structural_em"]

#: Random posteriors tried on each start graph (the best EM maximum kept)
START_TRIES = 8
#: Witness sets whose own posteriors start a climb (those the latent class test keeps)
WITNESS_STARTS = 3
#: The best-fitting sets of 2k variables (passing the test or not) that a graph grows around
GROW_STARTS = 8
#: Parents per variable at most while a graph grows around witnesses (``starts.grow``)
GROW_PARENTS = 3
#: EM maps that score each deletion of the best graph with U refit (:func:`_prune`)
PRUNE_MAPS = 100
#: Structure rounds at most per restart
MAX_ROUNDS = 40
#: Perturbations of the best model at most (:func:`_perturb`), and how many in a row may
#: fail to improve it before the search stops
PERTURB_ROUNDS = 300
PERTURB_PATIENCE = 60
#: Share of the best graph's edges a perturbation drops
PERTURB_DROP = 0.3


@dataclass(frozen=True)
class ScoredDAG:
    """The best graph a structural EM search found.

    Attributes
    ----------
    parents : tuple of tuple of int
        ``parents[i]``: the parents of variable ``i`` (sorted).
    weights : ndarray of shape (k,)
    cpts : list of ndarray
        ``cpts[i][u, s, v] = P(X_i = v | parents in configuration s, U = u)``,
        configurations in mixed radix over ``parents[i]`` (first parent slowest).
    log_likelihood, bic : float
        Of the observed rows.
    restart_bics : list of float
        The observed BIC every restart ended at.
    margins : ndarray of shape (n, n)
        Symmetric: for each pair, the expected BIC (posteriors of the final
        model held fixed) of the graph with the pair adjacent minus that of
        the graph without it, all else equal; positive where the graph keeps
        the edge. For an absent pair the better direction that closes no
        cycle (NaN when both would).
    check : FitCheck
        The final graph's dimension and fit test, and the edges the test
        made join (:mod:`~kmix.solvers.discovery.fitcheck`).
    """

    parents: Parents
    weights: FloatArray
    cpts: list[FloatArray]
    log_likelihood: float
    bic: float
    restart_bics: list[float]
    margins: FloatArray
    check: FitCheck

    def edges(self) -> list[tuple[int, int]]:
        """Directed edges ``(a, b)``: ``a -> b``."""
        return [(a, b) for b, ps in enumerate(self.parents) for a in ps]


def _climb(
    fam: Families,
    resp: FloatArray,
    parents: Parents,
    allowed: NDArray[np.bool_],
    required: frozenset[tuple[int, int]],
    max_parents: int,
) -> Parents:
    """Greedy ascent of the expected BIC by single-edge additions, deletions and reversals."""
    cache: dict[tuple[int, tuple[int, ...]], float] = {}

    def sc(i: int, ps: Iterable[int]) -> float:
        key = (i, tuple(sorted(ps)))
        if key not in cache:
            too_large = fam.n_configs(key[1]) > MAX_CONFIGS
            cache[key] = -np.inf if too_large else fam.score(resp, i, key[1])
        return cache[key]

    cur = tuple(tuple(sorted(p)) for p in parents)
    while True:
        best, move = 1e-9, None
        for kind, a, b in single_moves(cur, allowed, required, max_parents):
            if kind == "add":
                gain = sc(b, [*cur[b], a]) - sc(b, cur[b])
            else:
                gain = sc(b, [p for p in cur[b] if p != a]) - sc(b, cur[b])
                if kind == "reverse":
                    gain += sc(a, [*cur[a], b]) - sc(a, cur[a])
            if gain > best:
                best, move = gain, (kind, a, b)
        if move is None:
            return cur
        cur = apply_move(cur, move)


def _margins(fam: Families, resp: FloatArray, parents: Parents) -> FloatArray:
    """:attr:`ScoredDAG.margins` of ``parents`` under the posteriors ``resp``."""
    n = fam.n
    out = np.full((n, n), np.nan)
    for a in range(n):
        for b in range(a + 1, n):
            if a in parents[b] or b in parents[a]:
                x, y = (a, b) if a in parents[b] else (b, a)
                without = [p for p in parents[y] if p != x]
                gain = fam.score(resp, y, parents[y]) - fam.score(resp, y, without)
            else:
                gains = [
                    fam.score(resp, y, [*parents[y], x]) - fam.score(resp, y, parents[y])
                    for x, y in ((a, b), (b, a))
                    if not reaches(parents, x, y)
                ]
                gain = max(gains) if gains else np.nan
            out[a, b] = out[b, a] = gain
    return out


def structural_em(
    values: NDArray[np.integer],
    counts: FloatArray,
    n_levels: Sequence[int],
    k: int,
    *,
    rng: np.random.Generator,
    starts: Sequence[Sequence[Sequence[int]]] = (),
    n_random: int = 4,
    required: Iterable[tuple[int, int]] = (),
    forbidden: Iterable[tuple[int, int]] = (),
    max_parents: int | None = None,
    fit_level: float = FIT_LEVEL,
) -> ScoredDAG:
    """The DAG of highest BIC found by structural EM, ``U`` with ``k`` states hidden.

    Parameters
    ----------
    values, counts : ndarray
        Unique rows of integer codes (complete) and their counts.
    n_levels : sequence of int
    k : int
        States of the hidden ``U`` (parent of every variable).
    rng : numpy Generator
        Random posteriors of the restarts.
    starts : sequence of parent lists
        Graphs to start from (each ``starts[r][i]``: the parents of ``i``),
        besides the graph of the required edges, which starts from the
        posteriors of the latent class model (EM on the empty graph) and from
        ``n_random`` random posteriors.
    required, forbidden : iterable of (a, b)
        Edges ``a -> b`` that every graph keeps / none has.
    max_parents : int, optional
        Parents per variable at most (default: no limit but the families'
        size, :data:`MAX_CONFIGS` configurations).
    fit_level : float
        Level of the goodness-of-fit test after the search: while it rejects
        the best graph, edges join it (:func:`~kmix.solvers.discovery.fitcheck.check_fit`;
        ``0`` turns it off).
    """
    v = np.asarray(values, dtype=np.int64)
    c = np.asarray(counts, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] != c.shape[0] or np.any(v < 0):
        raise DataError("structural_em reads complete coded rows with one count each")
    n = v.shape[1]
    fam = Families(v, c, n_levels, int(k))
    req = frozenset((int(a), int(b)) for a, b in required)
    allowed = ~np.eye(n, dtype=bool)
    for a, b in forbidden:
        allowed[int(a), int(b)] = False
    cap = n - 1 if max_parents is None else int(max_parents)
    base = [tuple(sorted(a for a, b in req if b == i)) for i in range(n)]
    # each start: how it begins ("fit": EM on the graph from the posteriors, or from
    # START_TRIES random ones when None; "climb": the posteriors as they are; "grown":
    # a grown graph with its posteriors), the graph, the posteriors
    plans: list[tuple[str, Parents, FloatArray | None]] = []
    # the latent class model's posteriors (EM on the graph of the required edges)
    _, _, lca, _, _ = best_of(fam, tuple(base), random_posteriors(fam, rng, 1))
    plans.append(("fit", tuple(base), lca))
    plans += [("fit", tuple(base), None) for _ in range(int(n_random))]
    found = witness_starts(fam, rng, max(GROW_STARTS, WITNESS_STARTS))
    witnesses = [("climb", tuple(base), r) for _, r, fits in found if fits][:WITNESS_STARTS]
    grown = [
        ("grown", *grow(fam, r, cols, allowed, req, min(cap, GROW_PARENTS)))
        for cols, r, _ in found[:GROW_STARTS]
    ]
    for s in starts:
        # forbidden edges leave the start, required ones join it
        g = [
            tuple(sorted({*(int(p) for p in s[i] if allowed[int(p), i]), *base[i]}))
            for i in range(n)
        ]
        if any(reaches(g, p, i) for i in range(n) for p in g[i]):
            continue  # not acyclic once the required edges join: skipped
        plans.append(("fit", tuple(g), None))
    best: tuple[float, Parents, FloatArray, list[FloatArray], float, FloatArray] | None = None
    bics: list[float] = []
    for kind, parents, resp in [*plans, *witnesses, *grown]:
        if kind == "climb":
            # the witnesses' posteriors go to the first climb as they are (EM on the
            # empty graph would pull U back to the latent class model of all variables)
            assert resp is not None
            parents = _climb(fam, resp, parents, allowed, req, cap)
            weights, cpts = fam.m_step(resp, parents)
        elif kind == "grown":
            # a graph grown around witnesses, with its posteriors: climbed by the observed
            # BIC first (U refit for every move), as the expected score with these
            # posteriors would add the edges that stand in for a misplaced U
            assert resp is not None
            parents, weights, cpts, resp, _ = observed_climb(fam, parents, resp, allowed, req, cap)
        else:
            # the start graph's own maximum first (the best of START_TRIES random
            # posteriors): a climb from a lower maximum adds the edges U would explain
            tries = [resp] if resp is not None else random_posteriors(fam, rng, START_TRIES)
            weights, cpts, resp, _, _ = best_of(fam, parents, tries)
        parents, weights, cpts, resp, ll = _rounds(fam, weights, cpts, parents, allowed, req, cap)
        bic = fam.bic(ll, parents)
        bics.append(bic)
        if best is None or bic > best[0]:
            best = (bic, parents, weights, cpts, ll, resp)
    assert best is not None
    _, parents, weights, cpts, ll, resp = best
    parents, weights, cpts, resp, ll = _perturb(
        fam, (parents, weights, cpts, resp, ll), allowed, req, cap, rng
    )
    parents, weights, cpts, resp, ll = _prune(
        fam, weights, cpts, parents, resp, ll, allowed, req, cap
    )
    (parents, weights, cpts, resp, ll), check = check_fit(
        fam, (parents, weights, cpts, resp, ll), allowed, req, cap, level=fit_level
    )
    bic = fam.bic(ll, parents)
    margins = _margins(fam, resp, parents)
    return ScoredDAG(parents, weights, cpts, ll, bic, bics, margins, check)


Fit = tuple[Parents, FloatArray, list[FloatArray], FloatArray, float]


def _rounds(
    fam: Families,
    weights: FloatArray,
    cpts: list[FloatArray],
    parents: Parents,
    allowed: NDArray[np.bool_],
    required: frozenset[tuple[int, int]],
    cap: int,
) -> Fit:
    """Structural EM from a model: EM maps and climbs alternate until neither moves.

    Returns the graph, weights, CPTs, posteriors (times counts) and log-likelihood.
    """
    for _ in range(MAX_ROUNDS):
        weights, cpts, resp, _, settled = fam.em(weights, cpts, parents, EM_MAPS)
        step = _climb(fam, resp, parents, allowed, required, cap)
        if step == parents and settled:
            break
        parents = step
        weights, cpts = fam.m_step(resp, parents)
    weights, cpts, resp, ll, _ = fam.em(weights, cpts, parents, FINAL_MAPS)
    return parents, weights, cpts, resp, ll


def _perturb(
    fam: Families,
    fit: Fit,
    allowed: NDArray[np.bool_],
    required: frozenset[tuple[int, int]],
    cap: int,
    rng: np.random.Generator,
) -> Fit:
    """Iterated local search from the best model: kick it, climb again, keep what scores higher.

    Structural EM stops where no single edge and no EM map raises the score,
    often with a misplaced ``U`` whose dependence extra edges explain. Each
    kick drops a random share (:data:`PERTURB_DROP`) of the graph's edges and
    either blurs the posteriors (half the model's, half random) or, on
    alternate kicks, draws them afresh; structural EM climbs from there and
    the result replaces the best model when its observed BIC is higher
    (iterated local search: Lourenço, Martin & Stützle, "Iterated local
    search", Handbook of Metaheuristics, 2003). The search ends after
    :data:`PERTURB_PATIENCE` kicks in a row without a gain, or
    :data:`PERTURB_ROUNDS` kicks.
    """
    parents, weights, cpts, resp, ll = fit
    bic = fam.bic(ll, parents)
    stale = 0
    for kick in range(PERTURB_ROUNDS):
        if stale >= PERTURB_PATIENCE:
            break
        trial = tuple(
            tuple(a for a in ps if (a, b) in required or rng.random() >= PERTURB_DROP)
            for b, ps in enumerate(parents)
        )
        if kick % 2 == 0:
            noise = rng.dirichlet(np.ones(fam.k), size=resp.shape[0]) * fam.counts[:, None]
            start = 0.5 * resp + 0.5 * noise
        else:
            start = random_posteriors(fam, rng, 1)[0]
        w, t = fam.m_step(start, trial)
        g, w, t, r, l2 = _rounds(fam, w, t, trial, allowed, required, cap)
        b2 = fam.bic(l2, g)
        if b2 > bic + 1e-6:
            parents, weights, cpts, resp, ll, bic, stale = g, w, t, r, l2, b2, 0
        else:
            stale += 1
    return parents, weights, cpts, resp, ll


def _prune(
    fam: Families,
    weights: FloatArray,
    cpts: list[FloatArray],
    parents: Parents,
    resp: FloatArray,
    ll: float,
    allowed: NDArray[np.bool_],
    required: frozenset[tuple[int, int]],
    cap: int,
) -> Fit:
    """Deletions scored by the observed BIC, ``U`` refit: what the expected score misses.

    With the posteriors held fixed, an edge that stands in for a misplaced ``U``
    keeps its expected gain, so no climb removes it; with ``U`` refit by EM
    (:data:`PRUNE_MAPS` maps from the current model) the graph without it can
    score higher. Every deletion is so scored (the observed score of a
    candidate, the costly evaluation that structural EM avoids: Friedman
    1997), the best gain is taken and structural EM resumes, until no deletion
    gains.
    """
    bic = fam.bic(ll, parents)
    while True:
        top: tuple[float, Parents, FloatArray, list[FloatArray]] | None = None
        for b, ps in enumerate(parents):
            for a in ps:
                if (a, b) in required:
                    continue
                trial = apply_move(parents, ("delete", a, b))
                w, t = fam.m_step(resp, trial)
                w, t, _, l2, _ = fam.em(w, t, trial, PRUNE_MAPS)
                gain = fam.bic(l2, trial)
                if gain > bic + 1e-6 and (top is None or gain > top[0]):
                    top = (gain, trial, w, t)
        if top is None:
            return parents, weights, cpts, resp, ll
        parents, weights, cpts, resp, ll = _rounds(
            fam, top[2], top[3], top[1], allowed, required, cap
        )
        bic = fam.bic(ll, parents)

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
and the posteriors from sets of variables that a latent class model fits on
their own (witnesses of ``U``: :func:`_witness_starts`).

Everything runs on unique rows with counts: a family's expected counts are one
``bincount`` over the rows.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

from ...exceptions import DataError

__all__ = ["ScoredDAG", "structural_em"]

FloatArray = NDArray[np.float64]
Parents = tuple[tuple[int, ...], ...]
#: Pseudo-count added to every cell in the M-step (keeps log-probabilities finite)
SMOOTH = 1e-3
#: EM maps between two structure steps, and after the last one
EM_MAPS = 30
FINAL_MAPS = 300
#: Random posteriors tried on each start graph (the best EM maximum kept)
START_TRIES = 8
#: Sets of 2k variables scored as latent class models at most, and the best-fitting
#: ones whose posteriors start the search
WITNESS_SETS = 200
WITNESS_STARTS = 3
WITNESS_LEVEL = 0.001
#: The best-fitting sets of 2k variables (passing the test or not) that a graph grows around
GROW_STARTS = 8
#: Parents per variable at most while a graph grows around witnesses (:func:`_grow`)
GROW_PARENTS = 3
#: Structure rounds at most per restart
MAX_ROUNDS = 40
#: Largest product of parent levels a family may have
MAX_CONFIGS = 4096


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
    """

    parents: Parents
    weights: FloatArray
    cpts: list[FloatArray]
    log_likelihood: float
    bic: float
    restart_bics: list[float]
    margins: FloatArray

    def edges(self) -> list[tuple[int, int]]:
        """Directed edges ``(a, b)``: ``a -> b``."""
        return [(a, b) for b, ps in enumerate(self.parents) for a in ps]


class _Families:
    """Expected family counts and scores of unique rows ``values`` with ``counts``."""

    def __init__(
        self, values: NDArray[np.int64], counts: FloatArray, levels: Sequence[int], k: int
    ):
        self.values, self.counts, self.levels, self.k = values, counts, list(levels), k
        self.n = values.shape[1]
        self.total = float(counts.sum())
        self.penalty = 0.5 * np.log(max(self.total, 2.0))

    def configs(self, parents: Iterable[int]) -> tuple[NDArray[np.int64], int]:
        idx = np.zeros(self.values.shape[0], dtype=np.int64)
        size = 1
        for p in parents:
            idx = idx * self.levels[p] + self.values[:, p]
            size *= self.levels[p]
        return idx, size

    def counts_of(self, resp: FloatArray, i: int, parents: Iterable[int]) -> FloatArray:
        """``(k, configs, d_i)`` expected counts from weighted posteriors ``resp`` (m, k)."""
        idx, size = self.configs(parents)
        d = self.levels[i]
        cell = idx * d + self.values[:, i]
        flat = (np.arange(self.k)[None, :] * (size * d) + cell[:, None]).reshape(-1)
        out = np.bincount(flat, weights=resp.reshape(-1), minlength=self.k * size * d)
        result: FloatArray = out.reshape(self.k, size, d).astype(np.float64, copy=False)
        return result

    def score(self, resp: FloatArray, i: int, parents: Iterable[int]) -> float:
        N = self.counts_of(resp, i, parents)
        rows = N.sum(axis=2, keepdims=True)
        seen = N > 0
        fit = float((N[seen] * np.log(N[seen] / np.broadcast_to(rows, N.shape)[seen])).sum())
        return fit - self.penalty * self.k * N.shape[1] * (self.levels[i] - 1)

    def n_params(self, parents: Parents) -> int:
        out = self.k - 1
        for i, ps in enumerate(parents):
            out += self.k * int(np.prod([self.levels[p] for p in ps])) * (self.levels[i] - 1)
        return out

    def m_step(self, resp: FloatArray, parents: Parents) -> tuple[FloatArray, list[FloatArray]]:
        weights = resp.sum(axis=0) / self.total
        cpts = []
        for i, ps in enumerate(parents):
            N = self.counts_of(resp, i, ps) + SMOOTH
            cpts.append(N / N.sum(axis=2, keepdims=True))
        return weights, cpts

    def e_step(
        self,
        weights: FloatArray,
        cpts: list[FloatArray],
        parents: Parents,
        only: Sequence[int] | None = None,
    ) -> tuple[FloatArray, float]:
        """Posteriors times counts ``(m, k)`` and the observed log-likelihood (of the
        families of ``only``, default all: the model of a subset of the variables)."""
        with np.errstate(divide="ignore"):
            joint = np.tile(np.log(weights), (self.values.shape[0], 1))
        for i in range(len(parents)) if only is None else only:
            idx, _ = self.configs(parents[i])
            joint += np.log(cpts[i][:, idx, self.values[:, i]]).T
        top = joint.max(axis=1, keepdims=True)
        p = np.exp(joint - top)
        total = p.sum(axis=1, keepdims=True)
        ll = float((np.log(total[:, 0]) + top[:, 0]) @ self.counts)
        return p / total * self.counts[:, None], ll

    def em(
        self, weights: FloatArray, cpts: list[FloatArray], parents: Parents, maps: int
    ) -> tuple[FloatArray, list[FloatArray], FloatArray, float, bool]:
        """At most ``maps`` EM maps; whether EM settled (a map gained <= 1e-10 relative)."""
        resp, ll = self.e_step(weights, cpts, parents)
        for _ in range(maps):
            weights, cpts = self.m_step(resp, parents)
            new_resp, new_ll = self.e_step(weights, cpts, parents)
            done = new_ll - ll <= 1e-10 * abs(new_ll)
            resp, ll = new_resp, new_ll
            if done:
                return weights, cpts, resp, ll, True
        return weights, cpts, resp, ll, False


def _reaches(parents: Sequence[Sequence[int]], start: int, goal: int) -> bool:
    """Whether ``goal`` is an ancestor of ``start`` (or ``start`` itself)."""
    stack, seen = [start], {start}
    while stack:
        v = stack.pop()
        if v == goal:
            return True
        for p in parents[v]:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return False


def _climb(
    fam: _Families,
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
            size = int(np.prod([fam.levels[p] for p in key[1]]))
            cache[key] = -np.inf if size > MAX_CONFIGS else fam.score(resp, i, key[1])
        return cache[key]

    cur = [tuple(sorted(p)) for p in parents]
    n = fam.n
    while True:
        best, move = 1e-9, None
        for a in range(n):
            for b in range(n):
                if a == b:
                    continue
                if a in cur[b]:
                    if (a, b) in required:
                        continue
                    without = [p for p in cur[b] if p != a]
                    gain = sc(b, without) - sc(b, cur[b])
                    if gain > best:
                        best, move = gain, ("delete", a, b)
                    if allowed[b, a] and len(cur[a]) < max_parents:
                        trial = list(cur)
                        trial[b] = tuple(without)
                        if not _reaches(trial, b, a):  # b -> a closes no cycle
                            gain2 = gain + sc(a, [*cur[a], b]) - sc(a, cur[a])
                            if gain2 > best:
                                best, move = gain2, ("reverse", a, b)
                elif (
                    b not in cur[a]
                    and allowed[a, b]
                    and len(cur[b]) < max_parents
                    and not _reaches(cur, a, b)
                ):
                    gain = sc(b, [*cur[b], a]) - sc(b, cur[b])
                    if gain > best:
                        best, move = gain, ("add", a, b)
        if move is None:
            return tuple(cur)
        kind, a, b = move
        if kind == "add":
            cur[b] = tuple(sorted((*cur[b], a)))
        else:
            cur[b] = tuple(p for p in cur[b] if p != a)
            if kind == "reverse":
                cur[a] = tuple(sorted((*cur[a], b)))


def _margins(fam: _Families, resp: FloatArray, parents: Parents) -> FloatArray:
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
                    if not _reaches(parents, x, y)
                ]
                gain = max(gains) if gains else np.nan
            out[a, b] = out[b, a] = gain
    return out


def _best_of(
    fam: _Families, parents: Parents, starts: Sequence[FloatArray]
) -> tuple[FloatArray, list[FloatArray], FloatArray, float, bool]:
    """EM on ``parents`` from each starting posteriors (times counts); the highest maximum."""
    top = None
    for r0 in starts:
        w, t = fam.m_step(r0, parents)
        fit = fam.em(w, t, parents, FINAL_MAPS)
        if top is None or fit[3] > top[3]:
            top = fit
    assert top is not None
    return top


def _random_posteriors(fam: _Families, rng: np.random.Generator, n: int) -> list[FloatArray]:
    """``n`` flat-Dirichlet posteriors of the rows, times their counts."""
    m = fam.values.shape[0]
    return [rng.dirichlet(np.ones(fam.k), size=m) * fam.counts[:, None] for _ in range(n)]


def _witness_starts(
    fam: _Families, rng: np.random.Generator, n_sets: int
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
    as they are). :func:`_grow` builds a graph around any of them: at large
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
        part = _Families(sub, cnt, [fam.levels[j] for j in cols], k)
        empty: Parents = tuple(() for _ in cols)
        top = _best_of(part, empty, _random_posteriors(part, rng, 3))
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
        rows = _Families(fam.values[:, cols], fam.counts, [fam.levels[j] for j in cols], k)
        out.append((cols, rows.e_step(w, t, tuple(() for _ in cols))[0], fits))
    return out


def _grow(
    fam: _Families,
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
                if p in cur or not allowed[p, v] or _reaches(parents, p, v):
                    continue
                trial = tuple(sorted((*cur, p)))
                if int(np.prod([fam.levels[q] for q in trial])) > MAX_CONFIGS:
                    continue
                score = fam.score(resp, v, trial)
                if score > best + 1e-9 and (step is None or score > step[0]):
                    step = (score, trial)
            if step is None:
                break
            best, cur = step
        return len(cur), -best / fam.total, cur

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
    """
    v = np.asarray(values, dtype=np.int64)
    c = np.asarray(counts, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] != c.shape[0] or np.any(v < 0):
        raise DataError("structural_em reads complete coded rows with one count each")
    n = v.shape[1]
    fam = _Families(v, c, n_levels, int(k))
    req = frozenset((int(a), int(b)) for a, b in required)
    allowed = ~np.eye(n, dtype=bool)
    for a, b in forbidden:
        allowed[int(a), int(b)] = False
    cap = n - 1 if max_parents is None else int(max_parents)
    base = [tuple(sorted(a for a, b in req if b == i)) for i in range(n)]
    plans: list[tuple[Parents, FloatArray | None]] = []
    # the latent class model's posteriors (EM on the graph of the required edges)
    _, _, lca, _, _ = _best_of(fam, tuple(base), _random_posteriors(fam, rng, 1))
    plans.append((tuple(base), lca))
    plans += [(tuple(base), None) for _ in range(int(n_random))]
    found = _witness_starts(fam, rng, max(GROW_STARTS, WITNESS_STARTS))
    witnesses = [(tuple(base), r) for _, r, fits in found if fits][:WITNESS_STARTS]
    grown = [
        _grow(fam, r, cols, allowed, req, min(cap, GROW_PARENTS))
        for cols, r, _ in found[:GROW_STARTS]
    ]
    for s in starts:
        # forbidden edges leave the start, required ones join it
        g = [
            tuple(sorted({*(int(p) for p in s[i] if allowed[int(p), i]), *base[i]}))
            for i in range(n)
        ]
        if any(_reaches(g, p, i) for i in range(n) for p in g[i]):
            continue  # not acyclic once the required edges join: skipped
        plans.append((tuple(g), None))
    best: tuple[float, Parents, FloatArray, list[FloatArray], float, FloatArray] | None = None
    bics: list[float] = []
    for parents, resp in [*plans, *witnesses, *grown]:
        if any(resp is r for _, r in witnesses):
            # the witnesses' posteriors go to the first climb as they are (EM on the
            # empty graph would pull U back to the latent class model of all variables)
            assert resp is not None
            parents = _climb(fam, resp, parents, allowed, req, cap)
            weights, cpts = fam.m_step(resp, parents)
        elif any(resp is r for _, r in grown):
            assert resp is not None  # a graph grown around witnesses, with its posteriors
            weights, cpts = fam.m_step(resp, parents)
        else:
            # the start graph's own maximum first (the best of START_TRIES random
            # posteriors): a climb from a lower maximum adds the edges U would explain
            tries = [resp] if resp is not None else _random_posteriors(fam, rng, START_TRIES)
            weights, cpts, resp, _, _ = _best_of(fam, parents, tries)
        for _ in range(MAX_ROUNDS):
            weights, cpts, resp, _, settled = fam.em(weights, cpts, parents, EM_MAPS)
            step = _climb(fam, resp, parents, allowed, req, cap)
            if step == parents and settled:
                break
            parents = step
            weights, cpts = fam.m_step(resp, parents)
        weights, cpts, resp, ll, _ = fam.em(weights, cpts, parents, FINAL_MAPS)
        bic = ll - fam.penalty * fam.n_params(parents)
        bics.append(bic)
        if best is None or bic > best[0]:
            best = (bic, parents, weights, cpts, ll, resp)
    assert best is not None
    bic, parents, weights, cpts, ll, resp = best
    return ScoredDAG(parents, weights, cpts, ll, bic, bics, _margins(fam, resp, parents))

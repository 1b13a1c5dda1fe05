"""The collection of runs of the k-MixBND reduction: which latent class models to solve.

A mixture of Bayesian networks on a known DAG ``G`` adds a hidden source
``U`` as a parent of every node. A *run* ``(I, COND, c)`` picks members
``I``, a conditioning set ``COND`` disjoint from them and an assignment
``c`` of ``COND`` such that the members are independent given ``COND`` and
``U`` (Gordon, Mazaheri, Rabani & Schulman 2023):

.. math::
   P(x_I \\mid COND = c) = \\sum_u P(u \\mid c) \\prod_{W \\in I} P_u(x_W \\mid S_W = c|_{S_W}),

a latent class (k-MixProd) model whose class weights ``P(u | c)`` differ
from run to run. Each member returns a conditional on its *key set*
``S_W ⊆ COND``: its parents ``PA(W)`` when ``PA(W) ⊆ COND`` and ``COND``
holds no descendant of ``W`` (local Markov property: the CPT itself), else
its Markov boundary ``MB(W) ⊆ COND`` (a conditional that must be unzipped).
A *key* ``(W, S_W, s)`` names one such conditional; runs that share a key
return the same ``k`` parameter vectors in permuted order, which is how
their labels are aligned.

Design (spec C3.3). For every target node ``V`` a uniform-cost search over
(members, ``COND``) finds the smallest conditioning set (fewest strata,
``sum log d``) whose members meet :func:`kmix.solvers.product.check_identifiability`
(``2k - 1`` binary members) and pass the d-separation test
``W ⊥ I \\ {W} | COND, U`` in ``G_U`` for every member; a parents key for
``V`` is tried before a Markov-boundary key. The runs of ``V`` enumerate
every assignment of its key set and hold the rest of ``COND`` at a global
*default* assignment, so every other member keeps one key across ``V``'s
runs and aligns them; at least one member's key set must be disjoint from
``V``'s (an anchor) when possible. Keys already used by earlier targets are
preferred, and bridging runs are added until the alignment graph (runs
joined when they share a key) is connected.

References
----------
S. L. Gordon, B. Mazaheri, Y. Rabani, L. J. Schulman, "Causal inference
despite limited global confounding via mixture models", CLeaR 2023
(arXiv 2112.11602; v1 "Identifying mixtures of Bayesian network
distributions"). D. Koller and N. Friedman, *Probabilistic Graphical
Models*, MIT Press, 2009 (section 3.2.1, local Markov property; section
4.5.1, Markov boundary).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..exceptions import IdentifiabilityError
from ..stats.tables import mixed_radix_codes
from .bnmodel import BayesNetMixtureParams, interventional
from .graph import DAG, d_separated
from .product import check_identifiability

__all__ = [
    "ESS_PER_CELL",
    "MAX_SEARCH_STATES",
    "Key",
    "Run",
    "RunDesign",
    "RunPlan",
    "alignment_components",
    "balanced_defaults",
    "default_assignment",
    "design_run",
    "plan_runs",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
#: A run is flagged when its effective sample size is below this many rows per cell of
#: its members' joint table (``50 * 2^|I|`` for binary members).
ESS_PER_CELL = 50
#: States the search for one run may visit before it gives up.
MAX_SEARCH_STATES = 5000
#: Members beyond the identifiability minimum added to a run when they cost no conditioning.
MAX_EXTRA_MEMBERS = 2
#: Pairs of keys tried when looking for a bridging run between two parts of the alignment graph.
MAX_BRIDGE_TRIES = 200


class Key(NamedTuple):
    """One conditional a run estimates: ``P_u(node | given = assignment)``.

    ``given`` lists the key set: for a parents key exactly ``dag.parents[node]``
    (the order of the CPT's axes, which the assembly of CPTs relies on), for a
    Markov-boundary key the boundary in topological order; ``assignment``
    holds their levels.
    """

    node: str
    given: tuple[str, ...]
    assignment: tuple[int, ...]


@dataclass(frozen=True)
class RunDesign:
    """Members and conditioning set of a family of runs.

    Attributes
    ----------
    target : str or None
        The node whose key is enumerated; ``None`` for a bridging run.
    members : tuple of str
        ``I``, in topological order.
    cond : tuple of str
        ``COND``, in topological order.
    given : mapping str -> tuple of str
        Each member's key set ``S_W`` (its parents or its Markov boundary).
    varying : tuple of str
        The part of ``COND`` whose every assignment gets a run (the target's key set).
    """

    target: str | None
    members: tuple[str, ...]
    cond: tuple[str, ...]
    given: Mapping[str, tuple[str, ...]]
    varying: tuple[str, ...]


@dataclass(frozen=True)
class Run:
    """One latent class model ``P(I | COND = c)`` and, once solved, its answer.

    Attributes
    ----------
    target : str or None
        The node this run's family covers (``None``: a bridging run).
    members, cond, given :
        As in :class:`RunDesign`.
    assignment : tuple of int
        ``c``, the levels of ``cond``.
    ess : float
        Effective sample size ``N * P(COND = c)``: the total count of the rows with ``COND = c``.
    weights : ndarray of shape (k,) or None
        ``P(u | c)``, in the global labelling once aligned.
    probs : mapping str -> ndarray of shape (k, d_W), or None
        ``P_u(W | S_W = c|S_W)`` per member, in the same labelling.
    log_likelihood : float or None
        Of the run's latent class fit on its rows.
    """

    target: str | None
    members: tuple[str, ...]
    cond: tuple[str, ...]
    assignment: tuple[int, ...]
    given: Mapping[str, tuple[str, ...]]
    ess: float
    weights: FloatArray | None = None
    probs: Mapping[str, FloatArray] | None = None
    log_likelihood: float | None = None

    @property
    def keys(self) -> dict[str, Key]:
        """The key ``(W, S_W, c|S_W)`` of every member."""
        c = dict(zip(self.cond, self.assignment, strict=True))
        return {w: Key(w, self.given[w], tuple(c[x] for x in self.given[w])) for w in self.members}

    def describe(self) -> str:
        """``I = {..} | V1=0, V2=1 (ESS 123)``, for messages."""
        cond = ", ".join(f"{x}={a}" for x, a in zip(self.cond, self.assignment, strict=True))
        return f"I = {{{', '.join(self.members)}}} | {cond or '(nothing)'} (ESS {self.ess:.4g})"


@dataclass(frozen=True)
class RunPlan:
    """The runs to solve, the runs left out, the default assignment and the targets' designs."""

    dag: DAG
    runs: list[Run]
    dropped: list[Run]
    defaults: dict[str, int]
    designs: list[RunDesign]


class _Graph:
    """Per-node parents, Markov boundaries and descendants, computed once."""

    def __init__(self, dag: DAG) -> None:
        self.dag = dag
        order = {v: i for i, v in enumerate(dag.nodes)}
        self.order = order
        self.pa = {v: dag.parents[v] for v in dag.nodes}
        self.mb = {
            v: tuple(sorted(dag.markov_boundary(v), key=order.__getitem__)) for v in dag.nodes
        }
        self.de = {v: dag.descendants(v) for v in dag.nodes}

    def sort(self, vs: frozenset[str] | set[str]) -> tuple[str, ...]:
        return tuple(sorted(vs, key=self.order.__getitem__))

    def key_set(self, w: str, cond: frozenset[str]) -> tuple[str, ...] | None:
        """``S_W``: ``PA(W)`` if in ``COND`` and no descendant is, else ``MB(W)`` if in ``COND``."""
        if cond.issuperset(self.pa[w]) and cond.isdisjoint(self.de[w]):
            return self.pa[w]
        if cond.issuperset(self.mb[w]):
            return self.mb[w]
        return None


def default_assignment(
    dag: DAG, codes: IntArray, counts: FloatArray, levels: Sequence[int]
) -> dict[str, int]:
    """A frequent pattern to hold conditioning nodes at: modal levels given the parents'.

    In topological order, ``d_X = argmax_x count(X = x, PA(X) = d_PA(X))``
    (the marginal mode when no row matches the parents' defaults). Holding
    ``COND`` at this pattern keeps ``N P(COND = c)`` large, and one global
    pattern makes the keys of different runs coincide.
    """
    col = {v: j for j, v in enumerate(dag.nodes)}
    out: dict[str, int] = {}
    for v in dag.nodes:
        pa = dag.parents[v]
        mask = np.ones(codes.shape[0], dtype=bool)
        for p in pa:
            mask &= codes[:, col[p]] == out[p]
        d = int(levels[col[v]])
        tally = np.bincount(codes[mask, col[v]], weights=counts[mask], minlength=d)
        if tally.sum() <= 0:
            tally = np.bincount(codes[:, col[v]], weights=counts, minlength=d)
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
            joint = interventional(params, design.cond, {}, per_source=True)
            w = params.weights.reshape((k,) + (1,) * len(design.cond))
            tables.append((design, np.log(np.maximum(joint * w, 1e-300))))

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


def design_run(
    dag: DAG,
    levels: Mapping[str, int],
    n_components: int,
    fixed: Mapping[str, tuple[str, ...]],
    *,
    target: str | None = None,
    prefer: frozenset[tuple[str, tuple[str, ...]]] = frozenset(),
    max_states: int = MAX_SEARCH_STATES,
    _graph: _Graph | None = None,
) -> RunDesign | None:
    """Smallest conditioning set that makes ``fixed`` plus more members a valid run.

    Uniform-cost search over (members, ``COND``): a step adds a node ``W`` and
    its parents or its Markov boundary to ``COND``; a state is valid when
    every member has a key set (:class:`_Graph.key_set`), the members in
    ``fixed`` keep the key set given there, no member is in ``COND`` and
    ``d_separated(dag, {W}, I - {W}, COND, given_latent=True)`` for every
    member. The cost is ``sum_{X in COND} log d_X`` (the log of the number of
    strata); ties go to more members, then to more keys in ``prefer``. The
    goal is ``check_identifiability(levels of I, k).ok`` and, for a target
    with a non-empty key set, another member whose key set is disjoint from
    the target's (an anchor that aligns the target's runs); without an
    anchored goal the first identifiable one is returned.

    Returns
    -------
    RunDesign or None
        ``None`` when no valid identifiable run was found within ``max_states``.
    """
    g = _graph or _Graph(dag)
    k = int(n_components)
    anchor = frozenset(fixed[target]) if target is not None else frozenset()

    def given_of(
        members: frozenset[str], cond: frozenset[str]
    ) -> dict[str, tuple[str, ...]] | None:
        if not members.isdisjoint(cond):
            return None
        out: dict[str, tuple[str, ...]] = {}
        for w in members:
            s = g.key_set(w, cond)
            if s is None or (w in fixed and s != fixed[w]):
                return None
            out[w] = s
        if len(members) > 1:
            for w in members:
                if not d_separated(dag, [w], members - {w}, cond, given_latent=True):
                    return None
        return out

    def cost(cond: frozenset[str]) -> float:
        return round(sum(math.log(levels[x]) for x in cond), 9)

    start_members = frozenset(fixed)
    start_cond = frozenset(x for s in fixed.values() for x in s)
    first = given_of(start_members, start_cond)
    if first is None:
        return None
    tie = itertools.count()
    heap = [(cost(start_cond), -len(start_members), 0, next(tie), start_members, start_cond, first)]
    seen = {(start_members, start_cond)}
    fallback: RunDesign | None = None
    popped = 0
    while heap and popped < max_states:
        _, _, _, _, members, cond, given = heapq.heappop(heap)
        popped += 1
        if check_identifiability([levels[w] for w in g.sort(members)], k).ok:
            design = RunDesign(
                target,
                g.sort(members),
                g.sort(cond),
                {w: given[w] for w in g.sort(members)},
                fixed[target] if target is not None else (),
            )
            if not anchor or any(anchor.isdisjoint(s) for w, s in given.items() if w != target):
                return _extend(design, members, cond, given_of, g)
            fallback = fallback or _extend(design, members, cond, given_of, g)
        for w in g.dag.nodes:
            if w in members or w in cond:
                continue
            for s in dict.fromkeys((g.pa[w], g.mb[w])):
                new_members, new_cond = members | {w}, cond | frozenset(s)
                if (new_members, new_cond) in seen:
                    continue
                seen.add((new_members, new_cond))
                new_given = given_of(new_members, new_cond)
                if new_given is None:
                    continue
                n_pref = sum((m, s_m) in prefer for m, s_m in new_given.items())
                item = (cost(new_cond), -len(new_members), -n_pref, next(tie))
                heapq.heappush(heap, (*item, new_members, new_cond, new_given))
    return fallback


def _extend(
    design: RunDesign,
    members: frozenset[str],
    cond: frozenset[str],
    given_of: Callable[[frozenset[str], frozenset[str]], dict[str, tuple[str, ...]] | None],
    g: _Graph,
) -> RunDesign:
    """Add every member whose key set is already in ``COND`` (free extra views, in order)."""
    given = dict(design.given)
    added = 0
    for w in g.dag.nodes:
        if added >= MAX_EXTRA_MEMBERS:
            break
        if w in members or w in cond:
            continue
        trial = given_of(members | {w}, cond)
        if trial is not None:
            members, given, added = members | {w}, trial, added + 1
    order = g.sort(members)
    return dataclasses.replace(design, members=order, given={w: given[w] for w in order})


def _enumerate(
    design: RunDesign,
    defaults: Mapping[str, int],
    codes: IntArray,
    counts: FloatArray,
    col: Mapping[str, int],
    levels: Mapping[str, int],
) -> list[Run]:
    """One run per assignment of ``design.varying``, the rest of ``COND`` at the defaults."""
    cond = design.cond
    by_col = [levels[v] for v in col]
    code, size = mixed_radix_codes(codes, [col[x] for x in cond], by_col)
    table = np.bincount(code, weights=counts, minlength=size)
    runs = []
    for combo in itertools.product(*(range(levels[x]) for x in design.varying)):
        assign = {x: defaults[x] for x in cond}
        assign.update(zip(design.varying, combo, strict=True))
        idx = 0
        for x in cond:
            idx = idx * levels[x] + assign[x]
        runs.append(
            Run(
                design.target,
                design.members,
                cond,
                tuple(assign[x] for x in cond),
                design.given,
                float(table[idx]),
            )
        )
    return runs


def alignment_components(runs: Sequence[Run]) -> list[list[int]]:
    """Connected parts of the alignment graph: runs joined when they share a key."""
    parent = list(range(len(runs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[Key, int] = {}
    for i, run in enumerate(runs):
        for key in run.keys.values():
            j = first.setdefault(key, i)
            parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(runs)):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=lambda grp: (-len(grp), grp[0]))


def _default_keys(
    runs: Sequence[Run], group: Sequence[int], defaults: Mapping[str, int]
) -> list[Key]:
    """Keys of a part of the alignment graph whose assignment is the default one."""
    out: dict[Key, None] = {}
    for i in group:
        for key in runs[i].keys.values():
            if all(defaults[x] == a for x, a in zip(key.given, key.assignment, strict=True)):
                out[key] = None
    return list(out)


def _bridge(
    runs: list[Run],
    defaults: Mapping[str, int],
    ctx: tuple[DAG, Mapping[str, int], int, _Graph],
    data: tuple[IntArray, FloatArray, Mapping[str, int]],
    min_size: float,
) -> None:
    """Add bridging runs (all keys at the defaults) until the alignment graph is connected."""
    dag, levels, k, g = ctx
    codes, counts, col = data
    while True:
        groups = alignment_components(runs)
        if len(groups) <= 1:
            return
        keys_a = _default_keys(runs, groups[0], defaults)
        joined = False
        for other in groups[1:]:
            keys_b = _default_keys(runs, other, defaults)
            pairs = sorted(
                ((a, b) for a in keys_a for b in keys_b if a.node != b.node),
                key=lambda ab: len(set(ab[0].given) | set(ab[1].given)),
            )
            for a, b in pairs[:MAX_BRIDGE_TRIES]:
                fixed = {a.node: a.given, b.node: b.given}
                design = design_run(dag, levels, k, fixed, _graph=g)
                if design is None:
                    continue
                run = _enumerate(design, defaults, codes, counts, col, levels)[0]
                if run.ess > 0 and run.ess >= min_size:
                    runs.append(run)
                    joined = True
                    break
            if joined:
                break
        if not joined:
            targets = [sorted({str(runs[i].target) for i in grp}) for grp in groups]
            raise IdentifiabilityError(
                "the runs cannot all be aligned: no run shares a key with both the runs for "
                f"{targets[0]} and the runs for {targets[1]} (nor any other part: "
                f"{targets[2:]}); more data in the default strata or a sparser DAG is needed"
            )


def plan_runs(
    dag: DAG,
    codes: IntArray,
    counts: FloatArray,
    n_levels: Sequence[int],
    n_components: int,
    *,
    min_run_size: float | None = None,
    defaults: Mapping[str, int] | None = None,
    designs: Sequence[RunDesign] | None = None,
) -> RunPlan:
    """Design, enumerate and connect the runs that cover every CPT entry.

    Parameters
    ----------
    dag : DAG
    codes : ndarray of shape (m, n_nodes)
        Unique rows (integer codes, columns in ``dag.nodes`` order).
    counts : ndarray of shape (m,)
    n_levels : sequence of int
        Levels per node, in ``dag.nodes`` order.
    n_components : int
    min_run_size : float, optional
        Runs with a smaller effective sample size are left out (default: only
        runs without rows).

    Raises
    ------
    IdentifiabilityError
        When some node has no valid run (the message lists every such node
        and why), or when no bridging run can connect the alignment graph.

    Warns
    -----
    UserWarning
        Listing the runs whose effective sample size is below
        ``ESS_PER_CELL * prod(levels of I)``.
    """
    g = _Graph(dag)
    k = int(n_components)
    col = {v: j for j, v in enumerate(dag.nodes)}
    levels = {v: int(n_levels[j]) for v, j in col.items()}
    held = (
        dict(defaults) if defaults is not None else default_assignment(dag, codes, counts, n_levels)
    )
    chosen = list(designs) if designs is not None else _design_all(dag, levels, k, g)
    min_size = float(min_run_size) if min_run_size is not None else 0.0
    runs: list[Run] = []
    dropped: list[Run] = []
    seen: set[tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]]] = set()
    for design in chosen:
        for run in _enumerate(design, held, codes, counts, col, levels):
            if (run.members, run.cond, run.assignment) not in seen:  # two targets, one run
                seen.add((run.members, run.cond, run.assignment))
                (runs if run.ess > 0 and run.ess >= min_size else dropped).append(run)
    targets = [d for d in chosen if d.target is not None]
    _bridge(runs, held, (dag, levels, k, g), (codes, counts, col), min_size)
    low = [r for r in runs if r.ess < ESS_PER_CELL * math.prod(levels[w] for w in r.members)]
    if low:
        listed = "; ".join(r.describe() for r in low[:10])
        more = f"; and {len(low) - 10} more" if len(low) > 10 else ""
        warnings.warn(
            f"{len(low)} of {len(runs)} runs have an effective sample size N*P(COND=c) below "
            f"{ESS_PER_CELL} rows per cell of their members' table (50 * 2^|I| for binary "
            f"members); their estimates are noisy: {listed}{more}",
            UserWarning,
            stacklevel=3,
        )
    return RunPlan(dag, runs, dropped, held, targets)


def _design_all(dag: DAG, levels: Mapping[str, int], k: int, g: _Graph) -> list[RunDesign]:
    """One design per node (parents key first); raise naming every node without one."""
    designs: list[RunDesign] = []
    failures: list[str] = []
    prefer: set[tuple[str, tuple[str, ...]]] = set()
    for v in dag.nodes:
        design = None
        for s in dict.fromkeys((g.pa[v], g.mb[v])):
            design = design_run(
                dag, levels, k, {v: s}, target=v, prefer=frozenset(prefer), _graph=g
            )
            if design is not None:
                break
        if design is None:
            failures.append(
                f"{v}: no set of {_need(levels, k)} independent given U and a conditioning set "
                f"containing its parents {list(g.pa[v])} (and none of its descendants) or its "
                f"Markov boundary {list(g.mb[v])}"
            )
            continue
        designs.append(design)
        prefer.update((w, design.given[w]) for w in design.members if w != v)
    if failures:
        raise IdentifiabilityError(
            f"the DAG is too dense for k={k} sources: the k-MixProd oracle needs "
            f"{_need(levels, k)} independent given U in every run (check_identifiability), and "
            f"these nodes have no such run: {'; '.join(failures)}. Use fewer components, a "
            "sparser DAG, or nodes with more levels"
        )
    return designs


def _need(levels: Mapping[str, int], k: int) -> str:
    """The number of members the oracle needs, in words."""
    if all(d == 2 for d in levels.values()):
        return f"{2 * k - 1} binary members"
    return "members meeting the Kruskal-type condition"

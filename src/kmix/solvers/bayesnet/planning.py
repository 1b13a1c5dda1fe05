"""Planning the runs of the k-MixBND reduction: the search for members and conditioning sets.

For every target node ``V`` a uniform-cost search over (members, ``COND``)
finds the smallest conditioning set (fewest strata, ``sum log d``) whose
members meet the latent class identifiability condition
(:func:`kmix.solvers.latent_class.identifiability.check_identifiability`) and
pass the d-separation test ``W ⊥ I \\ {W} | COND, U`` in ``G_U`` for every
member; a parents key for ``V`` is tried before a Markov-boundary key. The
runs of ``V`` enumerate every assignment of its key set and hold the rest of
``COND`` at a global default assignment (:mod:`kmix.solvers.bayesnet.defaults`),
and bridging runs are added until the alignment graph is connected
(Gordon, Mazaheri, Rabani & Schulman 2023; the runs themselves are
described in :mod:`kmix.solvers.bayesnet.runs`).

References
----------
S. L. Gordon, B. Mazaheri, Y. Rabani, L. J. Schulman, "Causal inference
despite limited global confounding via mixture models", CLeaR 2023
(arXiv 2112.11602). D. Koller and N. Friedman, *Probabilistic Graphical
Models*, MIT Press, 2009 (section 3.2.1, local Markov property; section
4.5.1, Markov boundary).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from ...exceptions import IdentifiabilityError
from ...params import DAG, d_separated
from ...stats.tables import mixed_radix_codes
from ..latent_class.identifiability import check_identifiability
from .defaults import default_assignment
from .runs import Key, Run, RunDesign, RunPlan

logger = logging.getLogger("kmix")

__all__ = [
    "ESS_PER_CELL",
    "MAX_SEARCH_STATES",
    "alignment_components",
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
    """One run per assignment of ``design.varying``, the rest of ``COND`` at the defaults.

    A run's effective sample size counts the rows observed on ``COND`` and
    on every member (a missing value is a negative code): the rows it is fitted to.
    """
    cond = design.cond
    by_col = [levels[v] for v in col]
    complete = np.all(codes[:, [col[x] for x in (*cond, *design.members)]] >= 0, axis=1)
    rows, weights = (codes, counts) if complete.all() else (codes[complete], counts[complete])
    code, size = mixed_radix_codes(rows, [col[x] for x in cond], by_col)
    table = np.bincount(code, weights=weights, minlength=size)
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
    partial: bool = False,
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
    partial : bool
        Plan runs for the nodes that have one and leave the others out
        (their CPTs are then not covered) instead of raising.

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
    chosen = list(designs) if designs is not None else _design_all(dag, levels, k, g, partial)
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
        logger.debug("runs of low effective sample size: %s", "; ".join(r.describe() for r in low))
        warnings.warn(
            f"{len(low)} of {len(runs)} runs have an effective sample size N*P(COND=c) below "
            f"{ESS_PER_CELL} rows per cell of their members' table, the smallest {low_first(low)}: "
            "their starts are noisy and EM over the whole mixture refines them (logging "
            "'kmix' at DEBUG lists every run)",
            UserWarning,
            stacklevel=3,
        )
    return RunPlan(dag, runs, dropped, held, targets)


def low_first(runs: Sequence[Run]) -> str:
    """The run of smallest effective sample size, described for a one-line message."""
    return min(runs, key=lambda r: r.ess).describe()


def _design_all(
    dag: DAG, levels: Mapping[str, int], k: int, g: _Graph, partial: bool = False
) -> list[RunDesign]:
    """One design per node (parents key first); raise naming every node without one
    (``partial``: leave those nodes out, unless no node has a design)."""
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
    if failures and partial and designs:
        logger.info("nodes without a run, left to the EM: %s", "; ".join(failures))
    elif failures:
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

"""Directed acyclic graphs over named nodes, and d-separation with a hidden root.

A mixture of Bayesian networks on a known DAG ``G = (V, E)`` is a Bayesian
network on the graph ``G_U`` that adds one hidden node ``U`` with an edge
``U -> V`` for every ``V``:

.. math::
   P(v) = \\sum_u \\pi_u \\prod_{V} P_u(v_V \\mid \\mathrm{pa}(V)).

:class:`DAG` holds ``G`` only (``U`` is never a node of it); the functions
that reason about ``G_U`` (:func:`d_separated`) add ``U`` themselves, so a
user node may never collide with it.

Pure graph utilities: no I/O, no third-party graph library. networkx and
pgmpy objects are converted by :func:`kmix.causal.as_dag`.

References
----------
D. Koller and N. Friedman, *Probabilistic Graphical Models: Principles and
Techniques*, MIT Press, 2009 (Algorithm 3.1, reachability for d-separation;
section 4.5, moralisation). A. B. Kahn, "Topological sorting of large
networks", Comm. ACM 5(11), 1962.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any

from ..exceptions import DataError

__all__ = ["DAG", "d_separated"]


def _names(vs: str | Iterable[str]) -> tuple[str, ...]:
    """A node name or an iterable of names as a tuple (a lone str is one name)."""
    return (vs,) if isinstance(vs, str) else tuple(vs)


def _find_cycle(remaining: list[str], parents: Mapping[str, tuple[str, ...]]) -> list[str]:
    """One directed cycle among ``remaining`` (each has a parent in the set)."""
    left = set(remaining)
    order = {v: i for i, v in enumerate(remaining)}
    path: list[str] = []
    seen: dict[str, int] = {}
    v = remaining[0]
    while v not in seen:
        seen[v] = len(path)
        path.append(v)
        v = next(p for p in parents[v] if p in left)
    back = path[seen[v] :]  # each entry's successor in the list is one of its parents
    cycle = back[::-1]  # parent -> child order
    start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
    return cycle[start:] + cycle[:start]


def _topological(nodes: tuple[str, ...], parents: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Kahn's algorithm; among ready nodes the one given first comes first."""
    index = {v: i for i, v in enumerate(nodes)}
    children: dict[str, list[str]] = {v: [] for v in nodes}
    indegree = {v: len(parents[v]) for v in nodes}
    for v in nodes:
        for p in parents[v]:
            children[p].append(v)
    ready = [index[v] for v in nodes if indegree[v] == 0]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        v = nodes[heapq.heappop(ready)]
        out.append(v)
        for c in children[v]:
            indegree[c] -= 1
            if indegree[c] == 0:
                heapq.heappush(ready, index[c])
    if len(out) < len(nodes):
        placed = set(out)
        cycle = _find_cycle([v for v in nodes if v not in placed], parents)
        raise DataError(
            "the graph has a directed cycle: "
            + " -> ".join([*cycle, cycle[0]])
            + "; a Bayesian network needs a DAG, so remove or reverse one of these edges"
        )
    return tuple(out)


@dataclass(frozen=True, eq=True)
class DAG:
    """A directed acyclic graph over named nodes.

    Parameters
    ----------
    nodes : sequence of str
        Node names, unique. They are stored in a topological order: Kahn's
        algorithm that, among the nodes whose parents are all placed, takes
        the one given first, so an order that is already topological is kept.
    parents : mapping str -> sequence of str
        The parents of each node, in the order that indexes the node's
        conditional probability table. Nodes missing from the mapping have no
        parents. Duplicate parents are dropped (first occurrence kept).

    Attributes
    ----------
    nodes : tuple of str
        Topological order.
    parents : mapping str -> tuple of str
        Read-only; every node is a key.

    Notes
    -----
    The instance is immutable and hashable (the hash uses the nodes and
    parent tuples). ``U``, the hidden class, is not a node: it is implicit.

    Examples
    --------
    >>> g = DAG.from_edges(["Y", "X", "Z"], [("Z", "X"), ("X", "Y"), ("Z", "Y")])
    >>> g.nodes
    ('Z', 'X', 'Y')
    >>> g.parents["Y"], sorted(g.markov_boundary("X"))
    (('X', 'Z'), ['Y', 'Z'])
    """

    nodes: tuple[str, ...]
    parents: Mapping[str, tuple[str, ...]]

    def __post_init__(self) -> None:
        nodes = tuple(self.nodes)
        for v in nodes:
            if not isinstance(v, str) or not v:
                raise DataError(f"node names must be non-empty strings; got {v!r}")
        if len(set(nodes)) != len(nodes):
            dup = sorted({v for v in nodes if nodes.count(v) > 1})
            raise DataError(f"node names must be unique; repeated: {dup}")
        known = set(nodes)
        raw = dict(self.parents)
        extra = sorted(set(raw) - known)
        if extra:
            raise DataError(f"parents names nodes that are not in nodes: {extra}")
        parents: dict[str, tuple[str, ...]] = {}
        for v in nodes:
            pa = tuple(dict.fromkeys(_names(raw.get(v, ()))))
            for p in pa:
                if p == v:
                    raise DataError(f"self loop {v} -> {v}: a node cannot be its own parent")
                if p not in known:
                    raise DataError(f"edge {p!r} -> {v!r}: {p!r} is not a node; add it to nodes")
            parents[v] = pa
        order = _topological(nodes, parents)
        object.__setattr__(self, "nodes", order)
        object.__setattr__(self, "parents", MappingProxyType({v: parents[v] for v in order}))

    def __hash__(self) -> int:
        return hash((self.nodes, tuple(self.parents[v] for v in self.nodes)))

    def __reduce__(self) -> tuple[Any, ...]:
        # the read-only parents mapping cannot be pickled itself: rebuild from plain values
        return (DAG, (self.nodes, {v: self.parents[v] for v in self.nodes}))

    @classmethod
    def from_edges(cls, nodes: Iterable[str] | None, edges: Iterable[tuple[str, str]]) -> DAG:
        """Build a DAG from ``(parent, child)`` pairs.

        Parameters
        ----------
        nodes : iterable of str or None
            Every node, isolated ones included; ``None`` takes the edges'
            endpoints in order of first appearance.
        edges : iterable of (str, str)
            Directed edges ``parent -> child``. Repeated edges are dropped.

        Raises
        ------
        DataError
            On a self loop, an endpoint missing from ``nodes``, or a directed
            cycle (the message spells one cycle out, e.g. ``A -> B -> A``).
        """
        pairs: list[tuple[str, str]] = []
        for e in edges:
            if isinstance(e, str) or len(tuple(e)) != 2:
                raise DataError(f"each edge must be a (parent, child) pair; got {e!r}")
            a, b = tuple(e)
            pairs.append((a, b))
        names = tuple(dict.fromkeys(v for e in pairs for v in e) if nodes is None else nodes)
        known = set(names)
        parents: dict[str, list[str]] = {v: [] for v in names}
        for a, b in pairs:
            for end in (a, b):
                if end not in known:
                    raise DataError(
                        f"edge {a!r} -> {b!r}: {end!r} is not among the nodes; "
                        "add it to nodes or fix the edge"
                    )
            if a == b:
                raise DataError(f"self loop {a} -> {a}: a node cannot be its own parent")
            if a not in parents[b]:
                parents[b].append(a)
        return cls(names, {v: tuple(p) for v, p in parents.items()})

    # ------------------------------------------------------------------ queries
    def _check(self, vs: Iterable[str]) -> tuple[str, ...]:
        out = _names(vs)
        unknown = [v for v in out if v not in self.parents]
        if unknown:
            raise DataError(f"unknown node(s) {unknown}; the DAG has nodes {list(self.nodes)}")
        return out

    @cached_property
    def _children(self) -> Mapping[str, tuple[str, ...]]:
        ch: dict[str, list[str]] = {v: [] for v in self.nodes}
        for v in self.nodes:
            for p in self.parents[v]:
                ch[p].append(v)
        return MappingProxyType({v: tuple(c) for v, c in ch.items()})

    @property
    def topological_order(self) -> tuple[str, ...]:
        """The nodes, parents before children (same as :attr:`nodes`)."""
        return self.nodes

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.nodes)

    @property
    def edges(self) -> tuple[tuple[str, str], ...]:
        """``(parent, child)`` pairs, by child in topological order, then parent order."""
        return tuple((p, v) for v in self.nodes for p in self.parents[v])

    def children(self, v: str) -> tuple[str, ...]:
        """Children of ``v`` in topological order."""
        self._check(v)
        return self._children[v]

    def ancestors(self, vs: str | Iterable[str], *, inclusive: bool = False) -> frozenset[str]:
        """Nodes with a directed path to some node of ``vs``.

        With ``inclusive=True`` the nodes of ``vs`` are included too.
        """
        return self._reach(self._check(vs), self.parents, inclusive)

    def descendants(self, v: str | Iterable[str], *, inclusive: bool = False) -> frozenset[str]:
        """Nodes reachable from ``v`` (a name or several) by a directed path."""
        return self._reach(self._check(v), self._children, inclusive)

    @staticmethod
    def _reach(
        start: tuple[str, ...], step: Mapping[str, tuple[str, ...]], inclusive: bool
    ) -> frozenset[str]:
        """Nodes reached from ``start`` by one or more ``step`` moves (parents or children)."""
        seen: set[str] = set()
        stack = [w for s in start for w in step[s]]
        while stack:
            w = stack.pop()
            if w not in seen:
                seen.add(w)
                stack.extend(step[w])
        return frozenset(seen | set(start)) if inclusive else frozenset(seen)

    def markov_boundary(self, v: str) -> frozenset[str]:
        """``MB(v) = PA(v) ∪ CH(v) ∪ PA(CH(v)) \\ {v}`` in ``G`` (``U`` excluded).

        In ``G_U``, ``v`` is independent of every other node given
        ``MB(v) ∪ {U}``.
        """
        self._check(v)
        out = set(self.parents[v]) | set(self._children[v])
        for c in self._children[v]:
            out.update(self.parents[c])
        out.discard(v)
        return frozenset(out)

    @cached_property
    def moral_neighbours(self) -> Mapping[str, frozenset[str]]:
        """Adjacency of the moral graph: marry co-parents, drop directions.

        A node's moral neighbours are exactly its Markov boundary.
        """
        return MappingProxyType({v: self.markov_boundary(v) for v in self.nodes})

    @property
    def max_degree(self) -> int:
        """Largest number of edges (in plus out) at one node of ``G``; 0 without edges."""
        return max((len(self.parents[v]) + len(self._children[v]) for v in self.nodes), default=0)

    @property
    def max_in_degree(self) -> int:
        """Largest number of parents of one node."""
        return max((len(self.parents[v]) for v in self.nodes), default=0)


def d_separated(
    dag: DAG,
    xs: str | Iterable[str],
    ys: str | Iterable[str],
    zs: str | Iterable[str] = (),
    *,
    latent: bool = True,
    given_latent: bool = False,
) -> bool:
    """Whether ``xs`` and ``ys`` are d-separated by ``zs`` in ``G_U`` (or ``G``).

    Parameters
    ----------
    dag : DAG
    xs, ys, zs : str or iterable of str
        Disjoint node sets; a lone string is one node. ``zs`` may be empty.
    latent : bool
        Reason in ``G_U``, which adds the hidden ``U`` with ``U -> V`` for
        every node (the mixture model). ``False`` uses ``G`` alone.
    given_latent : bool
        Condition on ``U`` as well as on ``zs`` (only with ``latent=True``).
        ``U`` is never named in ``zs``: this flag is the only way to condition
        on it. Without it ``U`` is a common cause of every pair, so no two
        nodes are d-separated.

    Returns
    -------
    bool
        ``True`` when every trail between ``xs`` and ``ys`` is blocked by
        ``zs`` (and ``U`` if given): then ``X ⊥ Y | Z`` in every distribution
        that factorises over the graph.

    Notes
    -----
    The reachability ("Bayes-ball") algorithm of Koller & Friedman (2009),
    Algorithm 3.1: mark the ancestors ``A`` of ``Z``; then search over
    (node, direction) pairs from ``X``. A node entered from a child ("up")
    and not in ``Z`` passes to its parents and children; a node entered from
    a parent ("down") passes to its children when not in ``Z``, and back up
    to its parents when it is in ``A`` (an active v-structure). Time
    ``O(|V| + |E|)``.

    Examples
    --------
    >>> g = DAG.from_edges(None, [("A", "C"), ("B", "C")])
    >>> d_separated(g, "A", "B", latent=False), d_separated(g, "A", "B", "C", latent=False)
    (True, False)
    >>> d_separated(g, "A", "B", given_latent=True)
    True
    """
    if given_latent and not latent:
        raise DataError("given_latent=True needs latent=True: U is only part of G_U")
    x, y, z = dag._check(xs), dag._check(ys), dag._check(zs)
    if not x or not y:
        raise DataError(f"xs and ys must name at least one node each; got {x} and {y}")
    for a, b, na, nb in ((x, y, "xs", "ys"), (x, z, "xs", "zs"), (y, z, "ys", "zs")):
        common = sorted(set(a) & set(b))
        if common:
            raise DataError(f"{na} and {nb} must be disjoint; both contain {common}")
    root = object()  # the hidden U, which cannot collide with a node name
    given: set[object] = set(z)
    if given_latent:
        given.add(root)
    # Phase I: ancestors of the conditioning set (U is an ancestor of every node)
    anc: set[object] = set(dag.ancestors(z, inclusive=True))
    if latent and given:
        anc.add(root)
    children = dag._children

    def parents_of(v: object) -> tuple[object, ...]:
        if v is root:
            return ()
        pa: tuple[object, ...] = dag.parents[v]  # type: ignore[index]
        return (*pa, root) if latent else pa

    def children_of(v: object) -> tuple[object, ...]:
        return dag.nodes if v is root else children[v]  # type: ignore[index]

    # Phase II: traverse active trails from X
    UP, DOWN = 0, 1
    targets = set(y)
    visited: set[tuple[object, int]] = set()
    stack: list[tuple[object, int]] = [(v, UP) for v in x]
    while stack:
        v, direction = stack.pop()
        if (v, direction) in visited:
            continue
        visited.add((v, direction))
        if v not in given and v in targets:
            return False
        if direction == UP and v not in given:
            stack.extend((p, UP) for p in parents_of(v))
            stack.extend((c, DOWN) for c in children_of(v))
        elif direction == DOWN:
            if v not in given:
                stack.extend((c, DOWN) for c in children_of(v))
            if v in anc:
                stack.extend((p, UP) for p in parents_of(v))
    return True

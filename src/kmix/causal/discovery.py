"""Learning the DAG when a hidden population label confounds every variable.

:func:`discover` codes the columns, runs the search of
:func:`kmix.solvers.discovery.discover_graph` (rank tests of super-variables
over strata, PC-stable skeleton, colliders, Meek's rules; Mazaheri, Gordon,
Rabani & Schulman, "Causal discovery under latent class confounding",
arXiv:2311.07454, 2023) and returns the equivalence class with every pair's
evidence (:class:`DiscoveryResult`), as text, a networkx graph, a kmix or a
pgmpy DAG of the class.

Multiple testing. Each pair faces many tests (conditioning sets times
super-variable choices); the choices given one conditioning set are pooled
(their smallest p-value, Bonferroni-adjusted), and the pair goes at the
first conditioning set whose pooled p-value reaches ``alpha``, so ``alpha``
is a per-test level, not an error rate of the graph: a larger ``alpha``
keeps more edges. The default :data:`ALPHA` is the conventional 0.05
(``benchmarks/bench_discovery.py`` measures what it keeps and removes);
every pair's largest p-value is reported, so a graph at another level can
be read off without re-running.

Score search (``method="score"``, the default). On finite samples the rank
tests lack power: an edge raises the rank of a super-variable table by an
amount that scales with how much the partner variables tell about ``U``,
so true edges go where the tests cannot see them. The default therefore
takes the tests' graph as one start of a structural EM search (N. Friedman,
"Learning belief networks in the presence of missing values and hidden
variables", ICML 1997) over DAGs with ``U`` a parent of every variable, by
the BIC of the mixture of networks (consistent for the equivalence class;
Schwarz 1978), and returns the class of the best DAG found. Each pair's
evidence then holds both the tests and the score margin (the BIC gained by
the pair's edge). ``method="rank"`` is the test-only search.

Fit and identification. The best graph then faces a goodness-of-fit test
against the saturated table (edges join while it rejects the graph at
``fit_level``), and its mixture's dimension is compared with the table's:
when they are equal the mixture fits every table, the data exclude no edge,
and every pair is left joined (:attr:`DiscoveryResult.saturated`, with a
warning). Both are in :mod:`kmix.solvers.discovery.fitcheck`.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exceptions import DataError, IdentifiabilityError
from ..params import DAG
from ..solvers.discovery import discover_graph
from ..solvers.discovery.fitcheck import FIT_LEVEL
from ..solvers.discovery.skeleton import MAX_GROUPINGS
from .background import Background, as_background

__all__ = [
    "ALPHA",
    "Background",
    "DiscoveryResult",
    "EdgeEvidence",
    "discover",
    "discover_over_k",
]

#: Default per-test level: a pair goes when a test has p >= ALPHA
ALPHA = 0.05
#: DiscoveryResult.dags enumerates classes with at most this many undirected edges
MAX_OPEN_EDGES = 16


@dataclass(frozen=True)
class EdgeEvidence:
    """What the search found about one pair of variables.

    Attributes
    ----------
    pair : (str, str)
        In column order.
    adjacent : bool
    orientation : str or None
        ``"->"`` (``pair[0] -> pair[1]``), ``"<-"``, ``"--"`` (either way
        within the class), or None when not adjacent.
    rule : str or None
        Why it points so: ``"background"``, ``"collider"``, ``"R1"`` .. ``"R4"``.
    decided_by : str
        ``"test"`` (a test removed it), ``"background"``, ``"kept"`` (no
        test removed it), ``"score"`` (the score search decided), ``"fit"``
        (joined because the goodness-of-fit test rejected the graph without
        it) or ``"not identified"`` (joined because the best graph's mixture
        fills the table, so the data cannot exclude it).
    removed_by : dict or None
        The test that removed the pair (of its super-variable choices given
        that conditioning set, the one of smallest p-value): sides,
        conditioning set, statistic, df, p-value.
    max_p : float
        Largest p-value of the pair's conclusive tests (NaN without one): how
        close the pair came to going.
    n_tests : int
    score_margin : float or None
        ``method="score"``: the expected BIC (nats) of the best DAG with the
        pair adjacent minus without it (posteriors of ``U`` held fixed);
        positive for the edges kept, negative for the pairs left apart; NaN
        where either edge would close a cycle. None for ``method="rank"``.
    """

    pair: tuple[str, str]
    adjacent: bool
    orientation: str | None
    rule: str | None
    decided_by: str
    removed_by: dict[str, Any] | None
    max_p: float
    n_tests: int
    score_margin: float | None = None


@dataclass(frozen=True)
class DiscoveryResult:
    """The equivalence class learned by :func:`discover`.

    Attributes
    ----------
    nodes : tuple of str
    directed : tuple of (str, str)
        Edges every DAG of the class orients so (or that knowledge fixed).
    undirected : tuple of (str, str)
        Edges the class leaves open.
    evidence : dict
        ``(a, b) -> EdgeEvidence`` for every pair, ``a`` before ``b`` in column order.
    n_components, alpha, n_tests
    conflicts : list of (str, str, str)
        Colliders ``x -> m <- y`` that contradicted an orientation already made.
    method : str
        ``"score"`` or ``"rank"`` (see :func:`discover`).
    bic, log_likelihood : float or None
        Of the mixture of networks on the best DAG (``method="score"``).
    dimension : int or None
        ``method="score"``: the dimension of the mixture of networks on the
        best DAG, the rank of the Jacobian from its free parameters to the
        joint table at a random point (Geiger, Heckerman & Meek,
        "Asymptotic model selection for directed networks with hidden
        variables", UAI 1996); None when the joint table has more than
        :data:`kmix.solvers.bayesnet.certificate.MAX_CELLS` cells.
    table_dimension : int
        The joint table's free cells, ``prod(levels) - 1``. Where
        ``dimension`` reaches it (:attr:`saturated`) the mixture on the graph
        fits every table: a supergraph fits no better, so the data exclude
        none of the edges the graph lacks, and every pair stays joined (the
        class of a complete DAG; those pairs' evidence says ``"not
        identified"``).
    fit_p_value : float or None
        ``method="score"``: the goodness-of-fit test of the final graph
        against the saturated table (None when the table has fewer than 5
        rows per cell, or is too large for its dimension); edges whose
        evidence says ``"fit"`` joined while the test rejected the graph
        (:mod:`kmix.solvers.discovery.fitcheck`).
    """

    nodes: tuple[str, ...]
    directed: tuple[tuple[str, str], ...]
    undirected: tuple[tuple[str, str], ...]
    evidence: dict[tuple[str, str], EdgeEvidence]
    n_components: int
    alpha: float
    n_tests: int
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)
    method: str = "rank"
    bic: float | None = None
    log_likelihood: float | None = None
    dimension: int | None = None
    table_dimension: int | None = None
    fit_p_value: float | None = None

    @property
    def saturated(self) -> bool:
        """The mixture on the best DAG has the joint table's dimension (see ``dimension``)."""
        return self.dimension is not None and self.dimension == self.table_dimension

    def to_text(self) -> str:
        """One edge per line: ``A -> B`` or ``A -- B``; isolated nodes alone."""
        lines = [f"{a} -> {b}" for a, b in self.directed]
        lines += [f"{a} -- {b}" for a, b in self.undirected]
        touched = {v for e in (*self.directed, *self.undirected) for v in e}
        lines += [v for v in self.nodes if v not in touched]
        return "\n".join(lines)

    def to_networkx(self) -> Any:
        """A networkx ``DiGraph``: directed edges once, undirected ones both ways with
        ``undirected=True``; every edge carries its evidence's ``max_p`` and ``rule``."""
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self.nodes)
        for a, b in self.directed:
            ev = self.evidence[self._key(a, b)]
            g.add_edge(a, b, undirected=False, max_p=ev.max_p, rule=ev.rule)
        for a, b in self.undirected:
            ev = self.evidence[self._key(a, b)]
            g.add_edge(a, b, undirected=True, max_p=ev.max_p, rule=None)
            g.add_edge(b, a, undirected=True, max_p=ev.max_p, rule=None)
        return g

    def to_dag(self) -> DAG:
        """One DAG of the class (a consistent extension; Dor & Tarsi, "A simple algorithm
        to construct a consistent extension of a partially oriented graph", 1992)."""
        directed = set(self.directed)
        undirected = {frozenset(e) for e in self.undirected}
        left = set(self.nodes)
        out = set(directed)
        while left:
            for x in sorted(left, key=self.nodes.index):
                if any(a == x and b in left for a, b in directed):
                    continue  # not a sink of the directed part
                nbrs = {y for e in undirected if x in e for y in e if y != x and y in left}
                adj = nbrs | {a for a, b in directed if b == x and a in left}
                if all(
                    frozenset((y, z)) in undirected or (y, z) in directed or (z, y) in directed
                    for y in nbrs
                    for z in adj
                    if z != y
                ):
                    out |= {(y, x) for y in nbrs}
                    undirected = {e for e in undirected if x not in e}
                    directed = {(a, b) for a, b in directed if x not in (a, b)}
                    left.remove(x)
                    break
            else:
                raise IdentifiabilityError(
                    "the learned graph has no consistent extension (no DAG of its class): "
                    "the tests contradict each other; try another alpha"
                )
        return DAG.from_edges(self.nodes, sorted(out))

    def dags(self, limit: int = 1000) -> list[DAG]:
        """Every DAG of the class (at most ``limit``): the undirected edges oriented without a
        cycle and without a collider the class does not have."""
        if len(self.undirected) > MAX_OPEN_EDGES:
            raise DataError(
                f"{len(self.undirected)} undirected edges: the class may hold up to "
                f"2^{len(self.undirected)} DAGs; enumerate at most {MAX_OPEN_EDGES} open edges"
            )
        # unshielded means non-adjacent in the class's skeleton, undirected edges included
        skeleton = {frozenset(e) for e in (*self.directed, *self.undirected)}
        target = _colliders(self.directed, self.nodes, skeleton)
        out: list[DAG] = []
        for flips in itertools.product((False, True), repeat=len(self.undirected)):
            edges = list(self.directed) + [
                (b, a) if f else (a, b) for (a, b), f in zip(self.undirected, flips, strict=True)
            ]
            if _colliders(edges, self.nodes, skeleton) != target:
                continue
            try:
                out.append(DAG.from_edges(self.nodes, edges))
            except DataError:  # a cycle
                continue
            if len(out) >= limit:
                break
        return out

    def to_pgmpy(self) -> Any:
        """One DAG of the class as a pgmpy ``DAG`` (the optional extra ``kmix[pgmpy]``)."""
        from pgmpy.base import DAG as PgmpyDAG

        dag = self.to_dag()
        out = PgmpyDAG()
        out.add_nodes_from(dag.nodes)
        out.add_edges_from(dag.edges)
        return out

    def _key(self, a: str, b: str) -> tuple[str, str]:
        return (a, b) if self.nodes.index(a) < self.nodes.index(b) else (b, a)

    def __str__(self) -> str:
        return self.to_text()


def _colliders(
    edges: Iterable[tuple[str, str]], nodes: Sequence[str], adjacent: set[frozenset[str]]
) -> set[tuple[str, str, str]]:
    """Colliders ``(a, m, b)`` (``a < b`` in node order) of directed ``edges`` whose ends are
    not ``adjacent`` (pairs of the whole skeleton)."""
    es = list(edges)
    parents: dict[str, list[str]] = {}
    for a, b in es:
        parents.setdefault(b, []).append(a)
    order = {v: i for i, v in enumerate(nodes)}
    out = set()
    for m, pa in parents.items():
        for a, b in itertools.combinations(sorted(pa, key=order.__getitem__), 2):
            if frozenset((a, b)) not in adjacent:
                out.add((a, m, b))
    return out


def _code(data: Any, columns: Sequence[str] | None) -> tuple[np.ndarray, list[int], list[str]]:
    """Integer codes per column (levels in sorted order), their counts and the names.

    Numeric arrays stay numeric; other values are compared as text. Missing
    cells (None, NaN, and whatever a DataFrame's ``isna`` reports, pandas NA
    included) are found column by column without a Python loop over rows.
    """
    names = [str(c) for c in getattr(data, "columns", [])]
    arr = np.asarray(data.to_numpy() if hasattr(data, "to_numpy") else data)
    if arr.dtype.kind not in "biuf":
        arr = arr.astype(object)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] < 2:
        raise DataError(
            f"data must be a 2-D table with at least one row and two columns; got shape {arr.shape}"
        )
    missing = np.asarray(data.isna(), dtype=bool) if hasattr(data, "isna") else None
    if columns is not None:
        names = [str(c) for c in columns]
        if len(names) != arr.shape[1]:
            raise DataError(f"{len(names)} column names for {arr.shape[1]} columns")
    names = names or [f"V{j}" for j in range(arr.shape[1])]
    codes = np.empty(arr.shape, dtype=np.int64)
    levels = []
    for j, name in enumerate(names):
        col = arr[:, j]
        if missing is not None:
            bad = missing[:, j]
        elif col.dtype == object:  # None equals None; NaN differs from itself
            bad = (col == None).astype(bool) | (col != col).astype(bool)  # noqa: E711
        else:
            bad = np.isnan(col) if col.dtype.kind == "f" else np.zeros(col.shape[0], dtype=bool)
        if bad.any():
            raise DataError(
                f"column {name!r} has {int(bad.sum())} missing values; causal discovery needs "
                "complete rows (drop them first)"
            )
        uniq, inv = np.unique(col.astype(str) if col.dtype == object else col, return_inverse=True)
        if uniq.shape[0] < 2:
            raise DataError(f"column {name!r} takes one value only; drop it")
        codes[:, j] = inv.reshape(-1)
        levels.append(int(uniq.shape[0]))
    return codes, levels, names


def discover(
    data: Any,
    n_components: int,
    *,
    alpha: float = ALPHA,
    max_cond: int | None = None,
    background: Background | Mapping[str, Any] | None = None,
    columns: Sequence[str] | None = None,
    max_groupings: int | None = MAX_GROUPINGS,
    sample_weight: Any = None,
    method: str = "score",
    random_state: Any = None,
    fit_level: float = FIT_LEVEL,
) -> DiscoveryResult:
    """The equivalence class of the DAG over ``data``'s columns under a hidden ``U``.

    Parameters
    ----------
    data : array-like or DataFrame of shape (n_samples, n_vars)
        Discrete values (any labels); complete rows.
    n_components : int
        ``k``, the states of the hidden population label (``1``: ordinary PC
        with independence tests).
    alpha : float
        Per-test level (see the module notes on multiple testing).
    max_cond : int, optional
        Largest conditioning set (default: as far as the graph allows).
    background : Background or mapping, optional
        ``forbidden``/``required`` directed edges and ``tiers``.
    columns : sequence of str, optional
        Names for an array's columns.
    max_groupings : int or None
        Super-variable choices per pair and conditioning set (None: all).
    sample_weight : array-like of shape (n_samples,), optional
        Count of each row (aggregated tables); the tests' sample size is their sum.
    method : {"score", "rank"}
        ``"score"`` (default): the rank tests' graph starts a structural EM
        search of the BIC, whose best DAG gives the class; ``"rank"``: the
        rank tests alone (see the module notes).
    random_state : int, Generator or None
        The score search's restarts.
    fit_level : float
        ``method="score"``: level of the goodness-of-fit test of the best
        graph against the saturated table; while it rejects the graph, the
        edge of largest likelihood-ratio evidence joins (``0``: never). The
        default 0.01 asks for strong evidence of misfit: the BIC already
        weighs each edge, and the test only restores the weak edges it drops
        at small samples.

    Returns
    -------
    DiscoveryResult
    """
    codes, levels, names = _code(data, columns)
    required, forbidden = as_background(background).pairs(names)
    weights = np.ones(codes.shape[0]) if sample_weight is None else np.asarray(sample_weight)
    if weights.shape != (codes.shape[0],) or not np.all(np.isfinite(weights) & (weights >= 0)):
        raise DataError(
            f"sample_weight must be {codes.shape[0]} finite non-negative numbers, one per row"
        )
    values, where = np.unique(codes, axis=0, return_inverse=True)
    counts = np.bincount(where.reshape(-1), weights=weights.astype(np.float64)).astype(np.float64)
    found = discover_graph(
        values,
        counts,
        levels,
        int(n_components),
        alpha=alpha,
        max_cond=max_cond,
        required=required,
        forbidden=forbidden,
        max_groupings=max_groupings,
        method=method,
        rng=np.random.default_rng(random_state),
        fit_level=fit_level,
    )
    result = _result(found, names, required, forbidden, levels)
    if result.saturated:
        warnings.warn(
            f"the mixture of networks on the best graph has dimension {result.dimension}, "
            f"that of the whole table of {len(names)} variables: it fits any table, so the "
            "data exclude no edge; every pair is left joined (the graph is not identified: "
            "more rows do not change that, background knowledge or fewer variables may)",
            stacklevel=2,
        )
    return result


def _result(
    found: Any,
    names: Sequence[str],
    required: Iterable[tuple[int, int]],
    forbidden: Iterable[tuple[int, int]],
    levels: Sequence[int],
) -> DiscoveryResult:
    """Names, edges and per-pair evidence of a search."""
    skel, orient = found.skeleton, found.orientation
    scored = getattr(found, "scored", None)
    g = orient.graph
    n = len(names)
    both = {(a, b) for a, b in forbidden} & {(b, a) for a, b in forbidden}
    kept = {(min(a, b), max(a, b)) for a, b in required}
    directed, undirected, evidence = [], [], {}
    grown: set[tuple[int, int]] = set()
    in_best: set[tuple[int, int]] = set()
    if scored is not None:
        grown = {(min(a, b), max(a, b)) for a, b in scored.check.added}
        in_best = {(min(a, b), max(a, b)) for a, b in scored.edges()}
    for i, j in itertools.combinations(range(n), 2):
        tests = skel.tests.get((i, j), [])
        ps = [t.p_value for t in tests if t.conclusive]
        adjacent = bool(g[i, j] or g[j, i])
        orientation = rule = None
        if adjacent:
            if g[i, j] and g[j, i]:
                orientation = "--"
                undirected.append((names[i], names[j]))
            elif g[i, j]:
                orientation, rule = "->", orient.rule.get((i, j))
                directed.append((names[i], names[j]))
            else:
                orientation, rule = "<-", orient.rule.get((j, i))
                directed.append((names[j], names[i]))
        removed = skel.removed_by.get((i, j))
        if (i, j) in both or (i, j) in kept:
            decided = "background"
        elif scored is None:
            decided = "test" if removed is not None else "kept"
        elif adjacent and (i, j) not in in_best:
            decided = "not identified"  # joined because the best graph fills the table
        else:
            decided = "fit" if (i, j) in grown else "score"
        evidence[(names[i], names[j])] = EdgeEvidence(
            (names[i], names[j]),
            adjacent,
            orientation,
            rule,
            decided,
            None
            if removed is None
            else {
                "a": [names[c] for c in removed.a],
                "b": [names[c] for c in removed.b],
                "given": [names[c] for c in removed.cond],
                "statistic": removed.statistic,
                "df": removed.df,
                "p_value": removed.p_value,
            },
            max(ps) if ps else float("nan"),
            len(tests),
            None if scored is None else float(scored.margins[i, j]),
        )
    conflicts = [(names[x], names[m], names[y]) for x, m, y in orient.conflicts]
    return DiscoveryResult(
        tuple(names),
        tuple(directed),
        tuple(undirected),
        evidence,
        found.n_components,
        found.alpha,
        skel.n_tests,
        conflicts,
        found.method,
        None if scored is None else float(scored.bic),
        None if scored is None else float(scored.log_likelihood),
        None if scored is None else scored.check.dimension,
        int(np.prod([float(t) for t in levels])) - 1,
        None if scored is None else scored.check.p_value,
    )


def discover_over_k(
    data: Any, ks: Sequence[int] = (1, 2, 3), **params: Any
) -> tuple[dict[int, DiscoveryResult], str]:
    """:func:`discover` for each candidate number of hidden classes, and how the graph moves.

    Too small a ``k`` leaves the hidden label's dependence unexplained, so
    pairs stay joined (towards a complete graph); too large a ``k`` lets the
    rank tests accept any table, so pairs go (towards an empty one)
    (Mazaheri et al. 2023). Read the graphs with a ``k`` chosen otherwise
    (e.g. ``kmix.select_k_classes``) or from knowledge of the populations.

    Returns
    -------
    results : dict
        ``k -> DiscoveryResult``.
    summary : str
        One line per ``k``: edges, and the adjacencies gained and lost from the previous ``k``.
    """
    results = {int(k): discover(data, int(k), **params) for k in ks}
    lines = []
    previous: set[frozenset[str]] | None = None
    for k, res in results.items():
        here = {frozenset(e) for e in (*res.directed, *res.undirected)}
        line = f"k = {k}: {len(here)} edges ({len(res.directed)} directed)"
        if res.bic is not None:
            line += f", BIC {res.bic:.1f}"
        if previous is not None:
            gained = sorted(tuple(sorted(e)) for e in here - previous)
            lost = sorted(tuple(sorted(e)) for e in previous - here)
            line += f"; joined {gained or 'none'}, separated {lost or 'none'}"
        lines.append(line)
        previous = here
    return results, "\n".join(lines)

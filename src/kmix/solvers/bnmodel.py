"""Mixtures of discrete Bayesian networks on a known DAG: parameters and exact queries.

The hidden class ``U`` (``k`` values, weights ``pi``) is a parent of every
node of the DAG ``G``; each source ``u`` is a Bayesian network on ``G`` with
its own conditional probability tables (CPTs):

.. math::
   P(v) = \\sum_u \\pi_u \\prod_{V} P_u(v_V \\mid \\mathrm{pa}(V)).

Once ``pi`` and every ``P_u(V | PA(V))`` are known, ``G_U`` is a fully
specified Markovian model and every interventional distribution is
computable (spec D2). The truncated factorisation (Pearl 2009, eq. 3.10)
drops the factors of the intervened nodes ``X``:

.. math::
   P(v_{V \\setminus X} \\mid do(X = x))
     = \\sum_u \\pi_u \\prod_{V \\notin X} P_u(v_V \\mid \\mathrm{pa}(V))\\big|_{X = x},

and a conditional interventional query keeps ``U`` inside the sum until the
end, because observing ``Z = z`` shifts the posterior over sources:

.. math::
   P(y \\mid do(x), z)
     = \\frac{\\sum_u \\pi_u P_u(y, z \\mid do(x))}{\\sum_u \\pi_u P_u(z \\mid do(x))},
   \\qquad
   \\mathrm{ATE} = E[Y \\mid do(T=1)] - E[Y \\mid do(T=0)] = \\sum_u \\pi_u \\mathrm{ATE}_u.

Each ``P_u(y, z | do(x))`` is computed for all ``u`` at once by variable
elimination (Koller & Friedman 2009, Alg. 9.1) restricted to the ancestors
of ``Y ∪ Z`` in the mutilated graph (every other node sums out to one). The
component axis ``u`` rides along every factor; factors are numpy arrays
contracted with :func:`numpy.einsum`, eliminating greedily the variable whose
new factor is smallest, so sparse 32-node graphs never build a ``2^32`` table.

References
----------
J. Pearl, *Causality: Models, Reasoning, and Inference*, 2nd ed., Cambridge
University Press, 2009 (section 3.2.3, the truncated factorisation).
D. Koller and N. Friedman, *Probabilistic Graphical Models*, MIT Press, 2009
(chapter 9, variable elimination; section 21.3, interventional queries).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..exceptions import DataError
from ..params import check_weights
from .graph import DAG

__all__ = [
    "MAX_FACTOR_ENTRIES",
    "BayesNetMixtureParams",
    "ate",
    "interventional",
    "log_prob_rows",
    "observational",
    "sample",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
#: Largest intermediate factor (entries, component axis included) variable elimination may build.
MAX_FACTOR_ENTRIES = 2**24

Factor = tuple[tuple[str, ...], FloatArray]  # (labels after the component axis, array)


@dataclass(frozen=True, eq=False)
class BayesNetMixtureParams:
    """Weights and per-source CPTs of a mixture of discrete Bayesian networks.

    Parameters
    ----------
    dag : DAG
        The known graph ``G`` (``U`` is implicit).
    n_levels : int or sequence of int
        Levels of each node, in ``dag.nodes`` order; an int applies to all.
        Values are coded ``0 .. n_levels - 1``.
    weights : array-like of shape (k,)
        ``pi_u = P(U = u)``.
    cpts : sequence of arrays
        One per node in ``dag.nodes`` order, of shape
        ``(k, *[n_levels[p] for p in dag.parents[v]], n_levels[v])``:
        ``cpts[j][u, pa..., x] = P_u(V_j = x | PA(V_j) = pa)`` with parents in
        the order of ``dag.parents[v]``. Every row (last axis) sums to one.

    Notes
    -----
    Instances are immutable (read-only arrays). ``==`` compares the DAG,
    the levels and every array exactly; instances are not hashable.
    """

    dag: DAG
    n_levels: tuple[int, ...]
    weights: FloatArray
    cpts: tuple[FloatArray, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.dag, DAG):
            raise DataError(
                f"dag must be a kmix DAG; got {type(self.dag).__name__} "
                "(convert with kmix.causal.as_dag)"
            )
        n = self.dag.n_nodes
        raw: Any = self.n_levels
        levels = (int(raw),) * n if np.ndim(raw) == 0 else tuple(int(d) for d in raw)
        object.__setattr__(self, "n_levels", levels)
        object.__setattr__(self, "weights", check_weights(self.weights))
        arrays: list[FloatArray] = []
        for j, c in enumerate(self.cpts):
            try:
                arr = np.array(c, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise DataError(f"cpts[{j}] must be numeric ({exc})") from None
            arr.setflags(write=False)
            arrays.append(arr)
        object.__setattr__(self, "cpts", tuple(arrays))
        self.validate()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BayesNetMixtureParams):
            return NotImplemented
        return (
            self.dag == other.dag
            and self.n_levels == other.n_levels
            and np.array_equal(self.weights, other.weights)
            and all(np.array_equal(a, b) for a, b in zip(self.cpts, other.cpts, strict=True))
        )

    def validate(self) -> None:
        """Raise :class:`DataError` naming the node if a shape or a probability is wrong."""
        nodes = self.dag.nodes
        if len(self.n_levels) != len(nodes):
            raise DataError(
                f"n_levels has {len(self.n_levels)} entries but the DAG has {len(nodes)} "
                f"nodes {list(nodes)}; give one per node in dag.nodes order"
            )
        bad = [(v, d) for v, d in zip(nodes, self.n_levels, strict=True) if d < 1]
        if bad:
            raise DataError(f"every node needs at least one level; got {bad}")
        if len(self.cpts) != len(nodes):
            raise DataError(
                f"cpts has {len(self.cpts)} tables but the DAG has {len(nodes)} nodes; "
                "give one per node in dag.nodes order"
            )
        k = self.n_components
        levels = dict(zip(nodes, self.n_levels, strict=True))
        for v, cpt in zip(nodes, self.cpts, strict=True):
            pa = self.dag.parents[v]
            shape = (k, *[levels[p] for p in pa], levels[v])
            if cpt.shape != shape:
                raise DataError(
                    f"the CPT of {v!r} has shape {cpt.shape}; expected {shape} = "
                    f"(k, levels of parents {list(pa)}, levels of {v!r})"
                )
            if not np.all(np.isfinite(cpt)) or np.any(cpt < 0) or np.any(cpt > 1):
                raise DataError(f"the CPT of {v!r} has entries outside [0, 1] or non-finite")
            sums = cpt.sum(axis=-1)
            if np.any(np.abs(sums - 1.0) > 1e-6):
                idx = tuple(int(i) for i in np.argwhere(np.abs(sums - 1.0) > 1e-6)[0])
                raise DataError(
                    f"the CPT of {v!r} has a row (u, parent levels) = {idx} summing to "
                    f"{float(sums[idx])!r}; each row must sum to 1"
                )

    @property
    def n_components(self) -> int:
        """Number of sources ``k``."""
        return int(self.weights.shape[0])

    @property
    def n_nodes(self) -> int:
        """Number of observed nodes."""
        return self.dag.n_nodes

    @property
    def columns(self) -> tuple[str, ...]:
        """Node names in the order of the data columns (``dag.nodes``)."""
        return self.dag.nodes

    @property
    def n_parameters(self) -> int:
        """Free parameters: ``k - 1 + sum_V k * prod(levels of PA(V)) * (levels(V) - 1)``."""
        k = self.n_components
        return k - 1 + sum(int(np.prod(c.shape[:-1])) * (c.shape[-1] - 1) for c in self.cpts)

    def cpt(self, node: str) -> FloatArray:
        """The CPT of ``node`` (shape ``(k, *parent levels, levels)``)."""
        return self.cpts[self._index(node)]

    def _index(self, node: str) -> int:
        try:
            return self.dag.nodes.index(node)
        except ValueError:
            raise DataError(
                f"unknown node {node!r}; the DAG has nodes {list(self.dag.nodes)}"
            ) from None

    def permute(self, perm: Sequence[int] | NDArray[np.intp]) -> BayesNetMixtureParams:
        """Reorder the sources: new ``i`` = old ``perm[i]``."""
        idx = np.asarray(perm, dtype=np.intp)
        if sorted(idx.tolist()) != list(range(self.n_components)):
            raise DataError(
                f"perm must be a permutation of 0..{self.n_components - 1}; got {idx.tolist()}"
            )
        return dataclasses.replace(
            self, weights=self.weights[idx], cpts=tuple(c[idx] for c in self.cpts)
        )

    def canonical(self) -> BayesNetMixtureParams:
        """Sources sorted lexicographically by their flattened CPTs (first node first)."""
        key = np.concatenate([c.reshape(self.n_components, -1) for c in self.cpts], axis=1)
        return self.permute(np.lexsort(key.T[::-1]))


# ---------------------------------------------------------------------- rows
def _check_rows(params: BayesNetMixtureParams, values: ArrayLike) -> IntArray:
    arr = np.asarray(values)
    if arr.ndim != 2 or arr.shape[1] != params.n_nodes:
        raise DataError(
            f"values must have shape (n_rows, {params.n_nodes}) with columns "
            f"{list(params.columns)}; got shape {arr.shape}"
        )
    integral = arr.dtype.kind in "iub" or (
        arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))
    )
    if not integral:
        raise DataError("values must be integer level codes 0 .. n_levels - 1")
    out = arr.astype(np.int64)
    bad = (out < 0) | (out >= np.asarray(params.n_levels)[None, :])
    if np.any(bad):
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"row {r}, column {params.columns[c]!r} has value {int(out[r, c])}; "
            f"levels of that node are 0 .. {params.n_levels[c] - 1}"
        )
    return out


def log_prob_rows(params: BayesNetMixtureParams, values: ArrayLike) -> FloatArray:
    """Per-source log-likelihood of each row.

    .. math:: \\log P_u(x_s) = \\sum_V \\log P_u(x_{s,V} \\mid x_{s,\\mathrm{pa}(V)})

    Parameters
    ----------
    params : BayesNetMixtureParams
    values : array-like of shape (m, n_nodes)
        Integer level codes, columns in ``params.columns`` order.

    Returns
    -------
    ndarray of shape (m, k)
        ``-inf`` where a row has probability zero under a source.
    """
    x = _check_rows(params, values)
    col = {v: j for j, v in enumerate(params.columns)}
    out = np.zeros((params.n_components, x.shape[0]))
    with np.errstate(divide="ignore"):
        for j, v in enumerate(params.columns):
            idx: list[Any] = [slice(None), *(x[:, col[p]] for p in params.dag.parents[v])]
            out += np.log(params.cpts[j][(*idx, x[:, j])])
    return out.T


def sample(
    params: BayesNetMixtureParams, n: int, *, rng: np.random.Generator
) -> tuple[IntArray, NDArray[np.intp]]:
    """Ancestral sampling: draw ``u ~ pi``, then each node given ``u`` and its parents.

    Returns
    -------
    values : ndarray of shape (n, n_nodes), int64
        Columns in ``params.columns`` order.
    labels : ndarray of shape (n,)
        The source of each row.
    """
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise DataError(f"n must be a non-negative integer; got {n!r}")
    n = int(n)
    labels = rng.choice(params.n_components, size=n, p=params.weights).astype(np.intp)
    values = np.zeros((n, params.n_nodes), dtype=np.int64)
    col = {v: j for j, v in enumerate(params.columns)}
    for j, v in enumerate(params.columns):
        idx = tuple(values[:, col[p]] for p in params.dag.parents[v])
        cum = np.cumsum(params.cpts[j][(labels, *idx)], axis=1)  # (n, levels)
        r = rng.random(n) * cum[:, -1]
        values[:, j] = (r[:, None] >= cum[:, :-1]).sum(axis=1)
    return values, labels


# ------------------------------------------------------ variable elimination
def _contract(factors: list[Factor], out: tuple[str, ...], k: int) -> FloatArray:
    """Multiply the factors and sum out every label not in ``out`` (``u`` is kept)."""
    if not factors:
        return np.ones((k,))
    labels = list(dict.fromkeys([*out, *(lab for f in factors for lab in f[0])]))
    if len(labels) + 1 > 52:
        raise DataError(
            f"a factor would span {len(labels)} variables; numpy.einsum handles at most 51"
        )
    sym = {lab: i + 1 for i, lab in enumerate(labels)}
    args: list[Any] = []
    for names, arr in factors:
        args.extend([arr, [0, *(sym[lab] for lab in names)]])
    args.append([0, *(sym[lab] for lab in out)])
    return np.asarray(np.einsum(*args, optimize=len(factors) > 2), dtype=np.float64)


def _eliminate(
    factors: list[Factor], keep: tuple[str, ...], cards: Mapping[str, int], k: int
) -> FloatArray:
    """Sum-product variable elimination keeping ``keep`` and the component axis."""
    pending = {lab for f in factors for lab in f[0]} - set(keep)
    rank = {lab: i for i, lab in enumerate(cards)}

    def new_scope(var: str, factors: list[Factor]) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(lab for f in factors if var in f[0] for lab in f[0] if lab != var)
        )

    while pending:
        scopes = {var: new_scope(var, factors) for var in pending}
        sizes = {var: int(np.prod([cards[lab] for lab in s])) for var, s in scopes.items()}
        var = min(pending, key=lambda v: (sizes[v], rank[v]))
        scope = scopes[var]
        size = k * sizes[var]
        if size > MAX_FACTOR_ENTRIES:
            raise DataError(
                f"variable elimination needs a table of {size} entries (over {list(scope)}), "
                f"more than MAX_FACTOR_ENTRIES={MAX_FACTOR_ENTRIES}; the graph is too dense "
                "around this query"
            )
        involved = [f for f in factors if var in f[0]]
        factors = [f for f in factors if var not in f[0]]
        factors.append((scope, _contract(involved, scope, k)))
        pending.remove(var)
    return _contract(factors, keep, k)


def _names(outcome: str | Sequence[str]) -> tuple[str, ...]:
    return (outcome,) if isinstance(outcome, str) else tuple(outcome)


def _fixed(params: BayesNetMixtureParams, values: Mapping[str, int], what: str) -> dict[str, int]:
    if not isinstance(values, Mapping):
        raise DataError(f"{what} must be a dict node -> level; got {values!r}")
    out: dict[str, int] = {}
    for v, x in values.items():
        d = params.n_levels[params._index(v)]
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or not 0 <= x < d:
            raise DataError(f"{what}[{v!r}] = {x!r}; levels of {v!r} are 0 .. {d - 1}")
        out[v] = int(x)
    return out


def _joint(
    params: BayesNetMixtureParams,
    outcome: str | Sequence[str],
    do: Mapping[str, int],
    given: Mapping[str, int] | None,
) -> FloatArray:
    """``P_u(y, Z = z | do(X = x))`` for every ``u`` and ``y``: shape (k, *levels of Y)."""
    ys = _names(outcome)
    if not ys:
        raise DataError("outcome must name at least one node")
    for y in ys:
        params._index(y)
    if len(set(ys)) != len(ys):
        raise DataError(f"outcome names a node twice: {list(ys)}")
    x = _fixed(params, do, "do")
    z = _fixed(params, given or {}, "given")
    for a, b, na, nb in (
        (ys, x, "outcome", "do"),
        (ys, z, "outcome", "given"),
        (x, z, "do", "given"),
    ):
        common = sorted(set(a) & set(b))
        if common:
            raise DataError(f"{na} and {nb} must not share nodes; both name {common}")
    dag = params.dag
    # ancestors of Y ∪ Z in the mutilated graph: walk parents, never through do-nodes
    relevant: set[str] = set()
    stack = [*ys, *z]
    while stack:
        v = stack.pop()
        if v in relevant:
            continue
        relevant.add(v)
        if v not in x:
            stack.extend(dag.parents[v])
    fixed = {**x, **z}
    factors: list[Factor] = []
    for j, v in enumerate(dag.nodes):
        if v not in relevant or v in x:
            continue  # barren nodes sum to one; intervened nodes lose their factor
        labels = (*dag.parents[v], v)
        index = (slice(None), *(fixed.get(lab, slice(None)) for lab in labels))
        factors.append((tuple(lab for lab in labels if lab not in fixed), params.cpts[j][index]))
    cards = dict(zip(dag.nodes, params.n_levels, strict=True))
    return _eliminate(factors, ys, cards, params.n_components)


def interventional(
    params: BayesNetMixtureParams,
    outcome: str | Sequence[str],
    do: Mapping[str, int],
    given: Mapping[str, int] | None = None,
    *,
    per_source: bool = False,
) -> FloatArray:
    """Exact ``P(Y | do(X = x), Z = z)`` by the truncated factorisation.

    .. math::
       P(y \\mid do(x), z) = \\frac{\\sum_u \\pi_u P_u(y, z \\mid do(x))}
                                    {\\sum_u \\pi_u P_u(z \\mid do(x))}

    (Pearl 2009, section 3.2.3), each ``P_u`` by variable elimination over
    the ancestors of ``Y ∪ Z`` in the graph with the edges into ``X`` cut
    (Koller & Friedman 2009, chapter 9).

    Parameters
    ----------
    params : BayesNetMixtureParams
    outcome : str or sequence of str
        One node (the result has one axis) or several (the joint, one axis
        per node in the order given).
    do : dict str -> int
        Intervened nodes and their levels; may be empty (then the query is
        observational).
    given : dict str -> int, optional
        Observed nodes ``Z = z`` (after the intervention). Disjoint from
        ``outcome`` and ``do``.
    per_source : bool
        Return ``P_u(Y | do(x), z)`` for each source, component axis first.

    Returns
    -------
    ndarray of shape (*levels of Y) or (k, *levels of Y)
        Sums to one over the outcome axes.

    Raises
    ------
    DataError
        Unknown or overlapping nodes, levels out of range, or
        ``P(Z = z | do(x)) = 0`` (for a source, with ``per_source``).

    Examples
    --------
    >>> import numpy as np
    >>> from kmix.solvers.graph import DAG
    >>> g = DAG.from_edges(None, [("T", "Y")])
    >>> p = BayesNetMixtureParams(g, 2, [0.5, 0.5], [
    ...     [[0.9, 0.1], [0.1, 0.9]],
    ...     [[[0.8, 0.2], [0.6, 0.4]], [[0.5, 0.5], [0.1, 0.9]]]])
    >>> interventional(p, "Y", {"T": 1}).round(3).tolist()
    [0.35, 0.65]
    >>> observational(p, "Y", {"T": 1}).round(3).tolist()
    [0.15, 0.85]
    """
    joint = _joint(params, outcome, do, given)
    axes = tuple(range(1, joint.ndim))
    if per_source:
        den = joint.sum(axis=axes, keepdims=True)
        if np.any(den <= 0):
            u = int(np.argwhere(den.reshape(-1) <= 0)[0, 0])
            raise DataError(
                f"P_u(given={dict(given or {})} | do={dict(do)}) = 0 for source u={u}; "
                "the conditional is undefined there"
            )
        return joint / den
    num = np.tensordot(params.weights, joint, axes=1)
    total = float(num.sum())
    if total <= 0:
        raise DataError(
            f"P(given={dict(given or {})} | do={dict(do)}) = 0; the conditional is undefined"
        )
    return num / total


def observational(
    params: BayesNetMixtureParams,
    outcome: str | Sequence[str],
    given: Mapping[str, int] | None = None,
    *,
    per_source: bool = False,
) -> FloatArray:
    """Exact ``P(Y | Z = z)``: conditioning by seeing, confounded by ``U``.

    .. math::
       P(y \\mid z) = \\frac{\\sum_u \\pi_u P_u(y, z)}{\\sum_u \\pi_u P_u(z)}

    The same elimination as :func:`interventional` on the unmutilated graph;
    see there for the arguments and the shape of the result.
    """
    return interventional(params, outcome, {}, given, per_source=per_source)


@overload
def ate(
    params: BayesNetMixtureParams,
    treatment: str,
    outcome: str,
    given: Mapping[str, int] | None = ...,
    *,
    per_source: Literal[False] = ...,
) -> float: ...
@overload
def ate(
    params: BayesNetMixtureParams,
    treatment: str,
    outcome: str,
    given: Mapping[str, int] | None = ...,
    *,
    per_source: Literal[True],
) -> FloatArray: ...
def ate(
    params: BayesNetMixtureParams,
    treatment: str,
    outcome: str,
    given: Mapping[str, int] | None = None,
    *,
    per_source: bool = False,
) -> float | FloatArray:
    """Average treatment effect of a binary treatment.

    .. math::
       \\mathrm{ATE} = E[Y \\mid do(T=1)] - E[Y \\mid do(T=0)]
                     = \\sum_u \\pi_u \\mathrm{ATE}_u

    (the second form without ``given``). ``Y``'s levels are valued by their
    codes ``0 .. d - 1``, so for a binary ``Y`` this is the risk difference.

    Parameters
    ----------
    params : BayesNetMixtureParams
    treatment : str
        A node with exactly two levels.
    outcome : str
    given : dict str -> int, optional
        Condition both arms on ``Z = z`` (a conditional ATE).
    per_source : bool
        Return ``ATE_u`` for each source, shape (k,).

    Returns
    -------
    float or ndarray of shape (k,)
    """
    d = params.n_levels[params._index(treatment)]
    if d != 2:
        raise DataError(
            f"treatment {treatment!r} has {d} levels; the ATE needs a binary treatment "
            "(compare two levels with interventional() instead)"
        )
    values = np.arange(params.n_levels[params._index(outcome)], dtype=np.float64)
    arms = [
        interventional(params, outcome, {treatment: t}, given, per_source=per_source) @ values
        for t in (0, 1)
    ]
    effect = arms[1] - arms[0]
    return np.asarray(effect, dtype=np.float64) if per_source else float(effect)

"""Computations on a mixture of discrete Bayesian networks: row likelihoods, sampling, elimination.

The hidden class ``U`` (``k`` values, weights ``pi``) is a parent of every
node of the DAG ``G``; each source ``u`` is a Bayesian network on ``G`` with
its own CPTs (:class:`kmix.params.BayesNetMixtureParams`):

.. math::
   P(v) = \\sum_u \\pi_u \\prod_{V} P_u(v_V \\mid \\mathrm{pa}(V)).

:func:`source_joint` computes ``P_u(y, Z = z | do(X = x))`` for every source
``u`` at once by variable elimination (Koller & Friedman 2009, Alg. 9.1)
restricted to the ancestors of ``Y ∪ Z`` in the mutilated graph (every other
node sums out to one); the intervened nodes lose their factors, which is the
truncated factorisation (Pearl 2009, eq. 3.10). The component axis ``u``
rides along every factor; factors are numpy arrays contracted with
:func:`numpy.einsum`, eliminating greedily the variable whose new factor is
smallest, so sparse 32-node graphs never build a ``2^32`` table. The causal
queries built on it are in :mod:`kmix.causal.effects`.

References
----------
J. Pearl, *Causality: Models, Reasoning, and Inference*, 2nd ed., Cambridge
University Press, 2009 (section 3.2.3, the truncated factorisation).
D. Koller and N. Friedman, *Probabilistic Graphical Models*, MIT Press, 2009
(chapter 9, variable elimination; section 21.3, interventional queries).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ...exceptions import DataError
from ...params import BayesNetMixtureParams
from ...stats import code_dtype

__all__ = [
    "MAX_FACTOR_ENTRIES",
    "Factor",
    "eliminate",
    "log_prob_rows",
    "sample",
    "source_joint",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
#: Largest intermediate factor (entries, component axis included) variable elimination may build.
MAX_FACTOR_ENTRIES = 2**24

Factor = tuple[tuple[str, ...], FloatArray]  # (labels after the component axis, array)


# ---------------------------------------------------------------------- rows
def _check_rows(params: BayesNetMixtureParams, values: ArrayLike) -> NDArray[np.signedinteger[Any]]:
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
    out = arr if arr.dtype.kind in "iu" else arr.astype(np.int64)
    bad = (out < 0) | (out >= np.asarray(params.n_levels)[None, :])
    if np.any(bad):
        r, c = (int(i) for i in np.argwhere(bad)[0])
        gap = (
            " (-1 marks a missing value: score such rows with "
            "kmix.solvers.bayesnet.design.log_prob_observed)"
            if out[r, c] == -1
            else ""
        )
        raise DataError(
            f"row {r}, column {params.columns[c]!r} has value {int(out[r, c])}; "
            f"levels of that node are 0 .. {params.n_levels[c] - 1}{gap}"
        )
    return out.astype(code_dtype(max(params.n_levels)), copy=False)


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


def eliminate(
    factors: list[Factor], keep: tuple[str, ...], cards: Mapping[str, int], k: int
) -> FloatArray:
    """Sum-product variable elimination keeping ``keep`` and the component axis.

    .. math:: \\phi(u, x_K) = \\sum_{x \\setminus x_K} \\prod_f f(u, x_f)

    Parameters
    ----------
    factors : list of (labels, array)
        Each array has the component axis (``k`` entries) first, then one axis
        per label; a label may be any hashable name, e.g. a batch axis.
    keep : tuple of str
        Labels kept, in this order (each must appear in some factor).
    cards : mapping str -> int
        Size of every label; ties in the greedy order go to the earlier label.
    k : int
        Size of the component axis.

    Returns
    -------
    ndarray of shape (k, *sizes of keep)

    Raises
    ------
    DataError
        When an intermediate factor would exceed :data:`MAX_FACTOR_ENTRIES`.
    """
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
        d = params.n_levels[params.index(v)]
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or not 0 <= x < d:
            raise DataError(f"{what}[{v!r}] = {x!r}; levels of {v!r} are 0 .. {d - 1}")
        out[v] = int(x)
    return out


def source_joint(
    params: BayesNetMixtureParams,
    outcome: str | Sequence[str],
    do: Mapping[str, int],
    given: Mapping[str, int] | None,
) -> FloatArray:
    """``P_u(y, Z = z | do(X = x))`` for every source ``u`` and outcome value ``y``.

    .. math::
       P_u(y, z \\mid do(x)) = \\sum_{v \\setminus (y, z, x)}
           \\prod_{V \\notin X} P_u(v_V \\mid \\mathrm{pa}(V))\\big|_{X = x, Z = z}

    (the truncated factorisation, Pearl 2009, eq. 3.10), by variable
    elimination over the ancestors of ``Y ∪ Z`` in the graph with the edges
    into ``X`` cut. With ``do`` and ``given`` empty it is the per-source
    marginal ``P_u(y)``.

    Parameters
    ----------
    params : BayesNetMixtureParams
    outcome : str or sequence of str
        One node or several (one axis each, in the order given).
    do, given : dict str -> int
        Intervened and observed nodes with their level codes (``given`` may
        be None); disjoint from each other and from ``outcome``.

    Returns
    -------
    ndarray of shape (k, *levels of Y)
        Unnormalised over ``y`` when ``given`` is not empty (it sums to
        ``P_u(z | do(x))``).
    """
    ys = _names(outcome)
    if not ys:
        raise DataError("outcome must name at least one node")
    for y in ys:
        params.index(y)
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
    return eliminate(factors, ys, cards, params.n_components)

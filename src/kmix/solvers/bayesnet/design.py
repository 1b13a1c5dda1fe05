"""Unique rows of a DAG's nodes in the form EM over a mixture of networks needs, gaps included.

Complete rows. Every row's ``(parent assignment, value)`` cell of every CPT
is a flat index computed once. Nodes are packed into groups whose joint
table of cells has at most :data:`GROUP_CELLS` entries: the E-step gathers
one summed log-table per group instead of one per node, and the M-step
counts joint cells with one weighted :func:`numpy.bincount` per group and
class, then marginalises.

Rows with missing values (code :data:`MISSING`). Under missing at random
the likelihood of a row is the probability of its observed part ``O``
(Little & Rubin, *Statistical Analysis with Missing Data*, 2nd ed., 2002,
sections 6.2 and 8.1):

.. math::
   P_u(x_O) = \\sum_{x_M} \\prod_V \\theta_{u,V}(x_V \\mid x_{\\mathrm{pa}(V)})
            = \\sum_{x_{M'}} \\prod_{V \\in A} \\theta_{u,V}(x_V \\mid x_{\\mathrm{pa}(V)}),

where ``A`` holds the observed nodes and their ancestors and ``M' = M ∩ A``
the missing ancestors of observed nodes: the marginal of a Bayesian network
on an ancestral set is the network restricted to that set (Lauritzen,
*Graphical Models*, 1996, section 3.2.2), so a missing node without an
observed descendant sums out to one and drops out.

A row whose ``M'`` has at most :data:`MAX_COMPLETIONS` joint
configurations becomes its completions: complete rows over ``A``, with the
nodes outside ``A`` marked absent (an extra cell of probability one); they
are built for all such rows at once, with a loop over nodes only. The
E-step gathers over all completions at once and sums them per row; the
expected family counts ``E[#(x_V, x_pa(V)) | x_O, u]`` of the M-step
(Lauritzen, "The EM algorithm for graphical association models with
missing data", Comput. Stat. Data Anal. 19, 1995) are the completions'
posterior weights counted into their cells. Rows beyond the cap are grouped
by missing pattern, and each pattern is summed out by variable elimination
with a row axis (:func:`kmix.solvers.bayesnet.inference.eliminate`): the
rows' ``P_u(x_O)`` and the posterior of every family's missing part. The
products of CPT entries there are taken in linear scale, so a pattern
whose factors multiply below ``1e-300`` would underflow.

Taking ``(x_A, u)`` rather than ``(x_O, x_M, u)`` as a row's complete data
is EM for the same observed-data likelihood (its complete-data likelihood
marginalises to it), so the iterations still never lower the likelihood and
have the same fixed points; only the CPTs of nodes in ``A`` learn from the row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ...exceptions import DataError
from ...params.bayesnet import BayesNetMixtureParams
from ...params.dag import DAG
from ...stats.rows import code_dtype, count_rows
from .inference import Factor, eliminate, log_prob_rows

__all__ = [
    "GROUP_CELLS",
    "MAX_COMPLETIONS",
    "MISSING",
    "BNRowDesign",
    "check_levels",
    "coded_values",
    "compress_coded",
    "log_prob_observed",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
CodeArray = NDArray[np.signedinteger[Any]]
#: Largest joint table of CPT cells one node group may span (the E-step gathers from it).
GROUP_CELLS = 4096
#: The code of a missing value (a float array may mark it NaN instead).
MISSING = -1
#: Most joint configurations of a pattern's missing ancestors enumerated per row;
#: patterns with more are summed out by variable elimination.
MAX_COMPLETIONS = 256
#: Rows of one pattern that variable elimination handles in one batch.
ELIMINATION_ROWS = 1024
#: The label of the row axis in the factors of one pattern.
_ROW = "\0row"


def check_levels(dag: DAG, n_levels: int | Sequence[int]) -> tuple[int, ...]:
    """Levels per node in ``dag.nodes`` order (an int applies to all), or a DataError."""
    raw: Any = n_levels
    levels = (int(raw),) * dag.n_nodes if np.ndim(raw) == 0 else tuple(int(d) for d in raw)
    if len(levels) != dag.n_nodes or min(levels, default=1) < 1:
        raise DataError(
            f"n_levels must be one int >= 1 or one per node ({dag.n_nodes}, in dag.nodes "
            f"order); got {n_levels!r}"
        )
    return levels


def coded_values(values: ArrayLike, dag: DAG, n_levels: Sequence[int]) -> CodeArray:
    """Integer level codes with :data:`MISSING` for a missing cell (``-1``, or NaN in floats),
    in the narrowest signed type that holds them (:func:`kmix.stats.code_dtype`).

    Raises a :class:`DataError` naming the first cell that is neither.
    """
    x = np.asarray(values)
    if x.ndim != 2 or x.shape[1] != dag.n_nodes:
        raise DataError(
            f"values must have shape (n_rows, {dag.n_nodes}) with columns "
            f"{list(dag.nodes)}; got shape {x.shape}"
        )
    if x.dtype.kind == "f":
        gap = np.isnan(x)
        rest = np.where(gap, 0.0, x)
        if not (np.all(np.isfinite(rest)) and np.all(rest == np.round(rest))):
            raise DataError("values must be integer level codes 0 .. n_levels - 1 (NaN: missing)")
        x = np.where(gap, MISSING, rest)
    elif x.dtype.kind not in "iub":
        raise DataError("values must be integer level codes 0 .. n_levels - 1")
    lv = np.asarray(n_levels)
    bad = ((x < 0) & (x != MISSING)) | (x >= lv[None, :])
    if np.any(bad):
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"row {r}, column {dag.nodes[c]!r} has value {int(x[r, c])}; levels of "
            f"that node are 0 .. {n_levels[c] - 1} ({MISSING} marks a missing value)"
        )
    return x.astype(code_dtype(max(n_levels, default=1)), copy=False)


class _Elimination:
    """Rows of one missing pattern summed over their missing ancestors by variable elimination.

    ``fixed`` lists the nodes of ``A`` whose family is observed (one cell per
    row); ``factors`` the others: node, labels (the row axis when some family
    member is observed, then the missing members in CPT-axis order) and the
    flat cell index of every (row, missing assignment).
    """

    def __init__(
        self, rows: IntArray, x: IntArray, keep: NDArray[np.bool_], design: BNRowDesign
    ) -> None:
        nodes, dag = design.dag.nodes, design.dag
        col = {v: j for j, v in enumerate(nodes)}
        gaps = {v for j, v in enumerate(nodes) if keep[j] and x[0, j] == MISSING}
        self.rows = rows
        self.cards = {v: design.n_levels[col[v]] for v in nodes if v in gaps}
        self.cards[_ROW] = int(rows.size)
        self.fixed: list[tuple[int, IntArray]] = []
        self.factors: list[tuple[int, tuple[str, ...], IntArray]] = []
        for j, v in enumerate(nodes):
            if not keep[j]:
                continue
            family = (*dag.parents[v], v)
            hidden = tuple(f for f in family if f in gaps)
            if not hidden:
                cells = np.ravel_multi_index(tuple(x[:, col[f]] for f in family), design.shapes[j])
                self.fixed.append((j, cells.astype(np.intp)))
                continue
            nd = 1 + len(hidden)
            index: list[NDArray[np.intp]] = []
            for f in family:
                shape = [1] * nd
                if f in gaps:
                    shape[1 + hidden.index(f)] = self.cards[f]
                    index.append(np.arange(self.cards[f]).reshape(shape))
                else:
                    shape[0] = rows.size
                    index.append(x[:, col[f]].reshape(shape))
            cells = np.ravel_multi_index(np.broadcast_arrays(*index), design.shapes[j])
            observed = len(hidden) < len(family)
            labels = ((_ROW,) if observed else ()) + hidden
            self.factors.append((j, labels, cells if observed else cells[0]))

    def log_f(self, P: FloatArray, logP: FloatArray, design: BNRowDesign) -> tuple[Any, ...]:
        """``log P_u(x_O)`` of the rows (R, rows) and what the counts reuse."""
        R = P.shape[0]
        base = np.zeros((R, self.rows.size))
        for j, cells in self.fixed:
            base += design.block(logP, j)[:, cells]
        factors: list[Factor] = [
            (labels, design.block(P, j)[:, cells]) for j, labels, cells in self.factors
        ]
        z = eliminate(factors, (_ROW,), self.cards, R)
        with np.errstate(divide="ignore"):
            return base + np.log(z), factors, z

    def add_counts(
        self, cache: tuple[Any, ...], resp: FloatArray, out: FloatArray, design: BNRowDesign
    ) -> None:
        """Add ``c_s r_su`` times each family's posterior (R, rows) into the cells of ``out``."""
        _, factors, z = cache
        R, n = resp.shape
        for j, cells in self.fixed:
            size = int(design.sizes[j])
            for r in range(R):
                design.block(out, j)[r] += np.bincount(cells, weights=resp[r], minlength=size)
        scale = np.where(z > 0, resp / np.where(z > 0, z, 1.0), 0.0)
        for j, labels, cells in self.factors:
            hidden = tuple(lab for lab in labels if lab != _ROW)
            joint = eliminate(factors, (_ROW, *hidden), self.cards, R)
            post = (joint * scale.reshape(R, n, *([1] * len(hidden)))).reshape(R, -1)
            full = np.broadcast_to(cells, (n, *joint.shape[2:])).reshape(-1)
            size = int(design.sizes[j])
            for r in range(R):
                design.block(out, j)[r] += np.bincount(full, weights=post[r], minlength=size)


class BNRowDesign:
    """Unique rows of a DAG's nodes in the form the E- and M-steps need.

    Parameters are held flat: for node ``j`` the block
    ``[offsets[j], offsets[j] + sizes[j])`` is ``cpts[j][u].ravel()`` (parent
    assignment major, value minor), so every CPT row is a contiguous segment
    of ``n_levels[j]`` entries. ``groups`` lists ``(nodes, dims, index)``:
    node indices, their cell counts (one more, the absent cell, for a node
    some completion leaves out), and per completion the C-order flat index
    of its cells in the joint table of the group.

    Parameters
    ----------
    values : array-like of shape (m, n_nodes)
        Integer level codes, columns in ``dag.nodes`` order; :data:`MISSING`
        (or NaN) marks a missing value.
    dag : DAG
    n_levels : int or sequence of int
    max_completions : int
        Patterns whose missing ancestors have more joint configurations are
        summed out by variable elimination instead of enumerated.

    Attributes
    ----------
    has_missing : bool
    owner : ndarray of shape (n_completions,) or None
        The row of every completion, sorted (None without missing values).
    """

    def __init__(
        self,
        values: ArrayLike,
        dag: DAG,
        n_levels: int | Sequence[int],
        *,
        max_completions: int = MAX_COMPLETIONS,
    ) -> None:
        self.dag = dag
        self.n_levels = check_levels(dag, n_levels)
        x = coded_values(values, dag, self.n_levels)
        self.m = int(x.shape[0])
        col = {v: j for j, v in enumerate(dag.nodes)}
        self.shapes: list[tuple[int, ...]] = []  # (*parent levels, levels) per node
        for j, v in enumerate(dag.nodes):
            self.shapes.append((*(self.n_levels[col[p]] for p in dag.parents[v]), self.n_levels[j]))
        self.sizes = np.array([math.prod(s) for s in self.shapes], dtype=np.intp)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.intp)
        self.width = int(self.sizes.sum())
        self.seg_len = np.concatenate(
            [np.full(s // d[-1], d[-1]) for s, d in zip(self.sizes, self.shapes, strict=True)]
        ).astype(np.intp)
        self.seg_start = np.concatenate([[0], np.cumsum(self.seg_len)[:-1]]).astype(np.intp)
        self.has_missing = bool(np.any(x == MISSING))
        self.owner: IntArray | None = None
        self.enum_rows = self.starts = self.position = np.zeros(0, dtype=np.intp)
        self.eliminated: list[_Elimination] = []
        keep: NDArray[np.bool_] | None = None
        if self.has_missing:
            x, keep = self._complete(x, int(max_completions))
        self.absent: NDArray[np.bool_] = np.zeros(dag.n_nodes, dtype=bool)
        if keep is not None:
            self.absent = np.asarray(~keep.all(axis=0), dtype=bool)
        self.dims = self.sizes + self.absent
        self.n_completions = int(x.shape[0])
        self.groups: list[tuple[list[int], list[int], NDArray[np.signedinteger[Any]]]] = []
        members: list[int] = []
        for j in range(dag.n_nodes):
            if members and int(np.prod(self.dims[[*members, j]])) > GROUP_CELLS:
                self._add_group(members, x, keep)
                members = []
            members.append(j)
        if members:
            self._add_group(members, x, keep)

    def _complete(self, x: IntArray, cap: int) -> tuple[IntArray, NDArray[np.bool_]]:
        """Completions of the rows (sorted by row) and which nodes each keeps (its ``A``).

        Vectorised over rows with a loop over nodes: a row's completions are
        the mixed-radix numbers over its missing nodes in ``A``; rows with more
        than ``cap`` of them go to variable elimination, one batch per pattern.
        """
        dag, lv = self.dag, np.asarray(self.n_levels, dtype=np.int64)
        n = dag.n_nodes
        below = np.zeros((n, n), dtype=np.int64)  # below[v, w]: w is a descendant of v
        for j, v in enumerate(dag.nodes):
            below[j, [dag.nodes.index(w) for w in dag.descendants(v)]] = 1
        gaps = x == MISSING
        seen = ~gaps
        keep = seen | ((seen.astype(np.int64) @ below.T) > 0)  # observed, or an ancestor of one
        fill = gaps & keep
        radix = np.where(fill, lv[None, :], 1)
        many = np.prod(radix.astype(np.float64), axis=1) > cap
        if np.any(many):
            rows = np.flatnonzero(many)
            patterns, inverse = np.unique(gaps[rows], axis=0, return_inverse=True)
            for p in range(patterns.shape[0]):  # one elimination per missing pattern
                members = rows[inverse.reshape(-1) == p]
                for lo in range(0, members.size, ELIMINATION_ROWS):
                    batch = members[lo : lo + ELIMINATION_ROWS]
                    self.eliminated.append(_Elimination(batch, x[batch], keep[batch[0]], self))
        rows = np.flatnonzero(~many)
        radix = radix[rows]
        reps = np.prod(radix, axis=1)
        self.enum_rows = rows
        self.owner = np.repeat(rows, reps)
        self.starts = np.concatenate([[0], np.cumsum(reps)[:-1]]).astype(np.intp)
        self.position = np.repeat(np.arange(rows.size), reps)
        local = np.arange(self.owner.size) - self.starts[self.position]
        stride = np.ones_like(radix)  # stride[:, j] = product of the radices after j
        stride[:, :-1] = np.cumprod(radix[:, :0:-1], axis=1)[:, ::-1]
        completed = x[self.owner]
        for c in np.flatnonzero(fill[rows].any(axis=0)).tolist():
            at = fill[self.owner, c]
            completed[at, c] = (local[at] // stride[self.position[at], c]) % lv[c]
        return completed, keep[self.owner]

    def _add_group(self, members: list[int], x: CodeArray, keep: NDArray[np.bool_] | None) -> None:
        """The flat index of every completion's cell in the joint table of ``members``.

        Held in int32 while the table allows (a quarter of the memory of
        ``intp`` on millions of rows); each member's cells are formed and
        folded in one node at a time.
        """
        dims = [int(self.dims[j]) for j in members]
        col = {v: j for j, v in enumerate(self.dag.nodes)}
        kind = np.int32 if math.prod(dims) <= np.iinfo(np.int32).max else np.intp
        index: NDArray[np.signedinteger[Any]] = np.zeros(x.shape[0], dtype=kind)
        for j, d in zip(members, dims, strict=True):
            family = (*(col[p] for p in self.dag.parents[self.dag.nodes[j]]), j)
            fam = tuple(np.maximum(x[:, i], 0) for i in family)
            cell = np.ravel_multi_index(fam, self.shapes[j])
            if keep is not None:
                cell = np.where(keep[:, j], cell, self.sizes[j])
            index *= d
            index += cell.astype(kind, copy=False)
        self.groups.append((list(members), dims, index))

    def block(self, P: FloatArray, j: int) -> FloatArray:
        """Node ``j``'s block of ``P`` (..., width)."""
        return P[..., self.offsets[j] : self.offsets[j] + self.sizes[j]]

    def gather(self, logP: FloatArray, rows: slice | None = None) -> FloatArray:
        """``(R, n)`` log densities of the completions ``rows`` (all: ``n_completions``) under
        ``R`` classes."""
        R = logP.shape[0]
        rows = slice(None) if rows is None else rows
        out = np.zeros((R, len(range(*rows.indices(self.n_completions)))))
        for members, _, full in self.groups:
            index = full[rows]
            table = np.zeros((R, 1))
            for j in members:
                blk = self.block(logP, j)
                if self.absent[j]:  # the absent cell: probability one
                    blk = np.concatenate([blk, np.zeros((R, 1))], axis=1)
                table = (table[:, :, None] + blk[:, None, :]).reshape(R, -1)
            out += np.take(table, index, axis=1)
        return out

    def evaluate(self, logP: FloatArray) -> tuple[FloatArray, tuple[Any, ...]]:
        """``(R, m)`` log densities ``log P_u(x_O,s)`` and what :meth:`expected_counts` reuses."""
        g = self.gather(logP)
        if not self.has_missing:
            return g, (g, [])
        out = np.empty((logP.shape[0], self.m))
        if self.n_completions:
            top = np.maximum.reduceat(g, self.starts, axis=1)
            top[~np.isfinite(top)] = 0.0
            total = np.add.reduceat(np.exp(g - top[:, self.position]), self.starts, axis=1)
            with np.errstate(divide="ignore"):
                out[:, self.enum_rows] = np.log(total) + top
        caches = []
        if self.eliminated:
            P = np.exp(logP)
            for part in self.eliminated:
                cache = part.log_f(P, logP, self)
                out[:, part.rows] = cache[0]
                caches.append(cache)
        return out, (g, caches)

    def log_f(self, logP: FloatArray) -> FloatArray:
        """``(R, m)`` log densities ``log P_u(x_s)`` (observed part) of ``R`` classes ``logP``."""
        return self.evaluate(logP)[0]

    def expected_counts(self, state: tuple[Any, ...], log_w: FloatArray) -> FloatArray:
        """``(R, width)`` expected CPT cell counts given row log-weights ``log(c_s pi_u / P(x_s))``.

        ``state`` comes from :meth:`evaluate`; a completion ``t`` of row ``s``
        weighs ``c_s P(u, x_t | x_O,s) = exp(log_w[s] + log P_u(x_t))``.
        """
        g, caches = state
        if self.owner is None:
            return self.cell_counts(np.exp(g + log_w))
        out = self.cell_counts(np.exp(g + log_w[:, self.owner]))
        for part, cache in zip(self.eliminated, caches, strict=True):
            part.add_counts(cache, np.exp(log_w[:, part.rows] + cache[0]), out, self)
        return out

    def cell_counts(self, resp: FloatArray, rows: slice | None = None) -> FloatArray:
        """``(R, width)`` expected counts of every CPT cell from the weights ``(R, n)`` of the
        completions ``rows`` (all by default)."""
        R = resp.shape[0]
        out = np.empty((R, self.width))
        for members, dims, full in self.groups:
            index = full if rows is None else full[rows]
            size = int(np.prod(dims))
            joint = np.stack([np.bincount(index, weights=w, minlength=size) for w in resp])
            joint = joint.reshape(R, *dims)
            for a, j in enumerate(members):
                other = tuple(b + 1 for b in range(len(members)) if b != a)
                self.block(out, j)[...] = joint.sum(axis=other)[:, : self.sizes[j]]
        return out

    def row_sums(self, P: FloatArray) -> FloatArray:
        """Sums of every CPT row (segment) of ``P`` (..., width)."""
        return np.add.reduceat(P, self.seg_start, axis=-1)

    def expand(self, rows: NDArray[Any]) -> NDArray[Any]:
        """Per-row values (..., n_rows) repeated over each row's cells (..., width)."""
        return np.repeat(rows, self.seg_len, axis=-1)

    def normalise(self, P: FloatArray, fallback: FloatArray) -> FloatArray:
        """``P`` clipped at 0, each CPT row renormalised; rows summing to 0 from ``fallback``."""
        P = np.maximum(P, 0.0)
        sums = self.row_sums(P)
        ok = self.expand(sums > 0)
        return np.where(ok, P / self.expand(np.where(sums > 0, sums, 1.0)), fallback)

    def penalty(self, P: FloatArray) -> FloatArray:
        """``sum log theta`` over the last axis (the Dirichlet log-prior up to constants)."""
        with np.errstate(divide="ignore"):
            return np.log(P).sum(axis=-1)

    def stack(self, params: BayesNetMixtureParams) -> tuple[FloatArray, FloatArray]:
        """Weights (k,) and the flat CPT entries (k, width) of ``params``."""
        k = params.n_components
        return params.weights, np.concatenate([c.reshape(k, -1) for c in params.cpts], axis=1)

    def unstack(self, w: FloatArray, P: FloatArray) -> BayesNetMixtureParams:
        """:class:`BayesNetMixtureParams` from weights (k,) and flat entries (k, width)."""
        k = w.shape[0]
        cpts = tuple(self.block(P, j).reshape(k, *s) for j, s in enumerate(self.shapes))
        return BayesNetMixtureParams(self.dag, self.n_levels, w / w.sum(), cpts)


def log_prob_observed(
    params: BayesNetMixtureParams, values: ArrayLike, *, design: BNRowDesign | None = None
) -> FloatArray:
    """Per-source log-likelihood of the observed part of each row.

    .. math::
       \\log P_u(x_{s,O}) = \\log \\sum_{x_{s,M}} \\prod_V P_u(x_{s,V} \\mid x_{s,\\mathrm{pa}(V)})

    Parameters
    ----------
    params : BayesNetMixtureParams
    values : array-like of shape (m, n_nodes)
        Integer level codes, columns in ``params.columns`` order;
        :data:`MISSING` (or NaN) marks a missing value.

    design : BNRowDesign, optional
        The design of ``values``, when the caller has built it already.

    Returns
    -------
    ndarray of shape (m, k)
        Equal to :func:`~kmix.solvers.bayesnet.inference.log_prob_rows` on
        complete rows; ``0`` for a row with nothing observed.
    """
    if design is None:
        x = coded_values(values, params.dag, params.n_levels)
        if not np.any(x == MISSING):
            return log_prob_rows(params, x)
        design = BNRowDesign(x, params.dag, params.n_levels)
    elif design.dag != params.dag or design.n_levels != params.n_levels:
        raise DataError("design was built for another DAG or other levels")
    with np.errstate(divide="ignore"):
        return design.log_f(np.log(design.stack(params)[1])).T


def compress_coded(
    codes: NDArray[np.integer[Any]], weights: ArrayLike | None = None
) -> tuple[CodeArray, FloatArray]:
    """Unique rows of level codes and their counts, :data:`MISSING` kept as its own code.

    The codes are shifted by one while they are counted, so rows with
    missing values take the same one-``bincount`` path of
    :func:`kmix.stats.count_rows` as complete ones. The unique rows come back
    in the narrowest signed type that holds them (one byte per cell for up
    to 126 levels).
    """
    x = np.asarray(codes)
    if x.dtype.kind not in "iu":
        x = x.astype(np.int64)
    top = int(x.max()) + 2 if x.size else 1
    kind = code_dtype(top)
    if not np.any(x == MISSING):
        values, counts = count_rows(x, weights, dtype=kind)
        return values, counts
    values, counts = count_rows(x.astype(kind, copy=False) + kind.type(1), weights, dtype=kind)
    values -= kind.type(1)
    return values, counts

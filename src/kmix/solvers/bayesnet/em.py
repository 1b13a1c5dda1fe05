"""EM for mixtures of Bayesian networks on a known DAG, from many starts at once.

The hidden class ``U`` is a parent of every node of the known DAG ``G``:

.. math::
   P(x) = \\sum_u \\pi_u \\prod_V \\theta_{u, V}(x_V \\mid x_{\\mathrm{pa}(V)}),

so ``G_U`` is a Bayesian network with one latent node and EM for it
(Dempster, Laird & Rubin 1977; Lauritzen, "The EM algorithm for graphical
association models with missing data", Comput. Stat. Data Anal. 19, 1995)
needs only the posterior of ``U`` per row. One EM map ``F`` over the unique
rows ``s`` with counts ``c_s`` is

.. math::
   r_{su} \\propto \\pi_u \\prod_V \\theta_{u,V}(x_{sV} \\mid x_{s,\\mathrm{pa}(V)}), \\qquad
   \\pi_u \\leftarrow \\frac{\\sum_s c_s r_{su}}{N}, \\qquad
   \\theta_{u,V}(v \\mid a) \\leftarrow
   \\frac{n_{uVav} + \\alpha}{\\sum_{v'} (n_{uVav'} + \\alpha)},

with the expected counts ``n_{uVav} = sum_s c_s r_su [x_sV = v, x_s,pa(V) = a]``
(Lauritzen 1995, with ``U`` the one unobserved node). ``alpha = 0`` is
maximum likelihood; ``alpha > 0`` is the MAP
estimate under independent symmetric Dirichlet(``1 + alpha``) priors on every
CPT row (Heckerman, "A tutorial on learning with Bayesian networks", 1995),
i.e. EM ascends ``l(theta) + alpha sum log theta``; the weights stay
maximum likelihood. A CPT row whose pseudo-count-augmented expected count is
zero in a class (an unseen parent assignment, ``alpha = 0``) keeps its
previous value: the likelihood does not depend on it.

Every row's ``(parent assignment, value)`` cell of every CPT is a flat index
computed once. Nodes are packed into groups whose joint table of cells has
at most ``GROUP_CELLS`` entries: the E-step gathers one summed log-table per
group instead of one per node, and the M-step counts joint cells with one
weighted :func:`numpy.bincount` per group and class, then marginalises.

SQUAREM (Varadhan & Roland, "Simple and globally convergent methods for
accelerating the convergence of any EM algorithm", Scand. J. Statist. 35,
2008) runs on the stacked parameter vector (weights and every CPT entry),
projected back onto the simplices; the driver, shared with the latent class
models, is :func:`kmix.solvers.em.squarem.accelerated_em`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ...exceptions import DataError
from ...params.bayesnet import BayesNetMixtureParams
from ...params.dag import DAG
from ..em.squarem import accelerated_em

__all__ = [
    "GROUP_CELLS",
    "BNRowDesign",
    "BayesNetEMFit",
    "em_bayesnet_mixture",
    "loglik_bayesnet_mixture",
    "random_bn_starts",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
#: Largest joint table of CPT cells one node group may span (the E-step gathers from it).
GROUP_CELLS = 4096


@dataclass(frozen=True)
class BayesNetEMFit:
    """One EM run.

    Attributes
    ----------
    params : BayesNetMixtureParams
    log_likelihood : float
        ``sum_s c_s log P(x_s)`` at the returned parameters.
    objective : float
        The ascended objective ``log_likelihood + alpha * sum log theta``
        (equal to ``log_likelihood`` when ``alpha = 0``).
    converged : bool
        One plain EM map raised the objective by at most ``tol * |objective|``.
    n_iter : int
        EM maps evaluated (three per SQUAREM cycle).
    merged : bool
        Stopped early because it came within ``squarem.MERGE_TOL`` of a
        start with a higher objective (both climb to the same maximum).
    history : tuple of float
        Objective at the start of every cycle (every map, for plain EM) on
        the accepted path, then at the returned point; non-decreasing.
    """

    params: BayesNetMixtureParams
    log_likelihood: float
    objective: float
    converged: bool
    n_iter: int
    merged: bool = False
    history: tuple[float, ...] = ()


def _levels(dag: DAG, n_levels: int | Sequence[int]) -> tuple[int, ...]:
    raw: Any = n_levels
    levels = (int(raw),) * dag.n_nodes if np.ndim(raw) == 0 else tuple(int(d) for d in raw)
    if len(levels) != dag.n_nodes or min(levels, default=1) < 1:
        raise DataError(
            f"n_levels must be one int >= 1 or one per node ({dag.n_nodes}, in dag.nodes "
            f"order); got {n_levels!r}"
        )
    return levels


class BNRowDesign:
    """Unique rows of a DAG's nodes in the form the E- and M-steps need.

    Parameters are held flat: for node ``j`` the block
    ``[offsets[j], offsets[j] + sizes[j])`` is ``cpts[j][u].ravel()`` (parent
    assignment major, value minor), so every CPT row is a contiguous segment
    of ``n_levels[j]`` entries. ``groups`` lists ``(nodes, dims, index)``:
    node indices, their block sizes, and per row the C-order flat index of
    the row's cells in the joint table of the group's blocks.

    Parameters
    ----------
    values : array-like of shape (m, n_nodes)
        Integer level codes, columns in ``dag.nodes`` order.
    dag : DAG
    n_levels : int or sequence of int
    """

    def __init__(self, values: ArrayLike, dag: DAG, n_levels: int | Sequence[int]) -> None:
        self.dag = dag
        self.n_levels = _levels(dag, n_levels)
        x = np.asarray(values)
        if x.ndim != 2 or x.shape[1] != dag.n_nodes:
            raise DataError(
                f"values must have shape (n_rows, {dag.n_nodes}) with columns "
                f"{list(dag.nodes)}; got shape {x.shape}"
            )
        if x.dtype.kind not in "iub" and not (
            x.dtype.kind == "f" and np.all(np.isfinite(x)) and np.all(x == np.round(x))
        ):
            raise DataError("values must be integer level codes 0 .. n_levels - 1")
        x = x.astype(np.intp)
        lv = np.asarray(self.n_levels)
        if np.any((x < 0) | (x >= lv[None, :])):
            r, c = (int(i) for i in np.argwhere((x < 0) | (x >= lv[None, :]))[0])
            raise DataError(
                f"row {r}, column {dag.nodes[c]!r} has value {int(x[r, c])}; levels of "
                f"that node are 0 .. {self.n_levels[c] - 1}"
            )
        self.m = int(x.shape[0])
        col = {v: j for j, v in enumerate(dag.nodes)}
        self.shapes: list[tuple[int, ...]] = []  # (*parent levels, levels) per node
        cells: list[IntArray] = []
        for j, v in enumerate(dag.nodes):
            pa = [col[p] for p in dag.parents[v]]
            shape = (*(self.n_levels[p] for p in pa), self.n_levels[j])
            self.shapes.append(shape)
            cells.append(np.ravel_multi_index((*(x[:, p] for p in pa), x[:, j]), shape))
        self.sizes = np.array([int(np.prod(s)) for s in self.shapes], dtype=np.intp)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.intp)
        self.width = int(self.sizes.sum())
        self.seg_len = np.concatenate(
            [np.full(s // d[-1], d[-1]) for s, d in zip(self.sizes, self.shapes, strict=True)]
        ).astype(np.intp)
        self.seg_start = np.concatenate([[0], np.cumsum(self.seg_len)[:-1]]).astype(np.intp)
        self.groups: list[tuple[list[int], list[int], IntArray]] = []
        members: list[int] = []
        for j in range(dag.n_nodes):
            if members and int(np.prod(self.sizes[[*members, j]])) > GROUP_CELLS:
                self._add_group(members, cells)
                members = []
            members.append(j)
        if members:
            self._add_group(members, cells)

    def _add_group(self, members: list[int], cells: list[IntArray]) -> None:
        dims = [int(self.sizes[j]) for j in members]
        index = np.zeros(self.m, dtype=np.intp)
        for j, d in zip(members, dims, strict=True):
            index *= d
            index += cells[j]
        self.groups.append((list(members), dims, index))

    def block(self, P: FloatArray, j: int) -> FloatArray:
        """Node ``j``'s block of ``P`` (..., width)."""
        return P[..., self.offsets[j] : self.offsets[j] + self.sizes[j]]

    def log_f(self, logP: FloatArray) -> FloatArray:
        """``(R, m)`` log densities ``log P_u(x_s)`` of ``R`` classes ``logP`` (R, width)."""
        R = logP.shape[0]
        out = np.zeros((R, self.m))
        for members, _, index in self.groups:
            table = np.zeros((R, 1))
            for j in members:
                table = (table[:, :, None] + self.block(logP, j)[:, None, :]).reshape(R, -1)
            out += np.take(table, index, axis=1)
        return out

    def cell_counts(self, resp: FloatArray) -> FloatArray:
        """``(R, width)`` expected counts of every CPT cell from row weights ``(R, m)``."""
        R = resp.shape[0]
        out = np.empty((R, self.width))
        for members, dims, index in self.groups:
            size = int(np.prod(dims))
            joint = np.stack([np.bincount(index, weights=w, minlength=size) for w in resp])
            joint = joint.reshape(R, *dims)
            for a, j in enumerate(members):
                other = tuple(b + 1 for b in range(len(members)) if b != a)
                self.block(out, j)[...] = joint.sum(axis=other)
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


def _responsibilities(
    design: BNRowDesign, counts: FloatArray, W: FloatArray, P: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``c_s r_su`` of shape (C, k, m) and the log-likelihoods (C,) of ``C`` stacked starts.

    ``r_su = exp(log pi_u + log P_u(x_s) - logsumexp_v(...))``, computed with
    the row maximum subtracted; a row impossible under every class gets
    ``r = 0`` and log-likelihood ``-inf`` (unless its count is zero).
    """
    C, k, width = P.shape
    with np.errstate(divide="ignore"):
        joint = design.log_f(np.log(P.reshape(C * k, width))).reshape(C, k, -1)
        joint += np.log(W)[:, :, None]
    top = joint.max(axis=1)
    top[~np.isfinite(top)] = 0.0
    joint -= top[:, None, :]
    np.exp(joint, out=joint)
    total = joint.sum(axis=1)
    with np.errstate(divide="ignore"):
        log_p = np.log(total) + top
    if not np.all(counts > 0):
        log_p[:, counts == 0] = 0.0  # 0 * log 0 = 0: a zero-count row never matters
    ll = log_p @ counts
    joint *= (counts[None, :] / np.maximum(total, 1e-300))[:, None, :]
    return joint, ll


def _em_map(
    design: BNRowDesign, counts: FloatArray, W: FloatArray, P: FloatArray, alpha: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """One EM map for ``C`` stacked starts: weights (C, k), CPT entries (C, k, width).

    Returns the new ``(W, P)`` and the log-likelihood and objective of each
    start at the *input* point.
    """
    C, k, width = P.shape
    resp, ll = _responsibilities(design, counts, W, P)
    resp_w = resp.reshape(C * k, -1)
    W_new = (resp_w.sum(axis=1) / counts.sum()).reshape(C, k)
    stats = design.cell_counts(resp_w)
    obj = ll
    if alpha > 0:
        stats += alpha
        obj = ll + alpha * design.penalty(P.reshape(C, -1))
    P_new = design.normalise(stats, P.reshape(C * k, width))
    return W_new, P_new.reshape(C, k, width), ll, obj


def _check_starts(
    design: BNRowDesign, starts: Sequence[BayesNetMixtureParams]
) -> tuple[FloatArray, FloatArray]:
    if not starts:
        raise DataError("em_bayesnet_mixture needs at least one start")
    for i, s in enumerate(starts):
        if not isinstance(s, BayesNetMixtureParams):
            raise DataError(
                f"starts[{i}] must be a BayesNetMixtureParams; got {type(s).__name__} "
                "(random_bn_starts builds them)"
            )
        if s.dag != design.dag or s.n_levels != design.n_levels:
            raise DataError(
                f"starts[{i}] is on another DAG or levels ({s.n_levels}); it must match the "
                f"data's DAG with nodes {list(design.dag.nodes)} and levels {design.n_levels}"
            )
    ks = sorted({s.n_components for s in starts})
    if len(ks) > 1:
        raise DataError(f"starts must share one number of components; got {ks}")
    pairs = [design.stack(s) for s in starts]
    return np.array([w for w, _ in pairs]), np.array([p for _, p in pairs])


def _check_counts(counts: ArrayLike, m: int) -> FloatArray:
    c = np.asarray(counts, dtype=np.float64).reshape(-1)
    if c.shape[0] != m:
        raise DataError(f"counts has {c.shape[0]} entries but values has {m} rows")
    if not np.all(np.isfinite(c)) or np.any(c < 0) or c.sum() <= 0:
        raise DataError("counts must be finite, non-negative and not all zero")
    return c


def random_bn_starts(
    dag: DAG,
    n_levels: int | Sequence[int],
    k: int,
    n_starts: int,
    rng: np.random.Generator,
) -> list[BayesNetMixtureParams]:
    """Starts drawn uniformly: weights and every CPT row from flat Dirichlets.

    Parameters
    ----------
    dag : DAG
    n_levels : int or sequence of int
        Levels per node in ``dag.nodes`` order; an int applies to all.
    k : int
        Number of sources.
    n_starts : int
    rng : numpy.random.Generator

    Returns
    -------
    list of BayesNetMixtureParams
    """
    levels = _levels(dag, n_levels)
    card = dict(zip(dag.nodes, levels, strict=True))
    out = []
    for _ in range(int(n_starts)):
        w = rng.dirichlet(np.ones(int(k)))
        cpts = []
        for v in dag.nodes:
            shape = (int(k), *(card[p] for p in dag.parents[v]))
            cpts.append(rng.dirichlet(np.ones(card[v]), size=shape))
        out.append(BayesNetMixtureParams(dag, levels, w, tuple(cpts)))
    return out


def loglik_bayesnet_mixture(
    values: ArrayLike,
    counts: ArrayLike,
    params: BayesNetMixtureParams,
    *,
    design: BNRowDesign | None = None,
) -> float:
    """``sum_s c_s log sum_u pi_u prod_V theta_{u,V}(x_sV | x_s,pa(V))``.

    Parameters
    ----------
    values : array-like of shape (m, n_nodes)
        Integer level codes, columns in ``params.columns`` order.
    counts : array-like of shape (m,)
    params : BayesNetMixtureParams
    design : BNRowDesign, optional
        The rows' design, when the caller has built it already.

    Returns
    -------
    float
        ``-inf`` if a row with a positive count has probability zero.
    """
    if design is None:
        design = BNRowDesign(values, params.dag, params.n_levels)
    c = _check_counts(counts, design.m)
    W, P = _check_starts(design, [params])
    return float(_responsibilities(design, c, W, P)[1][0])


def em_bayesnet_mixture(
    values: ArrayLike,
    counts: ArrayLike,
    dag: DAG,
    n_levels: int | Sequence[int],
    starts: Sequence[BayesNetMixtureParams],
    *,
    tol: float = 1e-10,
    max_iter: int = 1000,
    accelerate: bool = True,
    alpha: float = 0.0,
    design: BNRowDesign | None = None,
) -> list[BayesNetEMFit]:
    """EM for a mixture of Bayesian networks on a known DAG, from several starts at once.

    .. math::
       \\max_{\\pi, \\theta} \\; \\sum_s c_s \\log \\sum_u \\pi_u
       \\prod_V \\theta_{u,V}(x_{sV} \\mid x_{s,\\mathrm{pa}(V)})
       + \\alpha \\sum_{u,V,a,v} \\log \\theta_{u,V}(v \\mid a)

    Parameters
    ----------
    values : array-like of shape (m, n_nodes)
        Unique rows of integer level codes, columns in ``dag.nodes`` order
        (see :func:`kmix.stats.compress_rows`). Repeated rows are allowed.
    counts : array-like of shape (m,)
        Their counts (or weights, e.g. population probabilities).
    dag : DAG
    n_levels : int or sequence of int
        Levels per node in ``dag.nodes`` order; an int applies to all.
    starts : sequence of BayesNetMixtureParams
        Starting points on ``dag`` with the same levels and number of
        sources (see :func:`random_bn_starts`). They run stacked: one
        E-step gathers for all of them.
    tol : float
        A start stops when one plain EM map raises its objective by at most
        ``tol * |objective|``.
    max_iter : int
        EM maps per start (checked after each cycle, so an accelerated run
        may take up to two maps more). Reaching it gives ``converged=False``.
    accelerate : bool
        SQUAREM (default) or plain EM.
    alpha : float
        Dirichlet pseudo-count added to every CPT cell in the M-step
        (MAP under Dirichlet(``1 + alpha``) priors); 0 is maximum likelihood.
    design : BNRowDesign, optional
        The rows' design, when the caller has built it already.

    Returns
    -------
    list of BayesNetEMFit
        One per start, in the order given.

    Examples
    --------
    >>> from kmix.datasets import bayesnet_mixture
    >>> from kmix.stats import compress_rows
    >>> g = DAG.from_edges(None, [("A", "B"), ("B", "C"), ("C", "D"), ("A", "E")])
    >>> X, truth = bayesnet_mixture(g, 2, 2000, random_state=0)
    >>> vals, cnt, _ = compress_rows(X)
    >>> starts = random_bn_starts(g, 2, 2, 4, np.random.default_rng(0))
    >>> fits = em_bayesnet_mixture(vals, cnt, g, 2, starts)
    >>> best = max(fits, key=lambda f: f.log_likelihood)
    >>> best.converged, best.params.n_components
    (True, 2)
    """
    if not alpha >= 0 or not np.isfinite(alpha):
        raise DataError(f"alpha must be a finite number >= 0; got {alpha!r}")
    if design is None:
        design = BNRowDesign(values, dag, n_levels)
    elif design.dag != dag or design.n_levels != _levels(dag, n_levels):
        raise DataError("design was built for another DAG or other levels")
    c_all = _check_counts(counts, design.m)
    W, P = _check_starts(design, starts)
    C = W.shape[0]
    history: list[list[float]] = [[] for _ in range(C)]

    def em_map(Wa: FloatArray, Pa: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        W1, P1, _, obj0 = _em_map(design, c_all, Wa, Pa, alpha)
        return W1, P1, obj0

    def record(active: NDArray[np.intp], obj0: FloatArray) -> None:
        for c, val in zip(active, obj0, strict=True):
            history[c].append(float(val))

    runs = accelerated_em(
        W,
        P,
        em_map,
        design.normalise,
        tol=tol,
        max_iter=max_iter,
        accelerate=accelerate,
        record=record,
    )
    W, P = runs.weights, runs.probs
    ll = _responsibilities(design, c_all, W, P)[1]
    final = ll + alpha * design.penalty(P.reshape(C, -1)) if alpha > 0 else ll
    return [
        BayesNetEMFit(
            params=design.unstack(W[c], P[c]),
            log_likelihood=float(ll[c]),
            objective=float(final[c]),
            converged=bool(runs.converged[c]),
            n_iter=int(runs.n_iter[c]),
            merged=bool(runs.merged[c]),
            history=(*history[c], float(final[c])),
        )
        for c in range(C)
    ]

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

Rows with missing values (code ``-1``) are fitted by full-information
maximum likelihood under missing at random (Little & Rubin, *Statistical
Analysis with Missing Data*, 2nd ed., 2002): ``r_su`` conditions on the
observed part only, ``P_u(x_O) = sum_{x_M} prod_V theta_{u,V}``, and
``n_{uVav}`` becomes the expected count ``E[#(x_V = v, x_pa(V) = a) | x_O, u]``
(Lauritzen 1995). How the rows, their completions and the cells are laid
out is :class:`kmix.solvers.bayesnet.design.BNRowDesign`.

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
from .design import GROUP_CELLS, BNRowDesign, check_levels

__all__ = [
    "GROUP_CELLS",
    "BNRowDesign",
    "BayesNetEMFit",
    "em_bayesnet_mixture",
    "loglik_bayesnet_mixture",
    "random_bn_starts",
]

FloatArray = NDArray[np.float64]
#: Entries of one ``(C k, rows)`` array of the E-step over complete rows: rows are taken
#: in blocks of this many entries, so many starts over millions of rows stay in memory.
E_BLOCK = 1 << 22


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
    log_likelihood_history : tuple of float
        The same points' log-likelihoods (the objective without
        ``alpha * sum log theta``), ending at ``log_likelihood``: equal to
        ``history`` when ``alpha = 0``; with ``alpha > 0`` EM ascends the
        objective, and these need not increase.
    """

    params: BayesNetMixtureParams
    log_likelihood: float
    objective: float
    converged: bool
    n_iter: int
    merged: bool = False
    history: tuple[float, ...] = ()
    log_likelihood_history: tuple[float, ...] = ()


def _row_blocks(m: int, n_classes: int) -> list[slice]:
    """Row blocks whose ``(C k, rows)`` arrays hold about :data:`E_BLOCK` entries each."""
    size = max(1024, E_BLOCK // max(n_classes, 1))
    return [slice(lo, min(lo + size, m)) for lo in range(0, m, size)] or [slice(0, 0)]


def _responsibilities(
    design: BNRowDesign, counts: FloatArray, W: FloatArray, logP: FloatArray, rows: slice
) -> tuple[FloatArray, FloatArray]:
    """``c_s r_su`` of shape (C, k, rows) and the rows' log-likelihoods (C,) of ``C`` starts.

    ``logP`` (C k, width) holds the log CPT entries of the stacked starts.
    ``r_su = exp(log pi_u + log P_u(x_s) - logsumexp_v(...))``, computed with
    the row maximum subtracted; a row impossible under every class gets
    ``r = 0`` and log-likelihood ``-inf`` (unless its count is zero).
    """
    C, k = W.shape
    c = counts[rows]
    with np.errstate(divide="ignore"):
        joint = design.gather(logP, rows).reshape(C, k, -1)
        joint += np.log(W)[:, :, None]
    top = joint.max(axis=1)
    top[~np.isfinite(top)] = 0.0
    joint -= top[:, None, :]
    np.exp(joint, out=joint)
    total = joint.sum(axis=1)
    with np.errstate(divide="ignore"):
        log_p = np.log(total) + top
    if not np.all(c > 0):
        log_p[:, c == 0] = 0.0  # 0 * log 0 = 0: a zero-count row never matters
    ll = log_p @ c
    joint *= (c[None, :] / np.maximum(total, 1e-300))[:, None, :]
    return joint, ll


def _complete_pass(
    design: BNRowDesign, counts: FloatArray, W: FloatArray, P: FloatArray, cells: bool
) -> tuple[FloatArray, FloatArray | None, FloatArray]:
    """Complete rows, one row block at a time: expected class totals (C, k), CPT cell counts
    (C k, width; with ``cells``) and log-likelihoods (C,). Memory stays at a few blocks
    however many rows and starts there are."""
    C, k, width = P.shape
    with np.errstate(divide="ignore"):
        logP = np.log(P.reshape(C * k, width))
    totals, ll = np.zeros((C, k)), np.zeros(C)
    stats = np.zeros((C * k, width)) if cells else None
    for rows in _row_blocks(design.m, C * k):
        resp, part = _responsibilities(design, counts, W, logP, rows)
        totals += resp.sum(axis=2)
        ll += part
        if stats is not None:
            stats += design.cell_counts(resp.reshape(C * k, -1), rows)
    return totals, stats, ll


def _observed(
    design: BNRowDesign, counts: FloatArray, W: FloatArray, P: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, tuple[Any, ...]]:
    """Rows with missing values: ``log pi_u + log P_u(x_O,s)`` (C, k, m), ``log P(x_O,s)``
    (C, m), the log-likelihoods (C,) and the design's state for the expected counts."""
    C, k, width = P.shape
    with np.errstate(divide="ignore"):
        rows, state = design.evaluate(np.log(P.reshape(C * k, width)))
        joint = rows.reshape(C, k, -1) + np.log(W)[:, :, None]
    top = joint.max(axis=1)
    top[~np.isfinite(top)] = 0.0
    with np.errstate(divide="ignore"):
        log_p = np.log(np.exp(joint - top[:, None, :]).sum(axis=1)) + top
    ll = np.where(counts > 0, log_p, 0.0) @ counts  # 0 * log 0 = 0 for a zero-count row
    return joint, log_p, ll, state


def _e_step(
    design: BNRowDesign, counts: FloatArray, W: FloatArray, P: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Expected class totals (C, k), CPT cell counts (C k, width) and log-likelihoods (C,).

    With missing values a row ``s`` weighs ``log w_su = log c_s + log pi_u -
    log P(x_O,s)``, and the design spreads ``w_su P_u(x_t)`` over the
    completions ``t`` of the row (Lauritzen 1995): the expected family
    counts given the observed part.
    """
    C, k, _ = P.shape
    if not design.has_missing:
        totals, stats, ll = _complete_pass(design, counts, W, P, cells=True)
        assert stats is not None
        return totals, stats, ll
    joint, log_p, ll, state = _observed(design, counts, W, P)
    ok = np.isfinite(log_p) & (counts > 0)[None, :]
    with np.errstate(divide="ignore"):
        base = (np.log(np.where(ok, counts, 0.0)) - np.where(ok, log_p, 0.0))[:, None, :]
        log_w = base + np.log(W)[:, :, None]
    totals = np.exp(base + joint).sum(axis=2)
    return totals, design.expected_counts(state, log_w.reshape(C * k, -1)), ll


def _em_map(
    design: BNRowDesign, counts: FloatArray, W: FloatArray, P: FloatArray, alpha: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """One EM map for ``C`` stacked starts: weights (C, k), CPT entries (C, k, width).

    Returns the new ``(W, P)`` and the log-likelihood and objective of each
    start at the *input* point.
    """
    C, k, width = P.shape
    totals, stats, ll = _e_step(design, counts, W, P)
    W_new = totals / counts.sum()
    obj = ll
    if alpha > 0:
        stats += alpha
        obj = ll + alpha * design.penalty(P.reshape(C, -1))
    P_new = design.normalise(stats, P.reshape(C * k, width))
    return W_new, P_new.reshape(C, k, width), ll, obj


def _loglik(design: BNRowDesign, counts: FloatArray, W: FloatArray, P: FloatArray) -> FloatArray:
    """Log-likelihoods (C,) of the observed data at ``C`` stacked points."""
    if not design.has_missing:
        return _complete_pass(design, counts, W, P, cells=False)[2]
    return _observed(design, counts, W, P)[2]


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
    levels = check_levels(dag, n_levels)
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
        Integer level codes, columns in ``params.columns`` order; ``-1``
        (or NaN) marks a missing value (the row then counts ``log P(x_O)``).
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
    return float(_loglik(design, c, W, P)[0])


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
        (see :func:`kmix.stats.compress_rows`). Repeated rows are allowed;
        ``-1`` (or NaN) marks a missing value, summed out of its row.
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
    elif design.dag != dag or design.n_levels != check_levels(dag, n_levels):
        raise DataError("design was built for another DAG or other levels")
    c_all = _check_counts(counts, design.m)
    W, P = _check_starts(design, starts)
    C = W.shape[0]
    history: list[list[float]] = [[] for _ in range(C)]
    ll_history: list[list[float]] = [[] for _ in range(C)]
    last_ll: list[FloatArray] = []  # the log-likelihoods of the latest map's input

    def em_map(Wa: FloatArray, Pa: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        W1, P1, ll0, obj0 = _em_map(design, c_all, Wa, Pa, alpha)
        last_ll[:] = [ll0]
        return W1, P1, obj0

    def record(active: NDArray[np.intp], obj0: FloatArray) -> None:
        # called right after a cycle's first map: last_ll holds that map's log-likelihoods
        for c, val, ll in zip(active, obj0, last_ll[0], strict=True):
            history[c].append(float(val))
            ll_history[c].append(float(ll))

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
    ll = _loglik(design, c_all, W, P)
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
            log_likelihood_history=(*ll_history[c], float(ll[c])),
        )
        for c in range(C)
    ]

"""Mixtures of Bayesian networks on a known DAG by reduction to latent class models (k-MixBND).

Every node of the known DAG ``G`` has the hidden source ``U`` as an extra
parent, ``P(v) = sum_u pi_u prod_V P_u(v_V | pa(V))``. The reduction of
Gordon, Mazaheri, Rabani & Schulman (2023) recovers ``pi`` and every CPT in
four steps:

1. **Runs** (:mod:`kmix.solvers.bayesnet.runs`). Each run ``(I, COND, c)``
   restricts the data to ``COND = c``, where the members ``I`` are
   independent given ``U``: a k-MixProd instance whose answer is
   ``P(u | c)`` and, per member, ``P_u(W | S_W = c|S_W)`` with ``S_W`` the
   parents (a CPT row) or the Markov boundary of ``W``.
2. **Solve** every run (:mod:`kmix.solvers.bayesnet.solving`) by the three-view
   tensor method (:func:`kmix.solvers.latent_class.moments.fit_product_mixture`),
   optionally tightened by latent-class EM and, once aligned, re-fitted with
   its shared keys held at their pooled values (a source rare in one run is
   known from the others), the EM of all runs at once.
3. **Align** the runs' labels: two runs sharing a key ``(W, S_W, s)`` return
   the same ``k`` vectors permuted. The permutation is the Hungarian
   assignment (Kuhn 1955) for the cost

   .. math:: C_{uv} = \\sum_{\\text{shared keys}} \\lVert\\theta^r_u - \\theta^{r'}_v\\rVert_1,

   propagated from the largest run along a spanning tree grown by the
   largest margin (second-best assignment cost minus the best, Murty 1968).
4. **Unzip** Markov-boundary conditionals into CPTs in reverse topological
   order (children first); for any alphabet

   .. math::
      P_u(V = v \\mid pa) \\propto
      \\frac{P_u(V = v \\mid mb)}{\\prod_{C \\in CH(V)} P_u(c \\mid V = v, pa(C) \\setminus V)},

   because ``P_u(v | mb) ∝ P_u(v | pa) prod_C P_u(c | v, ...)``; the
   normalised log-conditionals are averaged over the assignments of the rest
   of ``MB(V)``. Then ``pi`` maximises the likelihood of all the data with the
   recovered per-source networks held fixed (a concave problem).

On exact population tables every step is exact, so the CPTs and weights come
back to machine precision up to one relabelling of the sources.

References
----------
S. L. Gordon, B. Mazaheri, Y. Rabani, L. J. Schulman, "Causal inference
despite limited global confounding via mixture models", CLeaR 2023
(arXiv 2112.11602; v1 "Identifying mixtures of Bayesian network
distributions"). H. W. Kuhn, "The Hungarian method for the assignment
problem", Naval Res. Logist. Quart. 2, 1955. K. G. Murty, "An algorithm for
ranking all the assignments in order of increasing cost", Oper. Res. 16,
1968.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ...exceptions import DataError, IdentifiabilityError
from ...params.bayesnet import BayesNetMixtureParams
from ...params.dag import DAG
from ..em.weights import polish_weights
from .align import align_runs
from .defaults import balanced_defaults
from .design import MISSING, BNRowDesign, compress_coded, log_prob_observed
from .planning import plan_runs
from .runs import Key, Run, RunPlan
from .solving import MOVE_RUNS, anchored_refits, run_rows, solve_runs
from .unzip import assemble_cpts, pool_runs

__all__ = ["BayesNetReduction", "Key", "Run", "align_runs", "fit_bayesnet_reduction"]

logger = logging.getLogger("kmix")
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class BayesNetReduction:
    """Outcome of :func:`fit_bayesnet_reduction`.

    Attributes
    ----------
    params : BayesNetMixtureParams
        Weights and CPTs in one labelling of the sources.
    runs : list of Run
        The solved runs, their ``weights`` (``P(u | c)``) and ``probs`` in the
        labelling of ``params``.
    cpt_support : dict str -> int
        Per node, the number of runs that supplied its CPT entries.
    spread : dict Key -> float
        Per key estimated by several runs, the largest absolute difference
        between one run's aligned estimate and their weighted mean (0 for keys
        from one run): the runs' disagreement, an uncertainty diagnostic.
    defaults : dict str -> int
        The default level each conditioning node is held at.
    dropped : list of Run
        Runs not used: too few rows, a failed solve, or no link to the others.
    alignment_conflicts : int
        Pairs of runs sharing keys, off the spanning tree, whose best matching
        disagrees with the propagated labels (0 when the alignment is consistent).
    uncovered : list of (str, tuple of int)
        ``(node, parent levels)`` whose CPT row no run could estimate (set uniform).
    """

    params: BayesNetMixtureParams
    runs: list[Run]
    cpt_support: dict[str, int]
    spread: dict[Key, float]
    defaults: dict[str, int]
    dropped: list[Run] = field(default_factory=list)
    alignment_conflicts: int = 0
    uncovered: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)


def _check_inputs(
    values: ArrayLike, counts: ArrayLike | None, dag: DAG, n_levels: Any, k: Any
) -> tuple[IntArray, FloatArray, tuple[int, ...], int]:
    """Codes, counts, levels and ``k``, or a :class:`DataError` naming what is wrong."""
    if not isinstance(dag, DAG):
        raise DataError(
            f"dag must be a kmix DAG; got {type(dag).__name__} (convert with kmix.causal.as_dag)"
        )
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise DataError(f"n_components must be a positive integer; got {k!r}")
    n = dag.n_nodes
    raw: Any = n_levels
    levels = (int(raw),) * n if np.ndim(raw) == 0 else tuple(int(d) for d in raw)
    if len(levels) != n or min(levels, default=2) < 2:
        raise DataError(
            f"n_levels must be one int >= 2 or one per node in dag.nodes order ({n}); got {raw!r}"
        )
    arr = np.asarray(values)
    if arr.ndim != 2 or arr.shape[1] != n:
        raise DataError(f"values must have shape (n_rows, {n}), columns {list(dag.nodes)}")
    if arr.dtype.kind == "f":
        arr = np.where(np.isnan(arr), MISSING, arr)
        if not np.all(np.isfinite(arr) & (arr == np.round(arr))):
            raise DataError(
                "values must be integer level codes 0 .. n_levels - 1 (NaN or -1: missing)"
            )
    elif arr.dtype.kind not in "iub":
        raise DataError("values must be integer level codes 0 .. n_levels - 1 (NaN or -1: missing)")
    codes = arr if arr.dtype.kind in "iu" else arr.astype(np.int64)
    bad = ((codes < 0) & (codes != MISSING)) | (codes >= np.asarray(levels)[None, :])
    if np.any(bad):
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"row {r}, column {dag.nodes[c]!r} has value {int(codes[r, c])}; its levels are "
            f"0 .. {levels[c] - 1} (pass n_levels to allow more; {MISSING} marks a missing value)"
        )
    w = np.ones(codes.shape[0]) if counts is None else np.asarray(counts, dtype=np.float64)
    if w.shape != (codes.shape[0],) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataError(
            f"counts must be {codes.shape[0]} finite non-negative numbers, one per row; "
            f"got shape {w.shape}"
        )
    if w.sum() <= 0:
        raise DataError("counts sum to 0: there are no data to fit")
    return codes, w, levels, int(k)


def _report_uncovered(
    dag: DAG,
    levels: Mapping[str, int],
    uncovered: Sequence[tuple[str, tuple[int, ...]]],
    codes: IntArray,
    cnt: FloatArray,
) -> None:
    """Say which CPT rows no run covered: those without data stay uniform; the others are
    estimated by the EM over the whole mixture, from the rows that have those parents."""
    col = {v: j for j, v in enumerate(dag.nodes)}
    empty: list[str] = []
    seen: list[str] = []
    for v, row in uncovered:
        pa = [col[p] for p in dag.parents[v]]
        n = float(cnt[np.all(codes[:, pa] == np.asarray(row, dtype=np.int64), axis=1)].sum())
        (seen if n > 0 else empty).append(f"{v} at parents {row}")
    logger.debug("CPT rows without a run: without data %s; with data %s", empty, seen)
    if empty:
        warnings.warn(
            f"{len(empty)} CPT rows have no data and stay uniform, e.g. {empty[0]}; more data "
            "would cover them (logging 'kmix' at DEBUG lists every one)",
            UserWarning,
            stacklevel=4,
        )
    if seen:
        logger.info(
            "%d CPT rows had no run; the EM over the whole mixture estimates them from the "
            "rows with those parents (the reduction starts them uniform)",
            len(seen),
        )


def _fit_weights(
    dag: DAG,
    levels: tuple[int, ...],
    cpts: Sequence[FloatArray],
    codes: IntArray,
    counts: FloatArray,
    start: FloatArray,
    design: BNRowDesign | None = None,
) -> FloatArray:
    """``pi`` maximising ``sum_s c_s log sum_u pi_u P_u(x_s)`` with the networks fixed.

    The problem is concave in ``pi``: the active-set Newton method of
    :func:`kmix.solvers.em.weights.polish_weights`, from the runs' mean ``P(u | c)``.
    """
    k = start.shape[0]
    fixed = BayesNetMixtureParams(dag, levels, np.full(k, 1.0 / k), tuple(cpts))
    pi = np.maximum(start, 1e-3)
    pi = polish_weights(log_prob_observed(fixed, codes, design=design), counts, pi / pi.sum())
    return np.asarray(pi / pi.sum(), dtype=np.float64)


def fit_bayesnet_reduction(
    values: ArrayLike,
    counts: ArrayLike | None,
    dag: DAG,
    n_levels: int | Sequence[int],
    n_components: int,
    *,
    rng: np.random.Generator,
    min_run_size: float | None = None,
    refine_runs: bool = True,
    partial: bool = False,
) -> BayesNetReduction:
    """Weights and per-source CPTs of a mixture of Bayesian networks on a known DAG.

    .. math::
       P(v) = \\sum_u \\pi_u \\prod_V P_u(v_V \\mid \\mathrm{pa}(V))

    by the run / align / unzip reduction to latent class models (Gordon,
    Mazaheri, Rabani & Schulman 2023; see the module docstring).

    Parameters
    ----------
    values : array-like of shape (m, n_nodes)
        Integer level codes, columns in ``dag.nodes`` order (raw rows or
        unique rows); ``-1`` (or NaN) marks a missing value. No row is
        discarded as a whole: each run is fitted to the rows observed on its
        conditioning set and its members, and ``pi`` to every row's observed
        part. This is consistent when values are missing completely at
        random (MCAR); under missing at random (MAR) it is a start, which
        the EM of :func:`kmix.solvers.bayesnet.em.em_bayesnet_mixture` takes
        to the maximum-likelihood estimate.
    counts : array-like of shape (m,) or None
        Count (or probability mass) of each row; ``None`` counts each once.
        Exact population tables may be passed as probabilities times a large
        total (the effective sample sizes are then in those units).
    dag : DAG
    n_levels : int or sequence of int
        Levels per node (an int applies to all).
    n_components : int
        Number of sources ``k``.
    rng : numpy.random.Generator
        For the random contractions of the tensor method.
    min_run_size : float, optional
        Leave out runs whose effective sample size ``N P(COND = c)`` is below
        this (default: only runs without rows).
    refine_runs : bool
        Tighten every run by latent-class EM from the tensor method's best
        candidates and, after alignment, re-fit it with its shared keys held
        at their pooled values (only ``P(u | c)`` and its own keys free).
    partial : bool
        Cover the nodes that have runs and leave the CPTs of the others
        uniform (a start for EM) instead of raising when some node has none.

    Returns
    -------
    BayesNetReduction

    Raises
    ------
    IdentifiabilityError
        When the DAG is too dense for runs of enough independent members
        (the message names every such node), when the runs cannot be linked
        by shared keys, or when no run could be solved.

    Warns
    -----
    UserWarning
        For runs with an effective sample size below ``50 * 2^|I|``, runs
        that could not be solved or aligned, and CPT rows no run estimated
        (set uniform; the warning names node and parent levels).

    Notes
    -----
    Two passes. The pilot holds conditioning nodes at their modal levels
    (:func:`~kmix.solvers.bayesnet.defaults.default_assignment`); that pattern is
    typical of the largest source, so the others are rare in the runs held
    there. The final pass re-solves the same designs held at the levels
    that maximise the smallest source's share of the runs under the pilot
    fit (:func:`~kmix.solvers.bayesnet.defaults.balanced_defaults`).

    ``pi`` is fitted by maximum likelihood on all the data with the recovered
    networks fixed (rather than averaging ``P(u | c) / P_u(c)`` over runs): it
    uses every row (the observed part of a row with missing values,
    :func:`~kmix.solvers.bayesnet.design.log_prob_observed`), and is exact on
    population tables.
    """
    codes_in, w_in, levels, k = _check_inputs(values, counts, dag, n_levels, n_components)
    uniq, cnt = compress_coded(codes_in, w_in)
    keep = cnt > 0
    codes, cnt = (uniq, cnt) if keep.all() else (uniq[keep], cnt[keep])
    # rows with missing values: the completions are laid out once for both passes' weights
    design = BNRowDesign(codes, dag, levels) if np.any(codes == MISSING) else None
    if k == 1:  # nothing to balance or align
        plan = plan_runs(dag, codes, cnt, levels, k, min_run_size=min_run_size, partial=partial)
        return _reduce(plan, codes, cnt, levels, k, rng, False, design)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the pilot's diagnostics concern runs that are redone
        pilot_plan = plan_runs(
            dag, codes, cnt, levels, k, min_run_size=min_run_size, partial=partial
        )
        # the pilot only chooses the held levels: its runs take a lighter moment step and go
        # without EM refinement and anchored refits
        pilot = _reduce(pilot_plan, codes, cnt, levels, k, rng, False, design, light=True)
    held = balanced_defaults(pilot_plan.designs, pilot.params, pilot.defaults)
    plan = plan_runs(
        dag,
        codes,
        cnt,
        levels,
        k,
        min_run_size=min_run_size,
        defaults=held,
        designs=pilot_plan.designs,
    )
    return _reduce(plan, codes, cnt, levels, k, rng, refine_runs, design)


def _reduce(
    plan: RunPlan,
    codes: IntArray,
    cnt: FloatArray,
    levels: tuple[int, ...],
    k: int,
    rng: np.random.Generator,
    refine_runs: bool,
    design: BNRowDesign | None = None,
    light: bool = False,
) -> BayesNetReduction:
    """Solve, align, pool and unzip the runs of a plan; then fit the weights.

    ``light``: the pilot pass (a lighter moment step in every run).
    """
    dag = plan.dag
    col = {v: j for j, v in enumerate(dag.nodes)}
    lv = dict(zip(dag.nodes, levels, strict=True))
    dropped = list(plan.dropped)
    failed: list[str] = []
    rows = run_rows(plan.runs, codes, cnt, col, levels)
    # moves in every run while they are few; a plan of thousands of thin runs (a
    # network with many levels) leaves the misplaced classes to the EM that follows
    moves = len(plan.runs) <= MOVE_RUNS
    solved, unsolved = solve_runs(
        plan.runs, rows, lv, k, rng, refine_runs, moves=moves, light=light
    )
    for run, reason in unsolved:
        dropped.append(run)
        failed.append(f"{run.describe()}: {reason}")
    if failed:
        logger.debug("runs that could not be solved: %s", "; ".join(failed))
        warnings.warn(
            f"{len(failed)} of {len(plan.runs)} runs could not be solved and were left out, "
            f"e.g. {failed[0]} (logging 'kmix' at DEBUG lists every one)",
            UserWarning,
            stacklevel=3,
        )
    if not solved:
        raise IdentifiabilityError("no run could be solved; see the warnings for each run")
    perms, conflicts = align_runs(solved, k)
    aligned: list[Run] = []
    for run, perm in zip(solved, perms, strict=True):
        if perm is None:
            dropped.append(run)
            continue
        weights, probs = run.answer()
        aligned.append(
            dataclasses.replace(
                run, weights=weights[perm], probs={w: p[perm] for w, p in probs.items()}
            )
        )
    if len(aligned) < len(solved):
        warnings.warn(
            f"{len(solved) - len(aligned)} solved runs share no key with the main part of the "
            "alignment graph (a run they depended on was left out) and were dropped",
            UserWarning,
            stacklevel=3,
        )
    pooled = pool_runs(aligned)
    if refine_runs:
        shared = {key: est for key, est in pooled.items() if len(est.runs) > 1}
        aligned = anchored_refits(aligned, shared, rows, lv)
        pooled = {**pool_runs(aligned), **shared}
    cpts, support, uncovered = assemble_cpts(dag, lv, k, pooled)
    if uncovered:
        _report_uncovered(dag, lv, uncovered, codes, cnt)
    start = np.mean([r.answer()[0] for r in aligned], axis=0)
    pi = _fit_weights(dag, levels, cpts, codes, cnt, start, design)
    params = BayesNetMixtureParams(dag, levels, pi, tuple(cpts))
    spread = {key: est.spread for key, est in pooled.items()}
    return BayesNetReduction(
        params, aligned, support, spread, plan.defaults, dropped, conflicts, uncovered
    )

"""The whole k-MixBND fit from unique rows: the reduction's start, then EM over the mixture.

``fit_bayesnet_mixture`` is the one entry point used by
:class:`kmix.BayesNetMixture` and its bootstrap: the reduction to latent
class runs (:func:`kmix.solvers.bayesnet.reduction.fit_bayesnet_reduction`;
Gordon, Mazaheri, Rabani & Schulman, "Identifying mixtures of Bayesian
network distributions", 2021) gives the first start, random CPTs the others,
and accelerated EM over the whole mixture of networks
(:func:`kmix.solvers.bayesnet.em.em_bayesnet_mixture`) climbs from each; the
highest likelihood wins, and split moves then re-seed its smallest source from
each other source while that climbs higher
(:func:`kmix.solvers.bayesnet.moves.escape_source_collapse`).
"""

from __future__ import annotations

import functools
import logging
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ...exceptions import IdentifiabilityError
from ...params.bayesnet import BayesNetMixtureParams
from ...params.dag import DAG
from .certificate import BayesNetIdentification, identify_bayesnet
from .design import BNRowDesign
from .em import em_bayesnet_mixture, random_bn_starts
from .moves import escape_source_collapse
from .reduction import BayesNetReduction, fit_bayesnet_reduction

__all__ = ["BayesNetMixtureFit", "fit_bayesnet_mixture"]

FloatArray = NDArray[np.float64]
logger = logging.getLogger("kmix")
#: EM starts from random CPTs at least, where the reduction gives no start
FALLBACK_STARTS = 10
#: Random starts are the best of this many times as many after SCREEN_MAPS EM maps each
SCREEN_FACTOR = 5
SCREEN_MAPS = 12
#: What the reduction's runs certify
BY_RUNS = "identified by runs of k-MixProd (a sufficient condition)"


@dataclass(frozen=True)
class BayesNetMixtureFit:
    """A fitted mixture of Bayesian networks; sources ordered by weight, largest first.

    Attributes
    ----------
    params : BayesNetMixtureParams
    reduction : BayesNetReduction or None
        The reduction's runs and diagnostics (None with ``init="random"``).
    log_likelihood : float
    restart_log_likelihoods : list of float
        Of every start, the reduction's first.
    converged : bool
    n_iter : int
        EM maps of the winning start.
    log_likelihood_history : tuple of float
        :attr:`~kmix.solvers.bayesnet.em.BayesNetEMFit.log_likelihood_history`
        of the EM run kept (a split move's run when one climbed higher): the
        log-likelihood at the start of every SQUAREM cycle, then at the end,
        ``n_iter // 3 + 1`` entries.
    identification : str
        How the sources are identified: :data:`BY_RUNS`, or the Jacobian rank
        certificate's verdict and evidence
        (:func:`kmix.solvers.bayesnet.certificate.identify_bayesnet`).
    cpt_identification : dict of str to str
        Per node, how its CPT is identified: ``"runs"``, ``"runs, r of R
        parent rows without a run"`` (those rows come from the EM over the
        whole mixture alone), ``"generic (Jacobian rank)"`` or
        ``"not certified"``.
    """

    params: BayesNetMixtureParams
    reduction: BayesNetReduction | None
    log_likelihood: float
    restart_log_likelihoods: list[float]
    converged: bool
    n_iter: int
    identification: str = BY_RUNS
    cpt_identification: dict[str, str] = field(default_factory=dict)
    log_likelihood_history: tuple[float, ...] = ()


def fit_bayesnet_mixture(
    values: NDArray[np.int64],
    counts: FloatArray,
    dag: DAG,
    n_levels: Sequence[int],
    k: int,
    *,
    rng: np.random.Generator,
    init: str = "reduction",
    n_init: int = 1,
    tol: float = 1e-10,
    max_iter: int = 1000,
    pseudo_count: float = 0.0,
    min_run_size: float | None = None,
    refine_runs: bool = True,
) -> BayesNetMixtureFit:
    """Mixture of ``k`` Bayesian networks on ``dag`` from unique coded rows with counts.

    Parameters
    ----------
    values : ndarray of shape (n_unique, n_nodes)
        Codes in ``dag.nodes`` order; ``-1`` marks a missing value. Such
        rows are fitted by full-information maximum likelihood under missing
        at random: the reduction's runs use the rows observed on what each
        run needs, and EM maximises the likelihood of every row's observed
        part (Little & Rubin, *Statistical Analysis with Missing Data*, 2002).
    counts : ndarray of shape (n_unique,)
    dag : DAG
    n_levels : sequence of int
    k : int
    rng : numpy Generator
    init : {"reduction", "random"}
        First start: the reduction, or random CPTs.
    n_init : int
        EM starts in all (the reduction's first with ``init="reduction"``).
    tol, max_iter : float, int
        EM stopping rule and cap.
    pseudo_count : float
        Added to every expected CPT count in EM (0: maximum likelihood).
    min_run_size : float, optional
        Leave out reduction runs with fewer rows.
    refine_runs : bool
        Refine each run's moment solution by EM before the runs are aligned.

    Where the reduction has no run for some node (a hub, a dense corner), or
    with ``init="random"``, generic local identifiability is checked by the
    rank of the Jacobian of the observable tables
    (:func:`kmix.solvers.bayesnet.certificate.identify_bayesnet`); in the first
    case EM runs from the reduction of the nodes that have runs (the others
    uniform) and random starts, at least :data:`FALLBACK_STARTS` starts in all.

    Raises
    ------
    IdentifiabilityError
        The Jacobian is rank-deficient at every random point: ``k`` sources
        are not identified on this DAG.
    """
    starts: list[BayesNetMixtureParams] = []
    reduction = None
    identification = BY_RUNS
    t0 = time.perf_counter()
    no_runs = ""
    if init == "reduction":
        try:
            reduction = fit_bayesnet_reduction(
                values,
                counts,
                dag,
                list(n_levels),
                k,
                rng=rng,
                min_run_size=min_run_size,
                refine_runs=refine_runs,
            )
        except IdentifiabilityError as exc:
            no_runs = str(exc)
    cert = None
    if reduction is None:
        cert = _certify(dag, n_levels, k, no_runs)
        identification = f"{cert.kind}: {cert.reason}"
        if no_runs:
            n_init = max(n_init, FALLBACK_STARTS)
            partial = _partial_start(values, counts, dag, n_levels, k, rng, min_run_size)
            starts += [] if partial is None else [partial]
    else:
        starts.append(reduction.params)
        logger.info(
            "k-MixBND reduction: %d runs of k-MixProd on %d distinct rows, %.2f s",
            len(reduction.runs),
            values.shape[0],
            time.perf_counter() - t0,
        )
    t1 = time.perf_counter()
    design = BNRowDesign(values, dag, list(n_levels))
    starts += _screened_random_starts(
        values, counts, dag, n_levels, k, n_init - len(starts), rng, design, pseudo_count
    )
    fits = em_bayesnet_mixture(
        values,
        counts,
        dag,
        list(n_levels),
        starts,
        tol=tol,
        max_iter=max_iter,
        alpha=pseudo_count,
        design=design,
    )
    best = max((f for f in fits if not f.merged), key=lambda f: f.objective)
    best, n_moves = escape_source_collapse(
        values,
        counts,
        list(n_levels),
        best,
        rng,
        tol=tol,
        max_iter=max_iter,
        alpha=pseudo_count,
        design=design,
    )
    logger.info(
        "EM over the mixture of networks: %d start(s) and %d split moves, %d maps in the best, "
        "%.2f s",
        len(fits),
        n_moves,
        best.n_iter,
        time.perf_counter() - t1,
    )
    order = np.argsort(-best.params.weights, kind="stable")
    return BayesNetMixtureFit(
        params=best.params.permute(order),
        reduction=reduction,
        log_likelihood=float(best.log_likelihood),
        restart_log_likelihoods=[float(f.log_likelihood) for f in fits],
        converged=bool(best.converged),
        n_iter=int(best.n_iter),
        identification=identification,
        cpt_identification=_per_cpt(dag, n_levels, reduction, cert),
        log_likelihood_history=best.log_likelihood_history,
    )


def _screened_random_starts(
    values: NDArray[np.int64],
    counts: FloatArray,
    dag: DAG,
    n_levels: Sequence[int],
    k: int,
    n_starts: int,
    rng: np.random.Generator,
    design: BNRowDesign,
    alpha: float,
) -> list[BayesNetMixtureParams]:
    """The ``n_starts`` best of ``SCREEN_FACTOR * n_starts`` random starts after
    :data:`SCREEN_MAPS` EM maps each (the short-run strategy of Biernacki, Celeux &
    Govaert, "Choosing starting values for the EM algorithm...", CSDA 41, 2003)."""
    if n_starts <= 0:
        return []
    pool = random_bn_starts(dag, list(n_levels), k, SCREEN_FACTOR * n_starts, rng)
    short = em_bayesnet_mixture(
        values,
        counts,
        dag,
        list(n_levels),
        pool,
        tol=0.0,
        max_iter=SCREEN_MAPS,
        alpha=alpha,
        design=design,
    )
    ranked = sorted(
        (f for f in short if not f.merged and np.isfinite(f.objective)),
        key=lambda f: -f.objective,
    )
    return [f.params for f in ranked[:n_starts]]


def _partial_start(
    values: NDArray[np.int64],
    counts: FloatArray,
    dag: DAG,
    n_levels: Sequence[int],
    k: int,
    rng: np.random.Generator,
    min_run_size: float | None,
) -> BayesNetMixtureParams | None:
    """The reduction on the nodes that have runs (the others uniform), as one more start;
    None when even that part cannot be solved or aligned."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # about runs of a start that EM then refines
        try:
            part = fit_bayesnet_reduction(
                values,
                counts,
                dag,
                list(n_levels),
                k,
                rng=rng,
                min_run_size=min_run_size,
                partial=True,
            )
        except IdentifiabilityError as exc:
            logger.info("no partial reduction either: %s", exc)
            return None
    logger.info("a partial reduction (%d runs) starts EM beside the random starts", len(part.runs))
    return part.params


def _per_cpt(
    dag: DAG,
    n_levels: Sequence[int],
    reduction: BayesNetReduction | None,
    cert: BayesNetIdentification | None,
) -> dict[str, str]:
    """How each node's CPT is identified (see :class:`BayesNetMixtureFit`): by the runs
    of ``reduction``, or else by the certificate ``cert``."""
    if reduction is None:
        how = "generic (Jacobian rank)" if cert is not None and cert.identified else "not certified"
        return dict.fromkeys(dag.nodes, how)
    levels = dict(zip(dag.nodes, n_levels, strict=True))
    missing = Counter(v for v, _ in reduction.uncovered)
    out = {}
    for v in dag.nodes:
        rows = int(np.prod([levels[p] for p in dag.parents[v]], dtype=np.int64))
        n = missing[v]
        out[v] = "runs" if n == 0 else f"runs, {n} of {rows} parent rows without a run"
    return out


@functools.lru_cache(maxsize=32)
def _certificate(dag: DAG, n_levels: tuple[int, ...], k: int) -> BayesNetIdentification:
    """The certificate at fixed random points, computed once per model (bootstrap refits)."""
    return identify_bayesnet(dag, n_levels, k, rng=np.random.default_rng(0))


def _certify(dag: DAG, n_levels: Sequence[int], k: int, no_runs: str) -> BayesNetIdentification:
    """The rank certificate; refuse a proved deficiency, warn when it cannot decide.

    Fixed points (seed 0): the verdict depends on the model, not on the data.
    """
    cert = _certificate(dag, tuple(int(d) for d in n_levels), k)
    if cert.kind == "not identified":
        raise IdentifiabilityError(
            f"{k} sources on this DAG are not identified: {cert.reason}. Use fewer "
            "components, fewer edges, or nodes with more levels"
        )
    if cert.kind == "unknown":
        warnings.warn(
            f"identifiability of {k} sources on this DAG is not certified ({cert.reason}); "
            "the fit is one maximum of the likelihood, which may not be unique",
            UserWarning,
            stacklevel=4,
        )
    elif no_runs:
        logger.info("%s; EM from random starts instead: %s", no_runs, cert.reason)
    return cert

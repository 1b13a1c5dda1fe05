"""One EM loop for every mixture model in kmix.

The model is ``p(x) = sum_u pi_u f(x; theta_u)``; the family supplies
``log f`` and the M-step. Each iteration is (Dempster, Laird & Rubin,
"Maximum likelihood from incomplete data via the EM algorithm", JRSS-B 1977)

.. math::
   \\log r_{su} = \\log \\pi_u + \\log f(x_s; \\theta_u)
                  - \\operatorname{logsumexp}_v(\\log \\pi_v + \\log f(x_s; \\theta_v)),
   \\qquad \\pi_u = \\frac{\\sum_s c_s r_{su}}{\\sum_s c_s},

where ``c_s`` is the count (or weight) of unique row ``s``. The objective
``sum_s c_s log p(x_s)`` (plus the family's log-prior when smoothing is on)
never decreases between iterations; the loop stops when it rises by less than
``tol * |objective|``.

Rows with missing cells need nothing of the loop: the family scores them by
their observed cells and its M-step receives the E-step's parameters, from
which it takes the expected statistics of the missing cells (the EM of
full-information maximum likelihood; Little & Rubin, *Statistical Analysis
with Missing Data*, 2nd ed., 2002, ch. 8).

When the component parameters are fixed and only ``pi`` is learned (the
"factories" setting), the objective is concave in ``pi`` and EM converges to
the global maximum.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ...exceptions import ConvergenceWarning, DataError, ImpossibleRowError
from ...params import ComponentParams
from .seeding import kmeans_pp_labels
from .weights import polish_weights, weights_are_optimal

__all__ = [
    "EMProgress",
    "EMResult",
    "FamilyLike",
    "ZeroWeightRowError",
    "log_mixture",
    "run_em",
]

logger = logging.getLogger("kmix")
FloatArray = NDArray[np.float64]
#: A component whose expected count falls below this share of the data is empty.
EMPTY_SHARE = 1e-10
#: Re-seeding more often than this in one run means k is too large for the data.
MAX_RESEEDS = 20
INIT_METHODS = ("kmeans++", "random")
#: k-means runs (seeding and Lloyd steps) behind one k-means++ start; the lowest inertia wins
KMEANS_SEEDINGS = 5


class FamilyLike(Protocol):
    """What the EM loop needs from a component family."""

    @property
    def init_smoothing(self) -> float: ...

    def log_prob(self, prepared: Any, params: ComponentParams) -> FloatArray: ...

    def m_step(
        self,
        prepared: Any,
        resp_w: FloatArray,
        nk: FloatArray,
        current: ComponentParams | None = None,
    ) -> ComponentParams: ...

    def log_prior(self, params: ComponentParams) -> float: ...

    def features(self, prepared: Any) -> FloatArray: ...


@dataclass(frozen=True)
class EMProgress:
    """State after one E-step, handed to a progress callback.

    Attributes
    ----------
    restart : int
    iteration : int
        M-steps taken so far in this restart.
    objective : float
        Log-likelihood (plus log-prior) of the current parameters.
    weights : ndarray of shape (k,)
        Current mixture weights (a copy).
    """

    restart: int
    iteration: int
    objective: float
    weights: FloatArray


@dataclass(frozen=True)
class EMResult:
    """Outcome of :func:`run_em` (the best restart).

    Attributes
    ----------
    weights : ndarray of shape (k,)
    params : ComponentParams
    objective : float
        Final ``sum_s c_s log p(x_s)`` plus the log-prior (0 without smoothing).
    converged : bool
    n_iter : int
        M-steps taken by the best restart.
    history : ndarray
        Objective at each E-step of the best restart, followed, when only the
        weights are learned and the Newton polish moved them, by the objective
        after the polish; ``history[-1]`` is the objective of the returned
        parameters.
    log_likelihood_history : ndarray
        The same entries without the log-prior: ``sum_s c_s log p(x_s)`` at
        each E-step of the best restart (then after the polish, if any); equal
        to ``history`` without smoothing. With smoothing EM ascends
        ``history``, and this sequence need not be monotone.
    reseed_iterations : tuple of int
        Iterations (indices into ``history``) right after which an empty
        component was re-seeded; the objective may drop across those only.
    restart_objectives : tuple of float
        Final objective of every restart; the best restart's entry equals
        ``history[-1]`` (after the polish, if any).
    restart_log_likelihoods : tuple of float
        The same without the log-prior: final log-likelihood of every restart.
    best_restart : int
    """

    weights: FloatArray
    params: ComponentParams
    objective: float
    converged: bool
    n_iter: int
    history: FloatArray
    reseed_iterations: tuple[int, ...] = ()
    restart_objectives: tuple[float, ...] = field(default_factory=tuple)
    best_restart: int = 0
    restart_log_likelihoods: tuple[float, ...] = field(default_factory=tuple)
    log_likelihood_history: FloatArray = field(default_factory=lambda: np.empty(0))


class ZeroWeightRowError(ImpossibleRowError):
    """A row only components of weight exactly 0 can produce (EM cannot start)."""


def log_mixture(log_prob: FloatArray, log_weights: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Row log-densities and log-responsibilities, computed stably.

    Returns ``(log p(x_s), log r_su)`` from ``log f(x_s; theta_u)`` and ``log pi``,
    the weights shared by every row (k,) or each row's own (m, k).
    """
    joint = log_prob + log_weights
    top = joint.max(axis=1)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lse = np.log(np.exp(joint - top[:, None]).sum(axis=1)) + top
        return lse, joint - lse[:, None]


def _weighted_responsibilities(
    log_prob: FloatArray, log_weights: FloatArray, counts: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``(log p(x_s), c_s r_su)``: the E-step with one exponential, in place.

    Same numbers as :func:`log_mixture` followed by ``exp(log_r) * c``, about
    twice as fast on many rows.
    """
    joint = log_prob + log_weights[None, :]
    # numpy reduces a short last axis slowly: a maximum over columns and a
    # product with ones are several times faster for the usual handful of k
    top = joint[:, 0].copy()
    for u in range(1, joint.shape[1]):
        np.maximum(top, joint[:, u], out=top)
    top[~np.isfinite(top)] = 0.0
    joint -= top[:, None]
    np.exp(joint, out=joint)
    total = joint @ np.ones(joint.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        joint *= (counts / total)[:, None]
        lse = np.log(total) + top
    return lse, joint


def _log(weights: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore"):
        return np.log(weights)


def _initial_resp(
    family: FamilyLike,
    prepared: Any,
    counts: FloatArray,
    n_components: int,
    init: str,
    rng: np.random.Generator,
    n_seedings: int = 1,
) -> FloatArray:
    m = counts.shape[0]
    if init == "random":
        return rng.dirichlet(np.ones(n_components), size=m)
    labels = kmeans_pp_labels(
        family.features(prepared), counts, n_components, rng, n_seedings=n_seedings
    )
    resp = np.zeros((m, n_components))
    resp[np.arange(m), labels] = 1.0
    eps = family.init_smoothing
    return (1.0 - eps) * resp + eps / n_components


#: EM iterations before a restart may be judged hopeless
ABANDON_AFTER = 10
#: EM iterations every start gets before the starts are ranked (with ``n_init > 1``)
SHORT_RUN = 10


def _hopeless(history: list[float], best: float) -> bool:
    """Whether a restart's climb, extrapolated, ends below ``best`` (so it can stop now).

    EM converges linearly: its gains shrink by a rate ``a = g_t / g_{t-1}``,
    and Aitken's delta-squared extrapolation puts the limit at
    ``l_t + g_t a / (1 - a)`` (Bohning, Dietz, Schaub, Schlattmann & Lindsay,
    "The distribution of the likelihood ratio for mixtures of densities from
    the one-parameter exponential family", Ann. Inst. Statist. Math. 46, 1994;
    McNicholas, Murphy, McDaid & Frost, "Serial and parallel implementations of
    model-based clustering via parsimonious Gaussian mixture models", CSDA 54,
    2010). A restart is abandoned when even twice that remaining climb stays
    below the best restart's final objective, after :data:`ABANDON_AFTER`
    iterations and while its gains shrink steadily.
    """
    if len(history) <= ABANDON_AFTER:
        return False
    g1, g0 = history[-1] - history[-2], history[-2] - history[-3]
    if not (0.0 < g1 < g0):
        return False
    rate = g1 / g0
    remaining = g1 * rate / (1.0 - rate)
    return history[-1] + 2.0 * remaining < best


@dataclass
class _Run:
    """One restart's state, resumable: EM picks up where an earlier phase stopped."""

    restart: int
    weights: FloatArray
    params: ComponentParams
    history: list[float] = field(default_factory=list)
    #: ``history`` without the log-prior
    log_likelihoods: list[float] = field(default_factory=list)
    reseeds: list[int] = field(default_factory=list)
    converged: bool = False
    n_iter: int = 0
    abandoned: bool = False


def _single_run(
    family: FamilyLike,
    prepared: Any,
    counts: FloatArray,
    run: _Run,
    *,
    learn_weights: bool,
    learn_params: bool,
    tol: float,
    max_iter: int,
    callback: Callable[[int, float, FloatArray], None] | None,
    abandon_below: float | None = None,
) -> _Run:
    """EM from ``run``'s state until convergence, ``max_iter`` M-steps in all, or hopelessness."""
    total = float(counts.sum())
    weights, params = run.weights, run.params
    history, reseeds, n_iter = run.history, run.reseeds, run.n_iter
    if history:
        history.pop()  # the E-step below recomputes the objective where the last phase stopped
        run.log_likelihoods.pop()
    converged = False
    while True:
        lse, resp_w = _weighted_responsibilities(
            family.log_prob(prepared, params), _log(weights), counts
        )
        if not np.all(np.isfinite(lse)):
            row = int(np.flatnonzero(~np.isfinite(lse))[0])
            if np.any(np.isfinite(family.log_prob(prepared, params)[row])):
                raise ZeroWeightRowError(
                    f"row {row} has probability zero under every component with positive "
                    "weight, and EM never moves a weight that is exactly 0; give every "
                    "component that can produce it a positive starting weight",
                    row,
                )
            raise ImpossibleRowError(
                f"row {row} has probability zero under every component, so no weights "
                "can explain it; the components (probabilities of exactly 0 or 1?) "
                "cannot produce these data",
                row,
            )
        log_likelihood = float(counts @ lse)
        objective = log_likelihood + family.log_prior(params)
        history.append(objective)
        run.log_likelihoods.append(log_likelihood)
        if callback is not None:
            callback(n_iter, objective, weights)
        just_reseeded = bool(reseeds) and reseeds[-1] == len(history) - 2
        if n_iter > 0 and not just_reseeded and objective - history[-2] <= tol * abs(objective):
            converged = True
            break
        if n_iter >= max_iter:
            break
        if abandon_below is not None and not reseeds and _hopeless(history, abandon_below):
            logger.info("EM restart abandoned at iteration %d: it cannot reach the best", n_iter)
            run.abandoned = True
            break
        nk = resp_w.sum(axis=0)
        if learn_params:
            empty = np.flatnonzero(nk <= EMPTY_SHARE * total)
            if empty.size and len(reseeds) < MAX_RESEEDS:
                # move each empty component onto the worst-explained rows (as many as
                # there are distinct rows: with fewer rows than components some stay empty)
                worst = np.argsort(lse)[: empty.size]
                empty = empty[: worst.size]
                for u, s in zip(empty.tolist(), worst.tolist(), strict=True):
                    resp_w[s, :] = 0.0
                    resp_w[s, u] = counts[s]
                nk = resp_w.sum(axis=0)
                reseeds.append(len(history) - 1)
                logger.debug("re-seeded empty components %s at iteration %d", empty, n_iter)
        if learn_weights:
            weights = nk / nk.sum()
        if learn_params:
            # the E-step's parameters: expected statistics of missing cells depend on them
            params = family.m_step(prepared, resp_w, nk, current=params)
        n_iter += 1
    run.weights, run.params, run.converged, run.n_iter = weights, params, converged, n_iter
    return run


def _finish_weights_only(
    family: FamilyLike,
    prepared: Any,
    counts: FloatArray,
    params: ComponentParams,
    weights: FloatArray,
    history: list[float],
    log_likelihoods: list[float],
) -> tuple[list[float], list[float], FloatArray, bool]:
    """Newton polish of EM's weights when the components are fixed.

    The weights-only likelihood is concave: Newton steps converge quadratically
    where EM crawls linearly, and they can move a weight that is exactly 0,
    which EM never does. The polished weights replace EM's when their objective
    (log-likelihood plus the same log-prior EM's history holds) is not lower,
    and their objective is then appended to ``history`` (their log-likelihood
    to ``log_likelihoods``). Convergence is the Karush-Kuhn-Tucker check
    alone: EM's relative-change test is blind to a weight stuck at 0.

    Returns ``(history, log_likelihoods, weights, converged)``.
    """
    log_prob = family.log_prob(prepared, params)
    polished = polish_weights(log_prob, counts, weights)
    if not np.array_equal(polished, weights):
        lse = log_mixture(log_prob, _log(polished))[0]
        log_likelihood = float(counts @ lse)
        objective = log_likelihood + family.log_prior(params)
        if objective >= history[-1]:  # like with like: both include the log-prior
            weights = polished
            history = [*history, objective]
            log_likelihoods = [*log_likelihoods, log_likelihood]
    return history, log_likelihoods, weights, weights_are_optimal(log_prob, counts, weights)


def run_em(
    family: FamilyLike,
    prepared: Any,
    counts: FloatArray,
    n_components: int,
    *,
    rng: np.random.Generator,
    weights_init: FloatArray | None = None,
    params_init: ComponentParams | None = None,
    learn_weights: bool = True,
    learn_params: bool = True,
    tol: float = 1e-10,
    max_iter: int = 1000,
    n_init: int = 1,
    init: str = "kmeans++",
    callback: Callable[[EMProgress], None] | None = None,
) -> EMResult:
    """Fit mixture weights and/or component parameters by EM with restarts.

    Parameters
    ----------
    family : FamilyLike
        Supplies ``log_prob``, ``m_step``, ``log_prior`` and ``features``.
    prepared : object
        The family's prepared form of the (unique) rows.
    counts : ndarray of shape (m,)
        Count or weight of each row.
    n_components : int
    rng : numpy.random.Generator
        Source of all randomness (initialisation).
    weights_init, params_init : optional
        Starting point of the first restart. Required when the corresponding
        part is not learned (``learn_weights=False`` / ``learn_params=False``).
    learn_weights, learn_params : bool
        Which parts EM updates; the other part stays fixed.
    tol : float
        Stop when the objective rises by at most ``tol * |objective|``.
    max_iter : int
        M-steps per restart; hitting it warns :class:`ConvergenceWarning`.
    n_init : int
        Restarts; the one with the highest final objective is returned. A
        restart after the first stops early once its climb, extrapolated,
        cannot reach the best objective so far (see :func:`_hopeless`); its
        entry in ``restart_objectives`` is where it stopped.
    init : {"kmeans++", "random"}
        How restarts without ``params_init`` start: components fitted to a
        k-means++ partition (smoothed), or to random Dirichlet responsibilities.
    callback : callable, optional
        Called with an :class:`EMProgress` after every E-step.

    Returns
    -------
    EMResult
    """
    if init not in INIT_METHODS:
        raise DataError(f"init={init!r} is not valid; choose one of {INIT_METHODS}")
    if not learn_params and params_init is None:
        raise DataError("params_init is required when the component parameters are fixed")
    if not learn_weights and weights_init is None:
        raise DataError("weights_init is required when the weights are fixed")
    counts = np.asarray(counts, dtype=np.float64)

    def start(restart: int) -> _Run:
        if params_init is not None and (restart == 0 or not learn_params):
            params = params_init
            if weights_init is not None:
                weights = np.asarray(weights_init, dtype=np.float64)
            elif restart == 0:
                weights = np.full(n_components, 1.0 / n_components)
            else:
                weights = rng.dirichlet(np.ones(n_components))
            return _Run(restart, weights, params)
        # the first k-means start is the best of several partitions; later restarts
        # alternate random responsibilities and single k-means seedings, so that they
        # explore other basins (k-means prefers splitting a large cluster to isolating
        # a small one, which random responsibilities can find)
        how = "random" if restart % 2 == 1 else init
        seedings = KMEANS_SEEDINGS if restart == 0 else 1
        resp = _initial_resp(family, prepared, counts, n_components, how, rng, seedings)
        resp_w = resp * counts[:, None]
        nk = resp_w.sum(axis=0)
        if not learn_weights:
            # with known weights, give the largest initial cluster to the largest weight
            assert weights_init is not None
            rank = np.argsort(np.argsort(-np.asarray(weights_init), kind="stable"))
            perm = np.argsort(-nk, kind="stable")[rank]
            resp_w, nk = resp_w[:, perm], nk[perm]
        params = family.m_step(prepared, resp_w, nk)
        # weights_init starts the first restart only, unless the weights are fixed
        weights = (
            np.asarray(weights_init, dtype=np.float64)
            if weights_init is not None and (restart == 0 or not learn_weights)
            else nk / nk.sum()
        )
        return _Run(restart, weights, params)

    def advance(run: _Run, cap: int, abandon_below: float | None) -> _Run:
        def cb(it: int, obj: float, w: FloatArray) -> None:
            if callback is not None:
                callback(EMProgress(run.restart, it, obj, np.array(w, dtype=np.float64)))

        return _single_run(
            family,
            prepared,
            counts,
            run,
            learn_weights=learn_weights,
            learn_params=learn_params,
            tol=tol,
            max_iter=cap,
            callback=cb,
            abandon_below=abandon_below if learn_params else None,
        )

    # several starts: a short run of each first, then the most promising to convergence
    # and the others only while they can still catch up (the "em-EM" strategy of
    # Biernacki, Celeux & Govaert, "Choosing starting values for the EM algorithm for
    # getting the highest likelihood in multivariate Gaussian mixture models", CSDA 41,
    # 2003, with the Aitken test of _hopeless for "can still catch up")
    runs = [start(r) for r in range(n_init)]
    if n_init > 1:
        runs = [advance(run, min(SHORT_RUN, max_iter), None) for run in runs]
        runs.sort(key=lambda run: -run.history[-1])
    best_run: _Run | None = None
    for run in runs:
        if not run.converged and run.n_iter < max_iter:
            run = advance(run, max_iter, None if best_run is None else best_run.history[-1])
        logger.info(
            "EM restart %d: objective %.6f after %d iterations (converged=%s, abandoned=%s)",
            run.restart,
            run.history[-1],
            run.n_iter,
            run.converged,
            run.abandoned,
        )
        if best_run is None or run.history[-1] > best_run.history[-1]:
            best_run = run
    runs.sort(key=lambda run: run.restart)
    finals = [run.history[-1] for run in runs]
    final_lls = [run.log_likelihoods[-1] for run in runs]
    assert best_run is not None
    weights, params, history = best_run.weights, best_run.params, best_run.history
    lls = best_run.log_likelihoods
    converged, n_iter, reseeds, best_restart = (
        best_run.converged,
        best_run.n_iter,
        best_run.reseeds,
        best_run.restart,
    )
    if learn_weights and not learn_params:
        history, lls, weights, converged = _finish_weights_only(
            family, prepared, counts, params, np.asarray(weights), history, lls
        )
        # the returned fit's objective and log-likelihood, polish included
        finals[best_restart], final_lls[best_restart] = history[-1], lls[-1]
    if reseeds:
        warnings.warn(
            f"{len(reseeds)} time(s) a component lost all its mass and was re-seeded "
            "on the worst-explained rows; if this persists, n_components may exceed "
            "what the data support",
            UserWarning,
            stacklevel=2,
        )
    if not converged and learn_weights and not learn_params:
        warnings.warn(
            "the weights did not reach the maximum of the likelihood (its "
            "Karush-Kuhn-Tucker conditions fail) after EM and Newton polishing; "
            f"raise max_iter (now {max_iter}) or check fixed_params",
            ConvergenceWarning,
            stacklevel=2,
        )
    elif not converged and len(history) > 1:
        warnings.warn(
            f"EM stopped at max_iter={max_iter} before the objective settled to "
            f"tol={tol:g} (last change {history[-1] - history[-2]:.3g}); "
            "raise max_iter or tol",
            ConvergenceWarning,
            stacklevel=2,
        )
    return EMResult(
        weights=np.asarray(weights, dtype=np.float64),
        params=params,
        objective=float(history[-1]),
        converged=bool(converged),
        n_iter=int(n_iter),
        history=np.asarray(history),
        reseed_iterations=tuple(reseeds),
        restart_objectives=tuple(finals),
        best_restart=int(best_restart),
        restart_log_likelihoods=tuple(final_lls),
        log_likelihood_history=np.asarray(lls, dtype=np.float64),
    )

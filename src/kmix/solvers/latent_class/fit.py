"""The whole latent class fit from unique rows: moment starts, EM from many starts, a finish.

``fit_latent_class`` is the one entry point of k-MixProd on counts, used by
:class:`kmix.ProductMixture`, by its bootstrap and by the model selection. It
chains

1. the three-view moment method
   (:func:`kmix.solvers.latent_class.moments.fit_product_mixture`; Anandkumar,
   Hsu & Kakade, "A method of moments for mixture models and hidden Markov
   models", COLT 2012), whose best :data:`MOMENT_STARTS` candidates start EM;
2. accelerated EM from every start at once
   (:func:`kmix.solvers.latent_class.em.em_latent_class`), with random starts
   where the likelihood is flattest (few variables) or the moment step cannot
   run, and a fall-back to more starts when the winner's two-way margins are
   more than :data:`MISFIT_Z` standard errors off the data
   (:func:`kmix.solvers.latent_class.design.pairwise_misfit`);
3. birth, split and merge moves that trade a class, or the merger of two,
   for a class seeded on the rows the fit explains worst or for the two
   parts of a class that holds two groups, kept when EM from there climbs
   higher (:func:`kmix.solvers.latent_class.births.escape_local_maxima`;
   Ueda, Nakano, Ghahramani & Hinton, "SMEM algorithm for mixture models",
   Neural Computation 12, 2000): the local maxima that EM cannot leave
   misplace a whole class, often a small one;
4. a quasi-Newton finish where EM is cheap or did not settle
   (:func:`kmix.solvers.latent_class.em.polish_latent_class`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ...exceptions import DataError, IdentifiabilityError
from .births import escape_local_maxima, fits_the_table
from .design import RowDesign, log_likelihoods, pairwise_misfit
from .em import LatentClassFit, em_latent_class, polish_latent_class, random_starts
from .moments import fit_product_mixture

__all__ = [
    "AUTO_RANDOM_STARTS",
    "CHEAP_WORK",
    "MISFIT_Z",
    "MOMENT_STARTS",
    "LatentClassResult",
    "fit_latent_class",
]

FloatArray = NDArray[np.float64]
Start = tuple[FloatArray, list[FloatArray]]
#: EM starts taken from the moment step's candidates (best likelihood first)
MOMENT_STARTS = 3
#: Random starts that ``n_init="auto"`` adds at least where EM is cheap (or the moment
#: step absent)
AUTO_RANDOM_STARTS = 10
#: ... and at most, spending about :data:`RANDOM_WORK` (unique rows x levels x classes,
#: summed over the random starts) where EM is cheaper still
MAX_RANDOM_STARTS = 50
RANDOM_WORK = 3_000_000
#: "Cheap": unique rows x levels in all x classes at most this (about a millisecond an EM map)
CHEAP_WORK = 250_000
#: Unsettled EM starts (at ``max_iter``) finished by quasi-Newton on cheap tables
UNSETTLED = 10
#: A two-way margin this many standard errors off the fitted model is a misfit
MISFIT_Z = 5.0
#: Random starts of ``n_init="auto"`` are the best of up to this many times as many
#: after :data:`SCREEN_MAPS` EM maps each, as :data:`SCREEN_WORK` allows
SCREEN_FACTOR = 10
SCREEN_MAPS = 100
#: Unique rows x levels x classes x maps spent on screening at most
SCREEN_WORK = 2_500_000_000


@dataclass(frozen=True)
class LatentClassResult:
    """A latent class fit; classes ordered by weight, largest first.

    Attributes
    ----------
    weights : ndarray of shape (k,)
    probs : list of ndarray
        ``probs[j][u, v] = P(X_j = v | u)``.
    log_likelihood : float
        ``sum_s c_s log P(x_s)``.
    converged : bool
        EM met ``tol`` (True without EM).
    n_iter : int
        EM maps of the winning start (three per SQUAREM cycle).
    n_starts : int
        EM starts run.
    n_polish_iter : int
        Quasi-Newton steps after EM.
    n_birth_starts : int
        Candidate starts of the birth, split and merge moves.
    restart_log_likelihoods : list of float
        Final log-likelihood of every start, the moment candidates first.
    misfit : float
        Largest standardised residual of the two-way margins.
    moment_weights, moment_probs : ndarray, list of ndarray or None
        The moment step's answer in the same class order (None without it).
    moment_failed : bool
        The moment step was asked for but found no views that separate the classes.
    views : list of tuple
        ``(A, B, pivot)`` column groups of the combined view triples.
    singular_values : ndarray
        Of ``P(X_A, X_B)`` for the best triple.
    eigengap, signal_to_noise : float
        Of the best triple (NaN without the moment step).
    moment_out_of_range : float or None
        How far the moment estimates left the probability simplex before they
        were clipped (0 when they stayed inside).
    log_likelihood_history : ndarray
        :attr:`~kmix.solvers.latent_class.em.LatentClassFit.history` of the fit
        returned: the log-likelihood at the start of every SQUAREM cycle of the
        EM run that ended there (a screened random start counted from where
        the screening left it; a birth, split or merge move's continued run
        when one climbed higher), then at its end point, then after each
        quasi-Newton finish that moved it; ``n_iter // 3 + 1`` entries plus
        those finishes (at most 2). The moment answer alone (``refine=False``):
        one entry.
    """

    weights: FloatArray
    probs: list[FloatArray]
    log_likelihood: float
    converged: bool
    n_iter: int
    n_starts: int
    n_polish_iter: int
    restart_log_likelihoods: list[float]
    n_birth_starts: int
    misfit: float
    moment_weights: FloatArray | None = None
    moment_probs: list[FloatArray] | None = None
    moment_failed: bool = False
    views: list[tuple[tuple[int, ...], ...]] = field(default_factory=list)
    singular_values: FloatArray = field(default_factory=lambda: np.empty(0))
    eigengap: float = float("nan")
    signal_to_noise: float = float("nan")
    moment_out_of_range: float | None = None
    log_likelihood_history: FloatArray = field(default_factory=lambda: np.empty(0))


@dataclass
class _Moments:
    start: Start | None = None
    extra: list[Start] = field(default_factory=list)
    failed: bool = False
    views: list[tuple[tuple[int, ...], ...]] = field(default_factory=list)
    singular_values: FloatArray = field(default_factory=lambda: np.empty(0))
    eigengap: float = float("nan")
    signal_to_noise: float = float("nan")
    out_of_range: float | None = None


def _moment_step(
    values: FloatArray,
    counts: FloatArray,
    n_levels: Sequence[int],
    k: int,
    n_triples: int,
    rng: np.random.Generator,
    design: RowDesign,
) -> _Moments:
    """Guaranteed views first, then any views; the best candidates become starts."""
    for guaranteed in (True, False):
        try:
            res = fit_product_mixture(
                values,
                counts,
                n_levels,
                k,
                rng=rng,
                n_triples=n_triples,
                guaranteed=guaranteed,
                design=design,
            )
        except IdentifiabilityError:
            continue
        out = _Moments(start=(res.weights, res.probs), out_of_range=res.out_of_range)
        if res.triples:
            best = res.triples[0]
            out.views = [(t.views.a, t.views.b, t.views.pivot) for t in res.triples]
            out.singular_values = best.singular_values
            out.eigengap = best.eigengap
            out.signal_to_noise = best.signal_to_noise
        # the next-best distinct moment candidates become extra EM starts
        out.extra = [(w, p) for w, p, _ in res.candidates[1:MOMENT_STARTS]]
        return out
    return _Moments(failed=True)


def _starts(
    n_init: int | str,
    moments: _Moments,
    cheap: bool,
    work: int,
    k: int,
) -> tuple[list[Start], int, bool]:
    """The moment candidates that start EM, how many random starts join them, and
    whether a misfit may bring in more (``n_init="auto"`` on large tables)."""
    own = [] if moments.start is None else [moments.start, *moments.extra]
    if isinstance(n_init, str):
        if own and not cheap and work > RANDOM_WORK:
            return own[:1], 0, True
        n_random = min(MAX_RANDOM_STARTS, max(AUTO_RANDOM_STARTS, RANDOM_WORK // max(work, 1)))
        if own and not cheap:
            n_random = min(n_random, RANDOM_WORK // max(work, 1))
        return own, int(n_random), False
    own = own[:n_init]
    return own, n_init - len(own), False


def _screened(
    n_random: int,
    work: int,
    n_levels: Sequence[int],
    k: int,
    rng: np.random.Generator,
    run: Callable[[list[Start], int], list[LatentClassFit]],
) -> list[Start]:
    """The ``n_random`` best of up to :data:`SCREEN_FACTOR` times as many random starts
    after :data:`SCREEN_MAPS` EM maps each (their end points).

    The short-run strategy of C. Biernacki, G. Celeux & G. Govaert, "Choosing starting
    values for the EM algorithm for getting the highest likelihood in multivariate
    Gaussian mixture models", Computational Statistics & Data Analysis 41 (2003):
    a basin whose start climbs fastest in the first maps is the likeliest to hold
    the highest maximum, so a wider pool screened cheaply finds a maximum that few
    random starts reach (a few per cent of them on flat tables of 5 classes).
    With one class every start reaches the same maximum: plain draws.
    """
    pool = min(SCREEN_FACTOR * n_random, SCREEN_WORK // max(work * SCREEN_MAPS, 1))
    if n_random <= 0 or pool <= n_random or k == 1:
        return random_starts(list(n_levels), k, n_random, rng)
    short = run(random_starts(list(n_levels), k, int(pool), rng), SCREEN_MAPS)
    ranked = sorted(
        (f for f in short if not f.merged and np.isfinite(f.log_likelihood)),
        key=lambda f: -f.log_likelihood,
    )
    return [(f.weights, f.probs) for f in ranked[:n_random]]


def _best(fits: list[LatentClassFit]) -> LatentClassFit:
    # a merged start stopped inside a better start's basin, which went on climbing
    return max((f for f in fits if not f.merged), key=lambda f: f.log_likelihood)


def _finish_unsettled(
    design: RowDesign,
    counts: FloatArray,
    n_levels: Sequence[int],
    fits: list[LatentClassFit],
) -> list[LatentClassFit]:
    """The fits with the highest starts that EM left unsettled finished by quasi-Newton.

    On a flat ridge EM crawls: a start bound for a higher maximum may stop at
    ``max_iter`` below a settled lower one, and picking the best by its
    log-likelihood then keeps the wrong basin. The :data:`UNSETTLED` highest
    unsettled starts are finished by L-BFGS-B
    (:func:`~kmix.solvers.latent_class.em.polish_latent_class`) first.
    """
    pending = sorted(
        (
            c
            for c, f in enumerate(fits)
            if not f.merged and not f.converged and np.isfinite(f.log_likelihood)
        ),
        key=lambda c: fits[c].log_likelihood,
        reverse=True,
    )[:UNSETTLED]
    out = list(fits)
    for c in pending:
        f = fits[c]
        done = polish_latent_class(
            design.codes, counts, n_levels, (f.weights, f.probs), design=design
        )
        if done.log_likelihood > f.log_likelihood:
            out[c] = LatentClassFit(
                done.weights,
                done.probs,
                done.log_likelihood,
                done.converged,
                f.n_iter,
                history=(*f.history, done.log_likelihood),
            )
    return out


def fit_latent_class(
    values: FloatArray,
    counts: FloatArray,
    n_levels: Sequence[int],
    k: int,
    *,
    rng: np.random.Generator,
    init: str = "moments",
    n_init: int | str = "auto",
    n_triples: int = 5,
    refine: bool = True,
    births: bool = True,
    tol: float = 1e-10,
    max_iter: int = 1000,
    design: RowDesign | None = None,
) -> LatentClassResult:
    """Latent class model of ``k`` classes from unique coded rows with counts.

    Parameters
    ----------
    values : ndarray of shape (n_unique, n_vars)
        Codes ``0 .. n_levels[j] - 1``; ``-1`` marks a missing value (the
        rows' observed items then enter by full-information likelihood, and
        the moment step reads the complete rows).
    counts : ndarray of shape (n_unique,)
        Row weights (frequencies).
    n_levels : sequence of int
    k : int
    rng : numpy Generator
    init : {"moments", "random"}
        The moment step's candidates start EM, or random starts alone.
    n_init : int or "auto"
        EM starts in all: the moment candidates first (at most
        :data:`MOMENT_STARTS`), then random ones (flat Dirichlet weights and
        probabilities). ``"auto"``: the moment candidates and
        :data:`AUTO_RANDOM_STARTS` to :data:`MAX_RANDOM_STARTS` random starts
        (as many as :data:`RANDOM_WORK` allows; each the best of up to
        :data:`SCREEN_FACTOR` random starts after :data:`SCREEN_MAPS` EM maps,
        :func:`_screened`) where an EM map is cheap
        (unique rows x levels x classes <= :data:`CHEAP_WORK`: few variables,
        where the likelihood is flattest and local maxima commonest) or the
        moment step cannot run; up to :data:`RANDOM_WORK` of random starts
        beside the moment candidates on mid-sized tables; otherwise the best
        moment candidate alone, followed by every candidate and random
        starts when its fit shows a two-way misfit above :data:`MISFIT_Z` or
        the table cannot vouch for it (sparse, or a dense table whose
        likelihood-ratio statistic exceeds sampling error:
        :func:`~kmix.solvers.latent_class.births.fits_the_table`).
        On cheap tables the :data:`UNSETTLED` highest starts that EM left
        unsettled are finished by L-BFGS-B before the best is chosen. The
        birth, split and merge moves follow unless the single start was
        vouched for (``births``).
    n_triples : int
        View triples combined by the moment step.
    refine : bool
        Run EM (False: the moment step's answer).
    births : bool
        After EM, try the birth, split and merge moves of
        :func:`~kmix.solvers.latent_class.births.escape_local_maxima` on the
        best fit (a small class that EM lost is found again there).
    tol, max_iter : float, int
        EM stopping rule (relative gain per SQUAREM cycle) and cap on maps.
    design : RowDesign, optional
        Precomputed design of ``values`` (reused across calls).

    Returns
    -------
    LatentClassResult

    Raises
    ------
    DataError
        ``refine=False`` where the moment step cannot run.
    """
    design = RowDesign(values, list(n_levels), counts) if design is None else design
    moments = _Moments()
    if init == "moments":
        if design.complete:
            moments = _moment_step(values, counts, n_levels, k, n_triples, rng, design)
        else:
            # the moment step reads the complete rows: a start (exact under values missing
            # completely at random), which the full-information EM then corrects
            full = np.all(design.codes >= 0, axis=1)
            if full.any():
                sub = design.codes[full].astype(np.float64)
                sub_design = RowDesign(sub, list(n_levels), counts[full])
                moments = _moment_step(sub, counts[full], n_levels, k, n_triples, rng, sub_design)
            else:
                moments = _Moments(failed=True)
    start = moments.start
    if not refine:
        if start is None:
            raise DataError("refine=None needs the moment step, which could not run here")
        weights, probs = start
        loglik = float(log_likelihoods(values, counts, n_levels, [start], design=design)[0])
        converged, n_iter, n_starts, n_polish, n_births = True, 0, 0, 0, 0
        restart_lls: list[float] = []
        history: tuple[float, ...] = (loglik,)  # no EM: the moment answer's alone
    else:
        work = values.shape[0] * sum(n_levels) * k
        cheap = work <= CHEAP_WORK
        own, n_random, escalate = _starts(n_init, moments, cheap, work, k)

        def run(group: list[Start], cap: int = max_iter) -> list[LatentClassFit]:
            return em_latent_class(
                design.codes, counts, n_levels, group, tol=tol, max_iter=cap, design=design
            )

        if isinstance(n_init, str):
            starts = own + _screened(n_random, work, n_levels, k, rng, run)
        else:
            starts = own + random_starts(list(n_levels), k, n_random, rng)
        fits = run(starts)
        best = _best(fits)
        # the table vouches for the single moment start's fit: no more starts, no moves
        vouched = False
        if escalate:
            vouched = pairwise_misfit(
                design, counts, best.weights, best.probs
            ) <= MISFIT_Z and fits_the_table(design, counts, best)
            if not vouched:
                # the single moment start ended at a visible misfit (a poor local maximum
                # when k is right), or on a table too sparse to tell: every moment candidate
                # and random starts as well
                n_more = min(AUTO_RANDOM_STARTS, max(2, RANDOM_WORK // max(work, 1)))
                more = random_starts(list(n_levels), k, int(n_more), rng)
                fits += run([*moments.extra, *more])
                best = _best(fits)
        if cheap:
            fits = _finish_unsettled(design, counts, n_levels, fits)
            best = _best(fits)
        restart_lls = [f.log_likelihood for f in fits]
        n_births = 0
        if births and k > 1 and not vouched:
            best, n_births = escape_local_maxima(
                design, counts, best, run, max_iter=max_iter, rng=rng
            )
        n_starts, n_iter, n_polish = len(fits), best.n_iter, 0
        converged = best.converged
        if cheap or not best.converged:
            # flat likelihoods (few variables, maxima on the boundary) defeat EM's linear
            # rate: a quasi-Newton finish settles them
            polished = polish_latent_class(
                design.codes, counts, n_levels, (best.weights, best.probs), design=design
            )
            if polished.n_iter:
                best = LatentClassFit(
                    polished.weights,
                    polished.probs,
                    polished.log_likelihood,
                    best.converged or polished.converged,
                    best.n_iter,
                    history=(*best.history, polished.log_likelihood),
                )
                n_polish = polished.n_iter
                converged = best.converged
        weights, probs, loglik = best.weights, best.probs, best.log_likelihood
        history = best.history
    order = np.argsort(-weights, kind="stable")
    weights = weights[order]
    # rows of probabilities exactly on the simplex (EM's ratios can round past 0 or 1)
    probs = [np.maximum(p[order], 0.0) for p in probs]
    probs = [p / p.sum(axis=1, keepdims=True) for p in probs]
    return LatentClassResult(
        weights=weights,
        probs=probs,
        log_likelihood=float(loglik),
        converged=bool(converged),
        n_iter=int(n_iter),
        log_likelihood_history=np.asarray(history, dtype=np.float64),
        n_starts=int(n_starts),
        n_polish_iter=int(n_polish),
        restart_log_likelihoods=restart_lls,
        n_birth_starts=int(n_births),
        misfit=pairwise_misfit(design, counts, weights, probs),
        moment_weights=None if start is None else start[0][order],
        moment_probs=None if start is None else [p[order] for p in start[1]],
        moment_failed=moments.failed,
        views=moments.views,
        singular_values=moments.singular_values,
        eigengap=moments.eigengap,
        signal_to_noise=moments.signal_to_noise,
        moment_out_of_range=moments.out_of_range,
    )

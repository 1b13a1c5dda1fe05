"""EM benchmark: kmix ``FiniteMixture`` against scikit-learn, StepMix and pomegranate.

Protocol
--------
* **Data**: ``kmix.datasets.make_mixture(family, N, k=4, d=15, n_levels=3)``, one data
  set per family and size, given unchanged to every tool (as integer codes for the
  discrete families, as float32/int64 tensors for pomegranate, which needs torch input).
* **Restarts**: every tool runs the same number of restarts; kmix, StepMix and
  scikit-learn through their ``n_init``, pomegranate (which has none) through a loop over
  seeds that keeps the fit with the highest log-likelihood. That loop stops starting new
  restarts once the next one would exceed a time budget, and the table says so.
* **Tolerance**: one relative tolerance ``REL_TOL`` on the rise of the log-likelihood
  between iterations, translated into each tool's own semantics (see :func:`tolerances`);
  the same ``MAX_ITER`` everywhere; every other option at the tool's default
  (initialisations included).
* **Log-likelihood**: each tool's fitted weights and parameters are converted into plain
  arrays and scored by one float64 numpy function, :func:`loglik_rows`, so "equal or
  better" compares like with like. kmix's own ``log_likelihood_`` is checked against it.
* **Gaussian per iteration**: kmix and ``GaussianMixture`` start from identical weights,
  means and covariances and run a fixed number of iterations (``tol=0``); time per
  iteration is the total fit time over the iterations run, and the marginal cost per
  iteration (difference against a one-iteration fit) is reported beside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from common import BenchResult, Timed, fmt_float, log, machine_info, markdown_table, timed

__all__ = ["NAME", "Config", "MixtureArrays", "loglik_rows", "run", "tolerances"]

NAME = "em"
FloatArray = NDArray[np.float64]

SEED = 0
N_COMPONENTS = 4
N_FEATURES = 15
N_LEVELS = 3
#: Stop when the total log-likelihood rises by less than ``REL_TOL * |log-likelihood|``.
REL_TOL = 1e-8
MAX_ITER = 1000
#: scikit-learn's ``reg_covar`` and kmix's ``var_floor`` (both at their default).
COVARIANCE_FLOOR = 1e-6
#: Two log-likelihoods are "equal" when their means per row differ by less than this (nats).
LL_TOL_PER_ROW = 1e-6
SPEEDUP_TARGET = 20.0
PER_ITER_TARGET = 1.5
_TINY = float(np.finfo(np.float64).tiny)

DISCRETE = ("bernoulli", "categorical")
FAMILIES = (*DISCRETE, "gaussian")


@dataclass(frozen=True)
class Config:
    """Sizes, restarts and budgets of one benchmark run.

    Attributes
    ----------
    sizes : tuple of int
        Numbers of rows ``N``.
    n_init : dict
        Restarts (the same for every tool) per size.
    per_iter_sizes : tuple of int
        Sizes of the gaussian per-iteration comparison.
    per_iter_steps : int
        Iterations of each per-iteration fit.
    per_iter_repeats : dict
        Repetitions (fastest kept) per size of the per-iteration fits.
    restart_budget_s : float
        Pomegranate's restart loop starts no restart expected to end past this.
    quick : bool
    """

    sizes: tuple[int, ...]
    n_init: dict[int, int]
    per_iter_sizes: tuple[int, ...]
    per_iter_steps: int
    per_iter_repeats: dict[int, int]
    restart_budget_s: float
    quick: bool


FULL = Config(
    sizes=(10_000, 100_000, 1_000_000),
    n_init={10_000: 2, 100_000: 2, 1_000_000: 1},
    per_iter_sizes=(10_000, 100_000, 1_000_000),
    per_iter_steps=20,
    per_iter_repeats={10_000: 3, 100_000: 3, 1_000_000: 1},
    restart_budget_s=300.0,
    quick=False,
)
QUICK = Config(
    sizes=(2_000, 10_000),
    n_init={2_000: 1, 10_000: 1},
    per_iter_sizes=(10_000,),
    per_iter_steps=5,
    per_iter_repeats={10_000: 1},
    restart_budget_s=30.0,
    quick=True,
)


# --------------------------------------------------------------------------- scoring
@dataclass
class MixtureArrays:
    """A fitted mixture as plain float64 arrays, whatever tool produced it.

    Attributes
    ----------
    weights : ndarray of shape (k,)
    arrays : dict
        ``{"p": (k, d)}`` (bernoulli), ``{"probs": (k, d, L)}`` (categorical, indexed by
        the level's integer code) or ``{"means": (k, d), "covariances": (k, d, d)}``.
    """

    weights: FloatArray
    arrays: dict[str, FloatArray]


def _log(x: FloatArray) -> FloatArray:
    """``log(x)`` with 0 mapped to the log of the smallest normal double (about -708)."""
    return np.log(np.maximum(x, _TINY))


def component_log_prob(family: str, X: NDArray[Any], mix: MixtureArrays) -> FloatArray:
    """``log f(x_n; theta_u)`` of every row and component, shape (N, k).

    Parameters
    ----------
    family : {"bernoulli", "categorical", "gaussian"}
    X : ndarray of shape (N, d)
        0/1 values, integer level codes, or reals.
    mix : MixtureArrays
    """
    if family == "bernoulli":
        p = mix.arrays["p"]
        Xf = np.asarray(X, dtype=np.float64)
        return Xf @ _log(p).T + (1.0 - Xf) @ _log(1.0 - p).T
    if family == "categorical":
        log_probs = _log(mix.arrays["probs"])  # (k, d, L)
        codes = np.asarray(X, dtype=np.intp)
        out = np.zeros((codes.shape[0], log_probs.shape[0]))
        for j in range(codes.shape[1]):
            out += log_probs[:, j, codes[:, j]].T
        return out
    if family == "gaussian":
        Xf = np.asarray(X, dtype=np.float64)
        n, d = Xf.shape
        means, covs = mix.arrays["means"], mix.arrays["covariances"]
        out = np.empty((n, means.shape[0]))
        for u in range(means.shape[0]):
            chol = np.linalg.cholesky(covs[u])
            # whitened residuals: solve L z = (x - mu) for all rows at once
            z = np.linalg.solve(chol, (Xf - means[u]).T)
            maha = np.einsum("ij,ij->j", z, z)
            log_det = 2.0 * np.log(np.diag(chol)).sum()
            out[:, u] = -0.5 * (d * np.log(2.0 * np.pi) + log_det + maha)
        return out
    raise ValueError(f"unknown family {family!r}; choose one of {FAMILIES}")


def loglik_rows(family: str, X: NDArray[Any], mix: MixtureArrays) -> FloatArray:
    """``log p(x_n) = logsumexp_u(log w_u + log f(x_n; theta_u))`` of every row, in float64.

    .. math:: \\log p(x_n) = \\log \\sum_u w_u f(x_n; \\theta_u)

    The single scoring function of the benchmark: every tool's fitted parameters go
    through it, so their log-likelihoods are directly comparable.
    """
    joint = component_log_prob(family, X, mix) + _log(np.asarray(mix.weights))[None, :]
    return np.asarray(logsumexp(joint, axis=1), dtype=np.float64)


def one_component(family: str, X: NDArray[Any]) -> MixtureArrays:
    """Closed-form maximum-likelihood fit of a single component (the tolerance scale)."""
    if family == "bernoulli":
        return MixtureArrays(np.ones(1), {"p": np.asarray(X, dtype=np.float64).mean(axis=0)[None]})
    if family == "categorical":
        codes = np.asarray(X, dtype=np.intp)
        n_levels = int(codes.max()) + 1
        probs = np.stack(
            [np.bincount(c, minlength=n_levels) / c.shape[0] for c in codes.T]
        )  # (d, L)
        return MixtureArrays(np.ones(1), {"probs": probs[None]})
    Xf = np.asarray(X, dtype=np.float64)
    cov = np.cov(Xf.T, bias=True) + COVARIANCE_FLOOR * np.eye(Xf.shape[1])
    return MixtureArrays(np.ones(1), {"means": Xf.mean(axis=0)[None], "covariances": cov[None]})


def tolerances(ll_scale: float, n_samples: int) -> dict[str, float]:
    """``REL_TOL`` in each tool's stopping rule.

    * kmix ``tol``: relative, stop when the total log-likelihood rises by at most
      ``tol * |LL|`` (native).
    * StepMix ``rel_tol`` (with ``abs_tol=0``): stop when ``|change / LL|`` of the mean
      log-likelihood is below ``rel_tol`` (native; the same ratio).
    * pomegranate ``tol``: absolute rise of the total log-likelihood, so
      ``REL_TOL * |LL_1|`` with ``LL_1`` the log-likelihood of a single component fitted in
      closed form (a scale known before any mixture is fitted; ``|LL_1| >= |LL|`` as the
      mixture fits better, so this is never tighter than kmix's rule).
    * scikit-learn ``tol``: absolute change of the mean log-likelihood per row, so
      ``REL_TOL * |LL_1| / N``.
    """
    scale = abs(ll_scale)
    return {
        "kmix_tol": REL_TOL,
        "stepmix_rel_tol": REL_TOL,
        "stepmix_abs_tol": 0.0,
        "pomegranate_tol": REL_TOL * scale,
        "sklearn_tol": REL_TOL * scale / n_samples,
    }


# --------------------------------------------------------------------------- tools
@dataclass
class FitOutcome:
    """A tool's fit, reduced to what the tables need.

    Attributes
    ----------
    mixture : MixtureArrays
    n_iter : int or None
        EM iterations (M-steps) of the best restart.
    restarts_run : int
    converged : bool or None
    reported_loglik : float or None
        The tool's own total log-likelihood, when it reports one.
    notes : list of str
    """

    mixture: MixtureArrays
    n_iter: int | None
    restarts_run: int
    converged: bool | None
    reported_loglik: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Tool:
    """One contender: a label, how to fit it (timed) and how to read it (untimed)."""

    label: str
    fit: Callable[[str, NDArray[Any], int, dict[str, float]], Any]
    extract: Callable[[str, Any, int], FitOutcome]
    notes: tuple[str, ...] = ()


def _kmix_fit(family: str, X: NDArray[Any], n_init: int, tol: dict[str, float]) -> Any:
    from kmix import FiniteMixture

    return FiniteMixture(
        N_COMPONENTS,
        family=family,
        n_init=n_init,
        tol=tol["kmix_tol"],
        max_iter=MAX_ITER,
        var_floor=COVARIANCE_FLOOR,
        random_state=SEED,
    ).fit(X)


def _kmix_extract(family: str, model: Any, n_init: int) -> FitOutcome:
    params = model.params_
    if family == "bernoulli":
        arrays = {"p": np.asarray(params.p, dtype=np.float64)}
    elif family == "categorical":
        n_levels = max(int(np.max(levels)) + 1 for levels in model.categories_)
        probs = np.zeros((N_COMPONENTS, len(model.categories_), n_levels))
        for j, (levels, block) in enumerate(zip(model.categories_, params.probs, strict=True)):
            probs[:, j, np.asarray(levels, dtype=np.intp)] = block
        arrays = {"probs": probs}
    else:
        arrays = {
            "means": np.asarray(params.means, dtype=np.float64),
            "covariances": np.asarray(params.covariances, dtype=np.float64),
        }
    return FitOutcome(
        MixtureArrays(np.asarray(model.weights_, dtype=np.float64), arrays),
        n_iter=int(model.n_iter_),
        restarts_run=n_init,
        converged=bool(model.converged_),
        reported_loglik=float(model.log_likelihood_),
    )


def _stepmix_fit(init_params: str) -> Callable[[str, NDArray[Any], int, dict[str, float]], Any]:
    def fit(family: str, X: NDArray[Any], n_init: int, tol: dict[str, float]) -> Any:
        from stepmix.stepmix import StepMix

        return StepMix(
            n_components=N_COMPONENTS,
            measurement="binary" if family == "bernoulli" else "categorical",
            n_init=n_init,
            max_iter=MAX_ITER,
            abs_tol=tol["stepmix_abs_tol"],
            rel_tol=tol["stepmix_rel_tol"],
            init_params=init_params,
            random_state=SEED,
            verbose=0,
            progress_bar=0,
        ).fit(X)

    return fit


def _stepmix_extract(family: str, model: Any, n_init: int) -> FitOutcome:
    params = model.get_parameters()
    pis = np.asarray(params["measurement"]["pis"], dtype=np.float64)
    if family == "bernoulli":
        arrays = {"p": pis}
    else:
        n_levels = int(params["measurement"]["max_n_outcomes"])
        # columns are feature-major: column j * L + l is P(x_j = l)
        arrays = {"probs": pis.reshape(pis.shape[0], -1, n_levels)}
    return FitOutcome(
        MixtureArrays(np.asarray(params["weights"], dtype=np.float64), arrays),
        n_iter=int(model.n_iter_),
        restarts_run=n_init,
        converged=bool(model.converged_),
    )


@dataclass
class PomegranateRun:
    """Best model of pomegranate's restart loop and what the loop did."""

    model: Any
    loglik: float
    n_iter: int
    restarts_run: int
    converged: bool
    capped: bool


def _pomegranate_fit(
    family: str, X: NDArray[Any], n_init: int, tol: dict[str, float], budget_s: float
) -> PomegranateRun:
    import torch
    from pomegranate.distributions import Bernoulli, Categorical
    from pomegranate.gmm import GeneralMixtureModel

    if family == "bernoulli":
        Xt = torch.as_tensor(np.asarray(X, dtype=np.float32))
        make = Bernoulli
    else:
        Xt = torch.as_tensor(np.asarray(X, dtype=np.int64))
        make = Categorical
    start = time.perf_counter()
    best: PomegranateRun | None = None
    capped = False
    for r in range(n_init):
        elapsed = time.perf_counter() - start
        if r > 0 and elapsed * (r + 1) / r > budget_s:
            capped = True
            break
        model = GeneralMixtureModel(
            [make() for _ in range(N_COMPONENTS)],
            max_iter=MAX_ITER,
            tol=tol["pomegranate_tol"],
            random_state=SEED + r,
        )
        steps = [0]
        m_step = model.from_summaries

        def counted(_m: Callable[[], Any] = m_step, _s: list[int] = steps) -> Any:
            _s[0] += 1
            return _m()

        model.from_summaries = counted  # count M-steps: fit() records no iteration count
        model.fit(Xt)
        with torch.no_grad():
            ll = float(model.log_probability(Xt).sum())
        if best is None or ll > best.loglik:
            best = PomegranateRun(model, ll, steps[0], 0, steps[0] < MAX_ITER, False)
    assert best is not None
    best.restarts_run = r + 1 if not capped else r
    best.capped = capped
    return best


def _pomegranate_tool(budget_s: float) -> Callable[[str, NDArray[Any], int, dict[str, float]], Any]:
    def fit(family: str, X: NDArray[Any], n_init: int, tol: dict[str, float]) -> Any:
        return _pomegranate_fit(family, X, n_init, tol, budget_s)

    return fit


def _pomegranate_extract(family: str, run: PomegranateRun, n_init: int) -> FitOutcome:
    model = run.model
    weights = model.priors.detach().cpu().numpy().astype(np.float64)
    probs = [d.probs.detach().cpu().numpy().astype(np.float64) for d in model.distributions]
    arrays = {"p": np.stack(probs)} if family == "bernoulli" else {"probs": np.stack(probs)}
    notes = ["float32"]
    if run.capped:
        notes.append(f"CAPPED: {run.restarts_run} of {n_init} restarts (time budget)")
    return FitOutcome(
        MixtureArrays(weights, arrays),
        n_iter=run.n_iter,
        restarts_run=run.restarts_run,
        converged=run.converged,
        reported_loglik=run.loglik,
        notes=notes,
    )


def _sklearn_fit(family: str, X: NDArray[Any], n_init: int, tol: dict[str, float]) -> Any:
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(
        N_COMPONENTS,
        covariance_type="full",
        tol=tol["sklearn_tol"],
        reg_covar=COVARIANCE_FLOOR,
        max_iter=MAX_ITER,
        n_init=n_init,
        random_state=SEED,
    ).fit(X)


def _sklearn_extract(family: str, model: Any, n_init: int) -> FitOutcome:
    return FitOutcome(
        MixtureArrays(
            np.asarray(model.weights_, dtype=np.float64),
            {
                "means": np.asarray(model.means_, dtype=np.float64),
                "covariances": np.asarray(model.covariances_, dtype=np.float64),
            },
        ),
        n_iter=int(model.n_iter_),
        restarts_run=n_init,
        converged=bool(model.converged_),
    )


def tools_for(family: str, config: Config) -> list[Tool]:
    """The contenders of one family, kmix first."""
    kmix = Tool("kmix", _kmix_fit, _kmix_extract, ("init=kmeans++ (default)",))
    if family == "gaussian":
        return [
            kmix,
            Tool("scikit-learn", _sklearn_fit, _sklearn_extract, ("init=kmeans (default)",)),
        ]
    return [
        kmix,
        Tool("StepMix", _stepmix_fit("random"), _stepmix_extract, ("init=random (default)",)),
        Tool("StepMix", _stepmix_fit("kmeans"), _stepmix_extract, ("init=kmeans",)),
        Tool(
            "pomegranate",
            _pomegranate_tool(config.restart_budget_s),
            _pomegranate_extract,
            ("init=3 k-means steps (default)",),
        ),
    ]


# --------------------------------------------------------------------------- runs
def make_data(family: str, n_samples: int) -> NDArray[Any]:
    """The data set every tool sees for ``(family, n_samples)``."""
    from kmix.datasets import make_mixture

    X, _ = make_mixture(
        family,
        n_samples,
        N_COMPONENTS,
        N_FEATURES,
        n_levels=N_LEVELS,
        random_state=SEED,
    )
    return np.asarray(X)


def _n_unique_rows(family: str, X: NDArray[Any]) -> int | None:
    if family == "gaussian":
        return None
    from kmix.stats import compress_rows

    return int(compress_rows(X)[0].shape[0])


def run_fits(config: Config) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Fit every tool to convergence on every family and size.

    Returns
    -------
    datasets : list of dict
        One entry per data set (size, distinct rows, tolerance scale and translations).
    fits : list of dict
        One entry per tool and data set.
    """
    datasets: list[dict[str, Any]] = []
    fits: list[dict[str, Any]] = []
    for family in FAMILIES:
        for n in config.sizes:
            X = make_data(family, n)
            ll_scale = float(loglik_rows(family, X, one_component(family, X)).sum())
            tol = tolerances(ll_scale, n)
            n_init = config.n_init[n]
            datasets.append(
                {
                    "family": family,
                    "n_samples": n,
                    "n_features": N_FEATURES,
                    "n_components": N_COMPONENTS,
                    "n_levels": N_LEVELS if family == "categorical" else None,
                    "n_unique_rows": _n_unique_rows(family, X),
                    "loglik_one_component": ll_scale,
                    "n_init": n_init,
                    "tolerances": tol,
                }
            )
            for tool in tools_for(family, config):
                row: dict[str, Any] = {
                    "family": family,
                    "n_samples": n,
                    "tool": tool.label,
                    "settings": list(tool.notes),
                    "n_init": n_init,
                }
                try:
                    t: Timed = timed(tool.fit, family, X, n_init, tol)
                    out = tool.extract(family, t.value, n_init)
                except Exception as exc:  # a peer failing must not sink the whole run
                    row.update(error=f"{type(exc).__name__}: {exc}", notes=["ERROR"])
                    fits.append(row)
                    log(f"[em] {family:<11} N={n:>9,} {tool.label:<12} ERROR {exc}")
                    continue
                ll = loglik_rows(family, X, out.mixture)
                row.update(
                    seconds=t.seconds,
                    n_iter=out.n_iter,
                    restarts_run=out.restarts_run,
                    converged=out.converged,
                    loglik=float(ll.sum()),
                    loglik_per_row=float(ll.mean()),
                    reported_loglik=out.reported_loglik,
                    notes=list(tool.notes) + out.notes,
                    warnings=t.warnings,
                    weights=out.mixture.weights,
                )
                fits.append(row)
                del t, out
                log(
                    f"[em] {family:<11} N={n:>9,} {tool.label:<12} {' '.join(tool.notes):<30} "
                    f"{row['seconds']:9.2f} s  iters {row['n_iter']}  LL {row['loglik']:,.3f}"
                )
            del X
    return datasets, fits


def _kmix_accepts_start() -> bool:
    from kmix import FiniteMixture

    return "params_init" in FiniteMixture().get_params()


def _per_iter_fit_kmix(
    X: FloatArray, w0: FloatArray, means0: FloatArray, covs0: FloatArray, steps: int
) -> tuple[MixtureArrays, int]:
    if _kmix_accepts_start():
        from kmix import FiniteMixture

        m = FiniteMixture(
            N_COMPONENTS,
            family="gaussian",
            params_init={"means": means0, "covariances": covs0},
            weights_init=w0,
            tol=0.0,
            max_iter=steps,
            var_floor=COVARIANCE_FLOOR,
        ).fit(X)
        weights, params, n_iter = m.weights_, m.params_, int(m.n_iter_)
    else:  # the pure solver takes a starting point on every kmix version
        from kmix.components import get_family
        from kmix.params import GaussianParams
        from kmix.solvers.em import run_em

        res = run_em(
            get_family("gaussian", var_floor=COVARIANCE_FLOOR),
            X,
            np.ones(X.shape[0]),
            N_COMPONENTS,
            rng=np.random.default_rng(SEED),
            weights_init=w0,
            params_init=GaussianParams(means0, covs0, "full"),
            tol=0.0,
            max_iter=steps,
        )
        weights, params, n_iter = res.weights, res.params, int(res.n_iter)
    mix = MixtureArrays(
        np.asarray(weights, dtype=np.float64),
        {"means": np.asarray(params.means), "covariances": np.asarray(params.covariances)},
    )
    return mix, n_iter


def _per_iter_fit_sklearn(
    X: FloatArray, w0: FloatArray, means0: FloatArray, covs0: FloatArray, steps: int
) -> tuple[MixtureArrays, int]:
    from sklearn.mixture import GaussianMixture

    m = GaussianMixture(
        N_COMPONENTS,
        covariance_type="full",
        tol=0.0,
        reg_covar=COVARIANCE_FLOOR,
        max_iter=steps,
        # all three starting arrays are given; "random_from_data" keeps sklearn from
        # running a k-means whose result the given arrays would override anyway
        init_params="random_from_data",
        weights_init=w0,
        means_init=means0,
        precisions_init=np.linalg.inv(covs0),
        random_state=SEED,
    ).fit(X)
    mix = MixtureArrays(
        np.asarray(m.weights_, dtype=np.float64),
        {"means": np.asarray(m.means_), "covariances": np.asarray(m.covariances_)},
    )
    return mix, int(m.n_iter_)


def _best_of(
    fn: Callable[..., tuple[MixtureArrays, int]], repeats: int, *args: Any
) -> tuple[float, MixtureArrays, int, list[str]]:
    best: tuple[float, MixtureArrays, int, list[str]] | None = None
    for _ in range(repeats):
        t = timed(fn, *args)
        if best is None or t.seconds < best[0]:
            best = (t.seconds, t.value[0], t.value[1], t.warnings)
    assert best is not None
    return best


def run_per_iteration(config: Config) -> list[dict[str, Any]]:
    """Gaussian EM from one shared starting point, a fixed number of iterations.

    The start: equal weights, ``k`` distinct rows drawn at random as means, the pooled
    covariance of the data for every component. Each fit runs ``per_iter_steps``
    iterations with ``tol=0`` (kmix stops earlier only if the log-likelihood stops rising
    at all), and once more with one iteration; the difference of the two times over the
    difference of iterations is the marginal cost of an iteration, free of set-up costs.
    """
    rows: list[dict[str, Any]] = []
    fits = {"kmix": _per_iter_fit_kmix, "scikit-learn": _per_iter_fit_sklearn}
    for n in config.per_iter_sizes:
        X = np.asarray(make_data("gaussian", n), dtype=np.float64)
        rng = np.random.default_rng(SEED + 1)
        means0 = X[rng.choice(n, size=N_COMPONENTS, replace=False)].copy()
        cov = np.cov(X.T, bias=True)
        covs0 = np.repeat(cov[None], N_COMPONENTS, axis=0)
        w0 = np.full(N_COMPONENTS, 1.0 / N_COMPONENTS)
        repeats = config.per_iter_repeats.get(n, 1)
        for label, fn in fits.items():
            secs, mix, n_iter, warns = _best_of(
                fn, repeats, X, w0, means0, covs0, config.per_iter_steps
            )
            secs1, _, n_iter1, _ = _best_of(fn, repeats, X, w0, means0, covs0, 1)
            marginal = (secs - secs1) / (n_iter - n_iter1) if n_iter > n_iter1 else None
            row = {
                "n_samples": n,
                "tool": label,
                "entry": (
                    "FiniteMixture(params_init=..., weights_init=...)"
                    if label == "kmix" and _kmix_accepts_start()
                    else "kmix.solvers.em.run_em(params_init=...)"
                    if label == "kmix"
                    else "GaussianMixture(weights_init, means_init, precisions_init)"
                ),
                "steps_requested": config.per_iter_steps,
                "n_iter": n_iter,
                "seconds": secs,
                "seconds_per_iter": secs / max(n_iter, 1),
                "seconds_one_iter_fit": secs1,
                "n_iter_one_iter_fit": n_iter1,
                "marginal_seconds_per_iter": marginal,
                "repeats": repeats,
                "loglik": float(loglik_rows("gaussian", X, mix).sum()),
                "warnings": warns,
            }
            rows.append(row)
            log(
                f"[em] gaussian per-iteration N={n:>9,} {label:<12} {n_iter:3d} iters "
                f"{secs:8.2f} s  {row['seconds_per_iter']:.4f} s/iter"
            )
        del X
    return rows


# --------------------------------------------------------------------------- targets
def evaluate_targets(
    config: Config, fits: list[dict[str, Any]], per_iter: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """PASS/FAIL of the acceptance targets at the largest size run."""
    n_top = max(config.sizes)
    targets: list[dict[str, Any]] = []

    def find(family: str, tool: str, setting: str | None = None) -> dict[str, Any] | None:
        for row in fits:
            if (
                row["family"] == family
                and row["n_samples"] == n_top
                and row["tool"] == tool
                and (setting is None or setting in row["settings"])
                and "error" not in row
            ):
                return row
        return None

    for family in DISCRETE:
        kmix = find(family, "kmix")
        for setting, primary in (("init=random (default)", True), ("init=kmeans", False)):
            peer = find(family, "StepMix", setting)
            entry: dict[str, Any] = {
                "target": "speed-up vs StepMix",
                "family": family,
                "n_samples": n_top,
                "peer_settings": setting,
                "primary": primary,
                "threshold": SPEEDUP_TARGET,
            }
            if kmix is None or peer is None:
                entry.update(passed=False, detail="a fit failed; see the fits")
            else:
                speedup = peer["seconds"] / kmix["seconds"]
                d_row = kmix["loglik_per_row"] - peer["loglik_per_row"]
                ll_ok = d_row >= -LL_TOL_PER_ROW
                entry.update(
                    speedup=speedup,
                    loglik_kmix=kmix["loglik"],
                    loglik_peer=peer["loglik"],
                    loglik_diff_per_row=d_row,
                    loglik_ok=ll_ok,
                    passed=bool(speedup >= SPEEDUP_TARGET and ll_ok),
                )
            targets.append(entry)
    n_top_it = max(config.per_iter_sizes)
    rows = {r["tool"]: r for r in per_iter if r["n_samples"] == n_top_it}
    entry = {
        "target": "gaussian time per iteration vs scikit-learn",
        "family": "gaussian",
        "n_samples": n_top_it,
        "primary": True,
        "threshold": PER_ITER_TARGET,
    }
    if "kmix" in rows and "scikit-learn" in rows:
        ratio = rows["kmix"]["seconds_per_iter"] / rows["scikit-learn"]["seconds_per_iter"]
        km, sk = (
            rows["kmix"]["marginal_seconds_per_iter"],
            rows["scikit-learn"]["marginal_seconds_per_iter"],
        )
        entry.update(
            ratio=ratio,
            marginal_ratio=(km / sk) if km and sk else None,
            passed=bool(ratio <= PER_ITER_TARGET),
        )
    else:
        entry.update(passed=False, detail="a fit failed")
    targets.append(entry)
    return targets


# --------------------------------------------------------------------------- report
def _fit_table(fits: list[dict[str, Any]]) -> str:
    kmix_rows = {(r["family"], r["n_samples"]): r for r in fits if r["tool"] == "kmix"}
    headers = [
        "family",
        "N",
        "tool",
        "settings",
        "restarts",
        "time (s)",
        "kmix speed-up",
        "iters",
        "log-lik (total)",
        "log-lik / row",
        "Δ vs kmix (total)",
        "notes",
    ]
    rows: list[list[str]] = []
    for r in fits:
        ref = kmix_rows.get((r["family"], r["n_samples"]))
        notes = [n for n in r.get("notes", []) if not n.startswith("init=")]
        if r.get("converged") is False:
            notes.append(f"hit max_iter={MAX_ITER}")
        if "error" in r:
            rows.append(
                [r["family"], f"{r['n_samples']:,}", r["tool"], "", str(r["n_init"])]
                + ["-"] * 6
                + [r["error"][:80]]
            )
            continue
        is_kmix = r["tool"] == "kmix"
        speed = "" if is_kmix or ref is None else f"{r['seconds'] / ref['seconds']:.1f}x"
        delta = (
            "" if is_kmix or ref is None else fmt_float(r["loglik"] - ref["loglik"], 3, signed=True)
        )
        restarts = (
            str(r["n_init"])
            if r["restarts_run"] == r["n_init"]
            else f"{r['restarts_run']}/{r['n_init']}"
        )
        rows.append(
            [
                r["family"],
                f"{r['n_samples']:,}",
                r["tool"],
                ", ".join(s for s in r["settings"]),
                restarts,
                f"{r['seconds']:.2f}",
                speed,
                "-" if r["n_iter"] is None else str(r["n_iter"]),
                fmt_float(r["loglik"], 3),
                f"{r['loglik_per_row']:.6f}",
                delta,
                "; ".join(notes),
            ]
        )
    return markdown_table(headers, rows, align="lrllrrrrrrrl")


def _per_iter_table(per_iter: list[dict[str, Any]]) -> str:
    headers = [
        "N",
        "tool",
        "iters",
        "time (s)",
        "s / iter (total / iters)",
        "marginal s / iter",
        "kmix / sklearn",
        "log-lik (total)",
    ]
    by = {(r["n_samples"], r["tool"]): r for r in per_iter}
    rows: list[list[str]] = []
    for r in per_iter:
        sk = by.get((r["n_samples"], "scikit-learn"))
        ratio = ""
        if r["tool"] == "kmix" and sk is not None:
            ratio = f"{r['seconds_per_iter'] / sk['seconds_per_iter']:.2f}"
        marginal = r["marginal_seconds_per_iter"]
        rows.append(
            [
                f"{r['n_samples']:,}",
                r["tool"],
                str(r["n_iter"]),
                f"{r['seconds']:.3f}",
                f"{r['seconds_per_iter']:.4f}",
                "-" if marginal is None else f"{marginal:.4f}",
                ratio,
                fmt_float(r["loglik"], 3),
            ]
        )
    return markdown_table(headers, rows, align="rlrrrrrr")


def _target_lines(targets: list[dict[str, Any]], quick: bool) -> list[str]:
    lines: list[str] = []
    for t in targets:
        verdict = "PASS" if t["passed"] else "FAIL"
        if t["target"].startswith("speed-up"):
            head = (
                f"{t['family']} EM, N={t['n_samples']:,} x {N_FEATURES}, k={N_COMPONENTS}: "
                f"kmix >= {t['threshold']:g}x faster than StepMix ({t['peer_settings']}) "
                "at an equal or better log-likelihood"
            )
            if "speedup" in t:
                body = (
                    f"speed-up {t['speedup']:.1f}x; log-lik per row kmix - StepMix = "
                    f"{t['loglik_diff_per_row']:+.2e} "
                    f"({'ok' if t['loglik_ok'] else 'worse'}, tolerance {LL_TOL_PER_ROW:g})"
                )
            else:
                body = t.get("detail", "")
        else:
            head = (
                f"gaussian EM per iteration, N={t['n_samples']:,} x {N_FEATURES}, "
                f"k={N_COMPONENTS}: kmix within {t['threshold']:g}x of scikit-learn"
            )
            if "ratio" in t:
                marginal = t.get("marginal_ratio")
                body = f"kmix / sklearn time per iteration = {t['ratio']:.2f}" + (
                    f" (marginal {marginal:.2f})" if marginal else ""
                )
            else:
                body = t.get("detail", "")
        tag = "" if t["primary"] else " [supplementary]"
        lines.append(f"- **{verdict}**{tag}: {head}. {body}.")
    if quick:
        lines.append("- (quick run: sizes are far below the targets' N; verdicts are smoke only)")
    return lines


def _protocol_lines(config: Config, datasets: list[dict[str, Any]], entry: str) -> list[str]:
    restarts = ", ".join(f"{config.n_init[n]} at N={n:,}" for n in config.sizes)
    uniq = "; ".join(
        f"{d['family']} N={d['n_samples']:,}: {d['n_unique_rows']:,}"
        for d in datasets
        if d["n_unique_rows"] is not None
    )
    return [
        f"- Data: `kmix.datasets.make_mixture(family, N, {N_COMPONENTS}, {N_FEATURES}, "
        f"n_levels={N_LEVELS}, random_state={SEED})`; the same array for every tool. "
        f"Distinct rows (what kmix iterates over for discrete data): {uniq}.",
        f"- Restarts (n_init), the same for every tool: {restarts}. pomegranate has no n_init, "
        f"so restarts run in a loop over seeds keeping the best log-likelihood; the loop starts "
        f"no restart expected to end after {config.restart_budget_s:g} s, and a cut is shown "
        "as CAPPED with the restarts done.",
        f"- Convergence: relative tolerance {REL_TOL:g} on the log-likelihood rise per "
        f"iteration, max_iter={MAX_ITER} for all. kmix `tol={REL_TOL:g}` (relative, total LL); "
        f"StepMix `rel_tol={REL_TOL:g}, abs_tol=0` (relative, mean LL: same ratio); "
        f"pomegranate `tol={REL_TOL:g} x |LL_1|` and scikit-learn `tol={REL_TOL:g} x |LL_1| / N` "
        "(absolute, on the total and the mean LL), LL_1 being the log-likelihood of one "
        "component fitted in closed form; the values are in em.json.",
        "- Initialisation: each tool's default (kmix k-means++ seeding, StepMix random "
        "responsibilities, pomegranate 3 k-means steps, scikit-learn k-means); StepMix is run "
        "a second time with `init_params='kmeans'`.",
        f"- Covariance floor: scikit-learn `reg_covar={COVARIANCE_FLOOR:g}` (added to every "
        f"diagonal) vs kmix `var_floor={COVARIANCE_FLOOR:g}` (eigenvalues raised to it only "
        "when below); on these data no eigenvalue comes near it.",
        "- Log-likelihood: every tool's weights and parameters are scored by one float64 "
        "numpy function (`bench_em.loglik_rows`); Δ is the total log-likelihood minus "
        "kmix's. pomegranate fits in float32 (its default); its parameters are scored in "
        "float64 like the others. Equal means within "
        f"{LL_TOL_PER_ROW:g} nats per row.",
        "- Time: wall clock of the whole `fit` (validation, initialisation, all restarts); "
        "for pomegranate also the tensor conversion and the scoring that picks the best "
        "restart. 'kmix speed-up' is the tool's time over kmix's.",
        f"- Gaussian per iteration: identical start for both (equal weights, {N_COMPONENTS} "
        "random rows as means, the pooled covariance), tol=0 and "
        f"max_iter={config.per_iter_steps}; kmix via {entry}. "
        "'s / iter' is the total fit time over the iterations run (the target's measure); "
        "'marginal' is (t(max_iter) - t(1 iteration)) / (iterations difference), without "
        "set-up. Fastest of "
        + ", ".join(
            f"{config.per_iter_repeats.get(n, 1)} at N={n:,}" for n in config.per_iter_sizes
        )
        + " repetitions.",
    ]


def _machine_line(machine: dict[str, Any]) -> str:
    v = machine["versions"]
    blas = [
        f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} threads)"
        for p in machine.get("threadpools") or []
        if p.get("user_api") == "blas"
    ]
    return (
        f"{machine['cpu_model']}, {machine['cpu_count']} CPUs, {machine['memory_gib']} GiB; "
        f"Python {machine['python']}; kmix {v['kmix']}, numpy {v['numpy']}, scipy {v['scipy']}, "
        f"scikit-learn {v['scikit-learn']}, StepMix {v['stepmix']}, pomegranate "
        f"{v['pomegranate']}, torch {v['torch']} ({machine['torch_threads']} threads); "
        f"BLAS: {', '.join(dict.fromkeys(blas)) or 'unknown'}."
    )


def render(data: dict[str, Any]) -> str:
    """The markdown report of a run's data."""
    config: Config = data["_config"]
    parts = [
        "# EM benchmark: kmix vs scikit-learn, StepMix, pomegranate",
        "",
        f"Run {data['started']} ({'quick smoke run' if config.quick else 'full run'}, "
        f"{data['elapsed_seconds'] / 60:.1f} min). Machine: {_machine_line(data['machine'])}",
        "",
        "## Targets",
        "",
        *_target_lines(data["targets"], config.quick),
        "",
        f"## Fits to convergence (k={N_COMPONENTS}, {N_FEATURES} features"
        f"{f', {N_LEVELS} levels for categorical' if N_LEVELS else ''})",
        "",
        _fit_table(data["fits"]),
        "",
        "## Gaussian EM per iteration (identical start, fixed iterations, n_init=1)",
        "",
        _per_iter_table(data["per_iteration"]),
        "",
        "## Protocol",
        "",
        *_protocol_lines(config, data["datasets"], data["kmix_per_iter_entry"]),
        "",
    ]
    return "\n".join(parts)


def _kmix_consistency(fits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """kmix's own log-likelihood against the benchmark's independent scoring."""
    out = []
    for r in fits:
        if r["tool"] == "kmix" and r.get("reported_loglik") is not None:
            diff = r["reported_loglik"] - r["loglik"]
            out.append(
                {
                    "family": r["family"],
                    "n_samples": r["n_samples"],
                    "kmix_log_likelihood_": r["reported_loglik"],
                    "independent": r["loglik"],
                    "difference": diff,
                    "relative": diff / abs(r["loglik"]),
                }
            )
    return out


def run(quick: bool = False) -> BenchResult:
    """Run the EM benchmark.

    Parameters
    ----------
    quick : bool
        Small sizes and one restart: a smoke test of the whole pipeline.

    Returns
    -------
    BenchResult
    """
    config = QUICK if quick else FULL
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    machine = machine_info()
    datasets, fits = run_fits(config)
    per_iter = run_per_iteration(config)
    targets = evaluate_targets(config, fits, per_iter)
    entry = (
        "`FiniteMixture(params_init=..., weights_init=...)`"
        if _kmix_accepts_start()
        else "`kmix.solvers.em.run_em(params_init=..., weights_init=...)`"
    )
    data: dict[str, Any] = {
        "benchmark": NAME,
        "quick": quick,
        "started": started,
        "elapsed_seconds": time.perf_counter() - t0,
        "machine": machine,
        "settings": {
            "seed": SEED,
            "n_components": N_COMPONENTS,
            "n_features": N_FEATURES,
            "n_levels": N_LEVELS,
            "rel_tol": REL_TOL,
            "max_iter": MAX_ITER,
            "covariance_floor": COVARIANCE_FLOOR,
            "loglik_equal_tol_per_row": LL_TOL_PER_ROW,
            "sizes": list(config.sizes),
            "n_init": {str(k): v for k, v in config.n_init.items()},
            "per_iteration": {
                "sizes": list(config.per_iter_sizes),
                "steps": config.per_iter_steps,
                "repeats": {str(k): v for k, v in config.per_iter_repeats.items()},
                "kmix_entry": entry.strip("`"),
            },
            "pomegranate_restart_budget_s": config.restart_budget_s,
        },
        "datasets": datasets,
        "fits": fits,
        "per_iteration": per_iter,
        "targets": targets,
        "kmix_loglik_check": _kmix_consistency(fits),
        "kmix_per_iter_entry": entry,
        "_config": config,
    }
    markdown = render(data)
    del data["_config"]
    return BenchResult(NAME, data, markdown)

"""Adapters of the EM benchmark: fit kmix, StepMix, pomegranate and scikit-learn, read back.

Each contender is a :class:`Tool`: a ``fit`` (the timed call, the tool's own API with the
shared tolerance translated into its semantics) and an ``extract`` (untimed: the fitted
weights and parameters as plain float64 arrays for :func:`em_scoring.loglik_rows`).
The gaussian per-iteration fitters start both kmix and scikit-learn from one given point.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from em_config import COVARIANCE_FLOOR, MAX_ITER, N_COMPONENTS, SEED, Config
from em_scoring import FloatArray, MixtureArrays

__all__ = [
    "FitOutcome",
    "Tool",
    "kmix_accepts_start",
    "kmix_init_label",
    "per_iter_fit_kmix",
    "per_iter_fit_sklearn",
    "tools_for",
]


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
    """``kmix.FiniteMixture`` with the shared tolerance, defaults otherwise."""
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
    """kmix parameters as plain arrays (categorical levels mapped back to their codes)."""
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
    """A StepMix fitter (measurement model only) with the given ``init_params``."""

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
    """StepMix's ``pis`` as plain arrays."""
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
    """pomegranate ``GeneralMixtureModel`` restarts over seeds, best log-likelihood kept.

    Stops starting restarts once the next is expected to end after ``budget_s`` seconds.
    """
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
    """:func:`_pomegranate_fit` with its time budget bound."""

    def fit(family: str, X: NDArray[Any], n_init: int, tol: dict[str, float]) -> Any:
        return _pomegranate_fit(family, X, n_init, tol, budget_s)

    return fit


def _pomegranate_extract(family: str, run: PomegranateRun, n_init: int) -> FitOutcome:
    """pomegranate's priors and probabilities as float64 arrays."""
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
    """scikit-learn ``GaussianMixture`` (full covariances) with the shared tolerance."""
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
    """scikit-learn's weights, means and covariances."""
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


def kmix_init_label(family: str) -> str:
    """kmix's initialisation in the tables: its default ``init`` and what that resolves to.

    ``init="auto"`` (the default) starts bernoulli and categorical components where the latent
    class fit ends, gaussian ones from k-means++ and the others from random responsibilities
    (``FiniteMixture`` docstring); an older default is shown as is.
    """
    from kmix import FiniteMixture

    default = FiniteMixture().get_params().get("init", "kmeans++")
    if default == "auto":
        start = {"gaussian": "kmeans++", "bernoulli": "latent class", "categorical": "latent class"}
        return f"init=auto ({start.get(family, 'random')})"
    return f"init={default} (default)"


def tools_for(family: str, config: Config) -> list[Tool]:
    """The contenders of one family, kmix first."""
    kmix = Tool("kmix", _kmix_fit, _kmix_extract, (kmix_init_label(family),))
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


def kmix_accepts_start() -> bool:
    """Whether ``FiniteMixture`` takes a starting point (``params_init``)."""
    from kmix import FiniteMixture

    return "params_init" in FiniteMixture().get_params()


def per_iter_fit_kmix(
    X: FloatArray, w0: FloatArray, means0: FloatArray, covs0: FloatArray, steps: int
) -> tuple[MixtureArrays, int]:
    """kmix gaussian EM from the given start for at most ``steps`` iterations."""
    if kmix_accepts_start():
        from kmix import FiniteMixture

        m = FiniteMixture(
            N_COMPONENTS,
            family="gaussian",
            params_init={"means": means0, "covariances": covs0},
            weights_init=w0,
            n_init=1,  # the one start every tool is given
            tol=0.0,
            max_iter=steps,
            var_floor=COVARIANCE_FLOOR,
        ).fit(X)
        weights, params, n_iter = m.weights_, m.params_, int(m.n_iter_)
    else:  # the pure solver takes a starting point on every kmix version
        from kmix.components import get_family
        from kmix.params import GaussianParams
        from kmix.solvers.em.loop import run_em

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


def per_iter_fit_sklearn(
    X: FloatArray, w0: FloatArray, means0: FloatArray, covs0: FloatArray, steps: int
) -> tuple[MixtureArrays, int]:
    """scikit-learn gaussian EM from the given start for exactly ``steps`` iterations."""
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

"""Data, scoring and fitters of the latent-class (``ProductMixture``) benchmark.

Every fitted model is reduced to plain float64 arrays ``(weights (k,), probs (k, n))`` with
``probs[u, j] = P(X_j = 1 | u)``; :func:`loglik` scores them all with
:func:`em_scoring.loglik_rows` (the EM benchmark's single scorer, on the distinct rows with
their counts, which gives the same sum as the raw rows), and :func:`max_error` measures them
against the truth after the best relabelling.

The fitters wrap each tool's own API: kmix ``ProductMixture`` (tensor method, then EM) and
``FiniteMixture`` (EM from random starts), StepMix with frequency weights, and pgmpy's
``ExpectationMaximization`` on a latent-class network ``U -> X_j``. StepMix's unweighted and
pomegranate's fitters come from :mod:`em_peers` unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from em_scoring import MixtureArrays, loglik_rows
from pgmpy_em import run_pgmpy_em

__all__ = [
    "Instance",
    "PgmpyRun",
    "fit_pgmpy",
    "fit_random_em",
    "fit_stepmix_weighted",
    "loglik",
    "make_instance",
    "max_error",
    "unique_rows",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Instance:
    """A sampled latent class data set and the parameters it was drawn from.

    Attributes
    ----------
    X : ndarray of shape (N, n), int8
        0/1 values.
    weights : ndarray of shape (k,)
    probs : ndarray of shape (k, n)
        ``P(X_j = 1 | u)``.
    """

    X: NDArray[np.int8]
    weights: FloatArray
    probs: FloatArray


def make_instance(k: int, n: int, n_samples: int, seed: int) -> Instance:
    """Weights ``~ Dirichlet(2)``, probabilities ``~ U(0.05, 0.95)``, ``N`` rows drawn."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(k, 2.0))
    probs = rng.uniform(0.05, 0.95, size=(k, n))
    labels = rng.choice(k, size=n_samples, p=weights)
    X = (rng.random((n_samples, n)) < probs[labels]).astype(np.int8)
    return Instance(X, weights, probs)


def unique_rows(X: NDArray[Any]) -> tuple[FloatArray, FloatArray]:
    """Distinct rows of a 0/1 array (as float64) and how often each occurs.

    Each row is packed into one integer (``n <= 62`` columns), so this is a sort of N
    integers rather than of N rows.
    """
    Xi = np.asarray(X, dtype=np.int64)
    n = Xi.shape[1]
    if n > 62:
        raise ValueError(f"at most 62 binary columns can be packed; got {n}")
    codes = Xi @ (np.int64(1) << np.arange(n, dtype=np.int64))
    uniq, counts = np.unique(codes, return_counts=True)
    values = ((uniq[:, None] >> np.arange(n, dtype=np.int64)) & 1).astype(np.float64)
    return values, counts.astype(np.float64)


def loglik(values: FloatArray, counts: FloatArray, weights: Any, probs: Any) -> float:
    """Total log-likelihood ``sum_s log sum_u pi_u prod_j p^x (1 - p)^(1 - x)`` in float64."""
    mix = MixtureArrays(
        np.asarray(weights, dtype=np.float64), {"p": np.asarray(probs, dtype=np.float64)}
    )
    return float(counts @ loglik_rows("bernoulli", values, mix))


def max_error(weights: FloatArray, probs: FloatArray, w_hat: Any, p_hat: Any) -> float:
    """Largest of ``|pi - pi_hat|`` and ``|P - P_hat|`` after the best permutation.

    Classes are matched by the Hungarian method on the largest absolute difference between
    the rows of ``P`` and ``P_hat``.
    """
    w_hat = np.asarray(w_hat, dtype=np.float64)
    p_hat = np.asarray(p_hat, dtype=np.float64)
    cost = np.abs(probs[:, None, :] - p_hat[None, :, :]).max(axis=2)
    rows, cols = linear_sum_assignment(cost)
    return float(
        max(np.abs(weights[rows] - w_hat[cols]).max(), np.abs(probs[rows] - p_hat[cols]).max())
    )


#: Reference EM runs: relative tolerance and most EM maps per start.
REF_TOL, REF_MAX_ITER = 1e-12, 20_000


@dataclass(frozen=True)
class ReferenceRun:
    """One random-start EM run of the reference, run to its maximum."""

    weights: FloatArray
    probs: FloatArray  # (k, n): P(X_j = 1 | u)
    n_iter: int
    em_converged: bool
    polished: bool


def fit_random_em(
    values: FloatArray, counts: FloatArray, k: int, n_restarts: int, seed: int
) -> list[ReferenceRun]:
    """``n_restarts`` EM runs from random starts, each run to the top of its basin.

    Starts: weights and every ``P(X_j = 1 | u)`` drawn from flat Dirichlet
    distributions. EM (SQUAREM-accelerated, all starts at once) to a relative
    tolerance of ``REF_TOL`` with at most ``REF_MAX_ITER`` maps; a run that
    does not settle there (a maximum on the boundary or a flat ridge, where EM
    converges sublinearly) is finished by L-BFGS-B from where EM stopped, so
    every run reports the maximum of its own basin rather than where an
    iteration cap cut it short. Runs are independent: none defers to another.
    """
    from kmix.solvers.latent_class.em import em_latent_class, polish_latent_class, random_starts

    n = values.shape[1]
    levels = [2] * n
    rng = np.random.default_rng(seed)
    out = []
    for start in random_starts(levels, k, n_restarts, rng):
        fit = em_latent_class(values, counts, levels, [start], tol=REF_TOL, max_iter=REF_MAX_ITER)[
            0
        ]
        polished = False
        if not fit.converged:
            fit = polish_latent_class(values, counts, levels, (fit.weights, fit.probs))
            polished = True
        probs = np.stack([p[:, 1] for p in fit.probs], axis=1)
        out.append(ReferenceRun(fit.weights, probs, fit.n_iter, not polished, polished))
    return out


def fit_stepmix_weighted(
    values: FloatArray,
    counts: FloatArray,
    k: int,
    *,
    n_init: int,
    rel_tol: float,
    max_iter: int,
    seed: int,
) -> tuple[FloatArray, FloatArray, int]:
    """StepMix (binary measurement, random init) on distinct rows with frequency weights.

    The weighted log-likelihood StepMix maximises equals the raw rows' log-likelihood.

    Returns
    -------
    weights, probs, n_iter
    """
    from stepmix.stepmix import StepMix

    model = StepMix(
        n_components=k,
        measurement="binary",
        n_init=n_init,
        max_iter=max_iter,
        abs_tol=0.0,
        rel_tol=rel_tol,
        init_params="random",
        random_state=seed,
        verbose=0,
        progress_bar=0,
    ).fit(values, sample_weight=counts)
    params = model.get_parameters()
    return (
        np.asarray(params["weights"], dtype=np.float64),
        np.asarray(params["measurement"]["pis"], dtype=np.float64),
        int(model.n_iter_),
    )


@dataclass
class PgmpyRun:
    """A pgmpy EM fit: parameters, iterations, and whether it stopped on its own rule.

    Attributes
    ----------
    weights, probs : ndarray
    n_iter : int
        E-steps run.
    converged : bool
        pgmpy's parameter-change rule (``atol``) stopped it before ``max_iter``.
    budget_hit : bool
        The benchmark's time budget stopped it (parameters of the last completed iteration).
    seconds_init : float
        ``ExpectationMaximization(model, data)`` (input checks, state names).
    seconds_fit : float
        ``get_parameters(...)``: initial CPDs, the EM iterations, the convergence checks.
    warnings : list of str
    """

    weights: FloatArray
    probs: FloatArray
    n_iter: int
    converged: bool
    budget_hit: bool
    seconds_init: float
    seconds_fit: float
    warnings: list[str] = field(default_factory=list)


def _pgmpy_arrays(cpds: list[Any], k: int, n: int) -> tuple[FloatArray, FloatArray]:
    """pgmpy's CPDs as ``(weights (k,), probs (k, n))`` in the latent states' order."""
    by_var = {cpd.variable: cpd for cpd in cpds}
    u_cpd = by_var["U"]
    order = [u_cpd.state_names["U"].index(u) for u in range(k)]
    weights = np.asarray(u_cpd.get_values(), dtype=np.float64).reshape(-1)[order]
    probs = np.empty((k, n))
    for j in range(n):
        cpd = by_var[f"X{j}"]
        if cpd.variables[1:] != ["U"]:
            raise RuntimeError(f"unexpected CPD scope {cpd.variables}")
        values = np.asarray(cpd.get_values(), dtype=np.float64)  # (states of X_j, k)
        states = [int(s) for s in cpd.state_names[f"X{j}"]]
        u_cols = [cpd.state_names["U"].index(u) for u in range(k)]
        probs[:, j] = values[states.index(1), u_cols] if 1 in states else 0.0
    return weights, probs


def fit_pgmpy(
    X: NDArray[Any],
    k: int,
    *,
    max_iter: int,
    atol: float,
    seed: int,
    budget_s: float | None = None,
) -> PgmpyRun:
    """pgmpy ``ExpectationMaximization`` on the network ``U -> X_0, ..., U -> X_{n-1}``.

    ``get_parameters(latent_card={"U": k}, max_iter, atol, seed)``; every other option at
    pgmpy's default (``n_jobs=1``, ``batch_size=1000``, random initial CPDs of the latent
    node's children). E-steps are counted by wrapping ``_compute_weights`` (called once per
    iteration); past ``budget_s`` seconds the wrapper stops the loop and the CPDs of the last
    completed iteration are returned.
    """
    import pandas as pd
    from pgmpy.models import DiscreteBayesianNetwork

    n = X.shape[1]
    cols = [f"X{j}" for j in range(n)]
    data = pd.DataFrame(np.asarray(X, dtype=np.int64), columns=cols)
    model = DiscreteBayesianNetwork([("U", c) for c in cols], latents={"U"})
    em = run_pgmpy_em(model, data, k, max_iter=max_iter, atol=atol, seed=seed, budget_s=budget_s)
    cpds, budget_hit = em.cpds, em.budget_hit
    weights, probs = _pgmpy_arrays(cpds, k, n)
    # get_parameters returns early only when the parameters stopped moving (atol)
    converged = not budget_hit and em.n_iter < max_iter
    return PgmpyRun(
        weights,
        probs,
        em.n_iter,
        converged,
        budget_hit,
        em.seconds_init,
        em.seconds_fit,
        em.warnings,
    )

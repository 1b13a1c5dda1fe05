"""Data, scoring, the kmix and pgmpy fitters of the mixture-of-Bayesian-networks benchmark.

Every fitted model, kmix's or pgmpy's, is reduced to a
:class:`kmix.params.BayesNetMixtureParams` (weights and per-source CPTs on the
known DAG) and scored by one float64 function, :func:`score`
(:func:`kmix.solvers.bayesnet.em.loglik_bayesnet_mixture` on the distinct rows with their counts,
which gives the same sum as the raw rows). Exact treatment effects of the truth come from
:func:`kmix.causal.ate`.

pgmpy is run the way its documentation shows for a latent variable: a
``DiscreteBayesianNetwork`` with the DAG's edges plus ``U -> every node`` and
``latents={"U"}``, ``ExpectationMaximization(model, data).get_parameters(latent_card={"U": k},
...)``, then ``CausalInference(fitted).query([Y], do={X: x})``. pgmpy refuses that query
while the treatment has a latent parent unless an adjustment set is given, so the query
passes ``adjustment_set = PA(X) ∪ {U}`` (the back-door set of spec D2; ``U``'s CPD is
estimated by then). The same ATE recomputed by kmix's truncated factorisation from the
converted CPDs is recorded as a check of the conversion.
"""

from __future__ import annotations

import time
import tracemalloc
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pgmpy_em import run_pgmpy_em

__all__ = [
    "PGMPY_ATOL",
    "PgmpyRun",
    "compare_on_rows",
    "dag_edges",
    "fit_kmix",
    "fit_pgmpy_bn",
    "peak_fit_bytes",
    "pgmpy_params",
    "pgmpy_scaling_case",
    "pick_edge",
    "probe_pgmpy",
    "score",
    "unique_rows",
]

FloatArray = NDArray[np.float64]
LATENT = "U"


def dag_edges(dag: Any) -> list[tuple[str, str]]:
    """``(parent, child)`` pairs of a kmix DAG, children in topological order."""
    return [(p, v) for v in dag.nodes for p in dag.parents[v]]


def pick_edge(dag: Any) -> tuple[str, str]:
    """The treatment -> outcome edge studied on ``dag``.

    The edge ``X -> Y`` with the most observed parents in total (``|PA(X)| + |PA(Y)|``, so
    both ends also have observed causes besides the hidden source); ties go to the first
    in topological order of ``Y``, then of ``X``.
    """
    edges = dag_edges(dag)
    if not edges:
        raise ValueError("the DAG has no edge")
    pos = {v: i for i, v in enumerate(dag.nodes)}
    return min(
        edges,
        key=lambda e: (-(len(dag.parents[e[0]]) + len(dag.parents[e[1]])), pos[e[1]], pos[e[0]]),
    )


def unique_rows(X: NDArray[Any]) -> tuple[NDArray[np.int64], FloatArray]:
    """Distinct rows of a 0/1 array (int64 codes) and how often each occurs.

    Each row is packed into one integer (at most 62 columns), so this sorts N integers
    rather than N rows.
    """
    Xi = np.asarray(X, dtype=np.int64)
    n = Xi.shape[1]
    if n > 62:
        raise ValueError(f"at most 62 binary columns can be packed; got {n}")
    if Xi.size and (Xi.min() < 0 or Xi.max() > 1):
        raise ValueError("unique_rows packs binary data only")
    codes = Xi @ (np.int64(1) << np.arange(n, dtype=np.int64))
    uniq, counts = np.unique(codes, return_counts=True)
    values = (uniq[:, None] >> np.arange(n, dtype=np.int64)) & 1
    return values.astype(np.int64), counts.astype(np.float64)


def score(values: NDArray[np.int64], counts: FloatArray, params: Any) -> float:
    """Total float64 log-likelihood of ``params`` on the distinct rows with their counts."""
    from kmix.solvers.bayesnet.em import loglik_bayesnet_mixture

    return float(loglik_bayesnet_mixture(values, counts, params))


# ---------------------------------------------------------------------------------- pgmpy
@dataclass
class PgmpyRun:
    """One pgmpy EM fit (and, optionally, its do-queries).

    Attributes
    ----------
    params : BayesNetMixtureParams or None
        pgmpy's CPDs converted to kmix's layout (None when the conversion failed).
    n_rows, n_unique_rows : int
        Rows fitted and their distinct patterns (pgmpy's E-step loops over the latter).
    max_iter : int
    atol : float
    n_iter : int
        E-steps run.
    converged : bool
        pgmpy's own rule (every CPD within ``atol`` of the previous iteration's) stopped it.
    budget_hit : bool
        The benchmark's time budget stopped it (CPDs of the last completed iteration).
    seconds_init : float
        ``ExpectationMaximization(model, data)``.
    seconds_fit : float
        ``get_parameters(...)``: initial CPDs, the EM iterations, the convergence checks.
    seconds_query : float
        Building the fitted network and the two ``CausalInference.query`` calls.
    ate : float or None
        ``P(Y=1 | do(X=1)) - P(Y=1 | do(X=0))`` from ``CausalInference.query``.
    ate_kmix_formula : float or None
        The same effect by :func:`kmix.causal.ate` on :attr:`params` (a conversion check).
    nan_rows : int
        CPD rows pgmpy left undefined (parent patterns absent from the data; set uniform).
    warnings : list of str
    error : str or None
    """

    params: Any
    n_rows: int
    n_unique_rows: int
    max_iter: int
    atol: float
    n_iter: int
    converged: bool
    budget_hit: bool
    seconds_init: float
    seconds_fit: float
    seconds_query: float = 0.0
    ate: float | None = None
    ate_kmix_formula: float | None = None
    nan_rows: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def seconds_em(self) -> float:
        """EM only: ``ExpectationMaximization(...)`` plus ``get_parameters(...)``."""
        return self.seconds_init + self.seconds_fit

    @property
    def seconds_total(self) -> float:
        """EM plus the do-queries."""
        return self.seconds_em + self.seconds_query

    def summary(self) -> dict[str, Any]:
        """JSON-ready fields (the parameters themselves left out)."""
        return {
            "n_rows": self.n_rows,
            "n_unique_rows": self.n_unique_rows,
            "max_iter": self.max_iter,
            "atol": self.atol,
            "n_iter": self.n_iter,
            "converged": self.converged,
            "budget_hit": self.budget_hit,
            "seconds_init": self.seconds_init,
            "seconds_fit": self.seconds_fit,
            "seconds_query": self.seconds_query,
            "seconds_em": self.seconds_em,
            "seconds_total": self.seconds_total,
            "ate": self.ate,
            "ate_kmix_formula": self.ate_kmix_formula,
            "nan_rows": self.nan_rows,
            "warnings": self.warnings,
            "error": self.error,
        }


def _network(dag: Any) -> Any:
    """pgmpy network: the DAG's edges, ``U -> every node``, ``U`` declared latent."""
    from pgmpy.models import DiscreteBayesianNetwork

    model = DiscreteBayesianNetwork(
        dag_edges(dag) + [(LATENT, v) for v in dag.nodes], latents={LATENT}
    )
    model.add_nodes_from(dag.nodes)
    return model


def pgmpy_params(cpds: list[Any], dag: Any, k: int, levels: int = 2) -> tuple[Any, int]:
    """pgmpy's CPDs as kmix ``BayesNetMixtureParams`` (axes ``(u, *PA(v), v)``).

    Every axis is reordered by pgmpy's state names (observed states are the data's codes
    ``0 .. levels - 1``, latent states ``0 .. k - 1``). A CPD column pgmpy left undefined (a
    parent pattern absent from the data gives 0/0) is set uniform; their number is returned.
    """
    from kmix.params.bayesnet import BayesNetMixtureParams

    by_var = {cpd.variable: cpd for cpd in cpds}
    u_cpd = by_var[LATENT]
    u_names = list(u_cpd.state_names[LATENT])
    weights = np.asarray(u_cpd.values, dtype=np.float64).reshape(-1)[
        [u_names.index(u) for u in range(k)]
    ]
    tables = []
    n_nan = 0
    for v in dag.nodes:
        cpd = by_var[v]
        names = list(cpd.variables)  # [v, *evidence]
        vals = np.asarray(cpd.values, dtype=np.float64).reshape(tuple(cpd.cardinality))
        for ax, var in enumerate(names):
            states = list(cpd.state_names[var])
            size = k if var == LATENT else levels
            vals = np.take(vals, [states.index(s) for s in range(size)], axis=ax)
        order = [LATENT, *dag.parents[v], v]
        if sorted(order) != sorted(names):
            raise RuntimeError(f"pgmpy CPD of {v} has scope {names}; expected {order}")
        table = np.transpose(vals, [names.index(x) for x in order])
        bad = ~np.isfinite(table).all(axis=-1)
        if bad.any():
            n_nan += int(bad.sum())
            table = np.where(bad[..., None], 1.0 / table.shape[-1], table)
        tables.append(table / table.sum(axis=-1, keepdims=True))
    return BayesNetMixtureParams(dag, levels, weights / weights.sum(), tuple(tables)), n_nan


def fit_pgmpy_bn(
    X: NDArray[Any],
    dag: Any,
    k: int,
    *,
    max_iter: int,
    atol: float,
    seed: int,
    budget_s: float | None = None,
    effect: tuple[str, str] | None = None,
) -> PgmpyRun:
    """pgmpy ``ExpectationMaximization`` with a latent ``U`` on ``dag``; optionally its ATE.

    ``get_parameters(latent_card={"U": k}, max_iter, atol, seed)``; every other option at
    pgmpy's default (``n_jobs=1``, ``batch_size=1000``, random initial CPDs). E-steps are
    counted by wrapping ``_compute_weights`` (called once per iteration); past ``budget_s``
    seconds the wrapper stops the loop and the CPDs of the last completed iteration are
    kept. With ``effect=(X, Y)`` the fitted network answers ``P(Y | do(X = x))`` for
    ``x = 0, 1`` through ``CausalInference.query`` (timed as ``seconds_query``).
    """
    import pandas as pd

    from kmix.causal import ate as exact_ate

    cols = list(dag.nodes)
    Xi = np.asarray(X, dtype=np.int64)
    data = pd.DataFrame(Xi, columns=cols)
    n_unique = int(unique_rows(Xi)[0].shape[0])
    em = run_pgmpy_em(
        _network(dag),
        data,
        k,
        max_iter=max_iter,
        atol=atol,
        seed=seed,
        budget_s=budget_s,
        latent=LATENT,
    )
    cpds = em.cpds
    run = PgmpyRun(
        None,
        int(Xi.shape[0]),
        n_unique,
        max_iter,
        atol,
        em.n_iter,
        em.rule_converged and not em.budget_hit,
        em.budget_hit,
        em.seconds_init,
        em.seconds_fit,
        warnings=em.warnings,
    )
    try:
        run.params, run.nan_rows = pgmpy_params(cpds, dag, k)
    except Exception as exc:  # report, do not crash the benchmark
        run.error = f"conversion: {type(exc).__name__}: {exc}"
    if effect is not None:
        try:
            run.ate, run.seconds_query = _pgmpy_ate(cpds, dag, *effect)
            if run.params is not None:
                run.ate_kmix_formula = float(exact_ate(run.params, *effect))
        except Exception as exc:
            run.error = f"query: {type(exc).__name__}: {exc}"
    return run


def _pgmpy_ate(cpds: list[Any], dag: Any, treatment: str, outcome: str) -> tuple[float, float]:
    """``P(Y=1 | do(X=1)) - P(Y=1 | do(X=0))`` by pgmpy, and the seconds it took."""
    from pgmpy.inference import CausalInference

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        fitted = _network(dag)
        fitted.add_cpds(*cpds)
        infer = CausalInference(fitted)
        adjust = {*dag.parents[treatment], LATENT}
        p = [
            infer.query(
                [outcome], do={treatment: x}, adjustment_set=adjust, show_progress=False
            ).get_value(**{outcome: 1})
            for x in (0, 1)
        ]
        seconds = time.perf_counter() - t0
    return float(p[1] - p[0]), seconds


def probe_pgmpy(
    X: NDArray[Any], dag: Any, k: int, *, probe_rows: int, max_iter: int, seed: int
) -> dict[str, Any]:
    """Cost of one pgmpy EM iteration on ``X``, measured on its first ``probe_rows`` rows.

    pgmpy's E-step loops in Python over the distinct rows, so the cost of one iteration on
    all of ``X`` is estimated as the probe's per-distinct-row cost times ``X``'s number of
    distinct rows; the complete fit as that times ``max_iter``. Both are *estimates*.
    """
    head = np.asarray(X[:probe_rows])
    one = fit_pgmpy_bn(head, dag, k, max_iter=1, atol=1e-8, seed=seed)
    n_unique = int(unique_rows(np.asarray(X))[0].shape[0])
    per_row = one.seconds_em / one.n_unique_rows
    per_iter = per_row * n_unique
    return {
        "probe_rows": int(head.shape[0]),
        "probe_unique_rows": one.n_unique_rows,
        "probe_seconds": one.seconds_em,
        "n_unique_rows": n_unique,
        "seconds_per_unique_row": per_row,
        "estimate_iteration_seconds": per_iter,
        "estimate_fit_seconds": per_iter * max_iter,
        "max_iter": max_iter,
        "error": one.error,
    }


# ------------------------------------------------------------------------ benchmark steps
#: pgmpy's default ``atol`` (largest change of any CPD entry between iterations).
PGMPY_ATOL = 1e-8


def fit_kmix(X: Any, dag: Any, k: int, edge: tuple[str, str]) -> dict[str, Any]:
    """Timed ``BayesNetMixture(dag, k, random_state=0)`` fit and ATE (model under "model")."""
    from kmix import BayesNetMixture

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        model = BayesNetMixture(dag, k, random_state=0).fit(X, columns=list(dag.nodes))
        t1 = time.perf_counter()
        ate = model.ate(*edge)
        t2 = time.perf_counter()
    return {
        "model": model,
        "seconds_fit": t1 - t0,
        "seconds_ate": t2 - t1,
        "seconds_total": t2 - t0,
        "ate": float(ate),
        "warnings": sorted({f"{w.category.__name__}: {str(w.message)[:120]}" for w in caught}),
    }


def peak_fit_bytes(X: Any, dag: Any, k: int) -> int:
    """tracemalloc peak (bytes) of the allocations made during one kmix fit.

    The input array exists before tracing starts and is not counted.
    """
    from kmix import BayesNetMixture

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            BayesNetMixture(dag, k, random_state=0).fit(X, columns=list(dag.nodes))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return int(peak)


def compare_on_rows(
    rows: NDArray[Any],
    truth: Any,
    edge: tuple[str, str],
    true_ate: float,
    kfit: dict[str, Any],
    *,
    max_iter: int,
    seed: int,
    budget_s: float,
) -> dict[str, Any]:
    """pgmpy fitted on ``rows`` against kmix's fit ``kfit`` of the same rows, scored on them."""
    dag, k = truth.dag, truth.weights.shape[0]
    pg = fit_pgmpy_bn(
        rows, dag, k, max_iter=max_iter, atol=PGMPY_ATOL, seed=seed, budget_s=budget_s, effect=edge
    )
    values, counts = unique_rows(rows)
    n = rows.shape[0]
    ll_k = score(values, counts, kfit["model"].params_)
    ll_p = None if pg.params is None else score(values, counts, pg.params)
    return {
        "n_rows": int(n),
        "pgmpy": pg.summary(),
        "loglik_kmix": ll_k,
        "loglik_pgmpy": ll_p,
        "loglik_truth": score(values, counts, truth),
        "loglik_diff_per_row": None if ll_p is None else (ll_k - ll_p) / n,
        "ate_error_kmix": abs(kfit["ate"] - true_ate),
        "ate_error_pgmpy": None if pg.ate is None else abs(pg.ate - true_ate),
        "seconds_kmix": kfit["seconds_total"],
        "seconds_pgmpy": pg.seconds_total,
        "ratio": pg.seconds_total / kfit["seconds_total"],
    }


def pgmpy_scaling_case(
    X: NDArray[Any],
    truth: Any,
    edge: tuple[str, str],
    true_ate: float,
    *,
    max_iter: int,
    seed: int,
    probe_rows: int,
    measure_iter_limit_s: float,
    limit_s: float,
) -> dict[str, Any]:
    """Estimate pgmpy's complete fit on ``X``; run it when the estimate is within ``limit_s``.

    The estimate comes from :func:`probe_pgmpy`; when that puts one iteration on all rows
    within ``measure_iter_limit_s``, one full iteration is measured and used instead.
    """
    dag, k = truth.dag, truth.weights.shape[0]
    est = probe_pgmpy(X, dag, k, probe_rows=probe_rows, max_iter=max_iter, seed=seed)
    out: dict[str, Any] = {"probe": est, "estimate_source": "probe scaled by distinct rows"}
    estimate = est["estimate_fit_seconds"]
    if X.shape[0] > probe_rows and est["estimate_iteration_seconds"] <= measure_iter_limit_s:
        one = fit_pgmpy_bn(X, dag, k, max_iter=1, atol=PGMPY_ATOL, seed=seed)
        out["one_iteration_all_rows"] = one.summary()
        estimate = one.seconds_em * max_iter
        out["estimate_source"] = "one measured iteration on all rows"
    out["estimate_fit_seconds"] = estimate
    if estimate > limit_s:
        out["ran"] = False
        return out
    pg = fit_pgmpy_bn(
        X, dag, k, max_iter=max_iter, atol=PGMPY_ATOL, seed=seed, budget_s=limit_s, effect=edge
    )
    values, counts = unique_rows(X)
    out.update(
        ran=True,
        fit=pg.summary(),
        loglik=None if pg.params is None else score(values, counts, pg.params),
        ate_error=None if pg.ate is None else abs(pg.ate - true_ate),
    )
    return out

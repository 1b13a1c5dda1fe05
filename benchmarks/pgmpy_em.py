"""pgmpy's ``ExpectationMaximization`` with a latent node, counted and time-budgeted.

Shared by the latent class (:mod:`product_peers`) and the Bayesian-network
(:mod:`bayesnet_peers`) benchmarks.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PgmpyEM", "run_pgmpy_em"]


class _Budget(Exception):
    """Raised inside pgmpy's EM loop when its time budget is spent."""


@dataclass
class PgmpyEM:
    """One pgmpy EM run.

    Attributes
    ----------
    cpds : list
        pgmpy's fitted CPDs (those of the last completed iteration if the budget stopped it).
    n_iter : int
        E-steps run (``_compute_weights`` is called once per iteration).
    rule_converged : bool
        pgmpy's own convergence check (every CPD within ``atol``) said yes at the end.
    budget_hit : bool
        The benchmark's time budget stopped the loop.
    seconds_init : float
        ``ExpectationMaximization(model, data)`` (input checks, state names).
    seconds_fit : float
        ``get_parameters(...)``: initial CPDs, the EM iterations, the convergence checks.
    warnings : list of str
        Distinct warnings raised meanwhile (first line, category).
    """

    cpds: list[Any]
    n_iter: int
    rule_converged: bool
    budget_hit: bool
    seconds_init: float
    seconds_fit: float
    warnings: list[str] = field(default_factory=list)


def _distinct(records: list[warnings.WarningMessage]) -> list[str]:
    out: list[str] = []
    for w in records:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0][:160]}"
        if text not in out:
            out.append(text)
    return out


def run_pgmpy_em(
    model: Any,
    data: Any,
    k: int,
    *,
    max_iter: int,
    atol: float,
    seed: int,
    budget_s: float | None = None,
    latent: str = "U",
) -> PgmpyEM:
    """``ExpectationMaximization(model, data).get_parameters(latent_card={latent: k}, ...)``.

    Every other option at pgmpy's default (``n_jobs=1``, ``batch_size=1000``, random
    initial CPDs). E-steps are counted by wrapping ``_compute_weights``; past ``budget_s``
    seconds the wrapper stops the loop and the CPDs of the last completed iteration are
    kept. ``_is_converged`` is wrapped to record pgmpy's own verdict.
    """
    from pgmpy.estimators import ExpectationMaximization

    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        est = ExpectationMaximization(model, data)
        t1 = time.perf_counter()
        steps = [0]
        converged = [False]
        compute, is_converged = est._compute_weights, est._is_converged

        def counted(*args: Any, **kwargs: Any) -> Any:
            if budget_s is not None and steps[0] > 0 and time.perf_counter() - t1 > budget_s:
                raise _Budget
            steps[0] += 1
            return compute(*args, **kwargs)

        def check(*args: Any, **kwargs: Any) -> bool:
            converged[0] = bool(is_converged(*args, **kwargs))
            return converged[0]

        est._compute_weights = counted
        est._is_converged = check
        budget_hit = False
        try:
            cpds = est.get_parameters(
                latent_card={latent: k},
                max_iter=max_iter,
                atol=atol,
                seed=seed,
                show_progress=False,
            )
        except _Budget:
            budget_hit = True
            cpds = list(est.model_copy.cpds)
        t2 = time.perf_counter()
    return PgmpyEM(
        list(cpds), steps[0], converged[0], budget_hit, t1 - t0, t2 - t1, _distinct(records)
    )

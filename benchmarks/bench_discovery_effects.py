"""From raw rows to an effect when the DAG is unknown: discovery, then mixtures of networks.

30 random sparse DAGs on 8 binary variables (``kmix.datasets.erdos_renyi_mixture``, edge
probability 0.25, U a fair coin pointing at every variable, every CPT row from a flat
Dirichlet), N = 2e5 rows each. The query is the ATE of the first edge ``X -> Y`` of the DAG's
topological edge list whose effect the DAG's equivalence class identifies (no undirected edge
at ``X`` in the class, so every DAG of it gives ``X`` the same parents; DAGs without such an
edge are redrawn: where the class does not decide the effect, no learned graph can). Three
estimates against the exact ATE of the simulating mixture (``kmix.causal.ate``): kmix with the
true DAG (``BayesNetMixture(dag, 2)``); kmix with the learned class (``kmix.causal.discover(X,
2)``, then ``kmix.estimators.fit_over_class``: one mixture of networks per parent set of ``X``
in the class; where the class leaves several, the worst of their errors counts, and where
``BayesNetMixture`` refuses a learned DAG as not identified, or the class is too open to list,
the error counts as infinite); and
the naive contrast ``P(Y | X = 1) - P(Y | X = 0)``. A DAG whose own sources the rows do not
identify (``BayesNetMixture`` refuses it) is redrawn.

Target (issue acceptance): the median error with the learned class within 2x of the median with
the true DAG, and far below the naive contrast's. ``--quick``: 6 DAGs.
"""

from __future__ import annotations

import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from typing import Any

import numpy as np

from common import BenchResult, log, machine_info, markdown_table

NAME = "discovery_effects"
SEED = 20261207
N_NODES = 8
EDGE_PROB = 0.25
N_ROWS = 200_000
N_DAGS = 30


def _identified_edge(dag: Any, names: list[str]) -> tuple[str, str] | None:
    """The first edge ``X -> Y`` of ``dag`` with no undirected edge at ``X`` in its class."""
    from kmix.solvers.discovery import equivalence_class

    cpdag = equivalence_class([[names.index(p) for p in dag.parents[v]] for v in names]).graph
    for x, y in dag.edges:
        i = names.index(x)
        if not any(cpdag[i, j] and cpdag[j, i] for j in range(len(names))):
            return x, y
    return None


def _job(i: int) -> dict[str, Any]:
    from kmix import BayesNetMixture
    from kmix.causal import discover, effects
    from kmix.datasets import erdos_renyi_mixture
    from kmix.estimators import fit_over_class
    from kmix.exceptions import DataError, IdentifiabilityError

    rng = np.random.default_rng([SEED, i])
    names = [f"V{j}" for j in range(N_NODES)]  # X's columns in order
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while True:  # a DAG with an edge whose effect its class identifies, and sources
            X, dag, truth = erdos_renyi_mixture(N_NODES, EDGE_PROB, N_ROWS, random_state=rng)
            query = _identified_edge(dag, names)
            if query is None:
                continue
            t0 = time.perf_counter()
            try:  # that the rows identify (BayesNetMixture certifies it)
                known = BayesNetMixture(dag, 2, random_state=0).fit(X, columns=names)
            except IdentifiabilityError:
                continue
            break
        x, y = query
        exact = effects.ate(truth, x, y)
        row: dict[str, Any] = {"instance": i, "edge": f"{x} -> {y}", "n_edges": len(dag.edges)}
        row["true_dag_seconds"] = time.perf_counter() - t0
        row["true_dag_error"] = abs(known.ate(x, y) - exact)
        row["naive_error"] = abs(known.naive_ate(x, y) - exact)
        t0 = time.perf_counter()
        found = discover(X, 2, columns=names, random_state=0)
        row["discover_seconds"] = time.perf_counter() - t0
        truth_pairs = {frozenset(e) for e in dag.edges}
        learned = {frozenset(e) for e in (*found.directed, *found.undirected)}
        row["skeleton_tp"] = len(truth_pairs & learned)
        row["skeleton_fp"] = len(learned - truth_pairs)
        row["skeleton_fn"] = len(truth_pairs - learned)
        t0 = time.perf_counter()
        try:
            members = fit_over_class(X, found, x, 2, columns=names, random_state=0)
            errors = [abs(m.model.ate(x, y) - exact) for m in members]
            row["refused"] = None
        except (IdentifiabilityError, DataError) as exc:
            # a learned DAG whose sources are not identified, or a class too open to list
            members, errors, row["refused"] = [], [], str(exc)
        row["class_seconds"] = time.perf_counter() - t0
    row.update(
        exact=exact,
        n_parent_sets=len(members),
        # a refused fit counts as the largest error
        discovered_error=max(errors) if errors else None,
        discovered_errors=errors,
    )
    return row


def _err(value: float | None) -> float:
    return np.inf if value is None else value


def run(quick: bool) -> BenchResult:
    """Every DAG: the exact ATE and three estimates."""
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    n = 6 if quick else N_DAGS
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        rows = list(pool.map(_job, range(n)))
    for r in rows:
        log(
            f"[{NAME}] {r['instance']:2d} {r['edge']}: true DAG {r['true_dag_error']:.4f}, "
            f"learned {_err(r['discovered_error']):.4f} ({r['n_parent_sets']} parent set(s)), "
            f"naive {r['naive_error']:.4f}"
        )
    med = {
        key: float(np.median([_err(r[key]) for r in rows]))
        for key in ("true_dag_error", "discovered_error", "naive_error")
    }
    ok = med["discovered_error"] <= 2 * med["true_dag_error"] and (
        med["discovered_error"] < med["naive_error"] / 2
    )
    table = [
        [
            str(r["instance"]),
            r["edge"],
            str(r["n_edges"]),
            f"{r['skeleton_tp']} / {r['skeleton_fp']} / {r['skeleton_fn']}",
            str(r["n_parent_sets"]),
            f"{r['exact']:+.4f}",
            f"{r['true_dag_error']:.4f}",
            "refused" if r["refused"] else f"{r['discovered_error']:.4f}",
            f"{r['naive_error']:.4f}",
            f"{r['discover_seconds'] + r['class_seconds']:.1f}",
        ]
        for r in rows
    ]
    verdict = "PASS" if ok else "FAIL"
    md = [
        f"# Effects with a learned DAG{' (quick)' if quick else ''}",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        markdown_table(
            [
                "DAG",
                "edge X -> Y",
                "true edges",
                "learned TP / FP / FN",
                "parent sets of X",
                "exact ATE",
                "error, true DAG",
                "error, learned class",
                "error, naive",
                "learn + fit s",
            ],
            table,
            "rlrlrrrrrr",
        ),
        "",
        f"Median error: true DAG {med['true_dag_error']:.4f}, learned class "
        f"{med['discovered_error']:.4f}, naive {med['naive_error']:.4f}. Target (learned within "
        f"2x of the true DAG's, and below half the naive): {verdict}.",
        f"{(time.perf_counter() - t0) / 60:.1f} min.",
    ]
    data = {
        "benchmark": NAME,
        "quick": quick,
        "started": started,
        "machine": machine_info(),
        "settings": {
            "n_nodes": N_NODES,
            "edge_prob": EDGE_PROB,
            "N": N_ROWS,
            "n_dags": n,
        },
        "rows": rows,
        "medians": med,
        "pass": ok,
    }
    return BenchResult(NAME, data, "\n".join(md))

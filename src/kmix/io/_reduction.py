"""The reduction of a BayesNetMixture file (``fitted.reduction_``), written and read exactly.

The reduction to latent class runs
(:class:`~kmix.solvers.bayesnet.reduction.BayesNetReduction`) is stored
whole: its start parameters, every run it used or left out (members,
conditioning set and assignment, key sets, effective sample size and, once
solved, its ``P(u | c)``, member conditionals and log-likelihood), the runs'
disagreement per key (``spread``), the CPT support, the default levels, the
alignment conflicts and the CPT rows no run covered. A loaded model's report
shows the same diagnostics as the fitted one's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError
from ..params import DAG, BayesNetMixtureParams, check_weights
from ..solvers.bayesnet.reduction import BayesNetReduction
from ..solvers.bayesnet.runs import Key, Run
from ._format import FieldReader, describe, float_to_json, to_json_value

__all__ = ["dump_reduction", "load_reduction", "mixture_params"]

FloatArray = NDArray[np.float64]


def _dump_run(run: Run) -> dict[str, Any]:
    """Plain JSON values of one run, solved or not."""
    return {
        "target": run.target,
        "members": list(run.members),
        "cond": list(run.cond),
        "assignment": [int(a) for a in run.assignment],
        "given": {w: list(s) for w, s in run.given.items()},
        "ess": float(run.ess),
        "weights": None if run.weights is None else to_json_value(np.asarray(run.weights)),
        "probs": None
        if run.probs is None
        else {w: to_json_value(np.asarray(p)) for w, p in run.probs.items()},
        "log_likelihood": None if run.log_likelihood is None else float_to_json(run.log_likelihood),
    }


def dump_reduction(reduction: BayesNetReduction | None) -> dict[str, Any] | None:
    """Plain JSON values of a fitted model's ``reduction_`` (``None`` stays ``None``).

    Parameters
    ----------
    reduction : BayesNetReduction or None
        The reduction's runs and diagnostics (None with ``init="random"``).

    Returns
    -------
    dict or None
        Every field of the reduction.
    """
    if reduction is None:
        return None
    return {
        "params": {
            "weights": to_json_value(np.asarray(reduction.params.weights)),
            "cpts": [to_json_value(np.asarray(c)) for c in reduction.params.cpts],
        },
        "runs": [_dump_run(r) for r in reduction.runs],
        "cpt_support": {v: int(n) for v, n in reduction.cpt_support.items()},
        "spread": [
            {
                "node": key.node,
                "given": list(key.given),
                "assignment": [int(a) for a in key.assignment],
                "spread": float_to_json(value),
            }
            for key, value in reduction.spread.items()
        ],
        "defaults": {v: int(a) for v, a in reduction.defaults.items()},
        "dropped": [_dump_run(r) for r in reduction.dropped],
        "alignment_conflicts": int(reduction.alignment_conflicts),
        "uncovered": [[v, [int(a) for a in row]] for v, row in reduction.uncovered],
    }


# ------------------------------------------------------------------ reading
def _node(reader: FieldReader, key: str, levels: Mapping[str, int]) -> str:
    """A node name of the DAG."""
    value = reader.get(key)
    if not isinstance(value, str) or value not in levels:
        raise DataError(
            f"{reader.where}.{key} must name a node of the DAG {list(levels)}; got "
            f"{describe(value)}"
        )
    return value


def _nodes(reader: FieldReader, key: str, among: Sequence[str]) -> tuple[str, ...]:
    """Distinct node names, each one of ``among``."""
    value = reader.get(key)
    if (
        not isinstance(value, list)
        or not all(isinstance(v, str) and v in among for v in value)
        or len(set(value)) != len(value)
    ):
        raise DataError(
            f"{reader.where}.{key} must list distinct names among {list(among)}; got "
            f"{describe(value)}"
        )
    return tuple(value)


def _levels_of(
    reader: FieldReader, key: str, nodes: Sequence[str], levels: Mapping[str, int]
) -> tuple[int, ...]:
    """One level code per node of ``nodes``, each in ``0 .. levels - 1``."""
    value = reader.get(key)
    ok = isinstance(value, list) and len(value) == len(nodes)
    ok = ok and all(
        isinstance(a, int) and not isinstance(a, bool) and 0 <= a < levels[v]
        for a, v in zip(value, nodes, strict=True)
    )
    if not ok:
        raise DataError(
            f"{reader.where}.{key} must hold one level code per node of {list(nodes)} (levels "
            f"{[levels[v] for v in nodes]}); got {describe(value)}"
        )
    return tuple(value)


def _probabilities(value: Any, where: str, shape: tuple[int, ...]) -> FloatArray:
    """A float array of ``shape`` with entries in [0, 1]."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(
            f"{where} must be a rectangular array of numbers; got {describe(value)}"
        ) from None
    if arr.shape != shape:
        raise DataError(f"{where} must have shape {shape}; got {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
        raise DataError(f"{where} must hold probabilities in [0, 1]")
    return arr


def _load_run(reader: FieldReader, levels: Mapping[str, int], k: int) -> Run:
    """One run: its design, and its answer when it was solved."""
    reader.check_keys(
        [
            "target",
            "members",
            "cond",
            "assignment",
            "given",
            "ess",
            "weights",
            "probs",
            "log_likelihood",
        ]
    )
    nodes = list(levels)
    target = None if reader.get("target") is None else _node(reader, "target", levels)
    members = _nodes(reader, "members", nodes)
    cond = _nodes(reader, "cond", nodes)
    if not members or set(members) & set(cond):
        raise DataError(
            f"{reader.where}: members {list(members)} must be non-empty and disjoint from "
            f"cond {list(cond)}"
        )
    assignment = _levels_of(reader, "assignment", cond, levels)
    given_reader = reader.object("given")
    given_reader.check_keys(members)
    given = {w: _nodes(given_reader, w, cond) for w in members}
    ess = reader.number("ess")
    if ess < 0:
        raise DataError(f"{reader.where}.ess must be >= 0; got {ess!r}")
    if (reader.get("weights") is None) != (reader.get("probs") is None):
        raise DataError(f"{reader.where} must hold both weights and probs (solved) or neither")
    weights = probs = None
    if reader.get("weights") is not None:
        weights = reader.validated("weights", lambda w: check_weights(w, k))
        probs_reader = reader.object("probs")
        probs_reader.check_keys(members)
        probs = {
            w: _probabilities(probs_reader.get(w), f"{probs_reader.where}.{w}", (k, levels[w]))
            for w in members
        }
    ll = None if reader.get("log_likelihood") is None else reader.float_value("log_likelihood")
    return Run(target, members, cond, assignment, given, ess, weights, probs, ll)


def _runs(reader: FieldReader, key: str, levels: Mapping[str, int], k: int) -> list[Run]:
    """A list of runs."""
    raw = reader.get(key)
    if not isinstance(raw, list):
        raise DataError(f"{reader.where}.{key} must be a list of runs; got {describe(raw)}")
    where = f"{reader.where}.{key}"
    return [
        _load_run(FieldReader(r, f"{where}[{i}]", version=reader.version), levels, k)
        for i, r in enumerate(raw)
    ]


def _counts(reader: FieldReader, key: str, levels: Mapping[str, int]) -> dict[str, int]:
    """``node -> non-negative integer``, for nodes of the DAG."""
    sub = reader.object(key)
    out = {}
    for v in sub.data:
        if v not in levels:
            raise DataError(f"{sub.where} has {v!r}, not a node of the DAG {list(levels)}")
        out[v] = sub.integer(v, low=0)
    return out


def mixture_params(
    value: Any, where: str, dag: DAG, n_levels: Sequence[int], k: int
) -> BayesNetMixtureParams:
    """Weights and CPTs stored as ``{"weights": [...], "cpts": [...]}`` (one CPT per node).

    Parameters
    ----------
    value : object
        The parsed JSON object.
    where : str
        Its path in the document, for messages.
    dag : DAG
        The model's DAG.
    n_levels : sequence of int
        Levels of each node, in ``dag.nodes`` order.
    k : int
        Number of sources.

    Returns
    -------
    BayesNetMixtureParams
        Validated as a fresh fit's (shapes, ranges, rows summing to one).
    """
    reader = FieldReader(value, where)
    reader.check_keys(["weights", "cpts"])
    weights = reader.validated("weights", lambda w: check_weights(w, k))
    cpts = reader.get("cpts")
    if not isinstance(cpts, list) or len(cpts) != dag.n_nodes:
        raise DataError(
            f"{where}.cpts must be a list of {dag.n_nodes} arrays, one per node of "
            f"{list(dag.nodes)}; got {describe(cpts)}"
        )
    try:
        return BayesNetMixtureParams(dag, tuple(n_levels), weights, tuple(cpts))
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None


def load_reduction(
    reader: FieldReader, dag: DAG, n_levels: Sequence[int], k: int
) -> BayesNetReduction:
    """Validate ``fitted.reduction_`` and rebuild the reduction.

    Parameters
    ----------
    reader : FieldReader
        Reader over the ``reduction_`` object.
    dag : DAG
        The model's DAG.
    n_levels : sequence of int
        Levels of each node, in ``dag.nodes`` order.
    k : int
        Number of sources.

    Returns
    -------
    BayesNetReduction
        Equal, field by field, to the saved one.
    """
    reader.check_keys(
        [
            "params",
            "runs",
            "cpt_support",
            "spread",
            "defaults",
            "dropped",
            "alignment_conflicts",
            "uncovered",
        ]
    )
    levels = dict(zip(dag.nodes, n_levels, strict=True))
    params = mixture_params(reader.get("params"), f"{reader.where}.params", dag, n_levels, k)
    runs = _runs(reader, "runs", levels, k)
    dropped = _runs(reader, "dropped", levels, k)
    support = _counts(reader, "cpt_support", levels)
    defaults = _counts(reader, "defaults", levels)
    for v, a in defaults.items():
        if a >= levels[v]:
            raise DataError(
                f"{reader.where}.defaults.{v} = {a} is not a level code of {v!r} "
                f"(0 .. {levels[v] - 1})"
            )
    raw = reader.get("spread")
    if not isinstance(raw, list):
        raise DataError(f"{reader.where}.spread must be a list of keys; got {describe(raw)}")
    spread: dict[Key, float] = {}
    for i, entry in enumerate(raw):
        item = FieldReader(entry, f"{reader.where}.spread[{i}]", version=reader.version)
        item.check_keys(["node", "given", "assignment", "spread"])
        node = _node(item, "node", levels)
        given = _nodes(item, "given", [v for v in dag.nodes if v != node])
        value = item.float_value("spread")
        if not value >= 0:
            raise DataError(f"{item.where}.spread must be >= 0; got {value!r}")
        spread[Key(node, given, _levels_of(item, "assignment", given, levels))] = value
    raw = reader.get("uncovered")
    if not isinstance(raw, list):
        raise DataError(f"{reader.where}.uncovered must be a list; got {describe(raw)}")
    uncovered: list[tuple[str, tuple[int, ...]]] = []
    for i, entry in enumerate(raw):
        where = f"{reader.where}.uncovered[{i}]"
        if not isinstance(entry, list) or len(entry) != 2:
            raise DataError(f"{where} must be [node, parent levels]; got {describe(entry)}")
        item = FieldReader({"node": entry[0], "row": entry[1]}, where)
        node = _node(item, "node", levels)
        uncovered.append((node, _levels_of(item, "row", dag.parents[node], levels)))
    return BayesNetReduction(
        params,
        runs,
        support,
        spread,
        defaults,
        dropped,
        reader.integer("alignment_conflicts", low=0),
        uncovered,
    )

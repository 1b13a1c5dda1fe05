"""The codecs of :class:`~kmix.estimators.BayesNetMixture` and its bootstrap, registered on import.

The ``fitted`` member of a BayesNetMixture file holds the DAG (``nodes`` in
its topological order, each node's ``parents`` in the order of its CPT's
axes), the columns of the training data, the levels of every node, the
weights and per-source CPTs (``cpds_``), the reduction's runs and
diagnostics (:mod:`kmix.io._reduction`), how the sources and each CPT are
identified, the fit diagnostics, and ``rows``: the distinct coded training
rows with their counts (the sufficient statistic the model keeps), so that a
loaded model answers ``naive``/``naive_ate`` and bootstraps as the fitted
one does. ``log_likelihood_history_`` is stored when the model has it.

A :class:`~kmix.estimators.BayesNetBootstrap` file embeds its model (its
hyper-parameters, the names not saved and its ``fitted`` member, as above)
and the replicates' weights and CPTs; the replicates share the model's DAG
and levels. It has no hyper-parameters of its own.

A hyper-parameter ``dag`` that JSON cannot hold (a :class:`~kmix.params.DAG`,
a networkx graph, a function of the column names) is not saved; the loaded
model's ``dag`` is then the fitted ``dag_``, so that it can be refitted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..estimators import BayesNetBootstrap, BayesNetMixture
from ..exceptions import DataError
from ..params import DAG, BayesNetMixtureParams, check_weights
from ._format import (
    Codec,
    FieldReader,
    describe,
    hyper_parameters,
    new_estimator,
    register_codec,
    to_json_value,
)
from ._history import HISTORY, history_from_json, history_to_json
from ._levels import levels_from_json, levels_to_json
from ._reduction import dump_reduction, load_reduction, mixture_params

__all__ = ["BAYESNET_BOOTSTRAP", "BAYESNET_MIXTURE"]

#: NumPy dtypes (``dtype.str``) the coded training rows may have: signed, for the
#: missing-value code -1.
ROW_DTYPES = frozenset(np.dtype(t).str for t in ("i1", "i2", "i4", "i8"))

_REQUIRED = (
    "dag_",
    "columns_in_",
    "n_features_in_",
    "categories_",
    "n_missing_",
    "n_rows_dropped_",
    "n_rows_",
    "weights_",
    "cpds_",
    "reduction_",
    "identifiability_",
    "cpt_identifiability_",
    "log_likelihood_",
    "restart_log_likelihoods_",
    "converged_",
    "n_iter_",
    "n_samples_",
    "rows",
)
_OPTIONAL = (HISTORY,)  # (fits before it existed lack it)


def _dump_bayesnet_mixture(model: BayesNetMixture) -> dict[str, Any]:
    """The ``fitted`` member of a BayesNetMixture file.

    Parameters
    ----------
    model : BayesNetMixture
        A fitted mixture of Bayesian networks.

    Returns
    -------
    dict
        Plain JSON values for every fitted attribute and the training rows.
    """
    if not hasattr(model, "params_"):
        raise DataError("the model is not fitted; call fit before saving it")
    dag: DAG = model.dag_
    values = np.asarray(model._values)
    fitted: dict[str, Any] = {
        "dag_": {"nodes": list(dag.nodes), "parents": {v: list(dag.parents[v]) for v in dag.nodes}},
        "columns_in_": [str(c) for c in model.columns_in_],
        "n_features_in_": int(model.n_features_in_),
        "categories_": {
            v: levels_to_json(model.categories_[v], j) for j, v in enumerate(model.columns_)
        },
        "n_missing_": {v: int(n) for v, n in model.n_missing_.items()},
        "n_rows_dropped_": int(model.n_rows_dropped_),
        "n_rows_": int(model.n_rows_),
        "weights_": to_json_value(np.asarray(model.weights_)),
        "cpds_": {v: to_json_value(np.asarray(model.cpds_[v])) for v in model.columns_},
        "reduction_": dump_reduction(model.reduction_),
        "identifiability_": str(model.identifiability_),
        "cpt_identifiability_": {v: str(s) for v, s in model.cpt_identifiability_.items()},
        "log_likelihood_": float(model.log_likelihood_),
        "restart_log_likelihoods_": history_to_json(model.restart_log_likelihoods_),
        "converged_": bool(model.converged_),
        "n_iter_": int(model.n_iter_),
        "n_samples_": float(model.n_samples_),
        "rows": {
            "dtype": values.dtype.str,
            "values": to_json_value(values),
            "counts": to_json_value(np.asarray(model._counts, dtype=np.float64)),
        },
    }
    history = getattr(model, HISTORY, None)
    if history is not None:
        fitted[HISTORY] = history_to_json(history)
    return fitted


def _strings(reader: FieldReader, key: str) -> list[str]:
    """A list of strings."""
    value = reader.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{reader.where}.{key} must be a list of strings; got {describe(value)}")
    return value


def _per_node(reader: FieldReader, key: str, nodes: tuple[str, ...]) -> FieldReader:
    """A reader over an object with one member per node (in any order)."""
    sub = reader.object(key)
    if set(sub.data) != set(nodes):
        raise DataError(
            f"{sub.where} must have one member per node of the DAG {list(nodes)}; got "
            f"{sorted(sub.data)}"
        )
    return sub


def _load_dag(reader: FieldReader) -> DAG:
    """``dag_``: nodes in topological order, parents in CPT-axis order."""
    reader.check_keys(["nodes", "parents"])
    nodes = _strings(reader, "nodes")
    parents = reader.object("parents")
    parents.check_keys(nodes)
    pairs = {v: tuple(_strings(parents, v)) for v in nodes}
    try:
        dag = DAG(tuple(nodes), pairs)
    except DataError as exc:
        raise DataError(f"{reader.where}: {exc}") from None
    if list(dag.nodes) != nodes:
        raise DataError(
            f"{reader.where}.nodes must list the nodes in the DAG's topological order "
            f"{list(dag.nodes)}; got {nodes}"
        )
    return dag


def _load_rows(
    reader: FieldReader, n_levels: tuple[int, ...]
) -> tuple[NDArray[Any], NDArray[np.float64]]:
    """``rows``: the distinct coded training rows (``-1`` missing) and their positive counts."""
    reader.check_keys(["dtype", "values", "counts"])
    dtype = reader.get("dtype")
    if dtype not in ROW_DTYPES:
        raise DataError(
            f"{reader.where}.dtype must be one of {sorted(ROW_DTYPES)}; got {describe(dtype)}"
        )
    raw = reader.get("values")
    try:
        arr = np.array(raw)
    except (TypeError, ValueError):
        arr = np.empty(0, dtype=object)
    n = len(n_levels)
    if arr.ndim != 2 or arr.shape[1] != n or arr.shape[0] < 1 or arr.dtype.kind != "i":
        raise DataError(
            f"{reader.where}.values must be a non-empty (n_rows, {n}) array of integer level "
            f"codes; got {describe(raw)}"
        )
    bad = (arr < -1) | (arr >= np.asarray(n_levels)[None, :])
    if np.any(bad):
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{reader.where}.values[{r}][{c}] = {int(arr[r, c])} is not a level code of node "
            f"{c} (0 .. {n_levels[c] - 1}, or -1 for missing)"
        )
    values = arr.astype(np.dtype(dtype))
    if not np.array_equal(values, arr):
        raise DataError(f"{reader.where}.values do not fit the declared dtype {dtype!r}")
    counts = reader.array("counts", ndim=1)
    if counts.shape != (values.shape[0],) or np.any(counts <= 0):
        raise DataError(
            f"{reader.where}.counts must be {values.shape[0]} positive numbers, one per row"
        )
    return values, counts


def _load_bayesnet_mixture(model: BayesNetMixture, reader: FieldReader) -> None:
    """Validate the ``fitted`` member of a BayesNetMixture file and set it on ``model``.

    Parameters
    ----------
    model : BayesNetMixture
        A fresh instance built from the saved hyper-parameters.
    reader : FieldReader
        Reader over the ``fitted`` member.
    """
    reader.check_keys(_REQUIRED, _OPTIONAL)
    dag = _load_dag(reader.object("dag_"))
    nodes = dag.nodes
    columns_in = _strings(reader, "columns_in_")
    n_features = reader.integer("n_features_in_", low=1)
    if len(columns_in) != n_features or not set(nodes) <= set(columns_in):
        raise DataError(
            f"{reader.where}.columns_in_ must list the {n_features} columns of the training "
            f"data, every node of the DAG among them; got {columns_in}"
        )
    cats = _per_node(reader, "categories_", nodes)
    categories = {}
    for v in nodes:
        sub = cats.object(v)
        values = sub.data.get("values")
        n_levels = len(values) if isinstance(values, list) else 0
        if n_levels < 2:
            raise DataError(f"{sub.where}.values must list at least 2 levels")
        categories[v] = levels_from_json(sub, n_levels)
    levels = tuple(len(categories[v]) for v in nodes)
    weights = reader.validated("weights_", check_weights)
    k = int(weights.shape[0])
    if model.n_components != k:
        raise DataError(
            f"hyper_parameters.n_components={model.n_components!r} but weights_ has {k} entries"
        )
    cpds = _per_node(reader, "cpds_", nodes)
    try:
        params = BayesNetMixtureParams(dag, levels, weights, tuple(cpds.get(v) for v in nodes))
    except DataError as exc:
        raise DataError(f"{cpds.where}: {exc}") from None
    reduction = None
    if reader.get("reduction_") is not None:
        reduction = load_reduction(reader.object("reduction_"), dag, levels, k)
    ident = reader.get("identifiability_")
    if not isinstance(ident, str):
        raise DataError(f"{reader.where}.identifiability_ must be a string; got {describe(ident)}")
    per_cpt = reader.object("cpt_identifiability_")
    if not set(per_cpt.data) <= set(nodes) or not all(
        isinstance(s, str) for s in per_cpt.data.values()
    ):
        raise DataError(f"{per_cpt.where} must map nodes of the DAG to strings")
    missing = _per_node(reader, "n_missing_", nodes)
    n_missing = {v: missing.integer(v, low=0) for v in nodes}
    restarts = [float(x) for x in history_from_json(reader, "restart_log_likelihoods_")]
    values, counts = _load_rows(reader.object("rows"), levels)
    n_samples = reader.number("n_samples_")
    if not abs(n_samples - float(counts.sum())) <= 1e-9 * max(n_samples, 1.0):
        raise DataError(
            f"{reader.where}.n_samples_ = {n_samples!r} but the rows' counts sum to "
            f"{float(counts.sum())!r}"
        )
    history = history_from_json(reader) if HISTORY in reader.data else None

    model.n_features_in_ = n_features
    model.dag_ = dag
    model.columns_ = list(nodes)
    model.columns_in_ = columns_in
    model.categories_ = categories
    model.n_missing_ = n_missing
    model.n_rows_dropped_ = reader.integer("n_rows_dropped_", low=0)
    # the training statistic naive() and bootstrap() read; the estimator has no public setter
    model._values, model._counts = values, counts
    model.n_rows_ = reader.integer("n_rows_", low=1)
    model.reduction_ = reduction
    model.identifiability_ = ident
    model.cpt_identifiability_ = dict(per_cpt.data)
    model.params_ = params
    model.weights_ = params.weights
    model.cpds_ = dict(zip(nodes, params.cpts, strict=True))
    model.log_likelihood_ = reader.number("log_likelihood_")
    model.restart_log_likelihoods_ = restarts
    model.converged_ = reader.boolean("converged_")
    model.n_iter_ = reader.integer("n_iter_", low=0)
    model.n_samples_ = n_samples
    if history is not None:
        model.log_likelihood_history_ = history
    if model.dag is None:  # not saved (no JSON form): the fitted graph, so that it can refit
        model.dag = dag


#: The registered codec of :class:`~kmix.estimators.BayesNetMixture`.
BAYESNET_MIXTURE = register_codec(
    Codec("BayesNetMixture", BayesNetMixture, _dump_bayesnet_mixture, _load_bayesnet_mixture)
)


# ---------------------------------------------------------------- bootstrap
def _dump_bootstrap(boot: BayesNetBootstrap) -> dict[str, Any]:
    """The ``fitted`` member of a BayesNetBootstrap file: the model and the replicates.

    Parameters
    ----------
    boot : BayesNetBootstrap
        The result of ``BayesNetMixture.bootstrap``.

    Returns
    -------
    dict
        ``model`` (hyper-parameters, names not saved, fitted members) and
        ``replicates`` (weights and CPTs of each).
    """
    model = boot.model
    if type(model) is not BayesNetMixture:
        raise DataError(
            f"a BayesNetBootstrap's model must be a BayesNetMixture; got {type(model).__name__}"
        )
    fitted = _dump_bayesnet_mixture(model)
    hyper, skipped = hyper_parameters(model)
    replicates = []
    for b, rep in enumerate(boot.replicates):
        if rep.dag != model.dag_ or rep.n_levels != model.params_.n_levels:
            raise DataError(
                f"replicate {b} has another DAG or other levels than the model; a file stores "
                "replicates of the model's own graph only"
            )
        replicates.append(
            {
                "weights": to_json_value(np.asarray(rep.weights)),
                "cpts": [to_json_value(np.asarray(c)) for c in rep.cpts],
            }
        )
    return {
        "model": {"hyper_parameters": hyper, "not_saved": skipped, "fitted": fitted},
        "replicates": replicates,
    }


def _load_bootstrap(reader: FieldReader) -> BayesNetBootstrap:
    """Validate the ``fitted`` member of a BayesNetBootstrap file and rebuild the bootstrap.

    Parameters
    ----------
    reader : FieldReader
        Reader over the ``fitted`` member.

    Returns
    -------
    BayesNetBootstrap
        The model, loaded as a BayesNetMixture file's, and its replicates.
    """
    reader.check_keys(["model", "replicates"])
    inner = reader.object("model")
    inner.check_keys(["hyper_parameters", "not_saved", "fitted"])
    _strings(inner, "not_saved")
    model = new_estimator(BAYESNET_MIXTURE, inner.object("hyper_parameters"))
    _load_bayesnet_mixture(model, inner.object("fitted"))
    raw = reader.get("replicates")
    if not isinstance(raw, list):
        raise DataError(f"{reader.where}.replicates must be a list; got {describe(raw)}")
    k = model.params_.n_components
    replicates: list[BayesNetMixtureParams] = []
    for b, entry in enumerate(raw):
        where = f"{reader.where}.replicates[{b}]"
        replicates.append(mixture_params(entry, where, model.dag_, model.params_.n_levels, k))
    return BayesNetBootstrap(model, replicates)


#: The registered codec of :class:`~kmix.estimators.BayesNetBootstrap` (a result, not an
#: estimator: its files have no hyper-parameters of their own).
BAYESNET_BOOTSTRAP = register_codec(
    Codec("BayesNetBootstrap", BayesNetBootstrap, _dump_bootstrap, load_value=_load_bootstrap)
)

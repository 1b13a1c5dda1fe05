"""The :class:`~kmix.causal.DiscoveryResult` codec, registered on import.

A discovered equivalence class is a result, not an estimator: its file has no
hyper-parameters, and its ``fitted`` member holds every field of the result:
the nodes in column order, the directed and undirected edges, each pair's
:class:`~kmix.causal.EdgeEvidence` (in the result's order), the search's
settings and counts, the colliders in conflict, and the score search's BIC,
log-likelihood, dimension and goodness of fit. Floats that may be NaN or
infinite (a pair's largest p-value without a conclusive test, a score margin
of an edge that would close a cycle) are written as ``"NaN"``,
``"Infinity"`` or ``"-Infinity"`` (:func:`~kmix.io._format.float_to_json`).

A loaded result equals the saved one field by field; note that Python's
``==`` on two results holding NaN (e.g. ``max_p``) is ``False`` even for
the same values unless they are the same float object, as for any NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..causal import DiscoveryResult, EdgeEvidence
from ..exceptions import DataError
from ._format import Codec, FieldReader, describe, float_to_json, register_codec

__all__ = ["DISCOVERY_RESULT"]

#: The orientations an adjacent pair may have (None: not adjacent).
ORIENTATIONS = ("->", "<-", "--")
#: The members of ``removed_by``: the test that removed a pair.
_REMOVED_BY = ("a", "b", "given", "statistic", "df", "p_value")
_EVIDENCE = (
    "pair",
    "adjacent",
    "orientation",
    "rule",
    "decided_by",
    "removed_by",
    "max_p",
    "n_tests",
    "score_margin",
)
_FITTED = (
    "nodes",
    "directed",
    "undirected",
    "evidence",
    "n_components",
    "alpha",
    "n_tests",
    "conflicts",
    "method",
    "bic",
    "log_likelihood",
    "dimension",
    "table_dimension",
    "fit_p_value",
)


def _optional_float(value: float | None) -> float | str | None:
    return None if value is None else float_to_json(value)


def _dump_removed_by(removed: dict[str, Any] | None, pair: tuple[str, str]) -> Any:
    """The test that removed ``pair``, as plain JSON (None stays None)."""
    if removed is None:
        return None
    if set(removed) != set(_REMOVED_BY):
        raise DataError(
            f"the evidence of {pair} has removed_by members {sorted(removed)}; a file stores "
            f"exactly {list(_REMOVED_BY)}"
        )
    return {
        "a": [str(v) for v in removed["a"]],
        "b": [str(v) for v in removed["b"]],
        "given": [str(v) for v in removed["given"]],
        "statistic": float_to_json(removed["statistic"]),
        "df": int(removed["df"]),
        "p_value": float_to_json(removed["p_value"]),
    }


def _dump_evidence(ev: EdgeEvidence) -> dict[str, Any]:
    """One pair's evidence as plain JSON."""
    return {
        "pair": list(ev.pair),
        "adjacent": bool(ev.adjacent),
        "orientation": ev.orientation,
        "rule": ev.rule,
        "decided_by": ev.decided_by,
        "removed_by": _dump_removed_by(ev.removed_by, ev.pair),
        "max_p": float_to_json(ev.max_p),
        "n_tests": int(ev.n_tests),
        "score_margin": _optional_float(ev.score_margin),
    }


def _dump_discovery(result: DiscoveryResult) -> dict[str, Any]:
    """The ``fitted`` member of a DiscoveryResult file.

    Parameters
    ----------
    result : DiscoveryResult
        The equivalence class learned by :func:`kmix.causal.discover`.

    Returns
    -------
    dict
        Plain JSON values for every field.
    """
    return {
        "nodes": list(result.nodes),
        "directed": [list(e) for e in result.directed],
        "undirected": [list(e) for e in result.undirected],
        "evidence": [_dump_evidence(ev) for ev in result.evidence.values()],
        "n_components": int(result.n_components),
        "alpha": float_to_json(result.alpha),
        "n_tests": int(result.n_tests),
        "conflicts": [list(c) for c in result.conflicts],
        "method": result.method,
        "bic": _optional_float(result.bic),
        "log_likelihood": _optional_float(result.log_likelihood),
        "dimension": None if result.dimension is None else int(result.dimension),
        "table_dimension": None if result.table_dimension is None else int(result.table_dimension),
        "fit_p_value": _optional_float(result.fit_p_value),
    }


# ------------------------------------------------------------------ reading
def _names(reader: FieldReader, key: str, nodes: Sequence[str]) -> list[str]:
    """A list of distinct node names."""
    value = reader.get(key)
    if (
        not isinstance(value, list)
        or not all(isinstance(v, str) and v in nodes for v in value)
        or len(set(value)) != len(value)
    ):
        raise DataError(
            f"{reader.where}.{key} must list distinct nodes among {list(nodes)}; got "
            f"{describe(value)}"
        )
    return value


def _tuples(
    reader: FieldReader, key: str, size: int, nodes: Sequence[str]
) -> list[tuple[str, ...]]:
    """A list of ``size``-tuples of distinct node names."""
    raw = reader.get(key)
    if not isinstance(raw, list):
        raise DataError(f"{reader.where}.{key} must be a list; got {describe(raw)}")
    items = FieldReader({f"{key}[{i}]": x for i, x in enumerate(raw)}, reader.where)
    out = []
    for i in range(len(raw)):
        names = _names(items, f"{key}[{i}]", nodes)
        if len(names) != size:
            raise DataError(f"{reader.where}.{key}[{i}] must name {size} nodes; got {names}")
        out.append(tuple(names))
    return out


def _optional(reader: FieldReader, key: str, kind: str) -> Any:
    """``None``, or the value read as ``kind`` (``"float"`` or ``"int"``)."""
    if reader.get(key) is None:
        return None
    return reader.float_value(key) if kind == "float" else reader.integer(key, low=0)


def _text(reader: FieldReader, key: str, *, optional: bool = False) -> Any:
    """A string (or, when ``optional``, None)."""
    value = reader.get(key)
    if not (isinstance(value, str) or (optional and value is None)):
        what = "a string or null" if optional else "a string"
        raise DataError(f"{reader.where}.{key} must be {what}; got {describe(value)}")
    return value


def _load_removed_by(reader: FieldReader, nodes: Sequence[str]) -> dict[str, Any]:
    """The test that removed a pair: sides, conditioning set, statistic, df, p-value."""
    reader.check_keys(_REMOVED_BY)
    return {
        "a": _names(reader, "a", nodes),
        "b": _names(reader, "b", nodes),
        "given": _names(reader, "given", nodes),
        "statistic": reader.float_value("statistic"),
        "df": reader.integer("df", low=0),
        "p_value": reader.float_value("p_value"),
    }


def _load_evidence(reader: FieldReader, nodes: Sequence[str]) -> EdgeEvidence:
    """One pair's evidence: its two nodes in column order, consistent adjacency."""
    reader.check_keys(_EVIDENCE)
    pair = _names(reader, "pair", nodes)
    if len(pair) != 2 or nodes.index(pair[0]) > nodes.index(pair[1]):
        raise DataError(
            f"{reader.where}.pair must name two nodes in column order {list(nodes)}; got {pair}"
        )
    adjacent = reader.boolean("adjacent")
    orientation = _text(reader, "orientation", optional=True)
    if not (orientation in ORIENTATIONS if adjacent else orientation is None):
        raise DataError(
            f"{reader.where}.orientation must be one of {list(ORIENTATIONS)} for an adjacent "
            f"pair and null otherwise; got {describe(orientation)} (adjacent={adjacent})"
        )
    removed = reader.get("removed_by")
    where = f"{reader.where}.removed_by"
    return EdgeEvidence(
        (pair[0], pair[1]),
        adjacent,
        orientation,
        _text(reader, "rule", optional=True),
        _text(reader, "decided_by"),
        None if removed is None else _load_removed_by(FieldReader(removed, where), nodes),
        reader.float_value("max_p"),
        reader.integer("n_tests", low=0),
        _optional(reader, "score_margin", "float"),
    )


def _load_discovery(reader: FieldReader) -> DiscoveryResult:
    """Validate the ``fitted`` member of a DiscoveryResult file and rebuild the result.

    Parameters
    ----------
    reader : FieldReader
        Reader over the ``fitted`` member.

    Returns
    -------
    DiscoveryResult
        Equal, field by field, to the saved result.
    """
    reader.check_keys(_FITTED)
    raw_nodes = reader.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise DataError(f"{reader.where}.nodes must be a non-empty list of names")
    nodes = tuple(_names(reader, "nodes", raw_nodes))
    raw = reader.get("evidence")
    if not isinstance(raw, list):
        raise DataError(f"{reader.where}.evidence must be a list; got {describe(raw)}")
    evidence: dict[tuple[str, str], EdgeEvidence] = {}
    for i, entry in enumerate(raw):
        where = f"{reader.where}.evidence[{i}]"
        ev = _load_evidence(FieldReader(entry, where, version=reader.version), nodes)
        if ev.pair in evidence:
            raise DataError(f"{where} repeats the pair {ev.pair}")
        evidence[ev.pair] = ev
    edges = {}
    for key in ("directed", "undirected"):
        edges[key] = tuple((a, b) for a, b in _tuples(reader, key, 2, nodes))
    n_components = reader.integer("n_components", low=1)
    alpha = reader.float_value("alpha")
    if not 0.0 <= alpha <= 1.0:
        raise DataError(f"{reader.where}.alpha must be in [0, 1]; got {alpha!r}")
    conflicts = [(x, m, y) for x, m, y in _tuples(reader, "conflicts", 3, nodes)]
    return DiscoveryResult(
        nodes,
        edges["directed"],
        edges["undirected"],
        evidence,
        n_components,
        alpha,
        reader.integer("n_tests", low=0),
        conflicts,
        _text(reader, "method"),
        _optional(reader, "bic", "float"),
        _optional(reader, "log_likelihood", "float"),
        _optional(reader, "dimension", "int"),
        _optional(reader, "table_dimension", "int"),
        _optional(reader, "fit_p_value", "float"),
    )


#: The registered codec of :class:`~kmix.causal.DiscoveryResult` (a result, not an
#: estimator: its files have no hyper-parameters).
DISCOVERY_RESULT = register_codec(
    Codec("DiscoveryResult", DiscoveryResult, _dump_discovery, load_value=_load_discovery)
)

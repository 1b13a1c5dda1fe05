"""Discovered equivalence classes (kmix.causal.DiscoveryResult) in model files (kmix.io).

References: the in-memory result for the file round trip (``==``, and field
by field where NaN makes ``==`` false for any two distinct floats); the
checks a result's own fields imply, and the stored SHA-256, for malformed
files. The search runs on the exact population table of a four-node
mixture (``method="rank"``: a fraction of a second); the score search's
fields are set on a copy.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kmix import io as kio
from kmix.causal import DiscoveryResult, EdgeEvidence, discover
from kmix.datasets import bayesnet_mixture
from kmix.exceptions import DataError
from kmix.params import DAG
from kmix.solvers.bayesnet.inference import log_prob_rows

#: A collider and an edge out of it: A -> C <- B, C -> D (every edge oriented in the class)
GRAPH = DAG.from_edges(["A", "B", "C", "D"], [("A", "C"), ("B", "C"), ("C", "D")])


@pytest.fixture(scope="module")
def result() -> DiscoveryResult:
    _, truth = bayesnet_mixture(GRAPH, 2, 0, n_levels=3, separation=0.3, random_state=4)
    rows = np.array(list(itertools.product(range(3), repeat=4)), dtype=np.int64)
    weights = (np.exp(log_prob_rows(truth, rows)) @ truth.weights) * 1e6
    labels = np.array(["lo", "mid", "hi"], dtype=object)[rows]
    return discover(
        labels, 2, columns=list("ABCD"), sample_weight=weights, alpha=0.01, method="rank"
    )


@pytest.fixture(scope="module")
def scored(result: DiscoveryResult) -> DiscoveryResult:
    """The result with a score search's fields, NaN and infinities among them."""
    margins = iter([12.5, float("nan"), -math.inf, -3.25, math.inf, 0.0])  # NaN as discover's
    evidence = {
        pair: dataclasses.replace(ev, score_margin=next(margins), decided_by="score")
        for pair, ev in result.evidence.items()
    }
    first = next(iter(evidence))
    evidence[first] = dataclasses.replace(evidence[first], max_p=float("nan"), n_tests=0)
    return dataclasses.replace(
        result,
        evidence=evidence,
        conflicts=[("A", "C", "B")],
        method="score",
        bic=-1234.5,
        log_likelihood=-1200.25,
        dimension=29,
        table_dimension=80,
        fit_p_value=0.375,
    )


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types, NaN equal to NaN (tuples stay tuples, lists lists)."""
    if isinstance(a, (float, np.floating)) and isinstance(b, (float, np.floating)):
        return float(a) == float(b) or (math.isnan(a) and math.isnan(b))
    if type(a) is not type(b):
        return False
    if dataclasses.is_dataclass(a):
        return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_round_trip_gives_an_equal_result(result: DiscoveryResult, tmp_path: Path) -> None:
    """Reference: the in-memory result (without NaN here, so ``==`` holds)."""
    assert any(ev.removed_by is not None for ev in result.evidence.values())
    assert any(ev.rule == "collider" for ev in result.evidence.values())
    loaded = kio.load(kio.save(result, tmp_path / "class.json"))
    assert isinstance(loaded, DiscoveryResult)
    assert loaded == result and _same(loaded, result)
    assert loaded.to_text() == result.to_text()
    assert set(loaded.to_dag().edges) == set(result.to_dag().edges) == set(GRAPH.edges)


def test_round_trip_of_the_score_fields(scored: DiscoveryResult, tmp_path: Path) -> None:
    """Reference: the in-memory result, NaN and infinities included."""
    text = kio.dumps(scored)
    document = json.loads(text)
    assert document["estimator"] == "DiscoveryResult"
    assert document["hyper_parameters"] == {} and document["not_saved"] == []
    margins = [ev["score_margin"] for ev in document["fitted"]["evidence"]]
    assert margins == [12.5, "NaN", "-Infinity", -3.25, "Infinity", 0.0]
    assert document["fitted"]["evidence"][0]["max_p"] == "NaN"
    path = kio.save(scored, tmp_path / "class.json")
    loaded = kio.load(path)
    assert _same(loaded, scored)
    assert loaded.saturated == scored.saturated and str(loaded) == str(scored)
    # ``==`` holds NaN equal only to the same float object (discover's NaN is a fresh one);
    # loading always gives math.nan, so two loads of one file are ``==``
    assert kio.load(path) == loaded


# ----------------------------------------------------------------------- malformed files
@pytest.fixture(scope="module")
def saved(scored: DiscoveryResult) -> str:
    return kio.dumps(scored)


def _resigned(text: str, mutate: Callable[[dict[str, Any]], Any]) -> str:
    """Apply ``mutate`` to the ``fitted`` member and recompute the checksum."""
    document = json.loads(text)
    mutate(document["fitted"])
    document["sha256"] = kio.document_checksum(document)
    return json.dumps(document)


def _evidence(i: int, key: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    def mutate(fitted: dict[str, Any]) -> None:
        fitted["evidence"][i][key] = value

    return mutate


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    def mutate(fitted: dict[str, Any]) -> None:
        fitted[key] = value

    return mutate


def _removed(fitted: dict[str, Any]) -> None:
    ev = next(e for e in fitted["evidence"] if e["removed_by"] is not None)
    ev["removed_by"]["p_value"] = "often"


MALFORMED: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "unknown node in a pair": (
        _evidence(0, "pair", ["A", "Z"]),
        r"fitted\.evidence\[0\]\.pair must list distinct nodes among",
    ),
    "pair out of column order": (
        _evidence(0, "pair", ["B", "A"]),
        r"fitted\.evidence\[0\]\.pair must name two nodes in column order",
    ),
    "repeated pair": (
        lambda f: f["evidence"].append(f["evidence"][0]),
        r"fitted\.evidence\[6\] repeats the pair \('A', 'B'\)",
    ),
    "orientation of a pair apart": (
        _evidence(0, "orientation", "->"),
        r"fitted\.evidence\[0\]\.orientation must be one of",
    ),
    "unknown orientation": (
        _evidence(1, "orientation", "=>"),
        r"fitted\.evidence\[1\]\.orientation must be one of",
    ),
    "adjacency not a boolean": (
        _evidence(0, "adjacent", 1),
        r"fitted\.evidence\[0\]\.adjacent must be true or false",
    ),
    "p-value as text": (_evidence(0, "max_p", "nan"), r"fitted\.evidence\[0\]\.max_p must be"),
    "negative test count": (
        _evidence(2, "n_tests", -1),
        r"fitted\.evidence\[2\]\.n_tests must be >= 0",
    ),
    "removed_by p-value": (_removed, r"fitted\.evidence\[\d\]\.removed_by\.p_value must be"),
    "removed_by member missing": (
        lambda f: next(e for e in f["evidence"] if e["removed_by"])["removed_by"].pop("df"),
        r"fitted\.evidence\[\d\]\.removed_by lacks \['df'\]",
    ),
    "edge of three nodes": (
        _set("directed", [["A", "B", "C"]]),
        r"fitted\.directed\[0\] must name 2 nodes",
    ),
    "edge to an unknown node": (
        _set("undirected", [["A", "Q"]]),
        r"fitted\.undirected\[0\] must list distinct nodes",
    ),
    "conflict of two nodes": (
        _set("conflicts", [["A", "B"]]),
        r"fitted\.conflicts\[0\] must name 3 nodes",
    ),
    "alpha out of range": (_set("alpha", 2.0), r"fitted\.alpha must be in \[0, 1\]"),
    "no components": (_set("n_components", 0), r"fitted\.n_components must be >= 1"),
    "dimension as a float": (_set("dimension", 2.5), r"fitted\.dimension must be an integer"),
    "method not text": (_set("method", None), r"fitted\.method must be a string"),
    "repeated nodes": (_set("nodes", ["A", "A"]), r"fitted\.nodes must list distinct nodes"),
    "unknown member": (_set("secret", 1), r"fitted has unknown members \['secret'\]"),
    "incomplete": (lambda f: f.pop("bic"), r"fitted lacks \['bic'\]"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_are_refused_naming_the_member(
    case: str, saved: str, tmp_path: Path
) -> None:
    """Reference: what the result's own fields imply; the message names file and member."""
    mutate, message = MALFORMED[case]
    path = tmp_path / "bad.json"
    path.write_text(_resigned(saved, mutate))
    with pytest.raises(DataError, match=message) as info:
        kio.load(path)
    assert str(path) in str(info.value)


def test_hyper_parameters_are_refused(saved: str, tmp_path: Path) -> None:
    """Reference: a result has none; a file claiming some was not written by kmix."""
    document = json.loads(saved)
    document["hyper_parameters"] = {"alpha": 0.05}
    document["sha256"] = kio.document_checksum(document)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(DataError, match=r"a DiscoveryResult has no hyper-parameters"):
        kio.load(path)


def test_tampering_without_a_new_checksum_is_caught(saved: str, tmp_path: Path) -> None:
    """Reference: the stored SHA-256."""
    document = json.loads(saved)
    document["fitted"]["directed"] = []
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(DataError, match="checksum mismatch"):
        kio.load(path)


def test_the_fields_have_the_search_s_types(saved: str) -> None:
    """Reference: the types :func:`kmix.causal.discover` returns (tuples stay tuples)."""
    loaded = kio.from_document(json.loads(saved))
    assert all(isinstance(ev, EdgeEvidence) for ev in loaded.evidence.values())
    assert all(
        type(pair) is tuple and type(ev.pair) is tuple for pair, ev in loaded.evidence.items()
    )
    assert type(loaded.nodes) is tuple and all(type(e) is tuple for e in loaded.directed)
    assert type(loaded.conflicts) is list and type(loaded.conflicts[0]) is tuple

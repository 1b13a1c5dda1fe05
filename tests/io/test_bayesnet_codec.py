"""Mixtures of Bayesian networks (BayesNetMixture) and their bootstraps in model files (kmix.io).

References: the in-memory model for the file round trip (every fitted array
bit for bit, hence identical queries, scores, samples and bootstrap
refits); the validation a fresh fit passes, and the stored SHA-256, for
malformed files.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kmix import io as kio
from kmix.datasets import bayesnet_mixture, random_sparse_dag
from kmix.estimators import BayesNetBootstrap, BayesNetMixture
from kmix.exceptions import DataError

DAG_ = random_sparse_dag(5, 2, random_state=3)


def _data(gaps: bool = False) -> dict[str, np.ndarray]:
    X, truth = bayesnet_mixture(DAG_, 2, 3_000, separation=0.2, random_state=3)
    labels = np.where(X == 1, "yes", "no").astype(object)
    if gaps:  # every seventh row misses its last node
        labels[::7, -1] = None
    return {c: labels[:, j] for j, c in enumerate(truth.columns)}


def _fit(**options: Any) -> tuple[BayesNetMixture, dict[str, np.ndarray]]:
    data = _data(gaps=options.pop("gaps", False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BayesNetMixture(DAG_, 2, random_state=0, **options).fit(data), data


@pytest.fixture(scope="module")
def fitted() -> tuple[BayesNetMixture, dict[str, np.ndarray]]:
    return _fit()


def _loaded(model: Any, tmp_path: Path) -> Any:
    return kio.load(kio.save(model, tmp_path / "model.json"))


def _same_reduction(a: Any, b: Any) -> None:
    """Every field of two reductions equal (arrays bit for bit)."""
    assert a.params == b.params
    assert a.cpt_support == b.cpt_support and a.defaults == b.defaults
    assert a.spread == b.spread and list(a.spread) == list(b.spread)
    assert a.alignment_conflicts == b.alignment_conflicts and a.uncovered == b.uncovered
    for runs_a, runs_b in ((a.runs, b.runs), (a.dropped, b.dropped)):
        assert len(runs_a) == len(runs_b)
        for r, s in zip(runs_a, runs_b, strict=True):
            for name in ("target", "members", "cond", "assignment", "given", "ess"):
                assert getattr(r, name) == getattr(s, name), name
            assert r.log_likelihood == s.log_likelihood
            assert (r.weights is None) == (s.weights is None)
            if r.weights is not None:
                assert np.array_equal(r.weights, s.weights)
                assert list(r.probs) == list(s.probs)
                assert all(np.array_equal(r.probs[w], s.probs[w]) for w in r.probs)
            assert r.keys == s.keys


def test_round_trip_reproduces_the_model(fitted: Any, tmp_path: Path) -> None:
    """Reference: the in-memory model; every fitted value and every query equal."""
    model, data = fitted
    loaded = _loaded(model, tmp_path)
    assert isinstance(loaded, BayesNetMixture)
    # the DAG hyper-parameter (a DAG object) has no JSON form: the fitted graph stands in
    assert loaded.get_params() == model.get_params()
    assert loaded.params_ == model.params_ and loaded.dag_ == model.dag_
    assert loaded.dag_.parents == model.dag_.parents
    assert np.array_equal(loaded.weights_, model.weights_)
    for v in model.columns_:
        assert np.array_equal(loaded.cpds_[v], model.cpds_[v])
        assert loaded.categories_[v].dtype == model.categories_[v].dtype
        assert loaded.categories_[v].tolist() == model.categories_[v].tolist()
    for name in (
        "columns_",
        "columns_in_",
        "n_features_in_",
        "n_missing_",
        "n_rows_dropped_",
        "n_rows_",
        "identifiability_",
        "cpt_identifiability_",
        "log_likelihood_",
        "restart_log_likelihoods_",
        "converged_",
        "n_iter_",
        "n_samples_",
    ):
        assert getattr(loaded, name) == getattr(model, name), name
    if hasattr(model, "log_likelihood_history_"):
        assert np.array_equal(loaded.log_likelihood_history_, model.log_likelihood_history_)
    # the sufficient statistic, dtype included
    assert loaded._values.dtype == model._values.dtype
    assert np.array_equal(loaded._values, model._values)
    assert np.array_equal(loaded._counts, model._counts)
    _same_reduction(loaded.reduction_, model.reduction_)
    # every query, bit for bit
    assert np.array_equal(loaded.predict_proba(data), model.predict_proba(data))
    assert np.array_equal(loaded.score_samples(data), model.score_samples(data))
    assert loaded.n_parameters() == model.n_parameters()
    for x, y in model.dag_.edges:
        for do in model.categories_[x]:
            for per_source in (False, True):
                got = loaded.interventional(y, {x: do}, per_source=per_source)
                assert np.array_equal(got, model.interventional(y, {x: do}, per_source=per_source))
        assert loaded.ate(x, y) == model.ate(x, y)
        assert np.array_equal(loaded.ate(x, y, per_source=True), model.ate(x, y, per_source=True))
        assert loaded.naive_ate(x, y) == model.naive_ate(x, y)
    for v in model.columns_:
        table, expected = loaded.cpd_table(v), model.cpd_table(v)
        assert list(table) == list(expected)
        for key in expected:
            assert table[key].dtype == expected[key].dtype
            assert np.array_equal(table[key], expected[key])
    rows, sources = loaded.sample(50)
    rows0, sources0 = model.sample(50)
    assert np.array_equal(sources, sources0)
    assert all(np.array_equal(rows[v], rows0[v]) for v in rows0)


def test_a_loaded_model_bootstraps_as_the_fitted_one(fitted: Any, tmp_path: Path) -> None:
    """Reference: the original model's bootstrap with the same seed (the stored rows)."""
    model, _ = fitted
    loaded = _loaded(model, tmp_path)
    ours = loaded.bootstrap(3, random_state=1).replicates
    theirs = model.bootstrap(3, random_state=1).replicates
    assert len(ours) == len(theirs) == 3
    assert all(a == b for a, b in zip(ours, theirs, strict=True))


def test_missing_values_round_trip(tmp_path: Path) -> None:
    """Reference: a full-information fit on rows with gaps; the -1 codes are stored."""
    model, data = _fit(gaps=True)
    assert model.n_missing_[model.columns_in_[-1]] > 0 and np.any(model._values < 0)
    loaded = _loaded(model, tmp_path)
    assert loaded.n_missing_ == model.n_missing_
    assert np.array_equal(loaded._values, model._values)
    assert np.array_equal(loaded.predict_proba(data), model.predict_proba(data))
    assert np.array_equal(loaded.score_samples(data), model.score_samples(data))


def test_random_start_has_no_reduction(tmp_path: Path) -> None:
    """Reference: ``init="random"`` leaves ``reduction_`` None, and so does loading."""
    model, data = _fit(init="random")
    assert model.reduction_ is None
    loaded = _loaded(model, tmp_path)
    assert loaded.reduction_ is None and loaded.identifiability_ == model.identifiability_
    assert np.array_equal(loaded.predict_proba(data), model.predict_proba(data))


def test_optional_and_non_finite_members(fitted: Any, tmp_path: Path) -> None:
    """Reference: the model's own attributes; a fit without a history loads without one."""
    model = copy.deepcopy(fitted[0])
    model.restart_log_likelihoods_ = [-np.inf, *model.restart_log_likelihoods_]
    if hasattr(model, "log_likelihood_history_"):
        del model.log_likelihood_history_
    document = json.loads(kio.dumps(model))
    assert "log_likelihood_history_" not in document["fitted"]
    assert document["fitted"]["restart_log_likelihoods_"][0] == "-Infinity"
    loaded = _loaded(model, tmp_path)
    assert loaded.restart_log_likelihoods_ == model.restart_log_likelihoods_
    assert not hasattr(loaded, "log_likelihood_history_")
    model.log_likelihood_history_ = np.array([-2.0, -1.5, -1.25])
    assert np.array_equal(_loaded(model, tmp_path).log_likelihood_history_, [-2.0, -1.5, -1.25])


def test_an_unfitted_model_is_refused() -> None:
    with pytest.raises(DataError, match="not fitted"):
        kio.dumps(BayesNetMixture(DAG_, 2))


# ---------------------------------------------------------------------------- bootstrap
@pytest.fixture(scope="module")
def boot(fitted: Any) -> BayesNetBootstrap:
    return fitted[0].bootstrap(4, random_state=0)


def test_bootstrap_round_trip_gives_the_same_intervals(boot: Any, tmp_path: Path) -> None:
    """Reference: the in-memory bootstrap; its replicates and every interval equal."""
    loaded = _loaded(boot, tmp_path)
    assert isinstance(loaded, BayesNetBootstrap) and isinstance(loaded.model, BayesNetMixture)
    assert len(loaded.replicates) == len(boot.replicates)
    assert all(a == b for a, b in zip(loaded.replicates, boot.replicates, strict=True))
    x, y = boot.model.dag_.edges[0]
    assert loaded.ate(x, y, level=0.5) == boot.ate(x, y, level=0.5)
    do = {x: boot.model.categories_[x][1]}
    for a, b in zip(
        loaded.interventional(y, do, level=0.5), boot.interventional(y, do, level=0.5), strict=True
    ):
        assert np.array_equal(a, b)
    for a, b in zip(loaded.weights(level=0.5), boot.weights(level=0.5), strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(loaded.model.predict_proba(_data()), boot.model.predict_proba(_data()))


def test_bootstrap_document_embeds_the_model(boot: Any) -> None:
    """Reference: the file layout; a result has no hyper-parameters of its own."""
    document = json.loads(kio.dumps(boot))
    assert document["estimator"] == "BayesNetBootstrap"
    assert document["hyper_parameters"] == {} and document["not_saved"] == []
    inner = document["fitted"]["model"]
    assert inner["hyper_parameters"]["n_components"] == 2 and inner["not_saved"] == ["dag"]
    assert inner["fitted"] == json.loads(kio.dumps(boot.model))["fitted"]
    assert len(document["fitted"]["replicates"]) == len(boot.replicates)


# ----------------------------------------------------------------------- malformed files
@pytest.fixture(scope="module")
def saved(fitted: Any, boot: Any) -> dict[str, str]:
    return {"model": kio.dumps(fitted[0]), "boot": kio.dumps(boot)}


def _resigned(text: str, mutate: Callable[[dict[str, Any]], None]) -> str:
    """Apply ``mutate`` to the whole document and recompute the checksum."""
    document = json.loads(text)
    mutate(document)
    document["sha256"] = kio.document_checksum(document)
    return json.dumps(document)


def _at(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set the member at a dotted path (list indices as numbers); ``...`` deletes it."""

    def mutate(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = document
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        key_: Any = int(last) if isinstance(node, list) else last
        if value is ...:
            del node[key_]
        else:
            node[key_] = value

    return mutate


def _first_node(document: dict[str, Any]) -> str:
    return str(document["fitted"]["dag_"]["nodes"][0])


def _cpt_row(document: dict[str, Any]) -> None:
    node = _first_node(document)  # a root: its CPT is (k, levels)
    document["fitted"]["cpds_"][node][0] = [0.5, 0.7]


def _cycle(document: dict[str, Any]) -> None:
    dag = document["fitted"]["dag_"]
    child = next(v for v in dag["nodes"] if dag["parents"][v])
    dag["parents"][dag["parents"][child][0]].append(child)  # parent -> child -> parent


def _unsorted_nodes(document: dict[str, Any]) -> None:
    dag = document["fitted"]["dag_"]
    child = next(v for v in dag["nodes"] if dag["parents"][v])
    dag["nodes"].remove(child)
    dag["nodes"].insert(0, child)


def _extra_level(document: dict[str, Any]) -> None:
    document["fitted"]["categories_"][_first_node(document)]["values"].append("zzz")


MALFORMED: dict[str, tuple[str, Callable[[dict[str, Any]], None], str]] = {
    "CPT row not summing to one": (
        "model",
        _cpt_row,
        r"fitted\.cpds_: the CPT of '\w+' has a row .* summing to 1\.2",
    ),
    "weights not on the simplex": (
        "model",
        _at("fitted.weights_", [0.5, 0.6]),
        r"fitted\.weights_: weights must sum to 1",
    ),
    "weights of three sources": (
        "model",
        _at("fitted.weights_", [0.2, 0.3, 0.5]),
        r"n_components=2 but weights_ has 3",
    ),
    "a cycle": ("model", _cycle, r"fitted\.dag_: the graph has a directed cycle"),
    "nodes out of order": ("model", _unsorted_nodes, r"fitted\.dag_\.nodes must list the nodes"),
    "levels of another shape": (
        "model",
        _extra_level,
        r"fitted\.cpds_: the CPT of '\w+' has shape \(2, 2\); expected \(2, 3\)",
    ),
    "a node without levels": (
        "model",
        lambda d: d["fitted"]["categories_"].popitem(),
        r"fitted\.categories_ must have one member per node",
    ),
    "a column missing": (
        "model",
        lambda d: d["fitted"]["columns_in_"].pop(),
        r"fitted\.columns_in_ must list the 5 columns",
    ),
    "a code out of range": (
        "model",
        _at("fitted.rows.values.0.0", 5),
        r"fitted\.rows\.values\[0\]\[0\] = 5 is not a level code",
    ),
    "a code that is no integer": (
        "model",
        _at("fitted.rows.values.0.0", 0.5),
        r"fitted\.rows\.values must be a non-empty \(n_rows, 5\) array of integer",
    ),
    "rows of a float dtype": (
        "model",
        _at("fitted.rows.dtype", "<f8"),
        r"fitted\.rows\.dtype must be one of",
    ),
    "a negative count": (
        "model",
        _at("fitted.rows.counts.0", -1.0),
        r"fitted\.rows\.counts must be \d+ positive numbers",
    ),
    "total weight off the counts": (
        "model",
        _at("fitted.n_samples_", 1.0),
        r"fitted\.n_samples_ = 1\.0 but the rows' counts sum to 3000\.0",
    ),
    "negative missing count": (
        "model",
        lambda d: d["fitted"]["n_missing_"].update({_first_node(d): -1}),
        r"fitted\.n_missing_\.\w+ must be >= 0",
    ),
    "identifiability not text": (
        "model",
        _at("fitted.identifiability_", 5),
        r"fitted\.identifiability_ must be a string",
    ),
    "per-CPT identifiability of an unknown node": (
        "model",
        _at("fitted.cpt_identifiability_.ghost", "runs"),
        r"fitted\.cpt_identifiability_ must map nodes of the DAG to strings",
    ),
    "history not numbers": (
        "model",
        _at("fitted.log_likelihood_history_", ["x"]),
        r"fitted\.log_likelihood_history_ must be a list of numbers",
    ),
    "restarts not numbers": (
        "model",
        _at("fitted.restart_log_likelihoods_", [True]),
        r"fitted\.restart_log_likelihoods_ must be a list of numbers",
    ),
    "a run's weights off the simplex": (
        "model",
        _at("fitted.reduction_.runs.0.weights", [0.9, 0.9]),
        r"fitted\.reduction_\.runs\[0\]\.weights: weights must sum to 1",
    ),
    "a run's unknown member": (
        "model",
        _at("fitted.reduction_.runs.0.members", ["ghost"]),
        r"fitted\.reduction_\.runs\[0\]\.members must list distinct names",
    ),
    "a run's probabilities of another shape": (
        "model",
        lambda d: d["fitted"]["reduction_"]["runs"][0]["probs"].update(
            {m: [[1.0]] for m in d["fitted"]["reduction_"]["runs"][0]["members"]}
        ),
        r"fitted\.reduction_\.runs\[0\]\.probs\.\w+ must have shape \(2, 2\)",
    ),
    "a negative spread": (
        "model",
        _at("fitted.reduction_.spread.0.spread", -1.0),
        r"fitted\.reduction_\.spread\[0\]\.spread must be >= 0",
    ),
    "an uncovered row of another length": (
        "model",
        lambda d: d["fitted"]["reduction_"]["uncovered"].append([_first_node(d), [0, 0]]),
        r"fitted\.reduction_\.uncovered\[0\]\.row must hold one level code per node of \[\]",
    ),
    "reduction parameters off the simplex": (
        "model",
        _at("fitted.reduction_.params.weights", [0.1, 0.1]),
        r"fitted\.reduction_\.params\.weights: weights must sum to 1",
    ),
    "unknown member": ("model", _at("fitted.secret_", 1), r"fitted has unknown members"),
    "incomplete": ("model", _at("fitted.rows", ...), r"fitted lacks \['rows'\]"),
    "a replicate's CPT row": (
        "boot",
        lambda d: d["fitted"]["replicates"][1]["cpts"][0].__setitem__(0, [0.5, 0.7]),
        r"fitted\.replicates\[1\]: the CPT of '\w+' has a row",
    ),
    "a replicate's weights": (
        "boot",
        _at("fitted.replicates.0.weights", [1.0]),
        r"fitted\.replicates\[0\]\.weights: weights has 1 entries",
    ),
    "the embedded model's member": (
        "boot",
        _at("fitted.model.fitted.n_rows_", 0),
        r"fitted\.model\.fitted\.n_rows_ must be >= 1",
    ),
    "the embedded model's hyper-parameter": (
        "boot",
        _at("fitted.model.hyper_parameters.secret", 1),
        r"fitted\.model\.hyper_parameters has unknown names \['secret'\]",
    ),
    "hyper-parameters of a result": (
        "boot",
        _at("hyper_parameters", {"n_components": 2}),
        r"a BayesNetBootstrap has no hyper-parameters",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_are_refused_naming_the_member(
    case: str, saved: dict[str, str], tmp_path: Path
) -> None:
    """Reference: the validation a fresh fit passes; the message names file and member."""
    kind, mutate, message = MALFORMED[case]
    path = tmp_path / "bad.json"
    path.write_text(_resigned(saved[kind], mutate))
    with pytest.raises(DataError, match=message) as info:
        kio.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("kind", ["model", "boot"])
def test_tampering_without_a_new_checksum_is_caught(
    kind: str, saved: dict[str, str], tmp_path: Path
) -> None:
    """Reference: the stored SHA-256."""
    document = json.loads(saved[kind])
    fitted = document["fitted"]["model"]["fitted"] if kind == "boot" else document["fitted"]
    fitted["weights_"] = fitted["weights_"][::-1]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(DataError, match="checksum mismatch"):
        kio.load(path)


def test_the_helpers_alone_leave_a_loadable_file(saved: dict[str, str], tmp_path: Path) -> None:
    """Reference: re-signing an unchanged document changes nothing."""
    for kind, text in saved.items():
        path = tmp_path / f"{kind}.json"
        path.write_text(_resigned(text, lambda document: None))
        assert isinstance(kio.load(path), BayesNetBootstrap if kind == "boot" else BayesNetMixture)

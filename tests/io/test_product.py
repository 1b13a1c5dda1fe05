"""Latent class models (ProductMixture) in model files (kmix.io).

References: the in-memory model for the file round trip; the validation a
fresh fit passes, and the stored SHA-256, for malformed files.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kmix import io as kio
from kmix.datasets import carcinoma, stouffer_toby
from kmix.estimators import ProductMixture
from kmix.exceptions import DataError
from tests.helpers.latent_class import LEVELS, three_level


def _fitted(kind: str) -> tuple[ProductMixture, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "binary":
            X = stouffer_toby().expand()
            return ProductMixture(2, n_init=2, random_state=0).fit(X), X
        X, _ = three_level()
        return ProductMixture(2, random_state=0).fit(X), X


@pytest.mark.parametrize("kind", ["binary", "text"])
def test_round_trip_reproduces_the_model(kind: str, tmp_path: Path) -> None:
    """Reference: the in-memory model; every fitted array and every posterior equal."""
    model, X = _fitted(kind)
    path = kio.save(model, tmp_path / "model.json")
    loaded = kio.load(path)
    assert isinstance(loaded, ProductMixture)
    assert loaded.get_params() == model.get_params()
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert np.array_equal(loaded.score_samples(X), model.score_samples(X))
    assert len(loaded.categories_) == len(model.categories_)
    for a, b in zip(loaded.categories_, model.categories_, strict=True):
        assert a.dtype == b.dtype and a.tolist() == b.tolist()
    if kind == "binary":
        assert isinstance(loaded.probs_, np.ndarray) and loaded.probs_.shape == (2, 4)
        assert np.array_equal(loaded.probs_, model.probs_)
        assert np.array_equal(loaded.moment_probs_, model.moment_probs_)
    else:
        assert [c.tolist() for c in loaded.categories_] == [LEVELS.tolist()] * 6
        assert isinstance(loaded.probs_, list) and len(loaded.probs_) == 6
        for a, b in zip(loaded.probs_, model.probs_, strict=True):
            assert np.array_equal(a, b)
        for a, b in zip(loaded.moment_probs_, model.moment_probs_, strict=True):
            assert np.array_equal(a, b)
    assert np.array_equal(loaded.weights_, model.weights_)
    assert np.array_equal(loaded.moment_weights_, model.moment_weights_)
    assert loaded.signal_to_noise_ == model.signal_to_noise_
    for name in (
        "log_likelihood_",
        "n_samples_",
        "converged_",
        "n_iter_",
        "identifiability_",
        "n_rows_dropped_",
        "views_",
        "restart_log_likelihoods_",
        "n_starts_",
        "misfit_",
        "n_polish_iter_",
        "n_features_in_",
    ):
        assert getattr(loaded, name) == getattr(model, name), name
    assert np.array_equal(loaded.singular_values_, model.singular_values_)
    assert loaded.eigengap_ == model.eigengap_
    assert loaded.bic() == model.bic() and loaded.aic() == model.aic()
    assert np.array_equal(loaded.sample(20)[0], model.sample(20)[0])
    unseen = X.copy()
    unseen[0, 0] = "other" if kind == "text" else 2
    with pytest.raises(DataError, match=r"X\[0, 0\] = .* is a level not seen in fit"):
        loaded.predict_proba(unseen)


def test_round_trip_without_the_moment_step(tmp_path: Path) -> None:
    """Reference: a random-start fit has no moment answer, and NaN eigengap survives."""
    X = carcinoma().expand()
    model = ProductMixture(2, init="random", random_state=0).fit(X)
    assert not hasattr(model, "moment_weights_") and np.isnan(model.eigengap_)
    loaded = kio.load(kio.save(model, tmp_path / "m.json"))
    assert not hasattr(loaded, "moment_weights_") and np.isnan(loaded.eigengap_)
    assert loaded.views_ == [] and loaded.singular_values_.shape == (0,)
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_feature_names_are_stored(tmp_path: Path) -> None:
    """Reference: the names set on the model (as a DataFrame fit sets them)."""
    X = carcinoma().expand()
    model = ProductMixture(2, random_state=0).fit(X)
    model.feature_names_in_ = np.array(list("ABCDEFG"), dtype=object)
    loaded = kio.load(kio.save(model, tmp_path / "m.json"))
    assert loaded.feature_names_in_.dtype == object
    assert loaded.feature_names_in_.tolist() == list("ABCDEFG")
    document = json.loads(kio.dumps(model))
    assert document["fitted"]["feature_names_in_"] == list("ABCDEFG")


def test_feature_names_survive(tmp_path: Path) -> None:
    """Reference: the column names of the DataFrame the model saw."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(carcinoma().expand(), columns=list("ABCDEFG"))
    model = ProductMixture(2, random_state=0).fit(frame)
    loaded = kio.load(kio.save(model, tmp_path / "m.json"))
    assert loaded.feature_names_in_.tolist() == list("ABCDEFG")
    assert np.array_equal(loaded.predict_proba(frame), model.predict_proba(frame))


# ----------------------------------------------------------------------- malformed files
@pytest.fixture(scope="module")
def saved() -> dict[str, str]:
    return {kind: kio.dumps(_fitted(kind)[0]) for kind in ("binary", "text")}


def _resigned(text: str, mutate: Callable[[dict[str, Any]], None]) -> str:
    """Apply ``mutate`` and recompute the checksum, so the checks behind it are reached."""
    document = json.loads(text)
    mutate(document["fitted"])
    document["sha256"] = kio.document_checksum(document)
    return json.dumps(document)


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(fitted: dict[str, Any]) -> None:
        fitted[key] = value

    return mutate


def _set_row(key: str, j: int, u: int, row: list[float]) -> Callable[[dict[str, Any]], None]:
    def mutate(fitted: dict[str, Any]) -> None:
        fitted[key][j][u] = row

    return mutate


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(fitted: dict[str, Any]) -> None:
        del fitted[key]

    return mutate


MALFORMED: dict[str, tuple[str, Callable[[dict[str, Any]], None], str]] = {
    "row not summing to one": (
        "binary",
        _set_row("probs_", 2, 1, [0.5, 0.7]),
        r"fitted\.probs_\[2\]: row 1 \(class 1\) sums to 1\.2",
    ),
    "three-level row not summing to one": (
        "text",
        _set_row("probs_", 4, 0, [0.2, 0.2, 0.2]),
        r"fitted\.probs_\[4\]: row 0 .*sums to 0\.6",
    ),
    "moment row not summing to one": (
        "binary",
        _set_row("moment_probs_", 0, 0, [0.1, 0.1]),
        r"fitted\.moment_probs_\[0\]: row 0",
    ),
    "negative probability": (
        "binary",
        _set_row("probs_", 0, 0, [-0.5, 1.5]),
        r"fitted\.probs_\[0\] must hold probabilities in \[0, 1\]",
    ),
    "wrong number of items": (
        "binary",
        _set("probs_", [[[0.5, 0.5]] * 2] * 3),
        r"fitted\.probs_ must be a list of 4",
    ),
    "ragged probabilities": (
        "binary",
        _set_row("probs_", 1, 0, [1.0]),
        r"fitted\.probs_\[1\] must be a rectangular",
    ),
    "levels do not match": (
        "text",
        _set("categories_", [{"dtype": "object", "values": ["hi", "lo"]}] * 6),
        r"fitted\.categories_\[0\]\.values must list the 3 levels",
    ),
    "unsorted levels": (
        "text",
        _set("categories_", [{"dtype": "object", "values": ["lo", "hi", "mid"]}] * 6),
        r"fitted\.categories_\[0\]\.values must list distinct levels in sorted order",
    ),
    "weights not on the simplex": (
        "binary",
        _set("weights_", [0.5, 0.6]),
        r"fitted\.weights_: weights must sum to 1",
    ),
    "weights of three classes": (
        "binary",
        _set("weights_", [0.2, 0.3, 0.5]),
        r"n_components=2 but weights_ has 3",
    ),
    "moment weights alone": (
        "binary",
        _drop("moment_probs_"),
        r"both moment_weights_ and moment_probs_",
    ),
    "view out of range": (
        "binary",
        _set("views_", [[[0], [1], [9]]]),
        r"fitted\.views_\[0\] must be three disjoint",
    ),
    "overlapping views": (
        "binary",
        _set("views_", [[[0], [0], [1]]]),
        r"fitted\.views_\[0\] must be three disjoint",
    ),
    "increasing singular values": (
        "binary",
        _set("singular_values_", [0.1, 0.3]),
        r"fitted\.singular_values_ must be",
    ),
    "positive log-likelihood": (
        "binary",
        _set("log_likelihood_", 3.0),
        r"fitted\.log_likelihood_ must be <= 0",
    ),
    "identifiability not text": (
        "binary",
        _set("identifiability_", 5),
        r"fitted\.identifiability_ must be a string",
    ),
    "negative rows dropped": (
        "binary",
        _set("n_rows_dropped_", -1),
        r"fitted\.n_rows_dropped_ must be >= 0",
    ),
    "feature names of the wrong length": (
        "binary",
        _set("feature_names_in_", ["A"]),
        r"fitted\.feature_names_in_ must be a list of 4 strings",
    ),
    "unknown member": ("binary", _set("secret_", 1), r"fitted has unknown members \['secret_'\]"),
    "incomplete": ("binary", _drop("categories_"), r"fitted lacks \['categories_'\]"),
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


def test_tampering_without_a_new_checksum_is_caught(saved: dict[str, str], tmp_path: Path) -> None:
    """Reference: the stored SHA-256."""
    document = json.loads(saved["binary"])
    document["fitted"]["probs_"][2][1] = [0.5, 0.7]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(DataError, match="checksum mismatch"):
        kio.load(path)


def test_the_helpers_alone_leave_a_loadable_file(saved: dict[str, str], tmp_path: Path) -> None:
    """Reference: re-signing an unchanged document changes nothing."""
    for kind, text in saved.items():
        path = tmp_path / f"{kind}.json"
        path.write_text(_resigned(text, lambda fitted: None))
        assert isinstance(kio.load(path), ProductMixture)


@pytest.mark.parametrize("kind", ["binary", "moments-only", "covariates"])
def test_log_likelihood_history_round_trips_bit_for_bit(kind: str, tmp_path: Path) -> None:
    """Reference: the saved array's bytes; files written before the member existed load
    without it (it is optional)."""
    if kind == "binary":
        model = _fitted("binary")[0]
    else:
        X = carcinoma().expand()
        if kind == "moments-only":
            model = ProductMixture(2, refine=None, random_state=0).fit(X)
        else:
            z = np.random.default_rng(0).normal(size=(X.shape[0], 1))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = ProductMixture(2, random_state=0).fit(X, covariates=z)
    loaded = kio.load(kio.save(model, tmp_path / "model.json"))
    got, want = loaded.log_likelihood_history_, model.log_likelihood_history_
    assert got.dtype == want.dtype == np.float64 and got.tobytes() == want.tobytes()
    older = kio.from_document(
        json.loads(
            _resigned(kio.dumps(model), lambda fitted: fitted.pop("log_likelihood_history_"))
        )
    )
    assert not hasattr(older, "log_likelihood_history_")
    assert older.log_likelihood_ == model.log_likelihood_

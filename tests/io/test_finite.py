"""Model files: save/load round trips and the rejection of malformed files.

Reference for the round trips: identity. A loaded model must reproduce the
saved model's fitted arrays bit for bit, hence identical ``predict_proba``,
``score_samples`` and ``sample``. Reference for the malformed files: each
defect must surface as :class:`DataError` naming it, never as a crash or a
silently wrong model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kmix import io
from kmix.datasets import make_mixture
from kmix.estimators import FiniteMixture
from kmix.exceptions import DataError


def _fit(family: str, **options: Any) -> tuple[FiniteMixture, np.ndarray]:
    extra = {k: options.pop(k) for k in ("n_trials", "covariance_type") if k in options}
    X, _ = make_mixture(family, 400, 2, 3, random_state=0, **extra, **options)
    model = FiniteMixture(2, family=family, random_state=0, max_iter=5000, **extra).fit(X)
    return model, X


def _string_categorical(dtype: Any = object) -> tuple[FiniteMixture, np.ndarray]:
    codes, _ = make_mixture("categorical", 300, 2, 2, n_levels=3, random_state=1)
    labels = np.array(["high", "low", "mid"], dtype=dtype)
    X = labels[codes]
    # two items cannot identify two classes; the round trip is what is tested here
    model = FiniteMixture(2, family="categorical", random_state=0, allow_unidentified=True)
    with pytest.warns(UserWarning, match="not identifiable"):
        return model.fit(X), X


def _with_gaps(family: str, **options: Any) -> tuple[FiniteMixture, np.ndarray]:
    """A fit by full-information maximum likelihood; X keeps its gaps for the predictions."""
    X, _ = make_mixture(family, 600, 2, 5, random_state=2, **options)
    X = X.astype(np.float64)
    X[np.random.default_rng(2).random(X.shape) < 0.25] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 1.0
    model = FiniteMixture(2, family=family, random_state=0, max_iter=5000, **options)
    return model.fit(X), X


CASES: dict[str, Callable[[], tuple[FiniteMixture, np.ndarray]]] = {
    "bernoulli": lambda: _fit("bernoulli"),
    "categorical-codes": lambda: _fit("categorical"),
    "categorical-strings": _string_categorical,
    "categorical-unicode-array": lambda: _string_categorical(np.str_),
    "binomial": lambda: _fit("binomial", n_trials=10),
    "poisson": lambda: _fit("poisson"),
    "gaussian-full": lambda: _fit("gaussian", covariance_type="full"),
    "gaussian-diag": lambda: _fit("gaussian", covariance_type="diag"),
    "bernoulli-gaps": lambda: _with_gaps("bernoulli"),
    "categorical-gaps": lambda: _with_gaps("categorical"),
    "gaussian-full-gaps": lambda: _with_gaps("gaussian", covariance_type="full"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip_reproduces_every_prediction(case: str, tmp_path: Path) -> None:
    """Reference: identity; the loaded model is the saved model."""
    model, X = CASES[case]()
    path = io.save(model, tmp_path / "model.json")
    loaded = io.load(path)
    assert type(loaded) is FiniteMixture
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    drawn, labels = loaded.sample(50, random_state=3)
    expected, expected_labels = model.sample(50, random_state=3)
    np.testing.assert_array_equal(drawn, expected)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_array_equal(loaded.weights_, model.weights_)
    assert loaded.params_.to_dict() == model.params_.to_dict()
    assert loaded.bic(X) == model.bic(X)
    for name in ("converged_", "n_iter_", "log_likelihood_", "lower_bound_", "n_samples_"):
        assert getattr(loaded, name) == getattr(model, name), name
    np.testing.assert_array_equal(loaded.history_, model.history_)
    assert loaded.get_params() == {**model.get_params(), "callback": None}
    if hasattr(model, "categories_"):
        for a, b in zip(loaded.categories_, model.categories_, strict=True):
            assert a.tolist() == b.tolist() and a.dtype.kind == b.dtype.kind


def test_string_levels_survive_and_unseen_levels_are_still_refused(tmp_path: Path) -> None:
    """Reference: the training levels; a level never seen in fit is an error after loading too."""
    model, X = _string_categorical()
    loaded = io.load(io.save(model, tmp_path / "m.json"))
    assert [c.tolist() for c in loaded.categories_] == [["high", "low", "mid"]] * 2
    bad = X[:3].copy()
    bad[0, 0] = "unknown"
    with pytest.raises(DataError, match="not seen in fit"):
        loaded.predict(bad)


def test_callback_is_not_saved_and_metadata_is(tmp_path: Path) -> None:
    """Reference: a callable has no JSON form; metadata round-trips unchanged."""
    X = np.array([[1]] * 55 + [[0]] * 45)
    model = FiniteMixture(
        2, family="bernoulli", fixed_params={"p": [[0.8], [0.3]]}, callback=lambda *a: None
    ).fit(X)
    path = io.save(model, tmp_path / "m.json", metadata={"columns": ["colour"]})
    document = json.loads(path.read_text())
    assert document["not_saved"] == ["callback"]
    assert document["hyper_parameters"]["fixed_params"] == {"p": [[0.8], [0.3]]}
    assert io.read_metadata(path) == {"columns": ["colour"]}
    loaded = io.load(path)
    assert loaded.callback is None
    # closed form of the MLE: (0.55 - 0.3) / 0.5
    assert loaded.weights_[0] == pytest.approx(0.5, abs=1e-4)


def test_checksum_covers_the_canonical_content() -> None:
    """Reference: the SHA-256 definition; key order and whitespace do not matter."""
    model, _ = _fit("bernoulli")
    document = io.to_document(model)
    reordered = dict(reversed(list(document.items())))
    assert io.document_checksum(reordered) == document["sha256"]
    document["fitted"]["n_iter_"] += 1
    assert io.document_checksum(document) != document["sha256"]


def test_save_refuses_unfitted_and_unknown_estimators(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not fitted"):
        io.save(FiniteMixture(2), tmp_path / "m.json")
    with pytest.raises(DataError, match="cannot save a dict"):
        io.save({}, tmp_path / "m.json")
    with pytest.raises(DataError, match="does not exist"):
        io.save(_fit("poisson")[0], tmp_path / "missing-dir" / "m.json")


def test_save_to_a_directory_or_without_permission_names_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reference: the path the user gave, in a kmix error (never IsADirectoryError)."""
    import errno
    import os

    from kmix.data import files

    model = _fit("poisson")[0]
    with pytest.raises(DataError, match=rf"model file {tmp_path}: it is a directory"):
        io.save(model, tmp_path)

    def deny(*args: Any, **kwargs: Any) -> int:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(files.os, "open", deny)  # (as root the sandbox permits everything)
    with pytest.raises(DataError, match=r"m\.json: permission denied"):
        io.save(model, tmp_path / "m.json")
    assert not list(tmp_path.iterdir()), "a failed save must leave nothing behind"


# ------------------------------------------------------------ malformed files
@pytest.fixture(scope="module")
def saved_texts() -> dict[str, str]:
    """Model texts of a bernoulli and a categorical fit, to corrupt."""
    return {
        "bernoulli": io.dumps(_fit("bernoulli")[0]),
        "categorical": io.dumps(_string_categorical()[0]),
    }


def _resigned(text: str, mutate: Callable[[dict[str, Any]], None]) -> str:
    """Apply ``mutate`` and recompute the checksum, so the later checks are reached."""
    document = json.loads(text)
    mutate(document)
    document["sha256"] = io.document_checksum(document)
    return json.dumps(document)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    keys = path.split(".")

    def mutate(document: dict[str, Any]) -> None:
        node: Any = document
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(keys[-1])] = value
        else:
            node[keys[-1]] = value

    return mutate


def _tamper_weight(text: str) -> str:
    document = json.loads(text)
    document["fitted"]["weights_"] = [0.5, 0.5]
    return json.dumps(document)  # checksum left as saved


MALFORMED: dict[str, tuple[str, Callable[[str], str], str]] = {
    "truncated": (
        "bernoulli",
        lambda t: t[: len(t) // 2],
        r"not valid JSON \(the file looks trunc",
    ),
    "not json": ("bernoulli", lambda t: "model: yes\n", "not valid JSON"),
    "nan literal": (
        "bernoulli",
        lambda t: t.replace('"n_iter_": ', '"n_iter_": NaN, "x": '),
        "NaN",
    ),
    "not an object": ("bernoulli", lambda t: "[1, 2]", "must be a JSON object"),
    "tampered value": ("bernoulli", _tamper_weight, "checksum mismatch"),
    "checksum missing": (
        "bernoulli",
        lambda t: json.dumps({k: v for k, v in json.loads(t).items() if k != "sha256"}),
        "sha256",
    ),
    "newer version": (
        "bernoulli",
        lambda t: _resigned(t, _set("version", io.VERSION + 1)),
        f"version {io.VERSION + 1}.*newer",
    ),
    "version 0": ("bernoulli", lambda t: _resigned(t, _set("version", 0)), "version 0"),
    "v2 without n_parameters_": (
        "bernoulli",
        lambda t: _resigned(t, lambda d: d["fitted"].pop("n_parameters_")),
        r"lacks \['n_parameters_'\]",
    ),
    "version not int": ("bernoulli", lambda t: _resigned(t, _set("version", "1")), "integer"),
    "wrong format tag": (
        "bernoulli",
        lambda t: _resigned(t, _set("format", "sklearn-pickle")),
        "not a kmix model file",
    ),
    "unknown estimator": (
        "bernoulli",
        lambda t: _resigned(t, _set("estimator", "os.system")),
        "names estimator",
    ),
    "unknown hyper-parameter": (
        "bernoulli",
        lambda t: _resigned(t, _set("hyper_parameters.__class__", "x")),
        "unknown names",
    ),
    "p above one": (
        "bernoulli",
        lambda t: _resigned(t, _set("fitted.params_.p.0.1", 1.5)),
        r"p\[0, 1\] = 1.5 lies outside \[0, 1\]",
    ),
    "p negative": (
        "bernoulli",
        lambda t: _resigned(t, _set("fitted.params_.p.1.0", -0.1)),
        r"outside \[0, 1\]",
    ),
    "p wrong shape": (
        "bernoulli",
        lambda t: _resigned(t, _set("fitted.params_.p", [[0.5, 0.5], [0.5, 0.5]])),
        r"p must have shape \(2, 3\)",
    ),
    "p ragged": (
        "bernoulli",
        lambda t: _resigned(t, _set("fitted.params_.p", [[0.5, 0.5, 0.5], [0.5]])),
        "params_",
    ),
    "weights do not sum to one": (
        "bernoulli",
        lambda t: _resigned(t, _set("fitted.weights_", [0.7, 0.7])),
        "sum to 1",
    ),
    "weights wrong length": (
        "bernoulli",
        lambda t: _resigned(t, _set("fitted.weights_", [0.2, 0.3, 0.5])),
        "n_components=2 but weights_ has 3",
    ),
    "n_features mismatch": (
        "bernoulli",
        lambda t: _resigned(t, _set("fitted.n_features_in_", 4)),
        r"shape \(2, 4\)",
    ),
    "n_iter negative": (
        "bernoulli",
        lambda t: _resigned(t, _set("fitted.n_iter_", -1)),
        "n_iter_ must be >= 0",
    ),
    "converged not bool": (
        "bernoulli",
        lambda t: _resigned(t, _set("fitted.converged_", "yes")),
        "true or false",
    ),
    "fitted member missing": (
        "bernoulli",
        lambda t: _resigned(t, lambda d: d["fitted"].pop("params_")),
        r"lacks \['params_'\]",
    ),
    "family mismatch": (
        "bernoulli",
        lambda t: _resigned(t, _set("hyper_parameters.family", "poisson")),
        "fitted family is 'bernoulli'",
    ),
    "family option out of range": (
        "bernoulli",
        lambda t: _resigned(t, _set("fitted.family.options.alpha", 0.5)),
        "alpha",
    ),
    "categorical row off the simplex": (
        "categorical",
        lambda t: _resigned(t, _set("fitted.params_.probs.0.0", [0.5, 0.5, 0.5])),
        "sum to 1",
    ),
    "categorical level count": (
        "categorical",
        lambda t: _resigned(t, _set("fitted.categories_.0.values", ["high", "low"])),
        "must list the 3 levels",
    ),
    "categorical levels unsorted": (
        "categorical",
        lambda t: _resigned(t, _set("fitted.categories_.1.values", ["mid", "low", "high"])),
        "sorted order",
    ),
    "categorical dtype": (
        "categorical",
        lambda t: _resigned(t, _set("fitted.categories_.0.dtype", "V8")),
        "declared dtype",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_raise_data_error(
    case: str, saved_texts: dict[str, str], tmp_path: Path
) -> None:
    """Reference: each defect is reported as a DataError naming the file and the defect."""
    source, corrupt, message = MALFORMED[case]
    path = tmp_path / "model.json"
    path.write_text(corrupt(saved_texts[source]), encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        io.load(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_the_corruption_helpers_alone_leave_a_loadable_file(saved_texts: dict[str, str]) -> None:
    """Control for the cases above: re-signing an unchanged document loads fine."""
    for text in saved_texts.values():
        model = io.from_document(json.loads(_resigned(text, lambda d: None)))
        assert isinstance(model, FiniteMixture)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "is empty"), (b"  \n", "is empty"), (b"\xff\xfe{", "not a UTF-8")],
)
def test_empty_and_binary_files(content: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        io.load(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        io.load(tmp_path / "nope.json")
    with pytest.raises(DataError, match="is a directory"):
        io.load(tmp_path)


def _as_version_1(text: str) -> dict[str, Any]:
    """A current document rewritten as kmix wrote it at format version 1.

    Version 1 (git history, commit b7fc3b1) had no ``fitted.n_parameters_``;
    everything else was the same.
    """

    def downgrade(document: dict[str, Any]) -> None:
        document["version"] = 1
        document["fitted"].pop("n_parameters_")

    return dict(json.loads(_resigned(text, downgrade)))


@pytest.mark.parametrize(
    "build",
    [
        lambda: _fit("bernoulli")[0],
        lambda: _fit("gaussian", covariance_type="diag")[0],
        lambda: FiniteMixture(2, family="bernoulli", fixed_params={"p": [[0.8], [0.3]]}).fit(
            np.array([[1]] * 55 + [[0]] * 45)
        ),
        lambda: FiniteMixture(2, family="poisson", fixed_weights=[0.4, 0.6], random_state=0).fit(
            np.arange(12).reshape(6, 2)
        ),
    ],
    ids=["learned", "gaussian", "fixed-params", "fixed-weights"],
)
def test_version_1_files_still_load(build: Callable[[], FiniteMixture]) -> None:
    """Reference: the saved model; n_parameters_ of a version 1 file is derived as fit counts it."""
    model = build()
    assert io.VERSION == 2 and io.READABLE_VERSIONS == (1, 2)
    current = json.loads(io.dumps(model))
    assert current["version"] == 2 and "n_parameters_" in current["fitted"]
    for document in (current, _as_version_1(io.dumps(model))):
        loaded = io.from_document(document)
        assert loaded.n_parameters_ == model.n_parameters_
        assert loaded.n_parameters() == model.n_parameters()
        np.testing.assert_array_equal(loaded.weights_, model.weights_)


def test_the_missing_option_is_saved_and_older_files_read_as_fiml(tmp_path: Path) -> None:
    """Reference: the option the model was built with; files written before it existed
    (no ``missing`` among their hyper-parameters) fitted complete data, for which every
    option fits alike, and load with the default."""
    model, X = _fit("gaussian", covariance_type="full")
    strict = FiniteMixture(2, missing="error", random_state=0).fit(X)
    loaded = io.load(io.save(strict, tmp_path / "strict.json"))
    assert loaded.missing == "error"
    gappy = X.copy()
    gappy[0, 1] = np.nan
    with pytest.raises(DataError, match="fitted with missing='error'"):
        loaded.predict(gappy)
    text = (io.save(model, tmp_path / "model.json")).read_text(encoding="utf-8")
    older = tmp_path / "older.json"
    older.write_text(
        _resigned(text, lambda d: d["hyper_parameters"].pop("missing")), encoding="utf-8"
    )
    again = io.load(older)
    assert again.missing == "fiml"
    np.testing.assert_array_equal(again.score_samples(gappy), model.score_samples(gappy))


@pytest.mark.parametrize(
    "build",
    [
        lambda: _fit("gaussian", covariance_type="full")[0],
        lambda: FiniteMixture(2, family="bernoulli", fixed_params={"p": [[0.8], [0.3]]}).fit(
            np.array([[1]] * 55 + [[0]] * 45)
        ),
    ],
    ids=["learned", "fixed-params"],
)
def test_log_likelihood_history_round_trips_bit_for_bit(
    build: Callable[[], FiniteMixture], tmp_path: Path
) -> None:
    """Reference: the saved array's bytes; files written before the member existed load
    without it (it is optional)."""
    model = build()
    loaded = io.load(io.save(model, tmp_path / "model.json"))
    got, want = loaded.log_likelihood_history_, model.log_likelihood_history_
    assert got.dtype == want.dtype == np.float64 and got.tobytes() == want.tobytes()
    text = io.dumps(model)
    older = io.from_document(
        json.loads(_resigned(text, lambda d: d["fitted"].pop("log_likelihood_history_")))
    )
    assert not hasattr(older, "log_likelihood_history_")
    assert older.log_likelihood_ == model.log_likelihood_


def test_a_non_finite_history_entry_round_trips_and_bad_ones_are_named() -> None:
    """Reference: float_to_json's text for an infinity; anything else is refused by name."""
    model, _ = _fit("bernoulli")
    model.log_likelihood_history_ = np.array([-np.inf, -10.5, -3.25])
    again = io.from_document(json.loads(io.dumps(model)))
    assert again.log_likelihood_history_.tobytes() == model.log_likelihood_history_.tobytes()
    bad = _resigned(io.dumps(model), _set("fitted.log_likelihood_history_", [1.0, "x"]))
    with pytest.raises(DataError, match=r"fitted\.log_likelihood_history_ must be a list"):
        io.from_document(json.loads(bad))

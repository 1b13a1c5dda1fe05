"""The model document, independent of any one estimator.

JSON value conversion (:func:`to_json_value`), the canonical form and its
checksum (:func:`document_checksum`), validated reading (:class:`FieldReader`),
non-finite floats where a value may be one (:func:`float_to_json`,
:meth:`FieldReader.float_value`), the codec registry (:class:`Codec`,
:func:`register_codec`), and building and checking whole documents
(:func:`to_document`, :func:`check_header`, :func:`new_estimator`,
:func:`from_document`). The file layout is described in :mod:`kmix.io`; the
codecs themselves live in one module per estimator.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError
from ..params import ComponentParams

__all__ = [
    "FORMAT",
    "READABLE_VERSIONS",
    "VERSION",
    "Codec",
    "FieldReader",
    "check_header",
    "describe",
    "document_checksum",
    "float_to_json",
    "from_document",
    "hyper_parameters",
    "new_estimator",
    "register_codec",
    "to_document",
    "to_json_value",
]

#: Format tag of every kmix model file.
FORMAT = "kmix-model"
#: Version written by this release.
#:
#: * 1: the first release.
#: * 2: FiniteMixture files store ``fitted.n_parameters_`` (version 1 files lack
#:   it; loading derives it from the hyper-parameters and the family).
VERSION = 2
#: Versions this release reads; files with any other version are refused.
READABLE_VERSIONS = (1, 2)
_TOP_KEYS = frozenset(
    {"format", "version", "estimator", "hyper_parameters", "not_saved", "fitted", "metadata"}
)
#: How :func:`float_to_json` writes the floats JSON numbers cannot hold.
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class _Unrepresentable(Exception):
    """A value has no faithful JSON form."""


def to_json_value(value: Any) -> Any:
    """``value`` as plain JSON types (dict, list, str, int, float, bool, None).

    NumPy arrays and scalars become lists and Python numbers, parameter
    dataclasses their :meth:`~kmix.params.ComponentParams.to_dict`. Raises
    an internal error for anything else (callables, generators, NaN, ...).

    Parameters
    ----------
    value : object
        The value to convert.

    Returns
    -------
    object
        An equal value made only of JSON types.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise _Unrepresentable(f"non-finite number {value!r}")
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, ComponentParams):
        return to_json_value(value.to_dict())
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufUO":
            raise _Unrepresentable(f"array of dtype {value.dtype}")
        return [to_json_value(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise _Unrepresentable("mapping with non-string keys")
        return {k: to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    raise _Unrepresentable(f"object of type {type(value).__name__}")


def float_to_json(value: float) -> float | str:
    """A float as JSON: a finite one as a number, NaN and infinities as text.

    For members whose value may be NaN or infinite (a p-value without a test,
    a score margin of an edge that would close a cycle): ``"NaN"``,
    ``"Infinity"`` or ``"-Infinity"``; :meth:`FieldReader.float_value` reads
    them back. Everywhere else :func:`to_json_value` refuses non-finite numbers.

    Parameters
    ----------
    value : float
        Any float (or NumPy floating scalar).

    Returns
    -------
    float or str
        ``float(value)`` when finite, else its name in :data:`NON_FINITE`.
    """
    x = float(value)
    if math.isfinite(x):
        return x
    if math.isnan(x):
        return "NaN"
    return "Infinity" if x > 0 else "-Infinity"


def _canonical(document: Mapping[str, Any]) -> bytes:
    """The canonical UTF-8 JSON text of ``document``: keys sorted, no whitespace."""
    try:
        text = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise DataError(f"model document is not plain JSON: {exc}") from None
    return text.encode("utf-8")


def document_checksum(document: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``document`` without its ``sha256`` member.

    Parameters
    ----------
    document : mapping
        A model document as produced by :func:`to_document`.

    Returns
    -------
    str
        64 lowercase hexadecimal digits.
    """
    body = {k: v for k, v in document.items() if k != "sha256"}
    return hashlib.sha256(_canonical(body)).hexdigest()


class FieldReader:
    """Typed, validated access to one JSON object of a model file.

    Every failure raises :class:`DataError` naming the member by its path
    (``fitted.n_iter_``), the value found and what was expected.

    Parameters
    ----------
    data : object
        The parsed JSON value; must be an object.
    where : str
        Path of ``data`` inside the document, for messages.
    version : int, default VERSION
        Format version of the document, for codecs that read older layouts.
    """

    def __init__(self, data: Any, where: str, *, version: int = VERSION) -> None:
        if not isinstance(data, dict):
            raise DataError(f"{where} must be a JSON object; got {describe(data)}")
        self.data: dict[str, Any] = data
        self.where = where
        self.version = version

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}"

    def check_keys(self, required: Sequence[str], optional: Sequence[str] = ()) -> None:
        """Raise unless every required key is present and no unknown key is."""
        missing = [k for k in required if k not in self.data]
        if missing:
            raise DataError(f"{self.where} lacks {missing}; the file is incomplete")
        unknown = sorted(set(self.data) - set(required) - set(optional))
        if unknown:
            raise DataError(f"{self.where} has unknown members {unknown}")

    def get(self, key: str) -> Any:
        """The raw value of ``key`` (which must be present)."""
        if key not in self.data:
            raise DataError(f"{self._name(key)} is missing; the file is incomplete")
        return self.data[key]

    def validated(self, key: str, check: Callable[[Any], Any]) -> Any:
        """``check(value)``, its errors re-raised as DataError naming the member."""
        try:
            return check(self.get(key))
        except (DataError, TypeError, ValueError) as exc:
            raise DataError(f"{self._name(key)}: {exc}") from None

    def object(self, key: str) -> FieldReader:
        """A reader over the JSON object at ``key``."""
        return FieldReader(self.get(key), self._name(key), version=self.version)

    def boolean(self, key: str) -> bool:
        """A JSON ``true``/``false``."""
        value = self.get(key)
        if not isinstance(value, bool):
            raise DataError(f"{self._name(key)} must be true or false; got {describe(value)}")
        return value

    def integer(self, key: str, *, low: int | None = None) -> int:
        """A JSON integer, at least ``low`` when given."""
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise DataError(f"{self._name(key)} must be an integer; got {describe(value)}")
        if low is not None and value < low:
            raise DataError(f"{self._name(key)} must be >= {low}; got {value}")
        return value

    def number(self, key: str) -> float:
        """A finite JSON number."""
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataError(f"{self._name(key)} must be a number; got {describe(value)}")
        return float(value)

    def float_value(self, key: str) -> float:
        """A JSON number, or the text of NaN or an infinity written by :func:`float_to_json`."""
        value = self.get(key)
        if isinstance(value, str) and value in NON_FINITE:
            return NON_FINITE[value]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataError(
                f'{self._name(key)} must be a number (or "NaN", "Infinity", '
                f'"-Infinity"); got {describe(value)}'
            )
        return float(value)

    def array(self, key: str, *, ndim: int) -> NDArray[np.float64]:
        """A finite float array of ``ndim`` dimensions from nested lists."""
        value = self.get(key)
        try:
            arr = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(
                f"{self._name(key)} must be a rectangular array of numbers; got {describe(value)}"
            ) from None
        if arr.ndim != ndim:
            raise DataError(f"{self._name(key)} must be {ndim}-d; got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise DataError(f"{self._name(key)} contains non-finite values")
        return arr


def describe(value: Any) -> str:
    """A short rendering of a parsed JSON value and its type, for error messages.

    Parameters
    ----------
    value : object
        Any value read from a model file.

    Returns
    -------
    str
        Its JSON text, cut to 60 characters, followed by the Python type name.
    """
    text = json.dumps(value, allow_nan=True, default=repr)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


# ----------------------------------------------------------------- codecs
@dataclass(frozen=True)
class Codec:
    """How one estimator class (or one kind of result) is written to and read from a file.

    Attributes
    ----------
    name : str
        The ``estimator`` tag in the file (the class name by convention).
    estimator : type
        The class of the saved objects (exactly: subclasses need their own
        codec). An estimator class must follow the scikit-learn
        ``get_params`` contract, so that its hyper-parameters are saved
        generically.
    dump_fitted : callable
        ``dump_fitted(obj) -> dict`` of plain JSON values for the fitted
        attributes (the ``fitted`` member). Raises :class:`DataError` for an
        unfitted model.
    load_fitted : callable, optional
        For an estimator: ``load_fitted(model, reader)`` validates the fitted
        members through a :class:`FieldReader` and sets them on ``model``, a
        fresh instance built from the saved hyper-parameters.
    load_value : callable, optional
        For a result that is not an estimator (no ``get_params``, e.g. a
        bootstrap or a discovered graph): ``load_value(reader) -> obj``
        validates the ``fitted`` member and builds the object from it. Its
        files have empty ``hyper_parameters`` and ``not_saved``. Exactly one
        of ``load_fitted`` and ``load_value`` is given.
    """

    name: str
    estimator: type[Any]
    dump_fitted: Callable[[Any], dict[str, Any]]
    load_fitted: Callable[[Any, FieldReader], None] | None = None
    load_value: Callable[[FieldReader], Any] | None = None

    def __post_init__(self) -> None:
        if (self.load_fitted is None) == (self.load_value is None):
            raise TypeError(f"codec {self.name!r} needs exactly one of load_fitted, load_value")


_CODECS: dict[str, Codec] = {}


def register_codec(codec: Codec) -> Codec:
    """Register (or replace) the codec of an estimator; returns it.

    Parameters
    ----------
    codec : Codec
        The codec; it replaces any codec registered under the same name.

    Returns
    -------
    Codec
        ``codec`` itself.
    """
    _CODECS[codec.name] = codec
    return codec


def _codec_for(model: Any) -> Codec:
    """The registered codec whose estimator class is exactly ``type(model)``."""
    for codec in _CODECS.values():
        if type(model) is codec.estimator:
            return codec
    known = ", ".join(sorted(_CODECS))
    raise DataError(f"cannot save a {type(model).__name__}; kmix.io knows how to save: {known}")


# ----------------------------------------------------------- documents
def hyper_parameters(model: Any) -> tuple[dict[str, Any], list[str]]:
    """The JSON-representable hyper-parameters, and the sorted names of the others.

    Parameters
    ----------
    model : estimator
        Any object with scikit-learn's ``get_params``.

    Returns
    -------
    saved : dict
        ``get_params(deep=False)`` as plain JSON values, those that have one.
    not_saved : list of str
        The names of the others (callables, generators, ...), sorted.
    """
    saved: dict[str, Any] = {}
    skipped: list[str] = []
    for key, value in model.get_params(deep=False).items():
        try:
            saved[key] = to_json_value(value)
        except _Unrepresentable:
            skipped.append(key)
    return saved, sorted(skipped)


def to_document(model: Any, *, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The model file of a fitted estimator, as a dict of plain JSON values.

    Parameters
    ----------
    model : estimator or result
        A fitted estimator, or a result, with a registered :class:`Codec`.
    metadata : mapping, optional
        Free-form JSON-representable information stored beside the model
        (covered by the checksum).

    Returns
    -------
    dict
        The document, ``sha256`` included.
    """
    codec = _codec_for(model)
    hyper, skipped = ({}, []) if codec.load_value is not None else hyper_parameters(model)
    try:
        meta = to_json_value(dict(metadata or {}))
    except _Unrepresentable as exc:
        raise DataError(f"metadata cannot be stored as JSON: {exc}") from None
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "estimator": codec.name,
        "hyper_parameters": hyper,
        "not_saved": skipped,
        "fitted": codec.dump_fitted(model),
        "metadata": meta,
    }
    document["sha256"] = document_checksum(document)
    return document


def check_header(document: Any) -> FieldReader:
    """A reader over ``document`` once its format, version, members and checksum pass.

    Parameters
    ----------
    document : object
        Parsed JSON of a whole model file.

    Returns
    -------
    FieldReader
        Reader over the top-level object, named ``model file`` in messages;
        its ``version`` (passed on to the readers of its members) is the file's.

    Raises
    ------
    DataError
        On a wrong format tag or version, missing or unknown top-level
        members, or a checksum mismatch.
    """
    top = FieldReader(document, "model file")
    fmt = top.data.get("format")
    if fmt != FORMAT:
        raise DataError(f"not a kmix model file: format is {describe(fmt)}, expected {FORMAT!r}")
    version = top.integer("version")
    if version not in READABLE_VERSIONS:
        newer = " (written by a newer kmix; upgrade kmix)" if version > VERSION else ""
        readable = ", ".join(str(v) for v in READABLE_VERSIONS)
        raise DataError(
            f"unsupported model file version {version}{newer}; this kmix reads versions {readable}"
        )
    top.version = version
    top.check_keys([*_TOP_KEYS, "sha256"])
    stored = top.get("sha256")
    actual = document_checksum(top.data)
    if stored != actual:
        raise DataError(
            "model file checksum mismatch: the content was modified or corrupted after saving "
            f"(stored sha256 {str(stored)[:12]}..., content hashes to {actual[:12]}...)"
        )
    return top


def new_estimator(codec: Codec, hyper: FieldReader) -> Any:
    """A fresh, unfitted estimator of ``codec`` built from saved hyper-parameters.

    Parameters
    ----------
    codec : Codec
        An estimator's codec (one with ``load_fitted``).
    hyper : FieldReader
        Reader over the saved ``hyper_parameters`` object.

    Returns
    -------
    estimator
        ``codec.estimator(**hyper_parameters)``; hyper-parameters not saved
        keep their defaults.

    Raises
    ------
    DataError
        On a name the estimator does not take.
    """
    valid = set(codec.estimator().get_params(deep=False))
    unknown = sorted(set(hyper.data) - valid)
    if unknown:
        raise DataError(f"{hyper.where} has unknown names {unknown} for {codec.name}")
    return codec.estimator(**hyper.data)


def from_document(document: Any) -> Any:
    """Rebuild and validate a fitted estimator (or a saved result) from a model document.

    Parameters
    ----------
    document : object
        Parsed JSON, as produced by :func:`to_document`.

    Returns
    -------
    estimator or result
        A fitted estimator equal in every fitted array to the saved one (or
        the result a value codec rebuilds).

    Raises
    ------
    DataError
        On a wrong format tag or version, a checksum mismatch, an unknown
        estimator or hyper-parameter, or any malformed fitted value.
    """
    top = check_header(document)
    name = top.get("estimator")
    codec = _CODECS.get(name) if isinstance(name, str) else None
    if codec is None:
        raise DataError(f"model file names estimator {describe(name)}; known: {sorted(_CODECS)}")
    hyper = FieldReader(top.get("hyper_parameters"), "hyper_parameters", version=top.version)
    if codec.load_value is not None:
        if hyper.data or top.get("not_saved") != []:
            raise DataError(
                f"a {codec.name} has no hyper-parameters: hyper_parameters must be {{}} and "
                f"not_saved []; got {describe(hyper.data)} and {describe(top.get('not_saved'))}"
            )
        return codec.load_value(top.object("fitted"))
    model = new_estimator(codec, hyper)
    assert codec.load_fitted is not None  # one of the two, by Codec.__post_init__
    codec.load_fitted(model, top.object("fitted"))
    return model

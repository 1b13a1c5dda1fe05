"""Model files as text and on disk.

:func:`dumps` and :func:`save` write a document, :func:`load` and
:func:`read_metadata` read one back: strict parsing (no ``NaN`` or
``Infinity``, UTF-8 only), atomic writes, and errors that name the file. The
documents themselves are built and checked in :mod:`kmix.io._format`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..data.files import atomic_write
from ..exceptions import DataError
from ._format import check_header, from_document, to_document

__all__ = ["dumps", "load", "read_metadata", "save"]


def dumps(model: Any, *, metadata: Mapping[str, Any] | None = None) -> str:
    """The model file of ``model`` as JSON text (see :func:`to_document`).

    Parameters
    ----------
    model : estimator
        A fitted estimator with a registered :class:`Codec`.
    metadata : mapping, optional
        Free-form JSON-representable information stored with the model.

    Returns
    -------
    str
        The indented JSON text, ending in a newline.
    """
    document = to_document(model, metadata=metadata)
    return json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def _parse(text: str, source: str) -> Any:
    """Parse ``text`` as strict JSON (no NaN or Infinity); ``source`` names it in errors."""

    def no_constants(token: str) -> Any:
        raise DataError(f"{source}: {token} is not allowed in a model file")

    try:
        return json.loads(text, parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        truncated = (
            exc.pos >= len(text.rstrip())
            or exc.msg.startswith("Unterminated string")
            or text.count("{") > text.count("}")
            or text.count("[") > text.count("]")
        )
        hint = " (the file looks truncated)" if truncated else ""
        raise DataError(
            f"{source} is not valid JSON{hint}: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise DataError(f"{source} is nested too deeply to be a model file") from None


def _decode(raw: bytes, source: str) -> str:
    """``raw`` decoded as UTF-8; ``source`` names it in errors."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source} is not a UTF-8 text file ({exc.reason})") from None


def save(
    model: Any, path: str | os.PathLike[str], *, metadata: Mapping[str, Any] | None = None
) -> Path:
    """Write a fitted model to ``path`` as a versioned JSON model file.

    The file is written next to its destination, flushed to disk and then
    renamed over it (:func:`kmix.data.files.atomic_write`), so an interrupted
    or failed save (full disk, no permission) leaves the previous file intact
    and no half-written model behind; the error names ``path`` and the reason.

    Parameters
    ----------
    model : estimator
        A fitted :class:`~kmix.estimators.FiniteMixture` (or an estimator with
        a registered :class:`Codec`).
    path : str or path-like
        Destination, conventionally ending in ``.json``.
    metadata : mapping, optional
        Free-form JSON-representable information stored with the model.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from kmix.estimators import FiniteMixture
    >>> X = np.array([[1]] * 55 + [[0]] * 45)
    >>> m = FiniteMixture(2, family="bernoulli", fixed_params={"p": [[0.8], [0.3]]}).fit(X)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save(m, pathlib.Path(tmp) / "model.json")
    ...     loaded = load(path)
    >>> bool(np.array_equal(loaded.predict_proba(X), m.predict_proba(X)))
    True
    """
    text = dumps(model, metadata=metadata)
    return atomic_write(path, text, what="model file")


def _read(path: str | os.PathLike[str]) -> tuple[Any, str]:
    """The parsed JSON of the file at ``path``, and the file name for messages."""
    source = Path(path)
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise DataError(f"model file {source} does not exist") from None
    except IsADirectoryError:
        raise DataError(f"{source} is a directory, not a model file") from None
    if not raw.strip():
        raise DataError(f"model file {source} is empty")
    return _parse(_decode(raw, str(source)), f"model file {source}"), str(source)


def load(path: str | os.PathLike[str]) -> Any:
    """Load a fitted model written by :func:`save`.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    estimator
        The fitted estimator.

    Raises
    ------
    DataError
        If the file is missing, truncated, not JSON, of another format or
        version, fails its checksum, or holds out-of-range or mis-shaped
        values. The message names the file and the offending member.
    """
    document, source = _read(path)
    try:
        return from_document(document)
    except DataError as exc:
        raise DataError(f"{source}: {exc}") from None


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``metadata`` object of a model file, after the format and checksum checks.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    dict
        The free-form metadata stored by :func:`save`.

    Raises
    ------
    DataError
        If the file is missing or not a valid model file (format, version,
        members or checksum).
    """
    document, source = _read(path)
    try:
        top = check_header(document)
        return top.object("metadata").data
    except DataError as exc:
        raise DataError(f"{source}: {exc}") from None

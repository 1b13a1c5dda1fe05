"""``log_likelihood_history_`` in model files: a list of numbers, bit-identical on reading.

Finite values are JSON numbers (Python writes the shortest text that reads
back to the same double, so the array round-trips exactly); a non-finite one
(the ``-inf`` of a start under which some row is impossible) is written as
:func:`~kmix.io._format.float_to_json` writes it, ``"-Infinity"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError
from ._format import NON_FINITE, FieldReader, describe, float_to_json

__all__ = ["HISTORY", "history_from_json", "history_to_json"]

#: The member's name, in every codec that stores it (optional: older files lack it).
HISTORY = "log_likelihood_history_"


def history_to_json(values: Any) -> list[float | str]:
    """A 1-d array of floats as a JSON list (non-finite entries as text)."""
    return [float_to_json(v) for v in np.asarray(values, dtype=np.float64).reshape(-1).tolist()]


def history_from_json(reader: FieldReader, key: str = HISTORY) -> NDArray[np.float64]:
    """The 1-d float64 array at ``key``, read back exactly as :func:`history_to_json` wrote it."""
    raw = reader.get(key)
    ok = isinstance(raw, list) and all(
        (isinstance(v, (int, float)) and not isinstance(v, bool))
        or (isinstance(v, str) and v in NON_FINITE)
        for v in raw
    )
    if not ok:
        raise DataError(
            f'{reader.where}.{key} must be a list of numbers (or "NaN", "Infinity", '
            f'"-Infinity"); got {describe(raw)}'
        )
    return np.array([NON_FINITE[v] if isinstance(v, str) else v for v in raw], dtype=np.float64)

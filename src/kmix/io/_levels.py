"""Category levels in model files: ``{"dtype": ..., "values": [...]}``, restored exactly.

Shared by every codec whose model learned the levels of discrete columns
(FiniteMixture's categorical family, ProductMixture).
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError
from ._format import FieldReader, to_json_value

__all__ = ["LEVEL_DTYPES", "levels_from_json", "levels_to_json"]

#: NumPy dtypes (``dtype.str``) that numeric category levels may be stored as.
LEVEL_DTYPES = frozenset(np.dtype(t).str for t in ("?", "i1", "i2", "i4", "i8", "u1", "u2"))
LEVEL_DTYPES |= {np.dtype(t).str for t in ("u4", "u8", "f2", "f4", "f8")}


def levels_to_json(levels: NDArray[Any], j: int) -> dict[str, Any]:
    """The levels of categorical feature ``j`` as ``{"dtype": ..., "values": [...]}``."""
    kind = levels.dtype.kind
    if kind == "U":
        return {"dtype": "str", "values": levels.tolist()}
    if kind in "biuf":
        return {"dtype": levels.dtype.str, "values": levels.tolist()}
    if kind == "O" and all(isinstance(v, (str, bool, int, float)) for v in levels.tolist()):
        return {"dtype": "object", "values": to_json_value(levels)}
    raise DataError(
        f"categories_[{j}] holds values that JSON cannot store faithfully (dtype "
        f"{levels.dtype}); use strings or numbers as category labels"
    )


def levels_from_json(reader: FieldReader, n_levels: int) -> NDArray[Any]:
    """The ``n_levels`` distinct, sorted levels of one feature, in their declared dtype.

    Parameters
    ----------
    reader : FieldReader
        Reader over one entry of ``fitted.categories_``.
    n_levels : int
        Number of levels the fitted parameters have for this feature.

    Returns
    -------
    numpy.ndarray
        The levels, exactly as they were before saving.
    """
    reader.check_keys(["dtype", "values"])
    dtype, values = reader.get("dtype"), reader.get("values")
    name = f"{reader.where}.values"
    if not isinstance(values, list) or len(values) != n_levels:
        raise DataError(f"{name} must list the {n_levels} levels of the parameters")
    if not all(isinstance(v, (str, bool, int, float)) for v in values):
        raise DataError(f"{name} may hold only strings and numbers")
    texts = [isinstance(v, str) for v in values]
    levels: NDArray[Any] | None = None
    if dtype == "str" and all(texts):
        levels = np.array(values, dtype=np.str_)
    elif dtype == "object":
        levels = np.empty(n_levels, dtype=object)
        levels[:] = values
    elif dtype in LEVEL_DTYPES and not any(texts):
        with contextlib.suppress(OverflowError, TypeError, ValueError):
            levels = np.array(values, dtype=np.dtype(dtype))
    if levels is None or levels.tolist() != values:
        raise DataError(f"{name} does not match the declared dtype {dtype!r}")
    try:
        sorted_unique = np.unique(levels)
    except TypeError:
        raise DataError(f"{name} mixes values that cannot be ordered") from None
    if sorted_unique.shape != levels.shape or not bool(np.all(sorted_unique == levels)):
        raise DataError(f"{name} must list distinct levels in sorted order")
    return levels

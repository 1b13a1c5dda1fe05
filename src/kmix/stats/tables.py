"""Low-order contingency tables of integer-coded data, from unique rows with counts.

A table of the columns ``cols`` is the joint frequency of their levels: the
codes of the columns are combined into one integer (mixed radix) and counted
with one ``bincount``, weighted by the counts of the unique rows. Tables are
linear in the counts, so the table of merged statistics
(:meth:`kmix.stats.UniqueRows.merge`) is the sum of the tables of the parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError

__all__ = ["joint_table", "mixed_radix_codes"]

FloatArray = NDArray[np.float64]
#: Refuse tables with more cells than this (8 bytes each).
MAX_CELLS = 1 << 26


def mixed_radix_codes(
    values: NDArray[Any], cols: Sequence[int], n_levels: Sequence[int]
) -> tuple[NDArray[np.int64], int]:
    """One integer per row for the levels of ``cols`` (the first column varies slowest).

    Returns ``(codes, size)`` with ``size = prod(n_levels[c] for c in cols)``.
    """
    code = np.zeros(values.shape[0], dtype=np.int64)
    size = 1
    for c in cols:
        d = int(n_levels[c])
        code = code * d + values[:, c].astype(np.int64, copy=False)
        size *= d
    return code, size


def joint_table(
    values: FloatArray,
    counts: FloatArray,
    groups: Sequence[Sequence[int]],
    n_levels: Sequence[int],
    *,
    normalize: bool = True,
) -> FloatArray:
    """Joint table of several column groups, one axis per group.

    Parameters
    ----------
    values : ndarray of shape (m, n_features)
        Unique rows of integer codes ``0 .. n_levels[j] - 1``.
    counts : ndarray of shape (m,)
        Count (or weight) of each row.
    groups : sequence of sequences of int
        Column groups; axis ``g`` of the result indexes the combined levels
        of ``groups[g]`` (mixed radix, first column slowest).
    n_levels : sequence of int
        Levels of every column.
    normalize : bool
        Divide by the total count (proportions) instead of returning counts.

    Returns
    -------
    ndarray
        Shape ``(D_0, D_1, ...)`` with ``D_g = prod of the levels in group g``.

    Examples
    --------
    >>> v = np.array([[0, 1], [1, 1], [1, 0]]); c = np.array([2.0, 1.0, 1.0])
    >>> joint_table(v, c, [[0], [1]], [2, 2], normalize=False).tolist()
    [[0.0, 2.0], [1.0, 1.0]]
    """
    code = np.zeros(values.shape[0], dtype=np.int64)
    shape = []
    for group in groups:
        g_code, size = mixed_radix_codes(values, group, n_levels)
        code = code * size + g_code
        shape.append(size)
    total = int(np.prod(shape, dtype=np.float64))
    if total > MAX_CELLS:
        raise DataError(
            f"a joint table of {shape} has {total:,} cells (over {MAX_CELLS:,}); "
            "use views with fewer columns or fewer levels"
        )
    table = np.bincount(code, weights=counts, minlength=total).astype(np.float64)
    if normalize:
        table /= float(counts.sum())
    return table.reshape(shape)

"""Pooling the sparse rows and columns of a contingency table (Cochran's rule).

A rank test's chi-square limit needs well-filled cells; merging rows or
columns is a linear map that cannot raise the rank, so a test on the pooled
table is a valid test of the same hypothesis (used by
:mod:`kmix.solvers.latent_class.ranktest`).

Reference: W. G. Cochran, "Some methods for strengthening the common
chi-square tests", Biometrics 10(4), 417-451, 1954.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ...exceptions import DataError

__all__ = [
    "COCHRAN_LOW",
    "COCHRAN_MIN",
    "COCHRAN_SHARE",
    "PooledTable",
    "pool_sparse",
    "validated_table",
]

FloatArray = NDArray[np.float64]
#: Cochran's (1954) rule: no expected count below 1 ...
COCHRAN_MIN = 1.0
#: ... and at most this share of the cells with an expected count below :data:`COCHRAN_LOW`.
COCHRAN_SHARE = 0.2
COCHRAN_LOW = 5.0


@dataclass(frozen=True, eq=False)
class PooledTable:
    """A table of counts whose sparse rows and columns were merged (:func:`pool_sparse`).

    Attributes
    ----------
    counts : ndarray of shape (m, n)
        The pooled counts (read-only).
    row_groups, col_groups : tuple of ndarray of int
        For each pooled row (column), the indices of the rows (columns) of
        the table given that were summed into it, ascending.
    """

    counts: FloatArray
    row_groups: tuple[NDArray[np.intp], ...]
    col_groups: tuple[NDArray[np.intp], ...]


def _cochran_ok(rows: FloatArray, cols: FloatArray, total: float) -> bool:
    """Expected counts ``r_i c_j / N``: none below 1 and at most 20% below 5.

    From the margins alone: ``r_i c_j / N < 5`` exactly when ``c_j < 5 N / r_i``,
    counted by a binary search in the sorted column totals.
    """
    if rows.min() * cols.min() < COCHRAN_MIN * total:
        return False
    below = np.searchsorted(np.sort(cols), COCHRAN_LOW * total / rows, side="left").sum()
    return bool(below <= COCHRAN_SHARE * rows.shape[0] * cols.shape[0])


def pool_sparse(table: ArrayLike) -> PooledTable:
    """Merge the sparsest rows and columns of a table of counts until its cells are well filled.

    Empty rows and columns are dropped. Then, while the expected counts
    :math:`e_{ij} = r_i c_j / N` break Cochran's (1954) rule (no
    :math:`e_{ij} < 1`, at most 20% of the cells with :math:`e_{ij} < 5`), the
    row or column with the smallest total relative to the mean of its side
    is added to the one with the next smallest total on that side.

    Parameters
    ----------
    table : array_like of shape (m, n)
        Non-negative counts (weighted counts are fine).

    Returns
    -------
    PooledTable
        The pooled counts and which rows and columns went into each.

    Raises
    ------
    DataError
        If ``table`` is not a 2-D array of finite non-negative numbers with
        a positive total.

    Notes
    -----
    Pooling is a linear map :math:`P \\mapsto G_r P G_c^\\top` with 0/1
    aggregation matrices, so it cannot raise the rank: a test of
    ``H0: rank <= k`` on the pooled table is a valid test of the same
    hypothesis. It loses power: levels with different conditional profiles
    become one, and a table pooled to ``m x n`` cannot reveal a rank of
    ``min(m, n)`` or more. The merges read the totals alone, never the
    association inside the table, so they do not steer the statistic.

    Examples
    --------
    >>> import numpy as np
    >>> pooled = pool_sparse([[40, 30, 1], [35, 45, 2], [0, 1, 0]])
    >>> pooled.counts.tolist()
    [[41.0, 31.0], [37.0, 45.0]]
    >>> [g.tolist() for g in pooled.row_groups], [g.tolist() for g in pooled.col_groups]
    ([[0, 2], [1]], [[0, 2], [1]])
    """
    arr, _ = validated_table(table)
    total = float(arr.sum())
    if total <= 0:
        raise DataError(f"table sums to {total!r}; it needs at least one positive count")
    # the merges depend on the margins alone: run them on the totals, sum the cells once
    groups: list[list[list[int]]] = []
    sums: list[FloatArray] = []
    for margin in (arr.sum(axis=1), arr.sum(axis=0)):
        seen = np.flatnonzero(margin > 0)
        groups.append([[int(i)] for i in seen])
        sums.append(margin[seen])
    while min(sums[0].shape[0], sums[1].shape[0]) > 1 and not _cochran_ok(sums[0], sums[1], total):
        side = 0 if sums[0].min() * sums[0].shape[0] <= sums[1].min() * sums[1].shape[0] else 1
        order = np.argsort(sums[side], kind="stable")
        drop, keep = int(order[0]), int(order[1])
        sums[side][keep] += sums[side][drop]
        groups[side][keep] = groups[side][keep] + groups[side][drop]
        sums[side] = np.delete(sums[side], drop)
        del groups[side][drop]
    rows, cols = (tuple(np.array(sorted(g), dtype=np.intp) for g in gs) for gs in groups)
    counts = _aggregation(rows, arr.shape[0]) @ arr @ _aggregation(cols, arr.shape[1]).T
    counts.setflags(write=False)
    return PooledTable(counts, rows, cols)


def _aggregation(groups: tuple[NDArray[np.intp], ...], size: int) -> FloatArray:
    """0/1 matrix ``G`` with ``G[g, i] = 1`` when index ``i`` is in group ``g``."""
    out = np.zeros((len(groups), size))
    for g, members in enumerate(groups):
        out[g, members] = 1.0
    return out


def validated_table(table: ArrayLike) -> tuple[FloatArray, float]:
    """``table`` as a finite non-negative 2-D float array (a copy), and its total."""
    try:
        arr = np.array(table, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"table must be a 2-D numeric array; got {table!r}") from exc
    if arr.ndim != 2:
        raise DataError(
            f"table must be a 2-D array (m x n contingency table); got shape {arr.shape}"
        )
    if arr.size == 0:
        raise DataError(f"table is empty (shape {arr.shape}); pass at least one cell")
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"table has a non-finite entry {float(arr[idx])!r} at {idx}; "
            "pass finite counts or proportions"
        )
    if (arr < 0).any():
        idx = tuple(int(i) for i in np.argwhere(arr < 0)[0])
        raise DataError(
            f"table has a negative entry {float(arr[idx])!r} at {idx}; "
            "counts and proportions must be >= 0"
        )
    return arr, float(arr.sum())

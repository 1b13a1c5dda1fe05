"""Unique rows with counts: the sufficient statistic of discrete i.i.d. data.

For a mixture of discrete distributions the log-likelihood depends on the data
only through how often each distinct row occurs, so EM iterates over the
``m`` unique rows weighted by their counts instead of the ``N`` raw rows.
With 15 binary features ``m <= 2**15`` however large ``N`` is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from threadpoolctl import ThreadpoolController

from ..exceptions import DataError

__all__ = ["COUNT_BLOCK", "UniqueRows", "code_dtype", "compress_rows", "count_rows"]

# Row codes are formed in int64; stay well inside its range.
_MAX_CODE = 2**62
# A bincount over the code range beats sorting while the range is small next to
# the number of rows (and small outright: the table costs 8 bytes per code).
_BINCOUNT_FLOOR = 1 << 16
_BINCOUNT_CAP = 1 << 26


def code_dtype(n_codes: int) -> np.dtype[Any]:
    """The narrowest signed integer type holding the codes ``-1 .. n_codes - 1``.

    Level codes of discrete data (``-1`` marking a missing value) kept in it
    take one byte per cell for up to 128 levels instead of eight.

    Examples
    --------
    >>> code_dtype(2), code_dtype(128), code_dtype(129), code_dtype(40000)
    (dtype('int8'), dtype('int8'), dtype('int16'), dtype('int32'))
    """
    for t in (np.int8, np.int16, np.int32):
        if n_codes - 1 <= np.iinfo(t).max:
            return np.dtype(t)
    return np.dtype(np.int64)


def _integer_codes(X: NDArray[np.generic]) -> tuple[NDArray[np.int64], NDArray[np.int64]] | None:
    """Mixed-radix codes of non-negative integer rows, or None if not applicable."""
    if X.shape[0] == 0 or X.shape[1] == 0:
        return None
    is_int = np.issubdtype(X.dtype, np.integer) or X.dtype == np.bool_
    if not is_int and not np.all(np.isfinite(X)):
        return None
    lo_all, hi_all = X.min(), X.max()
    if lo_all < 0 or hi_all >= _MAX_CODE:
        return None
    if not is_int and not np.array_equal(X, np.floor(X)):
        return None
    n = X.shape[1]
    if (float(hi_all) + 1.0) ** n <= min(max(_BINCOUNT_FLOOR, 4 * X.shape[0]), _BINCOUNT_CAP):
        # one radix for every column (two global reductions instead of per-column ones)
        # when its code range is still small enough to count by bincount
        radix_sizes = np.full(n, int(hi_all) + 1, dtype=np.int64)
    else:
        radix_sizes = X.max(axis=0).astype(np.int64) + 1
    total = 1.0
    for r in radix_sizes.tolist():
        total *= float(r)
    if total >= _MAX_CODE:
        return None
    radix = np.ones(n, dtype=np.int64)
    for j in range(n - 2, -1, -1):
        radix[j] = radix[j + 1] * radix_sizes[j + 1]
    if not is_int and total < 2.0**52:
        # exact in float64 below 2**52, and BLAS makes the product fast
        codes = (X @ radix.astype(np.float64)).astype(np.int64)
    else:
        codes = X.astype(np.int64, copy=False) @ radix
    return codes, radix


def compress_rows(
    X: ArrayLike, weights: ArrayLike | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.intp]]:
    """Collapse a 2-d array to its unique rows and their (weighted) counts.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Data. Non-negative integer data are encoded to one integer per row
        (mixed radix) and counted with a single ``bincount`` or sort; other
        data go through ``np.unique(axis=0)``.
    weights : array-like of shape (n_samples,), optional
        Per-row weights; the count of a unique row is the sum of its weights.

    Returns
    -------
    values : ndarray of shape (m, n_features)
        The unique rows, in lexicographic order.
    counts : ndarray of shape (m,)
        Summed weights (plain counts without ``weights``).
    inverse : ndarray of shape (n_samples,)
        ``values[inverse]`` reproduces ``X``.
    """
    arr = np.asarray(X)
    if arr.dtype.kind not in "biuf":
        arr = arr.astype(np.float64)
    if arr.ndim != 2:
        raise DataError(f"X must be 2-d (n_samples, n_features); got shape {arr.shape}")
    w = None if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w is not None and w.shape[0] != arr.shape[0]:
        raise DataError(f"weights has {w.shape[0]} entries but X has {arr.shape[0]} rows")
    coded = _integer_codes(arr)
    counts = None
    if coded is None:
        values, inverse = np.unique(arr.astype(np.float64, copy=False), axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
    else:
        codes, radix = coded
        top = int(codes.max()) + 1
        if top <= min(max(_BINCOUNT_FLOOR, 4 * codes.shape[0]), _BINCOUNT_CAP):
            tally = np.bincount(codes, minlength=top)
            present = tally > 0
            uniq = np.flatnonzero(present).astype(np.int64)
            lookup = np.cumsum(present) - 1
            inverse = lookup[codes]
            if w is None:
                counts = tally[uniq].astype(np.float64)
        else:
            uniq, inverse = np.unique(codes, return_inverse=True)
        sizes = np.concatenate([[np.iinfo(np.int64).max], radix[:-1] // radix[1:]])
        values = ((uniq[:, None] // radix[None, :]) % sizes[None, :]).astype(np.float64)
    inverse = inverse.astype(np.intp, copy=False)
    if counts is None:
        counts = np.bincount(inverse, weights=w, minlength=values.shape[0]).astype(np.float64)
    return values, counts, inverse


#: Rows per block of :func:`count_rows` (its temporaries stay in cache)
COUNT_BLOCK = 1 << 14
#: Code ranges up to this many are counted block by block into one table
_TALLY_CAP = 1 << 17
_controller: ThreadpoolController | None = None


def _blas() -> ThreadpoolController:
    """One controller for the process (building one scans the loaded libraries)."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


def count_rows(
    X: ArrayLike, weights: ArrayLike | None = None, *, dtype: Any = np.float64
) -> tuple[NDArray[Any], NDArray[np.float64]]:
    """Distinct rows and their (weighted) counts, in lexicographic order, in one blocked pass.

    The statistic of :func:`compress_rows` without the row-to-unique map, at
    memory speed: for non-negative integer arrays each block of
    :data:`COUNT_BLOCK` rows becomes mixed-radix row codes by one
    single-threaded matrix-vector product in floating point (exact while the
    code range stays below ``2**24`` in float32, ``2**53`` in float64), so no
    wide copy of the array is ever made; the codes are counted by
    ``bincount``. Other arrays go through :func:`compress_rows`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    weights : array-like of shape (n_samples,), optional
    dtype : numpy dtype
        Of ``values`` (decoded one column at a time, so an integer type keeps
        millions of distinct rows small).

    Returns
    -------
    values : ndarray of shape (m, n_features)
    counts : ndarray of shape (m,)

    Examples
    --------
    >>> v, c = count_rows(np.array([[1, 0], [0, 1], [1, 0]], dtype=np.uint8))
    >>> v.tolist(), c.tolist()
    ([[0.0, 1.0], [1.0, 0.0]], [1.0, 2.0])
    """
    arr = np.asarray(X)
    w = None if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if arr.ndim != 2:
        raise DataError(f"X must be 2-d (n_samples, n_features); got shape {arr.shape}")
    if w is not None and w.shape[0] != arr.shape[0]:
        raise DataError(f"weights has {w.shape[0]} entries but X has {arr.shape[0]} rows")
    integer = arr.dtype.kind in "biu"
    if not integer or arr.shape[0] == 0 or arr.shape[1] == 0 or arr.min() < 0:
        values, counts, _ = compress_rows(arr, w)
        return values.astype(dtype, copy=False), counts
    # one radix for every column (a single fast reduction); per-column maxima (a slow
    # strided reduction) only when the shared radix would overflow the float code
    d = arr.shape[1]
    sizes = np.full(d, int(arr.max()) + 1, dtype=np.int64)
    if float(sizes[0]) ** d >= 2.0**53:
        sizes = arr.max(axis=0).astype(np.int64) + 1
    total = float(np.prod(sizes.astype(np.float64)))
    if total >= 2.0**53:
        values, counts, _ = compress_rows(arr, w)
        return values.astype(dtype, copy=False), counts
    ftype = np.float32 if total < 2.0**24 else np.float64
    radix = np.ones(arr.shape[1], dtype=np.int64)
    for j in range(arr.shape[1] - 2, -1, -1):
        radix[j] = radix[j + 1] * sizes[j + 1]
    fradix = radix.astype(ftype)
    n, top = arr.shape[0], int(total)
    small = top <= _TALLY_CAP
    tally = np.zeros(top) if small else None
    codes = None if small else np.empty(n, dtype=np.int64)
    with _blas().limit(limits=1, user_api="blas"):
        for start in range(0, n, COUNT_BLOCK):
            block = arr[start : start + COUNT_BLOCK]
            here = np.dot(block.astype(ftype), fradix).astype(np.int64)
            if tally is not None:
                part = None if w is None else w[start : start + COUNT_BLOCK]
                tally += np.bincount(here, weights=part, minlength=top)
            else:
                assert codes is not None
                codes[start : start + block.shape[0]] = here
    if tally is None:
        assert codes is not None
        uniq, inverse = np.unique(codes, return_inverse=True)
        tally_u = np.bincount(inverse.reshape(-1), weights=w, minlength=uniq.shape[0])
        keep = tally_u > 0
        uniq, counts = uniq[keep], tally_u[keep].astype(np.float64)
    else:
        uniq = np.flatnonzero(tally > 0).astype(np.int64)
        counts = tally[uniq]
    sizes_hi = np.concatenate([[np.iinfo(np.int64).max], radix[:-1] // radix[1:]])
    values = np.empty((uniq.shape[0], d), dtype=dtype)
    for j in range(d):  # column by column: no (m, d) int64 temporaries
        values[:, j] = (uniq // radix[j]) % sizes_hi[j]
    return values, counts


@dataclass
class UniqueRows:
    """Additive sufficient statistic: distinct rows and their (weighted) counts.

    Build with :meth:`from_array`, grow with :meth:`update` (one chunk at a
    time, for data that do not fit in memory) and combine partial results with
    :meth:`merge`; the result does not depend on how the data were chunked.
    An estimator fitted to ``values`` with ``sample_weight=counts`` gives the
    same fit as on the raw rows, so data that never fit in memory at once can
    be mapped chunk by chunk to statistics, reduced by merging, then fitted.

    Examples
    --------
    >>> import numpy as np
    >>> s = UniqueRows.from_array(np.array([[0, 1], [1, 1], [0, 1]]))
    >>> s.values.tolist(), s.counts.tolist()
    ([[0.0, 1.0], [1.0, 1.0]], [2.0, 1.0])
    """

    values: NDArray[np.float64]
    counts: NDArray[np.float64]

    @classmethod
    def from_array(cls, X: ArrayLike, weights: ArrayLike | None = None) -> UniqueRows:
        """Statistic of one array (see :func:`compress_rows`)."""
        values, counts, _ = compress_rows(X, weights)
        return cls(values, counts)

    @classmethod
    def empty(cls, n_features: int) -> UniqueRows:
        """The statistic of no data."""
        return cls(np.empty((0, n_features)), np.empty(0))

    @property
    def n_features(self) -> int:
        """Number of columns."""
        return int(self.values.shape[1])

    @property
    def n_unique(self) -> int:
        """Number of distinct rows."""
        return int(self.values.shape[0])

    @property
    def n_samples(self) -> float:
        """Total (weighted) number of rows seen."""
        return float(self.counts.sum())

    def merge(self, other: UniqueRows) -> UniqueRows:
        """Statistic of the union of both data sets (a new object)."""
        if other.n_features != self.n_features:
            raise DataError(
                f"cannot merge statistics with {self.n_features} and {other.n_features} features"
            )
        if other.n_unique == 0:
            return UniqueRows(self.values.copy(), self.counts.copy())
        if self.n_unique == 0:
            return UniqueRows(other.values.copy(), other.counts.copy())
        stacked = np.concatenate([self.values, other.values])
        weights = np.concatenate([self.counts, other.counts])
        values, counts, _ = compress_rows(stacked, weights)
        return UniqueRows(values, counts)

    def update(self, chunk: ArrayLike, weights: ArrayLike | None = None) -> UniqueRows:
        """Add a chunk of rows in place and return ``self``."""
        merged = self.merge(UniqueRows.from_array(chunk, weights))
        self.values, self.counts = merged.values, merged.counts
        return self

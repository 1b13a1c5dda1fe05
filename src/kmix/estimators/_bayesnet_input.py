"""The data of ``BayesNetMixture``: a table with names, its nodes' level codes, missing cells.

A cell is missing when it holds NaN, None, ``pd.NA``/``pd.NaT`` or an empty
(or blank) string; it gets the code :data:`~kmix.solvers.bayesnet.design.MISSING`.
What happens next is the estimator's ``missing`` option: ``"fiml"`` keeps
the row's observed values (full-information maximum likelihood under
missing at random; Little & Rubin, *Statistical Analysis with Missing
Data*, 2nd ed., 2002), ``"drop"`` drops the row (listwise deletion,
unbiased only when values are missing completely at random), ``"error"``
refuses it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import issparse
from sklearn.utils.validation import check_array

from ..exceptions import DataError
from ..solvers.bayesnet.design import MISSING
from ..stats import code_dtype
from ._checks import (
    check_level_counts,
    encode_categories,
    first_fractional_cell,
    missing_cells,
    plain,
)

__all__ = ["NodeCodes", "code_nodes", "missing_mask", "read_table"]

FloatArray = NDArray[np.float64]


def read_table(X: Any, columns: Sequence[str] | None) -> tuple[NDArray[Any], list[str] | None]:
    """A 2-d array and its column names (None for an array without ``columns``).

    Arrays pass scikit-learn's checks (sparse, complex, 1-d and empty input
    are refused there with its messages); missing and infinite cells are
    looked at once the columns are matched to the nodes.
    """
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):
        names = [str(c) for c in X.columns]
        arr = np.asarray(X.to_numpy())
    elif isinstance(X, Mapping) and not issparse(X):  # (scipy's DOK matrix is a dict)
        names = [str(c) for c in X]
        cols = [np.asarray(v) for v in X.values()]
        if len({c.shape for c in cols}) > 1:
            raise DataError("the columns of X have different lengths")
        arr = np.stack(cols, axis=1) if cols else np.empty((0, 0))
    else:
        try:
            arr = check_array(X, dtype=None, ensure_all_finite=False, ensure_min_samples=1)
        except (TypeError, ValueError) as exc:  # sparse input raises TypeError
            raise DataError(str(exc)) from None
        if columns is not None and len(columns) != arr.shape[1]:
            raise DataError(f"columns names {len(columns)} columns but X has {arr.shape[1]}")
        return np.asarray(arr), None if columns is None else [str(c) for c in columns]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise DataError(f"X must be 2-d (rows, columns) with at least one row; got {arr.shape}")
    return arr, names


def _infinite(value: Any) -> bool:
    return isinstance(value, (float, np.floating)) and bool(np.isinf(value))


_infinite_cells = np.frompyfunc(_infinite, 1, 1)


def missing_mask(arr: NDArray[Any]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Missing cells (NaN, None, ``pd.NA``/``pd.NaT``, empty or blank strings) and infinite ones."""
    if arr.dtype.kind == "f":
        return missing_cells(arr, infinite=False), np.isinf(arr)
    gap = missing_cells(arr)  # (with inf: told apart below, among the few cells flagged)
    inf = np.zeros(arr.shape, dtype=bool)
    if gap.any():
        inf[gap] = np.asarray(_infinite_cells(arr[gap]), dtype=bool)
        gap &= ~inf
    return gap, inf


@dataclass(frozen=True)
class NodeCodes:
    """Level codes of the nodes and what became of the missing cells.

    Attributes
    ----------
    codes : ndarray of shape (n_kept, n_nodes), int64
        ``MISSING`` (-1) where a kept row misses a value.
    categories : list of ndarray
        Levels of every node (learned from the observed cells in ``fit``).
    keep : ndarray of bool, shape (n_rows,)
        The input rows ``codes`` holds.
    n_missing : dict of str to int
        Rows (of positive weight) missing each node.
    n_dropped : int
        Rows (of positive weight) left out: every row with a missing value
        under ``"drop"``, rows with nothing observed under ``"fiml"``.
    """

    codes: NDArray[np.int64]
    categories: list[NDArray[Any]]
    keep: NDArray[np.bool_]
    n_missing: dict[str, int]
    n_dropped: int


def _refuse(arr: NDArray[Any], gap: NDArray[np.bool_], nodes: Sequence[str], fit: bool) -> None:
    i, j = (int(v) for v in np.argwhere(gap)[0])
    fix = (
        "pass missing='fiml' (the default) to fit by full-information maximum likelihood, "
        "or missing='drop' to drop the rows with missing values"
        if fit
        else "refit with missing='fiml' to score rows with missing values"
    )
    raise DataError(
        f"node {nodes[j]!r} is missing ({plain(arr[i, j])!r}) at row {i} "
        f"({int(gap.any(axis=1).sum())} row(s) miss values): missing='error' refuses missing "
        f"values; {fix}"
    )


def _check_cells(arr: NDArray[Any], inf: NDArray[np.bool_], nodes: Sequence[str]) -> None:
    """Refuse infinite and fractional cells, naming the first."""
    if np.any(inf):
        i, j = (int(v) for v in np.argwhere(inf)[0])
        raise DataError(
            f"node {nodes[j]!r} holds {plain(arr[i, j])!r} at row {i}: infinite values are not "
            "levels (NaN, None or an empty cell marks a missing value)"
        )
    bad = first_fractional_cell(arr)
    if bad is not None:
        i, j = bad
        raise DataError(
            f"node {nodes[j]!r} holds {arr[i, j].item()!r} at row {i}: the "
            "nodes must be discrete (integer codes or labels); bin the column first"
        )


def _code_type(arr: NDArray[Any], categories: list[NDArray[Any]] | None) -> Any:
    """The narrowest code type for the most levels a column can hold (at most the rows, or one
    more than the largest of non-negative integer labels)."""
    if categories is not None:
        most = max((len(c) for c in categories), default=0)
    elif arr.dtype.kind in "biu" and arr.size and arr.min() >= 0:
        most = int(arr.max()) + 1
    else:
        most = arr.shape[0]
    return code_dtype(most)


def code_nodes(
    arr: NDArray[Any],
    nodes: Sequence[str],
    categories: list[NDArray[Any]] | None,
    *,
    missing: str,
    weights: FloatArray | None = None,
) -> NodeCodes:
    """Level codes of ``arr`` (columns = ``nodes``), with the ``missing`` option applied.

    Parameters
    ----------
    arr : ndarray of shape (n_rows, n_nodes)
    nodes : sequence of str
        Node names, for messages.
    categories : list of ndarray or None
        Levels to code with; ``None`` learns them (``fit``), from the
        observed cells of the rows kept, and refuses constant nodes, nodes
        with a level per row and nodes missing in every row.
    missing : {"fiml", "drop", "error"}
        In ``fit``; when scoring (``categories`` given) ``"drop"`` and
        ``"fiml"`` both keep every row, its missing values summed out.
    weights : ndarray of shape (n_rows,), optional
        Frequency weights; rows of weight 0 are not counted in the tallies.

    Warns
    -----
    UserWarning
        When rows are dropped (``"drop"``), or rows with every node missing
        are left out (``"fiml"``).
    """
    fit = categories is None
    gap, inf = missing_mask(arr)
    if missing == "error" and gap.any():
        _refuse(arr, gap, nodes, fit)
    _check_cells(arr, inf, nodes)
    n_rows = arr.shape[0]
    live = np.ones(n_rows, dtype=bool) if weights is None else weights > 0
    n_missing = {v: int(np.count_nonzero(gap[:, j] & live)) for j, v in enumerate(nodes)}
    keep = np.ones(n_rows, dtype=bool)
    n_dropped = 0
    if fit and gap.any():
        n_live = int(np.count_nonzero(live))
        empty = [v for v in nodes if n_missing[v] == n_live]
        if empty:
            raise DataError(
                f"node(s) {empty} are missing in every row: nothing can be learned about "
                "them; drop them from the DAG and the data"
            )
        lost = gap.any(axis=1) if missing == "drop" else gap.all(axis=1)
        n_dropped = int(np.count_nonzero(lost & live))
        if n_dropped:
            why = (
                "with missing values (missing='drop'; the default missing='fiml' uses their "
                "observed values)"
                if missing == "drop"
                else "with every node missing: they carry no information"
            )
            warnings.warn(f"left out {n_dropped} of {n_live} rows {why}", UserWarning, stacklevel=3)
        keep = np.asarray(~lost, dtype=bool)
        if not keep.any():
            raise DataError("no rows left to fit: every row misses a value (missing='drop')")
        arr, gap = arr[keep], gap[keep]
    filled = arr
    if gap.any():
        filled = arr.copy()
        for j in np.flatnonzero(gap.any(axis=0)):  # a missing cell takes an observed level
            seen = np.flatnonzero(~gap[:, j])
            filled[gap[:, j], j] = (
                arr[seen[0], j] if seen.size else categories[j][0]  # type: ignore[index]
            )
    # the narrowest integer codes that hold every level (a table of millions of distinct
    # rows stays a byte a cell), MISSING included
    codes, learned = encode_categories(filled, categories, dtype=_code_type(filled, categories))
    codes[gap] = MISSING
    if fit:
        for v, levels in zip(nodes, learned, strict=True):
            if len(levels) < 2:
                raise DataError(
                    f"node {v!r} is constant (only level {plain(levels[0])!r}): it carries no "
                    "information; drop it from the DAG and the data"
                )
        check_level_counts(learned, float(arr.shape[0]), [f"node {v!r}" for v in nodes])
    return NodeCodes(codes, learned, keep, n_missing, n_dropped)

"""Validation helpers shared by the estimators (run in ``fit``, never ``__init__``)."""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils.validation import check_is_fitted

from ..exceptions import DataError, IdentifiabilityError, NotFittedError

__all__ = [
    "check_finite",
    "check_fitted",
    "check_int",
    "check_level_counts",
    "check_real",
    "check_sample_weight",
    "encode_categories",
    "enforce_identifiability",
    "first_fractional_cell",
    "first_missing_cell",
    "first_text_cell",
    "missing_cells",
    "plain",
    "rng_from",
    "take_fitted",
    "variant",
]


#: A discrete column with more levels than this share of the rows (and at least
#: :data:`ID_MIN_LEVELS`) holds identifiers, not a trait.
ID_SHARE = 0.5
ID_MIN_LEVELS = 50


def check_level_counts(categories: list[NDArray[Any]], n_rows: float, names: list[str]) -> None:
    """Refuse a column with about as many levels as rows (an identifier), naming it.

    Such a column (a row id, a free-text field) has at most two rows per level:
    its class-conditional probabilities rest on one or two rows each, it
    separates no classes, and the tables of the moment step grow with its
    number of levels.

    Parameters
    ----------
    categories : list of ndarray
        Levels of each column.
    n_rows : float
        Rows (total frequency weight) they were learned from.
    names : list of str
        How to name each column in the message.
    """
    for j, levels in enumerate(categories):
        d = len(levels)
        if d >= ID_MIN_LEVELS and d > ID_SHARE * n_rows:
            raise DataError(
                f"{names[j]} has {d:,} distinct levels in {n_rows:,.0f} rows (about "
                f"{n_rows / d:.1f} row(s) per level): it identifies rows rather than "
                "describing them, and no class can be learned from it; drop it, or merge "
                "its levels into fewer groups"
            )


def enforce_identifiability(
    ok: bool, condition: str, k: int, max_components: int, *, allow: bool, stacklevel: int = 3
) -> None:
    """One refusal (or, with ``allow``, one warning) for every estimator's identifiability check.

    Parameters
    ----------
    ok : bool
        Whether the condition holds.
    condition : str
        The condition, with its numbers (e.g. ``"binary variables: n = 1 < 2k - 1 = 3"``).
    k : int
        Classes asked for.
    max_components : int
        Most classes the same condition allows.
    allow : bool
        ``allow_unidentified``: warn and go on instead of raising.
    """
    if ok:
        return
    if not allow:
        raise IdentifiabilityError(
            f"{k} classes are not identifiable from these variables ({condition}); the data "
            f"support at most {max_components} class(es). Lower n_components, add variables, "
            "or pass allow_unidentified=True to get one of many maximum-likelihood solutions"
        )
    warnings.warn(
        f"{k} classes are not identifiable here ({condition}): the fitted parameters are one "
        "maximiser of the likelihood among many, not unique",
        UserWarning,
        stacklevel=stacklevel,
    )


def check_fitted(estimator: Any, attribute: str) -> None:
    """Raise :class:`kmix.NotFittedError` (a KmixError) unless ``estimator`` has ``attribute``."""
    try:
        check_is_fitted(estimator, attribute)
    except SklearnNotFittedError as exc:
        raise NotFittedError(
            f"this {type(estimator).__name__} is not fitted yet; call fit with its data first"
        ) from exc


def check_int(value: Any, name: str, *, low: int, high: int | None = None) -> int:
    """An integer option within ``[low, high]``; DataError naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise DataError(f"{name} must be an integer; got {value!r}")
    v = int(value)
    if v < low or (high is not None and v > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise DataError(f"{name} must be {bound}; got {v}")
    return v


def check_real(value: Any, name: str, *, low: float, strict: bool = False) -> float:
    """A finite real option ``> low`` (strict) or ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DataError(f"{name} must be a number; got {value!r}")
    v = float(value)
    if not np.isfinite(v) or v < low or (strict and v == low):
        op = ">" if strict else ">="
        raise DataError(f"{name} must be a finite number {op} {low}; got {value!r}")
    return v


def check_finite(X: NDArray[np.float64], name: str = "X") -> None:
    """Raise a DataError naming the first NaN or inf entry of ``X``."""
    finite = np.isfinite(X)
    if not finite.all():
        i, j = (int(v) for v in np.argwhere(~finite)[0])
        n_bad = int((~finite).sum())
        raise DataError(
            f"{name} contains NaN or inf ({n_bad} entries; first at row {i}, column {j}: "
            f"{float(X[i, j])!r}); remove or impute them before fitting"
        )


def first_fractional_cell(arr: NDArray[Any]) -> tuple[int, int] | None:
    """``(row, column)`` of the first finite non-integer float, or None (codes must be whole)."""
    if arr.dtype.kind != "f":
        return None
    finite = np.isfinite(arr)
    frac = finite & (arr != np.floor(np.where(finite, arr, 0.0)))
    if not np.any(frac):
        return None
    i, j = (int(v) for v in np.argwhere(frac)[0])
    return i, j


def first_missing_cell(arr: NDArray[Any]) -> tuple[int, int] | None:
    """``(row, column)`` of the first NaN, None or infinite cell of a 2-d array, or None."""
    bad = missing_cells(arr)
    if not np.any(bad):
        return None
    i, j = (int(v) for v in np.argwhere(bad)[0])
    return i, j


def first_text_cell(X: Any) -> tuple[tuple[int, int], Any] | None:
    """Position and value of the first cell that is not a number (error path only)."""
    arr = np.asarray(X, dtype=object)
    if arr.ndim != 2:
        return None
    for j in range(arr.shape[1]):  # columns; the row scan runs only once an error is certain
        try:
            arr[:, j].astype(np.float64)
        except (TypeError, ValueError):
            for i, value in enumerate(arr[:, j].tolist()):
                if isinstance(value, (str, bytes)):
                    try:
                        float(value)
                    except ValueError:
                        return (i, j), value
    return None


def rng_from(random_state: Any) -> np.random.Generator:
    """A numpy Generator from ``None``, an int, a Generator or a RandomState."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if int(random_state) < 0:
            raise DataError(
                f"random_state must be None, a non-negative int or a numpy Generator; got "
                f"{int(random_state)}"
            )
        return np.random.default_rng(int(random_state))
    raise DataError(
        f"random_state must be None, a non-negative int or a numpy Generator; got {random_state!r}"
    )


def check_sample_weight(sample_weight: Any, n_rows: int) -> NDArray[np.float64] | None:
    """Frequency weights: 1-d, one per row, finite, non-negative, positive finite total."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim != 1:
        raise DataError(f"sample_weight must be 1-d with one weight per row; got shape {w.shape}")
    if w.shape[0] != n_rows:
        raise DataError(f"sample_weight has {w.shape[0]} entries but X has {n_rows} rows")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"sample_weight[{i}] = {float(w[i])!r}; weights must be finite and non-negative"
        )
    total = float(w.sum())
    if total <= 0:
        raise DataError(
            "sample_weight: all weights are zero; at least one row needs positive weight"
        )
    if not np.isfinite(total) or total < 1e-250:
        raise DataError(
            f"sample_weight sums to {total!r}, outside the range EM can work with; "
            "rescale the weights (only their ratios matter without smoothing)"
        )
    return w


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for readable messages)."""
    return value.item() if isinstance(value, np.generic) else value


#: Type names of the missing-value markers of pandas (``pd.NA``, ``pd.NaT``), matched by
#: name so that kmix never imports pandas; comparing them raises instead of answering.
_NA_TYPES = frozenset({"NAType", "NaTType"})


def _cell_missing(value: Any) -> bool:
    if value is None or type(value).__name__ in _NA_TYPES:
        return True
    if isinstance(value, (float, np.floating)):
        return not np.isfinite(value)
    if isinstance(value, (str, bytes)):
        return not value.strip()  # an empty CSV cell read as text
    return False


_cells_missing = np.frompyfunc(_cell_missing, 1, 1)


def missing_cells(arr: NDArray[Any], *, infinite: bool = True) -> NDArray[np.bool_]:
    """Where ``arr`` holds a missing value: NaN, None, ``pd.NA``/``pd.NaT``, "" (and inf).

    Object arrays are checked cell by cell (their cells are Python objects
    already, and pandas' ``NA`` cannot be compared); float arrays in one pass.
    ``infinite=False`` leaves ``inf`` out (it is then no missing value).
    """
    if arr.dtype == object:
        out = np.asarray(_cells_missing(arr), dtype=bool)
        if not infinite:
            inf = np.asarray(np.frompyfunc(_is_inf, 1, 1)(arr), dtype=bool)
            out &= ~inf
        return out
    if arr.dtype.kind == "f":
        return ~np.isfinite(arr) if infinite else np.isnan(arr)
    if arr.dtype.kind in "US":  # fixed-width text: empty (or blank) cells
        blank: NDArray[np.bool_] = np.char.str_len(np.char.strip(arr)) == 0
        return blank
    return np.zeros(arr.shape, dtype=bool)


def _is_inf(value: Any) -> bool:
    return isinstance(value, (float, np.floating)) and bool(np.isinf(value))


def _levels(col: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """Sorted distinct values and the code of each entry (``np.unique`` semantics).

    Integer columns with a small range are counted in one pass instead of sorted.
    """
    if col.dtype.kind in "biu" and col.size:
        lo, hi = int(col.min()), int(col.max())
        info = np.iinfo(np.intp)
        # labels beyond intp (uint64 from 2**63 on) would wrap in the cast: sort them
        if info.min <= lo and hi <= info.max and hi - lo < max(1 << 16, 4 * col.size):
            shifted = col.astype(np.intp) - lo
            present = np.bincount(shifted, minlength=hi - lo + 1) > 0
            lookup = np.cumsum(present) - 1
            return (np.flatnonzero(present) + lo).astype(col.dtype), lookup[shifted]
    levels, inverse = np.unique(col, return_inverse=True)
    return levels, inverse.reshape(-1)


def encode_categories(
    arr: NDArray[Any],
    categories: list[NDArray[Any]] | None,
    *,
    rows: NDArray[np.intp] | None = None,
    missing_code: float | None = None,
    dtype: Any = np.float64,
) -> tuple[NDArray[Any], list[NDArray[Any]]]:
    """Integer codes of each column's labels.

    With ``categories=None`` the levels of each column are learned (sorted
    unique values); otherwise the given levels are used and an unseen label is
    an error naming its row and column. With ``rows`` (positions, e.g. of the
    rows of positive sample weight) only those rows are coded and define the
    levels; every row is still checked for missing values. A missing cell is an
    error, or with ``missing_code`` is coded so (e.g. ``-1``) and takes no part
    in the levels. ``dtype``: of the codes (float64 by default; a narrow integer
    type keeps a table of millions of rows small).
    """
    n_out = arr.shape[0] if rows is None else rows.shape[0]
    codes = np.empty((n_out, arr.shape[1]), dtype=dtype)
    learned: list[NDArray[Any]] = []
    for j in range(arr.shape[1]):  # loop over columns; rows are vectorised
        col = arr[:, j]
        missing = missing_cells(col, infinite=missing_code is None)
        if missing.any() and missing_code is None:
            i = int(np.flatnonzero(missing)[0])
            raise DataError(
                f"X contains missing or infinite values (NaN, None or inf) in column {j} "
                f"(first at row {i}: {plain(col[i])!r}); remove or impute them before fitting"
            )
        where = np.arange(col.shape[0]) if rows is None else rows  # input row of each entry
        if rows is not None:
            col, missing = col[rows], missing[rows]
        target: slice | NDArray[np.bool_] = slice(None)
        if missing.any():  # missing cells get missing_code and take no part in the levels
            target = ~missing
            codes[:, j] = missing_code
            col, where = col[target], where[target]
        try:
            if categories is None:
                levels, inverse = _levels(col)
                learned.append(levels)
                codes[target, j] = inverse
                continue
            levels = categories[j]
            pos = np.clip(np.searchsorted(levels, col), 0, len(levels) - 1)
            unseen = levels[pos] != col
        except TypeError:
            kinds = sorted({type(plain(v)).__name__ for v in col[: min(len(col), 1000)]})
            seen = "" if categories is None else f" (fit saw {categories[j].dtype} levels)"
            raise DataError(
                f"column {j} of X mixes or changes value types ({', '.join(kinds)}){seen}; "
                "give each column labels of one type, e.g. all strings"
            ) from None
        if np.any(unseen):
            i = int(np.flatnonzero(unseen)[0])
            value, i = col[i], int(where[i])
            raise DataError(
                f"X[{i}, {j}] = {plain(value)!r} is a level not seen in fit "
                f"(column {j} has levels {levels.tolist()}); refit with it included"
            )
        codes[target, j] = pos
    return codes, learned if categories is None else categories


def variant(model: Any, **changes: Any) -> Any:
    """An unfitted estimator of ``model``'s class with its options, ``changes`` applied (the
    fit a path starts from: without covariates, without a callback, on a sample)."""
    return type(model)(**{**model.get_params(deep=False), **changes})


def take_fitted(target: Any, source: Any) -> None:
    """Copy ``source``'s fitted attributes (public names ending in ``_``) onto ``target``."""
    for name, value in vars(source).items():
        if name.endswith("_") and not name.startswith("_"):
            setattr(target, name, value)

"""Validation helpers shared by the estimators (run in ``fit``, never ``__init__``)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError

__all__ = ["check_finite", "check_int", "check_real", "rng_from"]


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


def rng_from(random_state: Any) -> np.random.Generator:
    """A numpy Generator from ``None``, an int, a Generator or a RandomState."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, numbers.Integral):
        return np.random.default_rng(int(random_state))
    raise DataError(f"random_state must be None, an int or a numpy Generator; got {random_state!r}")

"""Shared helpers of the simulators: a Generator from ``random_state``, labels from weights."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError

__all__ = ["labels_from", "rng_from"]


def rng_from(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    if random_state is None or (
        isinstance(random_state, numbers.Integral)
        and not isinstance(random_state, bool)
        and int(random_state) >= 0
    ):
        return np.random.default_rng(None if random_state is None else int(random_state))
    raise DataError(
        f"random_state must be None, a non-negative int or a numpy Generator; got {random_state!r}"
    )


def labels_from(weights: NDArray[np.float64], n: int, rng: np.random.Generator) -> NDArray[np.intp]:
    return rng.choice(weights.shape[0], size=n, p=weights).astype(np.intp)

"""Shared helpers of the simulators: a Generator from ``random_state``, labels from weights."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["labels_from", "rng_from"]


def rng_from(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    return np.random.default_rng(random_state)


def labels_from(weights: NDArray[np.float64], n: int, rng: np.random.Generator) -> NDArray[np.intp]:
    return rng.choice(weights.shape[0], size=n, p=weights).astype(np.intp)

"""The k-coin problem (k-MixIID): random separated coins, and head counts drawn from them."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..exceptions import DataError
from ..params import BinomialParams, Mixture, check_weights
from ._random import labels_from, rng_from

__all__ = ["coin_flips", "random_coins"]


def random_coins(
    n_components: int,
    *,
    separation: float = 0.1,
    min_weight: float = 0.05,
    low: float = 0.0,
    high: float = 1.0,
    random_state: Any = None,
) -> Mixture:
    """Random k-coin mixture with biases at least ``separation`` apart.

    Biases are uniform over the configurations in ``[low, high]`` whose
    gaps are all at least ``separation`` (sorted uniforms on a shortened
    interval, then spread); weights are ``min_weight + (1 - k min_weight) D``
    with ``D ~ Dirichlet(1, ..., 1)``.

    Returns
    -------
    Mixture
        Binomial components (``params.p`` of shape (k, 1)), biases ascending.
    """
    rng = rng_from(random_state)
    k = int(n_components)
    room = (high - low) - (k - 1) * separation
    if k < 1 or room < 0 or not 0 <= low < high <= 1:
        raise DataError(
            f"{k} biases {separation} apart do not fit in [{low}, {high}]; "
            "lower separation or n_components"
        )
    if k * min_weight > 1:
        raise DataError(f"min_weight={min_weight} is too large for {k} components")
    p = low + np.sort(rng.uniform(0.0, room, k)) + separation * np.arange(k)
    w = min_weight + (1.0 - k * min_weight) * rng.dirichlet(np.ones(k))
    return Mixture(check_weights(w), BinomialParams(np.clip(p, 0.0, 1.0)[:, None]))


def coin_flips(
    mixture: Mixture,
    n_samples: int,
    n_trials: ArrayLike | int,
    *,
    random_state: Any = None,
    return_labels: bool = False,
) -> Any:
    """Head counts of ``n_samples`` trials of a k-coin mixture.

    Parameters
    ----------
    mixture : Mixture
        Binomial components (see :func:`random_coins`).
    n_samples : int
    n_trials : int or array-like of shape (n_samples,)
        Flips per trial.
    return_labels : bool
        Also return the coin of each trial.

    Returns
    -------
    heads : ndarray of shape (n_samples,)
    labels : ndarray of shape (n_samples,), only with ``return_labels``
    """
    rng = rng_from(random_state)
    p = np.asarray(mixture.params.p, dtype=np.float64)[:, 0]  # type: ignore[attr-defined]
    labels = labels_from(mixture.weights, int(n_samples), rng)
    t = np.broadcast_to(np.asarray(n_trials, dtype=np.int64), labels.shape)
    heads = rng.binomial(t, p[labels]).astype(np.int64)
    return (heads, labels) if return_labels else heads

"""Coin simulators (kmix.datasets.coins).

Reference: the simulator's own parameters.
"""

from __future__ import annotations

import numpy as np
import pytest

from kmix.datasets import coin_flips, random_coins
from kmix.exceptions import DataError


def test_random_coins_respect_separation_and_weights():
    for seed in range(20):
        mix = random_coins(5, separation=0.12, min_weight=0.1, random_state=seed)
        p = mix.params.p[:, 0]
        assert np.all(np.diff(p) >= 0.12 - 1e-12) and p.min() >= 0 and p.max() <= 1
        assert mix.weights.min() >= 0.1 - 1e-12
    with pytest.raises(DataError, match="do not fit"):
        random_coins(12, separation=0.1)


def test_coin_flips_follow_the_mixture():
    mix = random_coins(2, separation=0.5, min_weight=0.3, random_state=1)
    h, labels = coin_flips(mix, 200_000, 4, random_state=2, return_labels=True)
    p = mix.params.p[:, 0]
    for u in range(2):
        mean = h[labels == u].mean() / 4
        assert abs(mean - p[u]) < 5 * np.sqrt(p[u] * (1 - p[u]) / (4 * (labels == u).sum()))

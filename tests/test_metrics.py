"""Transport distance between coin mixtures (kmix.metrics.transport_distance).

Reference: scipy.stats.wasserstein_distance (an independent W1).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from kmix.exceptions import DataError
from kmix.metrics import transport_distance


def test_transport_distance_matches_scipy():
    rng = np.random.default_rng(0)
    for _ in range(50):
        ka, kb = rng.integers(1, 6, size=2)
        xa, xb = rng.random(ka), rng.random(kb)
        wa, wb = rng.dirichlet(np.ones(ka)), rng.dirichlet(np.ones(kb))
        got = transport_distance(wa, xa, wb, xb)
        assert got == pytest.approx(wasserstein_distance(xa, xb, wa, wb), abs=1e-14)


def test_transport_distance_ignores_labels_and_sees_coinciding_atoms():
    assert transport_distance([0.3, 0.7], [0.1, 0.9], [0.7, 0.3], [0.9, 0.1]) == 0.0
    # two equal coins against one coin at the same place: distance 0
    assert transport_distance([0.5, 0.5], [0.4, 0.4], [1.0], [0.4]) == 0.0
    with pytest.raises(DataError, match="equal length"):
        transport_distance([0.5, 0.5], [0.1], [1.0], [0.2])

"""Choosing the number of latent classes (kmix.estimators.select).

References: the simulation's k; the published BIC ranking for the carcinoma data.
"""

from __future__ import annotations

import numpy as np
import pytest


def test_select_k_classes_by_rank_test_and_bic():
    """Reference: the simulation's k; the published BIC ranking for the carcinoma data."""
    import kmix
    from kmix.datasets import carcinoma

    rng = np.random.default_rng(0)
    k, n, N = 3, 10, 50_000
    P, w = rng.uniform(0.05, 0.95, (k, n)), np.array([0.5, 0.3, 0.2])
    z = rng.choice(k, size=N, p=w)
    X = (rng.random((N, n)) < P[z]).astype(int)
    sel = kmix.select_k_classes(X, max_components=4, random_state=0)
    p = [row["rank_p_value"] for row in sel["table"]]
    assert p[1] < 1e-6 < 1e-3 < p[2]
    assert sel["rank_k"] == 3 and sel["bic_k"] == 3
    data = carcinoma()
    sel = kmix.select_k_classes(data.patterns, sample_weight=data.counts, random_state=0)
    # published (poLCA): BIC 706.0739 for k = 2, 697.1357 for k = 3
    bic = {row["k"]: row["bic"] for row in sel["table"]}
    assert bic[2] == pytest.approx(706.0739, abs=2e-3)
    assert bic[3] == pytest.approx(697.1357, abs=2e-3)
    assert sel["bic_k"] == 3

"""Identifiability of latent class models (kmix.solvers.latent_class.identifiability).

References: the Kruskal-type and 2k - 1 identifiability bounds stated in their papers.
"""

from __future__ import annotations

from kmix.solvers.latent_class.identifiability import check_identifiability


def test_identifiability_conditions():
    assert not check_identifiability([2] * 4, 3).ok  # 4 binary items cannot carry 3 classes
    assert check_identifiability([2] * 4, 3).max_components == 2
    assert check_identifiability([2] * 5, 3).ok
    three = check_identifiability([3] * 4, 3)
    assert three.ok and "2k + 2 = 8" in three.condition

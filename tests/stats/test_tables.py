"""Joint tables of groups of columns (kmix.stats.tables).

Reference: the cells of a three-row table counted by hand.
"""

from __future__ import annotations

import numpy as np

from kmix.stats.tables import joint_table


def test_joint_table_counts_combined_levels():
    v = np.array([[0, 1, 2], [1, 0, 0], [0, 1, 2]], float)
    c = np.array([1.0, 2.0, 3.0])
    t = joint_table(v, c, [[0, 1], [2]], [2, 2, 3], normalize=False)
    assert t.shape == (4, 3)
    assert t[1, 2] == 4.0 and t[2, 0] == 2.0 and t.sum() == 6.0

"""The stratified rank test: the sum of the per-stratum tests of Robin & Smith (2000).

Reference: each stratum's table counted directly (``kmix.stats.joint_table``) and
tested alone by ``rank_test``; the statistics and degrees of freedom add.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from kmix.solvers.discovery import RankTester
from kmix.solvers.latent_class.ranktest import rank_test
from kmix.stats import compress_rows
from kmix.stats.tables import joint_table


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    N = 20_000
    u = rng.integers(0, 2, N)
    X = np.column_stack(
        [rng.random(N) < 0.2 + 0.6 * u * rng.random() for _ in range(5)] + [rng.integers(0, 3, N)]
    ).astype(np.int64)
    values, counts, _ = compress_rows(X)
    used = counts > 0
    return values[used], counts[used].astype(float), [2, 2, 2, 2, 2, 3]


def test_statistic_is_the_sum_over_strata(rows):
    values, counts, levels = rows
    tester = RankTester(values, counts, levels, 2, covariance="fitted")
    res = tester((0, 1), (2, 3), (5,))
    table = joint_table(values, counts, [[0, 1], [2, 3], [5]], levels, normalize=False)
    parts = [rank_test(table[:, :, c], 2) for c in range(3)]
    assert res.n_strata == 3 and res.n_judged == 3
    assert res.statistic == pytest.approx(sum(p.statistic for p in parts), rel=1e-10)
    assert res.df == sum(p.df for p in parts)
    assert res.p_value == pytest.approx(stats.chi2.sf(res.statistic, res.df), rel=1e-10)
    assert tester.n_tests == 1


def test_sides_too_small_for_the_rank_are_inconclusive(rows):
    values, counts, levels = rows
    res = RankTester(values, counts, levels, 2)((0,), (1,), (2,))  # 2 x 2 tables: rank <= 2 always
    assert not res.conclusive and np.isnan(res.p_value) and res.n_judged == 0
    assert res.n_strata == 2

"""The conditional rank test of causal discovery under a latent class.

With a hidden ``U`` of ``k`` states pointing at every observed variable, two
disjoint sets ``A`` and ``B`` that are d-separated by ``C`` together with
``U`` have, in every stratum ``C = c``,

.. math::
   P(A = a, B = b \\mid c) = \\sum_{u=1}^{k} P(u \\mid c) P(a \\mid u, c) P(b \\mid u, c),

a matrix of rank at most ``k``; an edge between them (or any open path that
``U`` does not block) raises the rank above ``k`` generically, once each side
has at least ``k + 1`` joint states (Mazaheri, Gordon, Rabani & Schulman,
"Causal discovery under latent class confounding", arXiv:2311.07454, 2023,
the rank lemma). Binary variables are therefore grouped into "super-variables"
of ``ceil(log2(k + 1))`` members or more.

The test of ``H0: rank <= k in every stratum`` sums the per-stratum rank
statistics of Robin & Smith (2000) (:func:`kmix.solvers.latent_class.ranktest.rank_statistic`;
the strata are disjoint samples, so the sum is asymptotically chi-square
with the summed degrees of freedom), as the G-test of a conditional
independence sums over strata. A stratum whose tested table (empty and
sparse rows and columns pooled) has ``min(m, n) <= k`` cannot judge and adds
nothing; when no stratum can judge the test is inconclusive (p-value NaN).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from ...exceptions import DataError
from ...stats.tables import MAX_CELLS, mixed_radix_codes
from ..latent_class.ranktest import rank_statistic

__all__ = ["RankTester", "StratifiedRankTest"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class StratifiedRankTest:
    """One test of ``rank P(A, B | C = c) <= k`` over all strata ``c``.

    Attributes
    ----------
    a, b, cond : tuple of int
        The column indices of the two sides and of the conditioning set.
    statistic : float
        Sum of the per-stratum statistics (NaN when no stratum could judge).
    df : int
        Sum of their degrees of freedom.
    p_value : float
        ``P(chi2_df > statistic)``; NaN when inconclusive.
    n_strata : int
        Strata with rows.
    n_judged : int
        Strata whose table could show a rank above ``k``.
    """

    a: tuple[int, ...]
    b: tuple[int, ...]
    cond: tuple[int, ...]
    statistic: float
    df: int
    p_value: float
    n_strata: int
    n_judged: int

    @property
    def conclusive(self) -> bool:
        """Whether some stratum could judge."""
        return self.n_judged > 0


class RankTester:
    """Conditional rank tests of the columns of unique rows with counts.

    Parameters
    ----------
    values : ndarray of shape (m, n_vars)
        Unique rows of integer codes ``0 .. n_levels[j] - 1``.
    counts : ndarray of shape (m,)
        Their counts.
    n_levels : sequence of int
    rank : int
        ``k``, the number of latent classes.
    pool : bool
        Pool sparse rows and columns of every stratum's table first (Cochran's
        rule; :func:`kmix.solvers.latent_class.ranktest.pool_sparse`).
    covariance : {"auto", "fitted", "observed"}
        Where the cells' covariance is evaluated (see ``rank_statistic``).
    min_stratum : float
        Strata with fewer rows are left out (they cannot judge a rank).
    """

    def __init__(
        self,
        values: NDArray[np.integer],
        counts: FloatArray,
        n_levels: Sequence[int],
        rank: int,
        *,
        pool: bool = True,
        covariance: str = "auto",
        min_stratum: float = 1.0,
    ) -> None:
        self.values = np.asarray(values, dtype=np.int64)
        self.counts = np.asarray(counts, dtype=np.float64)
        self.n_levels = [int(d) for d in n_levels]
        self.rank = int(rank)
        self.pool = bool(pool)
        self.covariance = covariance
        self.min_stratum = float(min_stratum)
        self.n_tests = 0

    def states(self, cols: Sequence[int]) -> int:
        """Joint states of ``cols``."""
        return int(np.prod([self.n_levels[c] for c in cols], dtype=np.int64))

    def __call__(
        self, a: Sequence[int], b: Sequence[int], cond: Sequence[int] = ()
    ) -> StratifiedRankTest:
        """Test ``rank P(A, B | C = c) <= k`` in every stratum, statistics summed."""
        a, b, cond = tuple(a), tuple(b), tuple(cond)
        size_a, size_b, size_c = self.states(a), self.states(b), self.states(cond)
        if size_a * size_b * size_c > MAX_CELLS:
            raise DataError(
                f"the test of {a} against {b} given {cond} needs {size_a * size_b * size_c:,} "
                f"cells (more than {MAX_CELLS:,}); use fewer conditioning variables (max_cond)"
            )
        code_a, _ = mixed_radix_codes(self.values, a, self.n_levels)
        code_b, _ = mixed_radix_codes(self.values, b, self.n_levels)
        code_c, _ = mixed_radix_codes(self.values, cond, self.n_levels)
        cell = (code_c * size_a + code_a) * size_b + code_b
        # only the strata that occur: their tables from one bincount over the occupied cells
        occupied, where = np.unique(cell // (size_a * size_b), return_inverse=True)
        local = where * (size_a * size_b) + cell % (size_a * size_b)
        tables = np.bincount(
            local, weights=self.counts, minlength=occupied.shape[0] * size_a * size_b
        ).reshape(-1, size_a, size_b)
        self.n_tests += 1
        statistic, df, judged, strata = 0.0, 0, 0, 0
        for table in tables:
            n = float(table.sum())
            if n <= 0:
                continue
            strata += 1
            if n < self.min_stratum:
                continue
            res = rank_statistic(table, self.rank, n, pool=self.pool, covariance=self.covariance)
            if not np.isfinite(res.p_value):
                continue
            judged += 1
            statistic += res.statistic
            df += res.df
        if judged == 0:
            nan = float("nan")
            return StratifiedRankTest(a, b, cond, nan, 0, nan, strata, 0)
        p = float(stats.chi2.sf(statistic, df))
        return StratifiedRankTest(a, b, cond, statistic, df, p, strata, judged)

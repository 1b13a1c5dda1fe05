"""Chi-square rank test (Ratsimalahelo 2001; Robin & Smith 2000), spec section E3.

References, per test: the nominal 5% level (the spec reports 6.3% for 4 x 6,
k = 2, N = 5000) and power 1.0 against rank 3; the nominal level with its
binomial interval on a sparse 16 x 16 table; Pearson's chi-square test of
independence (``scipy.stats.chi2_contingency``), asymptotically equivalent at
k = 1; a literal transcription of the E3 formulas (explicit Kronecker product,
explicit covariance, ``numpy.linalg.pinv``), with the covariance at the
observed table or at the maximum-likelihood table of k classes computed by
scikit-learn's KL NMF; exact population tables, whose rank is known;
Cochran's rule and the sums of the pooled groups; and the invariances of the
rank of a matrix.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom, chi2, chi2_contingency

from kmix.exceptions import DataError
from kmix.solvers.latent_class import ranktest
from kmix.solvers.latent_class.ranktest import (
    RankSelection,
    RankTestResult,
    pool_sparse,
    rank_test,
    select_rank,
)


def _low_rank_table(rng: np.random.Generator, m: int, n: int, r: int) -> np.ndarray:
    """Population table ``W H / sum(W H)`` with random nonnegative factors."""
    t = rng.uniform(0.0, 1.0, (m, r)) @ rng.uniform(0.0, 1.0, (r, n))
    return t / t.sum()


def _rank3_table() -> np.ndarray:
    """A 4 x 6 rank-3 table with well separated factors (sigma_3 / sigma_1 ~ 0.3)."""
    w = np.array([[1.0, 0.2, 0.2], [0.2, 1.0, 0.2], [0.2, 0.2, 1.0], [0.5, 0.5, 0.5]])
    h = np.array(
        [
            [1.0, 0.8, 0.1, 0.1, 0.3, 0.1],
            [0.1, 0.2, 1.0, 0.9, 0.1, 0.2],
            [0.2, 0.1, 0.1, 0.2, 1.0, 0.9],
        ]
    )
    t = w @ h
    return t / t.sum()


def _sample(rng: np.random.Generator, p: np.ndarray, n: int, reps: int) -> np.ndarray:
    return rng.multinomial(n, p.ravel(), size=reps).reshape(reps, *p.shape)


def _e3_literal(counts: np.ndarray, k: int, cells: np.ndarray | None = None) -> tuple[float, int]:
    """Spec E3 transcribed step by step (observed rows/columns of a positive table).

    ``cells``: the cell probabilities of the covariance (default the observed ones).
    """
    n_total = counts.sum()
    a = counts / n_total
    m, n = a.shape
    u, _, vt = np.linalg.svd(a, full_matrices=True)
    u2, v2 = u[:, k:m], vt.T[:, k:n]
    l_hat = (u2.T @ a @ v2).flatten(order="F")
    p_hat = (a if cells is None else cells).flatten(order="F")
    sigma = np.diag(p_hat) - np.outer(p_hat, p_hat)
    kron = np.kron(v2, u2)
    q_hat = kron.T @ sigma @ kron
    return float(n_total * l_hat @ np.linalg.pinv(q_hat) @ l_hat), (m - k) * (n - k)


def test_level_under_h0_rank2_4x6():
    # Reference: nominal level 5%; the spec reports 6.3% for this setting. Over
    # seeds 0-99 (40,000 replicates) the mean rejection rate is 5.0%; the two seeds
    # outside [0.02, 0.09] (55: 1.5%, 76: 14.8%) draw nearly rank-1 tables
    # (sigma_2 / sigma_1 of 0.023 and 0.032), where the chi-square limit is a poor
    # guide at N = 5000.
    rng = np.random.default_rng(0)
    p = _low_rank_table(rng, 4, 6, 2)
    assert np.linalg.matrix_rank(p) == 2
    pvals = np.array([rank_test(c, 2).p_value for c in _sample(rng, p, 5000, 400)])
    rate = float(np.mean(pvals < 0.05))
    assert 0.02 <= rate <= 0.09, rate


def test_power_against_rank3_4x6():
    # Reference: the spec reports power 1.0 against rank 3 at N = 5000.
    rng = np.random.default_rng(1)
    p = _rank3_table()
    assert np.linalg.matrix_rank(p) == 3
    pvals = np.array([rank_test(c, 2).p_value for c in _sample(rng, p, 5000, 100)])
    assert np.mean(pvals < 0.05) >= 0.95


def _survey_table() -> np.ndarray:
    """P(X_A, X_B) of three classes seen through two 4-level items per view (16 x 16, rank 3).

    A level of every item has probability 0.06 in every class, so the table has
    rows and columns of expected count ~5 and cells of ~0.02 at N = 1,311 (the
    size of poLCA's election data): a sparse table.
    """
    weights = np.array([0.45, 0.35, 0.20])
    item = np.array([[0.60, 0.20, 0.14, 0.06], [0.20, 0.60, 0.14, 0.06], [0.15, 0.15, 0.64, 0.06]])
    other = item[:, [1, 2, 0, 3]]

    def view(first: np.ndarray, second: np.ndarray) -> np.ndarray:
        return np.einsum("ua,ub->uab", first, second).reshape(3, -1)

    a, b = view(item, other), view(other[[2, 0, 1]], item)
    return (a.T * weights) @ b


def test_level_holds_on_a_sparse_table():
    # Reference: the nominal 5% level with its central 99% binomial interval over 200
    # tables, [3, 19] rejections. Seeds 0-29 all land inside (mean level 4.3%). The
    # covariance at the observed table, unpooled, rejects the true k on almost every
    # table (the failure this test guards against).
    p = _survey_table()
    assert np.linalg.matrix_rank(p) == 3
    rng = np.random.default_rng(0)
    tables = _sample(rng, p, 1311, 200)
    first = rank_test(tables[0], 3)
    assert first.table_shape == (16, 16) and first.shape[0] < 16 and first.shape[1] < 16
    rejected = sum(rank_test(t, 3).p_value < 0.05 for t in tables)
    low, high = binom.ppf(0.005, 200, 0.05), binom.isf(0.005, 200, 0.05)
    assert low <= rejected <= high, rejected
    raw = [rank_test(t, 3, pool=False, covariance="observed").p_value for t in tables[:40]]
    assert np.mean(np.array(raw) < 0.05) > 0.5
    power = [rank_test(t, 2).p_value for t in tables[:40]]
    assert np.mean(np.array(power) < 0.05) >= 0.9


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_rank1_matches_pearson_independence_test(seed):
    # Reference: Pearson's chi-square (scipy, no continuity correction), which is
    # asymptotically equivalent to the rank-1 test under independence; and the literal
    # E3 formulas with the covariance at the independence table r c^T / N^2, which is the
    # maximum-likelihood table of one class (closed form).
    rng = np.random.default_rng(seed)
    p = np.outer(rng.dirichlet(np.full(3, 3.0)), rng.dirichlet(np.full(3, 3.0)))
    counts = rng.multinomial(100_000, p.ravel()).reshape(3, 3)
    res = rank_test(counts, 1)
    pearson = chi2_contingency(counts, correction=False)
    assert res.df == pearson.dof == 4
    assert abs(res.statistic / pearson.statistic - 1.0) < 0.05
    assert res.p_value == pytest.approx(chi2.sf(res.statistic, 4))
    independence = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / counts.sum() ** 2
    stat, _ = _e3_literal(counts, 1, independence)
    assert res.statistic == pytest.approx(stat, rel=1e-9)


@pytest.mark.parametrize(("shape", "k"), [((4, 6), 1), ((4, 6), 2), ((5, 3), 1), ((3, 3), 2)])
def test_matches_literal_e3_formulas(shape, k):
    # Reference: the E3 steps written out with an explicit covariance and kron.
    rng = np.random.default_rng(sum(shape) + k)
    p = _low_rank_table(rng, *shape, r=min(shape))
    counts = rng.multinomial(3000, p.ravel()).reshape(shape)
    assert (counts.sum(axis=0) > 0).all() and (counts.sum(axis=1) > 0).all()
    stat, df = _e3_literal(counts, k)
    res = rank_test(counts, k, pool=False, covariance="observed")
    assert res.df == df
    assert res.statistic == pytest.approx(stat, rel=1e-8)


@pytest.mark.parametrize(("shape", "k"), [((4, 6), 2), ((3, 3), 2), ((5, 7), 3)])
def test_fitted_covariance_matches_scikit_learn_kl_nmf(shape, k, monkeypatch):
    # Reference: the E3 formulas with the covariance at the maximum-likelihood table of
    # k classes, here computed by scikit-learn's KL NMF (multiplicative updates, its own
    # code) run to tol 1e-14. Run as far, kmix's fit agrees to 1e-6; at its default
    # stopping rule (a relative gain below 1e-9 over ten EM steps) the statistic moves
    # by at most 1e-3 of itself (3e-4 measured on 50 sparse 11 x 11 tables).
    import warnings

    from sklearn.decomposition import NMF

    rng = np.random.default_rng(sum(shape) + k)
    p = _low_rank_table(rng, *shape, r=min(shape))
    counts = rng.multinomial(3000, p.ravel()).reshape(shape)
    a = counts / counts.sum()
    nmf = NMF(
        k, beta_loss="kullback-leibler", solver="mu", init="nndsvda", tol=1e-14, max_iter=100_000
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = nmf.fit_transform(a) @ nmf.components_
    stat, df = _e3_literal(counts, k, fit / fit.sum())
    default = rank_test(counts, k, pool=False).statistic
    assert default == pytest.approx(stat, rel=1e-3)
    monkeypatch.setattr(ranktest, "NULL_FIT_TOL", 1e-14)
    monkeypatch.setattr(ranktest, "NULL_FIT_MAX_ITER", 200_000)
    res = rank_test(counts, k, pool=False)
    assert res.df == df
    assert res.statistic == pytest.approx(stat, rel=1e-6)


def test_empty_rows_and_columns_are_dropped():
    # Reference: the same test on the observed 4 x 6 sub-table.
    rng = np.random.default_rng(5)
    counts = rng.multinomial(5000, _low_rank_table(rng, 4, 6, 2).ravel()).reshape(4, 6)
    padded = np.zeros((5, 8), dtype=np.int64)
    rows, cols = [0, 1, 3, 4], [0, 2, 3, 4, 6, 7]
    padded[np.ix_(rows, cols)] = counts
    full, sub = rank_test(padded, 2), rank_test(counts, 2)
    assert full.df == sub.df == (4 - 2) * (6 - 2)
    assert full.shape == sub.shape == (4, 6) and full.table_shape == (5, 8)
    assert full.statistic == pytest.approx(sub.statistic, rel=1e-10)
    assert full.p_value == pytest.approx(sub.p_value, rel=1e-8, abs=1e-300)
    np.testing.assert_allclose(full.singular_values, sub.singular_values, rtol=1e-12)
    assert full.singular_values.shape == (4,)
    # Only two observed rows: every such table has rank <= 2, so the test cannot judge.
    two_rows = np.zeros((4, 6))
    two_rows[[0, 2]] = counts[:2]
    for pool in (True, False):
        trivial = rank_test(two_rows, 2, pool=pool)
        assert np.isnan(trivial.statistic) and np.isnan(trivial.p_value) and trivial.df == 0
        assert "2 rows and 6 columns" in trivial.reason and "at least 3 of each" in trivial.reason


@pytest.mark.parametrize("k", [2, 3])
def test_exact_low_rank_table_gives_zero_statistic(k):
    # Reference: a population table of rank exactly k satisfies H0 exactly.
    rng = np.random.default_rng(k)
    p = _low_rank_table(rng, 4, 6, k)
    for covariance in ("fitted", "observed"):
        res = rank_test(p, k, n_samples=1e9, covariance=covariance)
        assert res.statistic < 1e-6
        assert res.p_value > 1.0 - 1e-6
        assert res.df == (4 - k) * (6 - k) and res.reason is None
    assert res.singular_values[k] < 1e-14 * res.singular_values[0]
    big = rank_test(p, 4, n_samples=1e9)  # min(m, n) <= k: cannot judge
    assert np.isnan(big.p_value) and big.df == 0
    assert "4 rows and 6 columns" in big.reason


def test_counts_proportions_and_invariances():
    # Reference: rank is invariant under transposition and row/column permutation;
    # counts and proportions with the same N describe the same data. The fitted
    # covariance comes from an iterative fit whose two updates swap roles under
    # transposition, so a transposed table agrees to the fit's precision (1e-4, see
    # test_fitted_covariance_matches_scikit_learn_kl_nmf); the observed one exactly.
    rng = np.random.default_rng(7)
    counts = rng.multinomial(4000, _rank3_table().ravel()).reshape(4, 6)
    rows, cols = rng.permutation(4), rng.permutation(6)
    for covariance, rel in (("observed", 1e-8), ("fitted", 1e-4)):
        base = rank_test(counts, 2, covariance=covariance)
        props = rank_test(counts / counts.sum(), 2, n_samples=4000, covariance=covariance)
        assert props.statistic == pytest.approx(base.statistic, rel=1e-10)
        moved = rank_test(counts[rows][:, cols], 2, covariance=covariance)
        assert moved.statistic == pytest.approx(base.statistic, rel=1e-8)
        flipped = rank_test(counts.T, 2, covariance=covariance)
        assert flipped.statistic == pytest.approx(base.statistic, rel=rel)
        assert moved.df == flipped.df == base.df
        halved = rank_test(counts, 2, n_samples=2000, covariance=covariance)
        assert halved.statistic == pytest.approx(base.statistic / 2, rel=1e-10)
    assert isinstance(base, RankTestResult)
    assert not base.singular_values.flags.writeable


# ------------------------------------------------------------------ pooling
def _cochran(counts: np.ndarray) -> bool:
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / counts.sum()
    return bool(expected.min() >= 1.0 and np.mean(expected < 5.0) <= 0.2)


@pytest.mark.parametrize("seed", range(4))
def test_pooling_meets_cochrans_rule_and_sums_groups(seed):
    # Reference: Cochran's (1954) rule on the expected counts r_i c_j / N, computed here;
    # the pooled cells are the sums of the groups' cells; the groups partition the
    # non-empty rows and columns.
    rng = np.random.default_rng(seed)
    counts = _sample(rng, _survey_table(), 1311, 1)[0]
    assert not _cochran(counts)
    pooled = pool_sparse(counts)
    assert _cochran(pooled.counts)
    rebuilt = np.array(
        [[counts[np.ix_(r, c)].sum() for c in pooled.col_groups] for r in pooled.row_groups]
    )
    np.testing.assert_array_equal(pooled.counts, rebuilt)
    for groups, nonempty in (
        (pooled.row_groups, np.flatnonzero(counts.sum(axis=1))),
        (pooled.col_groups, np.flatnonzero(counts.sum(axis=0))),
    ):
        np.testing.assert_array_equal(np.sort(np.concatenate(groups)), nonempty)
    assert not pooled.counts.flags.writeable


def test_pooling_cannot_raise_the_rank_and_keeps_full_tables():
    # Reference: the rank of a product G_r P G_c^T is at most that of P; a table that
    # already meets Cochran's rule has nothing to pool.
    rng = np.random.default_rng(3)
    w = rng.uniform(0.0, 1.0, (12, 2))
    w[:5] *= 1e-3  # five rare rows
    p = w @ rng.uniform(0.0, 1.0, (2, 9))
    counts = 2000 * p / p.sum()
    pooled = pool_sparse(counts)
    assert pooled.counts.shape[0] < 12
    assert np.linalg.matrix_rank(pooled.counts, tol=1e-9 * pooled.counts.max()) == 2
    dense = np.array([[40.0, 30.0, 20.0], [35.0, 45.0, 25.0]])
    same = pool_sparse(dense)
    np.testing.assert_array_equal(same.counts, dense)
    assert [g.tolist() for g in same.row_groups] == [[0], [1]]


def test_a_table_pooled_below_k_plus_one_cannot_judge_k():
    # Reference: a table pooled to m x n has rank <= min(m, n) whatever the population.
    rng = np.random.default_rng(1)
    counts = rng.multinomial(40, _survey_table().ravel()).reshape(16, 16)
    res = rank_test(counts, 3)
    assert min(res.shape) <= 3 and res.table_shape == (16, 16)
    assert np.isnan(res.p_value) and "a test of rank <= 3 needs at least 4 of each" in res.reason


@pytest.mark.parametrize(
    ("table", "kwargs", "match"),
    [
        ([[1.0, -2.0], [3.0, 4.0]], {}, r"negative entry -2\.0"),
        ([[1.0, np.nan], [3.0, 4.0]], {}, r"non-finite entry nan"),
        ([[1.0, np.inf], [3.0, 4.0]], {}, r"non-finite entry inf"),
        (np.zeros((0, 3)), {}, r"empty \(shape \(0, 3\)\)"),
        ([1.0, 2.0, 3.0], {}, r"2-D .*shape \(3,\)"),
        ([["a", "b"]], {}, r"'a'"),
        (np.zeros((2, 3)), {}, r"N = 0\.0"),
        ([[1.0, 2.0], [3.0, 4.0]], {"n_samples": 0}, r"N = 0"),
        ([[1.0, 2.0], [3.0, 4.0]], {"n_samples": -5.0}, r"N = -5\.0"),
        ([[0.25, 0.25], [0.25, 0.25]], {}, r"n_samples=None"),
        ([[1.0, 2.0], [3.0, 4.0]], {"rank": -1}, r"rank .*got -1"),
        ([[1.0, 2.0], [3.0, 4.0]], {"rank": 1.5}, r"rank .*got 1\.5"),
        ([[1.0, 2.0], [3.0, 4.0]], {"rank": True}, r"rank .*got True"),
        ([[1.0, 2.0], [3.0, 4.0]], {"covariance": "pearson"}, r"covariance='pearson'.*fitted"),
    ],
)
def test_bad_input_raises_data_error_naming_the_value(table, kwargs, match):
    # Reference: design convention 4 (errors name the argument and the value).
    kwargs = {"rank": 1, **kwargs}
    with pytest.raises(DataError, match=match):
        rank_test(table, **kwargs)


@pytest.mark.parametrize(
    ("table", "match"),
    [(np.zeros((2, 2)), r"sums to 0\.0"), ([[1.0, -1.0]], r"negative entry -1\.0")],
)
def test_pool_sparse_bad_input(table, match):
    with pytest.raises(DataError, match=match):
        pool_sparse(table)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 0.0}, r"alpha=0\.0"),
        ({"alpha": 1.5}, r"alpha=1\.5"),
        ({"max_rank": 0}, r"max_rank .*got 0"),
        ({"n_samples": -1}, r"N = -1"),
    ],
)
def test_select_rank_bad_input(kwargs, match):
    with pytest.raises(DataError, match=match):
        select_rank([[1.0, 2.0], [3.0, 4.0]], **kwargs)


@pytest.mark.parametrize("true_rank", [2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_select_rank_recovers_rank(seed, true_rank):
    # Reference: the rank of the population table. N = 1e6 makes the power ~1 and
    # alpha = 1e-3 makes over-selection rare (checked: seeds 0-99 all pass; at
    # alpha = 0.01, 3 of 100 rank-2 seeds over-select, as a 1% level allows).
    rng = np.random.default_rng(seed)
    p = _low_rank_table(rng, 4, 6, 2) if true_rank == 2 else _rank3_table()
    counts = rng.multinomial(1_000_000, p.ravel()).reshape(4, 6)
    sel = select_rank(counts, alpha=1e-3)
    assert isinstance(sel, RankSelection)
    assert sel.rank == true_rank
    assert [t.rank for t in sel.tests] == list(range(1, true_rank + 1))
    assert all(t.p_value <= 1e-3 for t in sel.tests[:-1])
    assert sel.tests[-1].p_value > 1e-3


def test_select_rank_max_rank_caps_the_search():
    # Reference: a full-rank 3 x 3 table rejects every k < 3, and has rank 3.
    counts = np.array([[400, 100, 0], [100, 400, 0], [0, 0, 500]])
    capped = select_rank(counts, max_rank=1)
    assert capped.rank == 2  # "more than max_rank"
    assert [t.rank for t in capped.tests] == [1]
    full = select_rank(counts)
    assert full.rank == 3
    assert full.tests[-1].df == 0 and full.tests[-1].reason is not None

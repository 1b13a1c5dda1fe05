"""Fit statistics and the bootstrap likelihood-ratio test (kmix.estimators.fitstats).

References: the classical test of independence of a two-way table
(``scipy.stats.chi2_contingency``), for which the one-class latent class
model is the independence model; the printed output of poLCA for the
carcinoma data (Linzer & Lewis, poLCA manual version 1.4, 2013, section 6.1);
the estimators' own ``aic``/``bic``; closed forms written out in each test
(Sclove's and Bozdogan's criteria, the posterior of a one-item mixture, the
binomial table cell by cell).
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pytest
from scipy.special import xlogy
from scipy.stats import binom, chi2_contingency

import kmix
from kmix import BayesNetMixture, CoinMixture, FiniteMixture, ProductMixture
from kmix.datasets import bayesnet_mixture, carcinoma, random_sparse_dag
from kmix.estimators.fitstats import BLRTResult, FitStatistics, blrt, fit_statistics
from kmix.exceptions import DataError, NotFittedError


def _rows(table: np.ndarray) -> np.ndarray:
    """One row (i, j) per observation of a two-way table of counts."""
    i, j = np.indices(table.shape)
    return np.repeat(np.column_stack([i.ravel(), j.ravel()]), table.ravel(), axis=0)


def _two_classes(n: int, d: int, seed: int) -> np.ndarray:
    """Binary items from two well separated classes of equal size."""
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.5
    return (rng.random((n, d)) < np.where(z[:, None], 0.85, 0.15)).astype(int)


def test_one_class_is_the_classical_test_of_independence():
    """k = 1 is the independence model: G^2, X^2 and df of the two-way table (one zero cell)."""
    table = np.array([[12, 5, 9, 0], [7, 15, 4, 6], [3, 8, 20, 11]])
    X = _rows(table)
    model = ProductMixture(1, random_state=0).fit(X)
    stats = fit_statistics(model, X)
    g2, _, dof, _ = chi2_contingency(table, correction=False, lambda_="log-likelihood")
    x2, _, _, _ = chi2_contingency(table, correction=False)
    assert stats.g_squared == pytest.approx(g2, rel=1e-9)
    assert stats.chi_squared == pytest.approx(x2, rel=1e-9)  # the empty cell counts too
    assert stats.df == dof == (3 - 1) * (4 - 1)
    assert stats.n_cells == 12 and stats.n_patterns == 11 and stats.n_parameters == 2 + 3
    assert math.isnan(stats.entropy_r2)  # one class: nothing to classify


def test_carcinoma_matches_the_published_poLCA_output():
    """poLCA manual v1.4, section 6.1, printed output of the three-class model ``lc3``:

    118 observations, 23 parameters, 95 residual df, log-likelihood -293.705,
    AIC(3) 633.41, BIC(3) 697.1357, G^2(3) 15.26171, X^2(3) 20.50336 (and, in
    the text, AIC 664.5 and BIC 706.1 with two classes).
    """
    data = carcinoma()
    model = ProductMixture(3, random_state=0).fit(data.patterns, sample_weight=data.counts)
    stats = fit_statistics(model, data.patterns, sample_weight=data.counts)
    assert stats.n_samples == 118 and stats.n_parameters == 23 and stats.df == 95
    assert stats.log_likelihood == pytest.approx(-293.705, abs=5e-4)
    assert stats.aic == pytest.approx(633.41, abs=5e-3)
    assert stats.bic == pytest.approx(697.1357, abs=5e-5)
    assert stats.g_squared == pytest.approx(15.26171, abs=5e-6)
    assert stats.chi_squared == pytest.approx(20.50336, abs=5e-6)
    assert stats.n_cells == 2**7 and stats.n_patterns == len(data.counts)
    # one row per slide gives the same table
    expanded = fit_statistics(model, data.expand())
    for name in ("g_squared", "chi_squared", "df", "bic", "entropy_r2"):
        assert getattr(expanded, name) == pytest.approx(getattr(stats, name), rel=1e-10), name
    two = ProductMixture(2, random_state=0).fit(data.patterns, sample_weight=data.counts)
    two_stats = two.fit_statistics(data.patterns, sample_weight=data.counts)
    assert round(two_stats.aic, 1) == 664.5 and round(two_stats.bic, 1) == 706.1


def test_criteria_are_the_estimators_own_and_the_closed_forms():
    """AIC/BIC as the estimator computes them; SABIC (Sclove 1987) and CAIC (Bozdogan 1987)."""
    rng = np.random.default_rng(3)
    X = np.where(rng.random((400, 4)) < 0.5, "yes", "no").astype(object)
    X[:200] = np.where(rng.random((200, 4)) < 0.8, "yes", "no")
    w = rng.integers(0, 4, size=400).astype(float)  # zero weights: rows left out
    model = FiniteMixture(2, family="categorical", random_state=0).fit(X, sample_weight=w)
    stats = fit_statistics(model, X, sample_weight=w)
    ll, p, n = stats.log_likelihood, stats.n_parameters, w.sum()
    assert stats.n_samples == n and p == model.n_parameters() == 1 + 2 * 4
    assert ll == pytest.approx(model.log_likelihood_, rel=1e-10)
    assert stats.aic == pytest.approx(model.aic(X, sample_weight=w), rel=1e-12)
    assert stats.bic == pytest.approx(model.bic(X, sample_weight=w), rel=1e-12)
    assert stats.bic == pytest.approx(model.bic(), rel=1e-10)  # the training data
    assert stats.sabic == pytest.approx(-2 * ll + p * np.log((n + 2) / 24), rel=1e-12)
    assert stats.caic == pytest.approx(-2 * ll + p * (np.log(n) + 1), rel=1e-12)
    assert stats.n_rows_scored == np.count_nonzero(w) and stats.n_cells == 2**4
    assert 0.0 <= stats.entropy_r2 <= 1.0
    assert model.fit_statistics(X, sample_weight=w).as_dict() == stats.as_dict()


def test_entropy_r2_closed_forms():
    """Certain assignments give 1; one binary item gives the posterior in closed form."""
    X = np.repeat([[0, 0, 0], [1, 1, 1]], [30, 70], axis=0)
    sure = FiniteMixture(2, family="bernoulli", fixed_params={"p": [[0, 0, 0], [1, 1, 1]]})
    stats = fit_statistics(sure.fit(X), X)
    assert stats.entropy == 0.0 and stats.entropy_r2 == 1.0
    # two factories, P(red) 0.8 and 0.3; 55 red of 100 give P(F1) = (0.55 - 0.3) / 0.5 = 0.5,
    # so P(F1 | red) = 0.4 / 0.55 = 8/11 and P(F1 | blue) = 0.1 / 0.45 = 2/9
    X = np.array([[1]] * 55 + [[0]] * 45)
    model = FiniteMixture(2, family="bernoulli", fixed_params={"p": [[0.8], [0.3]]}).fit(X)
    stats = fit_statistics(model, X)

    def h(q: float) -> float:
        return -(q * math.log(q) + (1 - q) * math.log(1 - q))

    entropy = 55 * h(8 / 11) + 45 * h(2 / 9)
    assert stats.entropy == pytest.approx(entropy, rel=1e-9)
    assert stats.entropy_r2 == pytest.approx(1 - entropy / (100 * math.log(2)), rel=1e-9)
    # the fitted P(red) = 0.55 is the observed share: the table is fitted exactly
    assert stats.g_squared == pytest.approx(0.0, abs=1e-12)
    assert stats.n_cells == 2 and stats.n_parameters == 1 and stats.df == 0


def test_binomial_table_by_number_of_trials():
    """Each number of trials is its own table; every cell (seen or not) computed here."""
    rng = np.random.default_rng(0)
    draws = [rng.binomial(t, p, n) for t, n in ((3, 150), (5, 100)) for p in (0.2, 0.7)]
    heads = np.concatenate(draws)
    trials = np.repeat([3, 5], [300, 200])
    model = FiniteMixture(2, family="binomial", random_state=0).fit(heads[:, None], n_trials=trials)
    stats = fit_statistics(model, heads[:, None], n_trials=trials)
    g2 = x2 = 0.0
    saturated = 0
    for t in (3, 5):
        h = heads[trials == t]
        observed = np.bincount(h, minlength=t + 1)
        pmf = sum(
            w * binom.pmf(np.arange(t + 1), t, p)
            for w, p in zip(model.weights_, model.params_.p[:, 0], strict=True)
        )
        expected = h.size * pmf
        g2 += 2 * np.sum(xlogy(observed, observed / expected))
        x2 += np.sum((observed - expected) ** 2 / expected)
        saturated += min(h.size, t)  # min(N_t, C_t - 1)
    assert stats.g_squared == pytest.approx(g2, rel=1e-9)
    assert stats.chi_squared == pytest.approx(x2, rel=1e-9)
    assert stats.df == saturated - 3 and stats.n_cells == 4 + 6


def test_k_coins_with_2k_minus_1_flips_fit_the_histogram_exactly():
    """Three flips, two coins: 3 free parameters for 3 free cells, so G^2 = X^2 = df = 0."""
    heads = np.repeat([0, 1, 2, 3], [300, 200, 200, 300])
    model = CoinMixture(2).fit(heads, n_trials=3)
    stats = fit_statistics(model, heads, n_trials=3)
    assert stats.n_cells == 4 and stats.df == 0 and stats.n_parameters == 3
    assert stats.g_squared == pytest.approx(0.0, abs=1e-8)
    assert stats.chi_squared == pytest.approx(0.0, abs=1e-8)
    table = np.column_stack([heads, np.full(heads.size, 3)])  # the (heads, trials) form
    assert fit_statistics(model, table).as_dict() == pytest.approx(stats.as_dict())


@pytest.mark.parametrize("missing", ["drop", "fiml"])
def test_rows_with_missing_values_leave_the_table(missing):
    """Table statistics from the complete rows; the likelihood from the rows the model scores.

    Both ``missing="fiml"`` and ``"drop"`` score every row by the likelihood of
    its observed answers (one score per row; ``"drop"`` differs in the rows it
    was fitted to), so the likelihood counts all 300 rows.
    """
    X = _two_classes(300, 5, seed=1).astype(float)
    X[[3, 50, 200], [0, 2, 4]] = np.nan
    complete = ~np.isnan(X).any(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ProductMixture(2, missing=missing, random_state=0).fit(X)
        try:  # the model's own answer: which rows it scores
            log_prob = model.score_samples(X)
        except DataError:
            log_prob = model.score_samples(X[complete])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats = fit_statistics(model, X)
    alone = fit_statistics(model, X[complete])
    for name in ("g_squared", "chi_squared", "df", "n_cells", "n_patterns", "n_samples_table"):
        assert getattr(stats, name) == getattr(alone, name), name
    assert stats.n_rows_excluded == 3 and alone.n_rows_excluded == 0
    assert stats.n_samples_table == 297 and stats.n_rows_scored == log_prob.shape[0]
    assert stats.log_likelihood == pytest.approx(float(log_prob.sum()), rel=1e-12)
    assert stats.n_rows_scored == 300 and stats.n_samples == 300
    assert stats.bic == pytest.approx(model.bic(X), rel=1e-12)
    assert not any("does not score rows" in str(c.message) for c in caught)


def test_continuous_data_form_no_table():
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(4, 1, (100, 2))])
    model = FiniteMixture(2, family="gaussian", n_init=1, random_state=0).fit(X)
    stats = fit_statistics(model, X)
    assert math.isnan(stats.g_squared) and math.isnan(stats.chi_squared) and math.isnan(stats.df)
    assert stats.n_cells is None
    assert stats.bic == pytest.approx(model.bic(X), rel=1e-12)
    assert 0.9 < stats.entropy_r2 <= 1.0  # clusters four standard deviations apart


def test_bayes_net_mixture_table_from_labelled_columns():
    """Patterns counted here with numpy over the text rows; cells = product of levels."""
    dag = random_sparse_dag(4, 1, random_state=3)
    X, truth = bayesnet_mixture(dag, 2, 3000, separation=0.3, random_state=3)
    labels = np.where(X == 1, "yes", "no")
    data = {c: labels[:, j] for j, c in enumerate(truth.columns)}
    model = BayesNetMixture(dag, 2, random_state=0).fit(data)
    stats = fit_statistics(model, data)
    patterns, first, counts = np.unique(labels, axis=0, return_index=True, return_counts=True)
    expected = 3000 * np.exp(model.score_samples(data)[first])
    assert stats.g_squared == pytest.approx(2 * np.sum(counts * np.log(counts / expected)))
    assert stats.n_cells == 2**4 and stats.n_patterns == len(patterns)
    assert stats.df == min(3000, 2**4 - 1) - model.n_parameters()


def test_blrt_rejects_one_class_when_there_are_two():
    """Two classes 0.85 / 0.15 apart on 4 items: no bootstrap statistic reaches the observed."""
    X = _two_classes(200, 4, seed=0)
    model = FiniteMixture(
        2, family="bernoulli", init="random", n_init=3, tol=1e-6, random_state=0
    ).fit(X)
    res = blrt(model, X, n_boot=24, random_state=1)
    assert isinstance(res, BLRTResult) and res.statistics.shape == (24,)
    assert res.p_value == (1 + np.sum(res.statistics >= res.statistic)) / 25
    assert res.p_value < 0.05
    null = res.null_model
    assert null.n_components == 1
    assert res.statistic == pytest.approx(2 * (model.log_likelihood_ - null.log_likelihood_))


def test_blrt_is_reproducible_and_logs_each_data_set(caplog):
    X = _two_classes(150, 4, seed=4)
    model = ProductMixture(2, n_init=1, random_state=0).fit(X)
    with caplog.at_level(logging.INFO, logger="kmix"):
        first = blrt(model, X, n_boot=3, random_state=5)
    lines = [r for r in caplog.records if r.name == "kmix" and "data set" in r.getMessage()]
    assert sum(r.levelno == logging.INFO for r in lines) == 3
    again = blrt(model, X, n_boot=3, random_state=5)
    np.testing.assert_array_equal(first.statistics, again.statistics)
    assert 0 < first.p_value <= 1 and first.n_components == 2


def test_blrt_redraws_each_rows_number_of_trials():
    rng = np.random.default_rng(1)
    trials = np.repeat([3, 5], [150, 150])
    heads = rng.binomial(trials, np.where(rng.random(300) < 0.5, 0.2, 0.8))
    table = np.column_stack([heads, trials])
    model = CoinMixture(2, random_state=0).fit(table)
    res = blrt(model, table, n_boot=2, random_state=0)
    assert np.all(np.isfinite(res.statistics))
    assert res.statistic == pytest.approx(
        2 * (model.log_likelihood_ - res.null_model.log_likelihood_)
    )


def test_blrt_draws_again_when_a_fit_refuses_a_data_set(caplog):
    """A bootstrap data set a fit refuses is replaced; refusals beyond n_boot end the test."""
    X = _two_classes(120, 4, seed=3)

    class Refusing(ProductMixture):
        calls: list[int] = []  # noqa: RUF012  (shared by every clone)
        refuse: tuple[int, ...] = ()

        def fit(self, X, y=None, *, sample_weight=None):
            self.calls.append(1)
            if len(self.calls) in self.refuse or (len(self.calls) > 2 and not self.refuse):
                raise DataError("refused")
            return super().fit(X, sample_weight=sample_weight)

    # fits: 1 the model, 2 the null, then (null, alternative) per data set; the 4th refuses
    Refusing.refuse = (4,)
    model = Refusing(2, n_init=1, random_state=0).fit(X)
    with caplog.at_level(logging.WARNING, logger="kmix"):
        res = blrt(model, X, n_boot=2, random_state=0)
    assert res.n_failed == 1 and len(Refusing.calls) == 2 + 2 * 3
    assert res.statistics.shape == (2,) and np.all(np.isfinite(res.statistics))
    assert any("drawn again: refused" in r.getMessage() for r in caplog.records)
    Refusing.calls.clear()
    Refusing.refuse = ()  # every bootstrap fit refuses
    model = Refusing(2, n_init=1, random_state=0).fit(X)
    with pytest.raises(DataError, match="fits failed on 3 data sets: refused"):
        blrt(model, X, n_boot=2, random_state=0)


def test_blrt_refusals():
    X = _two_classes(100, 4, seed=2)
    one = ProductMixture(1, random_state=0).fit(X)
    with pytest.raises(DataError, match="n_components >= 2; got 1"):
        blrt(one, X, n_boot=2)
    with pytest.raises(NotFittedError):
        blrt(ProductMixture(2), X, n_boot=2)

    class NoSampler(ProductMixture):
        sample = None

    model = NoSampler(2, n_init=1, random_state=0).fit(X)
    with pytest.raises(DataError, match="has no sample method"):
        blrt(model, X, n_boot=2)
    two = ProductMixture(2, n_init=1, random_state=0).fit(X)
    with pytest.raises(DataError, match="whole counts"):
        blrt(two, X, n_boot=2, sample_weight=np.full(100, 0.5 + 1e-3))


def test_public_names():
    assert kmix.fit_statistics is fit_statistics and kmix.blrt is blrt
    assert kmix.FitStatistics is FitStatistics and kmix.BLRTResult is BLRTResult
    assert {"FitStatistics", "fit_statistics", "blrt", "BLRTResult"} <= set(kmix.__all__)

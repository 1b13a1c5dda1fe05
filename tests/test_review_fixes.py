"""Regression tests for the code review of the EM layer (one block per finding).

Each test states its reference; each failed before its fix.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from kmix import FiniteMixture, io
from kmix.components import get_family
from kmix.datasets import make_mixture, marbles
from kmix.estimators._checks import _levels
from kmix.exceptions import ConvergenceWarning, DataError
from kmix.params import BernoulliParams
from kmix.solvers.em import loop as em
from kmix.solvers.em.seeding import kmeans_pp_labels
from kmix.solvers.em.weights import polish_weights, weights_are_optimal
from kmix.stats import compress_rows

MARBLES_P = {"p": [[0.8], [0.3]]}


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two labelings split the rows identically (up to renaming the labels)."""
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def _marbles_closed_form(X: np.ndarray) -> float:
    """The seed's MLE of P(F1): p(red) = 0.3 + 0.5 pi, clipped to [0, 1]."""
    return float(np.clip((X.mean() - 0.3) / 0.5, 0.0, 1.0))


# -------------------------------------------------- 1. seeding far from the origin
def _four_tight_clusters(offset: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centres = 3.0 * np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = rng.integers(0, 4, 2000)
    return centres[labels] + rng.normal(scale=0.1, size=(2000, 2)) + offset, labels


@pytest.mark.parametrize("seed", range(3))
def test_gaussian_clusters_far_from_the_origin_are_found(seed):
    """Reference: the simulated labels; four clusters 30 standard deviations apart.

    Offset by 1e9, |x|^2 - 2 x.c + |c|^2 resolves squared distances only to
    about 500, more than the clusters' separation (9): the seeding raised
    "only 2 distinct rows" (seed 0) or merged clusters that EM never split.
    """
    X, truth = _four_tight_clusters(1e9)
    model = FiniteMixture(4, random_state=seed).fit(X)
    assert _same_partition(model.predict(X), truth)


@pytest.mark.parametrize("seed", range(3))
def test_seeding_is_invariant_to_a_shift(seed):
    """Reference: the seeding of the same data near the origin (distances do not change)."""
    X, _ = _four_tight_clusters(0.0)
    near = kmeans_pp_labels(X, np.ones(len(X)), 4, np.random.default_rng(seed))
    far = kmeans_pp_labels(X + 1e9, np.ones(len(X)), 4, np.random.default_rng(seed))
    np.testing.assert_array_equal(far, near)


# ------------------------------------------ 2. zero weights with fixed components
@pytest.mark.parametrize("weights_init", [[1.0, 0.0], [0.0, 1.0]])
@pytest.mark.parametrize("seed", range(3))
def test_a_zero_starting_weight_still_reaches_the_closed_form(seed, weights_init):
    """Reference: the seed's closed form pi_A = (p_red - 0.3) / 0.5 (interior here).

    EM never moves a weight that is exactly 0 and stopped at once, yet
    reported converged_ = True with weights_ = weights_init.
    """
    X, _ = marbles(10_000, random_state=seed)
    closed_form = _marbles_closed_form(X)
    assert 0.0 < closed_form < 1.0
    model = FiniteMixture(2, family="bernoulli", fixed_params=MARBLES_P, weights_init=weights_init)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X)
    assert model.weights_[0] == pytest.approx(closed_form, abs=1e-9)
    assert model.converged_


def test_polish_lets_a_zero_weight_back_and_blocks_one_exactly():
    """Reference: the closed form; and the boundary MLE clip(., 0, 1) = 0 held exactly."""
    X, _ = marbles(5000, random_state=3)
    log_prob, counts = _marbles_log_prob(X)
    for start in ([1.0, 0.0], [0.0, 1.0], [0.5, 0.5]):
        polished = polish_weights(log_prob, counts, np.array(start))
        assert polished[0] == pytest.approx(_marbles_closed_form(X), abs=1e-10)
        assert weights_are_optimal(log_prob, counts, polished)
    # p(red) below 0.3: the MLE is pi_A = 0, reached exactly (not 1e-17) from inside
    X, _ = marbles(5000, p_red=[0.8, 0.25], weights=[0.0, 1.0], random_state=3)
    log_prob, counts = _marbles_log_prob(X)
    assert _marbles_closed_form(X) == 0.0
    for start in ([0.5, 0.5], [1.0, 0.0], [0.0, 1.0]):
        polished = polish_weights(log_prob, counts, np.array(start))
        np.testing.assert_array_equal(polished, [0.0, 1.0])


def _marbles_log_prob(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log P(colour | factory)`` of the two distinct colours and their counts."""
    red = int(X.sum())
    log_prob = np.log([[0.8, 0.3], [0.2, 0.7]])
    return log_prob, np.array([red, X.shape[0] - red], dtype=float)


def test_a_row_only_a_zero_weight_component_explains_is_named():
    """Reference: row 3 (the only 1) has P = 0 under component 0, the only weighted one."""
    X = np.array([[0], [0], [0], [1], [0]])
    model = FiniteMixture(
        2, family="bernoulli", fixed_params={"p": [[0.0], [0.5]]}, weights_init=[1.0, 0.0]
    )
    with pytest.raises(DataError, match=r"X row 3 .*positive weights_init"):
        model.fit(X)


# ----------------------------------------------- 3. concentrated subsampled seeding
def _concentrated() -> tuple[np.ndarray, np.ndarray]:
    """One row at 0 with weight 1e7, 25,000 rows at 5 and five rows at 10 (weight 1)."""
    X = np.concatenate([[0.0], np.full(25_000, 5.0), np.full(5, 10.0)])[:, None]
    w = np.concatenate([[1e7], np.ones(25_000), np.ones(5)])
    return X, w


def test_subsampled_seeding_retries_on_every_row():
    """Reference: the data hold 3 distinct values, so 3 components are seeded.

    The 20,000-row subsample drawn by weight holds the heavy row and some
    rows at 5, but (almost surely) none at 10: 2 distinct values, which raised.
    """
    X, w = _concentrated()
    for seed in range(3):
        labels = kmeans_pp_labels(X, w, 3, np.random.default_rng(seed))
        assert _same_partition(labels, X[:, 0].astype(int))


def test_gaussian_fit_with_one_concentrated_weight():
    """Reference: the three values of the data are the three fitted means."""
    X, w = _concentrated()
    with pytest.warns(UserWarning, match="variance floor"):  # point masses: the floor binds
        model = FiniteMixture(3, random_state=0).fit(X, sample_weight=w)
    np.testing.assert_allclose(np.sort(model.params_.means[:, 0]), [0.0, 5.0, 10.0], atol=1e-9)


# ------------------------------------------------------- 4. uint64 labels >= 2**63
@pytest.mark.parametrize(
    "labels", [[0, 2**63 + 5], [2**63 + 5, 2**63 + 6, 2**63 + 5], [2**64 - 1, 2**64 - 3]]
)
def test_uint64_levels_beyond_intp(labels):
    """Reference: numpy.unique (the fast path must agree with it or step aside)."""
    col = np.array(labels, dtype=np.uint64)
    levels, codes = _levels(col)
    expected, inverse = np.unique(col, return_inverse=True)
    assert levels.dtype == np.uint64
    np.testing.assert_array_equal(levels, expected)
    np.testing.assert_array_equal(codes, inverse)


def test_categorical_fit_with_huge_uint64_labels():
    """Reference: the labels themselves; the fit used to crash with OverflowError."""
    base = np.array([2**63 + 5, 2**63 + 6], dtype=np.uint64)
    rng = np.random.default_rng(0)
    X = base[rng.integers(0, 2, size=(60, 3))]
    model = FiniteMixture(2, family="categorical", random_state=0).fit(X)
    for levels in model.categories_:
        assert levels.tolist() == [2**63 + 5, 2**63 + 6]


# ------------------------------------------------ 5. a fitted weight of exactly 0
def test_zero_weight_component_has_posterior_exactly_zero(tmp_path):
    """Reference: Bayes' rule, P(u | x) = pi_u f_u(x) / p(x) = 0 when pi_u = 0."""
    X, _ = marbles(2000, random_state=0)
    model = FiniteMixture(2, family="bernoulli", fixed_params=MARBLES_P).fit(X)
    document = json.loads(io.dumps(model))
    document["fitted"]["weights_"] = [1.0, 0.0]
    document["sha256"] = io.document_checksum(document)
    loaded = io.from_document(document)
    proba = loaded.predict_proba(np.array([[1], [0]]))
    assert not np.isnan(proba).any()
    np.testing.assert_array_equal(proba, [[1.0, 0.0], [1.0, 0.0]])
    # the density is that of component 0 alone
    np.testing.assert_allclose(loaded.score_samples(np.array([[1], [0]])), np.log([0.8, 0.2]))


def test_boundary_fit_gives_an_exact_zero_and_a_zero_posterior():
    """Reference: the closed form clip((p_red - 0.3) / 0.5, 0, 1) = 0 of the seed."""
    X, _ = marbles(10_000, p_red=[0.8, 0.25], weights=[0.0, 1.0], random_state=1)
    model = FiniteMixture(2, family="bernoulli", fixed_params=MARBLES_P).fit(X)
    assert model.weights_[0] == 0.0
    proba = model.predict_proba(np.array([[1], [0]]))
    assert not np.isnan(proba).any()
    np.testing.assert_array_equal(proba[:, 0], [0.0, 0.0])


# ----------------------------------------- 7. variance floor at a large data scale
@pytest.mark.parametrize("scale", [1e2, 1e3, 1e4])
@pytest.mark.parametrize("seed", range(8))
def test_variance_floor_warning_at_large_scale(seed, scale):
    """Reference: column 1 = 2 * column 0 + 3, so the smallest eigenvalue is 0 and floored.

    The floored eigenvalue comes back from the covariance only to about
    d * eps * lambda_max; 10 of these 24 cases missed the warning.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 3)) * scale
    X[:, 1] = 2.0 * X[:, 0] + 3.0
    with pytest.warns(UserWarning, match=r"variance floor var_floor=1e-06 binds"):
        FiniteMixture(1, random_state=0).fit(X)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_no_variance_floor_warning_for_well_spread_large_data(covariance_type):
    """Control: data of scale 1e4 and full rank leave the floor far behind."""
    X = np.random.default_rng(0).normal(size=(300, 3)) * 1e4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FiniteMixture(1, covariance_type=covariance_type, random_state=0).fit(X)


# ------------------------------------------------------------ 8. zero-weight rows
def test_impossible_row_is_named_among_rows_with_positive_weight():
    """Reference: row 4 is the first 1 with positive weight; row 0 (a 1) has weight 0."""
    X = np.array([[1], [0], [0], [0], [1], [0]])
    w = np.array([0.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    with pytest.raises(DataError, match=r"X row 4 has probability zero"):
        FiniteMixture(2, family="bernoulli", fixed_params={"p": [[0.0], [0.0]]}).fit(
            X, sample_weight=w
        )


def test_zero_weight_rows_define_no_categorical_level():
    """Reference: the fit on X without the zero-weight rows."""
    X, _ = make_mixture("categorical", 500, 2, 3, n_levels=3, random_state=2)
    X = X.astype(int)
    extra = np.array([[7, 0, 1], [0, 9, 2]])  # levels 7 and 9 occur only here
    w = np.concatenate([np.ones(500), [0.0, 0.0]])
    a = FiniteMixture(2, family="categorical", random_state=0).fit(
        np.vstack([X, extra]), sample_weight=w
    )
    b = FiniteMixture(2, family="categorical", random_state=0).fit(X)
    assert [c.tolist() for c in a.categories_] == [[0, 1, 2]] * 3
    for pa, pb in zip(a.params_.probs, b.params_.probs, strict=True):
        np.testing.assert_allclose(pa, pb, rtol=1e-12)
    with pytest.raises(DataError, match="is a level not seen in fit"):
        a.predict(extra)


def test_zero_weight_rows_drop_their_per_row_trials_too():
    """Reference: the binomial fit on X and n_trials without the zero-weight rows."""
    rng = np.random.default_rng(4)
    trials = rng.integers(2, 9, size=400)
    X = rng.binomial(trials, np.where(rng.random(400) < 0.4, 0.2, 0.7))[:, None]
    w = (rng.random(400) < 0.8).astype(float)
    a = FiniteMixture(2, family="binomial", random_state=0).fit(X, sample_weight=w, n_trials=trials)
    keep = w > 0
    b = FiniteMixture(2, family="binomial", random_state=0).fit(X[keep], n_trials=trials[keep])
    np.testing.assert_allclose(a.params_.p, b.params_.p, rtol=1e-10)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-12)


def test_zero_weight_rows_are_still_checked():
    """Reference: the family's rules; a 2 is not a bernoulli value whatever its weight."""
    X = np.array([[0], [1], [2]])
    with pytest.raises(DataError, match=r"X\[2, 0\] = 2"):
        FiniteMixture(1, family="bernoulli").fit(X, sample_weight=[1.0, 1.0, 0.0])


# --------------------------------------------------------- 9. options that do nothing
def test_alpha_with_fixed_params_warns():
    """Reference: with fixed components no probability is smoothed, so alpha does nothing."""
    X, _ = marbles(500, random_state=0)
    with pytest.warns(UserWarning, match=r"alpha=2 has no effect with fixed_params"):
        smoothed = FiniteMixture(2, family="bernoulli", alpha=2.0, fixed_params=MARBLES_P).fit(X)
    plain = FiniteMixture(2, family="bernoulli", fixed_params=MARBLES_P).fit(X)
    np.testing.assert_allclose(smoothed.weights_, plain.weights_, rtol=1e-12)


def test_n_trials_for_another_family_is_an_error():
    """Reference: n_trials has a meaning for the binomial family only."""
    bits = np.array([[0, 1], [1, 1], [1, 0]])
    model = FiniteMixture(1, family="bernoulli")
    with pytest.raises(DataError, match="n_trials was passed but applies to the binomial"):
        model.fit(bits, n_trials=5)
    model.fit(bits)
    with pytest.raises(DataError, match="n_trials was passed but applies to the binomial"):
        model.predict(bits, n_trials=5)


def test_polish_is_kept_only_if_the_objective_with_prior_does_not_drop(monkeypatch):
    """Reference: EM's history; a polish that lowers the log-likelihood must be rejected.

    With alpha = 2 the history holds log-likelihood + log-prior (the prior of
    the fixed components, about -3.4), and the check compared the polished
    log-likelihood without the prior against it, so a polish that lowered the
    log-likelihood by less than 3.4 was accepted.
    """
    X, _ = marbles(10_000, random_state=0)
    values, counts, _ = compress_rows(X)
    family = get_family("bernoulli", alpha=2.0)
    fixed = BernoulliParams(MARBLES_P["p"])
    worse: list[np.ndarray] = []

    def bad_polish(log_prob, counts, weights, **kw):
        worse.append(weights + np.array([0.01, -0.01]))  # lowers the log-likelihood by ~1
        return worse[-1]

    monkeypatch.setattr(em, "polish_weights", bad_polish)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = em.run_em(
            family,
            family.prepare(values),
            counts,
            2,
            rng=np.random.default_rng(0),
            params_init=fixed,
            learn_params=False,
        )
    assert worse and not np.allclose(result.weights, worse[0])
    assert np.all(np.diff(result.history) >= 0)
    assert result.objective == result.history[-1]


# --------------------------------------- 10. restart records after the polish
def test_restart_records_match_the_polished_fit():
    """Reference: log_likelihood_ of the returned fit, and history_[-1] (no prior here).

    EM stops after 2 iterations; the Newton polish finishes the job, and the
    restart's recorded log-likelihood used to be the pre-polish value.
    """
    X, _ = marbles(10_000, random_state=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # the polish reaches the maximum
        model = FiniteMixture(2, family="bernoulli", fixed_params=MARBLES_P, max_iter=2).fit(X)
    assert model.converged_
    assert model.weights_[0] == pytest.approx(_marbles_closed_form(X), abs=1e-9)
    assert model.restart_log_likelihoods_.tolist() == [model.log_likelihood_]
    assert model.history_[-1] == model.log_likelihood_
    assert len(model.history_) == model.n_iter_ + 2  # E-steps, then the polished value


def test_restart_log_likelihoods_exclude_the_prior():
    """Reference: log_likelihood_ (= history_[-1] minus the log-prior) with alpha = 2."""
    X, _ = make_mixture("bernoulli", 2000, 2, 5, random_state=0)
    model = FiniteMixture(2, family="bernoulli", alpha=2.0, random_state=0).fit(X)
    prior = model.family_.log_prior(model.params_)
    assert prior < -1.0  # the prior is really there
    assert model.restart_log_likelihoods_.tolist() == [model.log_likelihood_]
    assert model.history_[-1] == pytest.approx(model.log_likelihood_ + prior, rel=1e-15)

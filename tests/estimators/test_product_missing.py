"""ProductMixture with missing values: full-information ML, listwise deletion, bad input.

References: the observed-data likelihood ``sum_i log sum_u pi_u prod_{j observed}
P(x_ij | u)`` (Little & Rubin, "Statistical Analysis with Missing Data", 2002)
and its EM, both written out below on the raw rows without kmix's code.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from kmix import DataError, ProductMixture
from kmix.metrics import best_permutation

pd = pytest.importorskip("pandas")


def _simulate(seed: int, *, mar: bool, n_levels: int = 2, N: int = 2000, n: int = 6):
    rng = np.random.default_rng(seed)
    k = 2
    w = rng.dirichlet([4.0, 4.0])
    probs = rng.dirichlet(np.full(n_levels, 0.7), size=(k, n))  # (k, n, d)
    z = rng.choice(k, size=N, p=w)
    cum = probs[z].cumsum(axis=2)
    X = (rng.random((N, n, 1)) > cum).sum(axis=2).astype(float)
    rate = rng.uniform(0.1, 0.4)
    if mar:  # item 0 always observed; the others' gaps depend on its value
        p_miss = np.where(X[:, :1] == 0, rate / 2, min(1.5 * rate, 0.9))
        gaps = rng.random((N, n)) < p_miss
        gaps[:, 0] = False
    else:
        gaps = rng.random((N, n)) < rate
    X[gaps] = np.nan
    return X, w, probs


def _observed_loglik(X, w, probs):
    """``sum_i log sum_u pi_u prod_{j observed} P(x_ij | u)``, written directly."""
    N, n = X.shape
    logp = np.tile(np.log(w), (N, 1))
    for j in range(n):
        seen = ~np.isnan(X[:, j])
        logp[seen] += np.log(probs[:, j, :].T[X[seen, j].astype(int)])
    top = logp.max(axis=1, keepdims=True)
    return float((np.log(np.exp(logp - top).sum(axis=1)) + top[:, 0]).sum())


def _fiml_em(X, w, probs, n_iter=2000, tol=1e-12):
    """Plain EM on the raw rows for the observed-data likelihood (no kmix code)."""
    N, n = X.shape
    d = probs.shape[2]
    onehot = np.zeros((N, n, d))
    for j in range(n):
        seen = ~np.isnan(X[:, j])
        onehot[np.flatnonzero(seen), j, X[seen, j].astype(int)] = 1.0
    old = -np.inf
    for _ in range(n_iter):
        logp = np.log(w)[None, :] + np.einsum(
            "ijd,ujd->iu", onehot, np.log(np.maximum(probs, 1e-300))
        )
        top = logp.max(axis=1, keepdims=True)
        r = np.exp(logp - top)
        ll = float((np.log(r.sum(axis=1)) + top[:, 0]).sum())
        r /= r.sum(axis=1, keepdims=True)
        w = r.mean(axis=0)
        num = np.einsum("iu,ijd->ujd", r, onehot)
        probs = num / num.sum(axis=2, keepdims=True)
        if ll - old < tol * abs(ll):
            break
        old = ll
    return w, probs, _observed_loglik(X, w, probs)


def _param_error(w_true, p_true, w_hat, p_hat):
    cost = np.abs(p_true[:, None] - p_hat[None]).reshape(2, 2, -1).max(axis=2)
    perm = best_permutation(cost)
    return max(float(np.abs(w_true - w_hat[perm]).max()), float(np.abs(p_true - p_hat[perm]).max()))


def _probs3(model, d=None):
    """(k, n, d) probabilities over the codes 0 .. d - 1 (a level a fit never saw: 0)."""
    d = max(len(c) for c in model.categories_) if d is None else d
    out = np.zeros((model.weights_.shape[0], len(model.categories_), d))
    for j, (p, levels) in enumerate(zip(model.params_.probs, model.categories_, strict=True)):
        out[:, j, np.asarray(levels, dtype=int)] = p
    return out


@pytest.mark.parametrize("n_levels", [2, 3])
def test_fiml_reaches_the_independent_maximum_and_beats_listwise_deletion(n_levels):
    """25 instances per alphabet (MCAR and MAR alternating), 50 in all."""
    better_or_equal = 0
    for seed in range(25):
        X, w, probs = _simulate(seed, mar=bool(seed % 2), n_levels=n_levels)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fiml = ProductMixture(2, random_state=seed).fit(X)
            drop = ProductMixture(2, random_state=seed, missing="drop").fit(X)
        P = _probs3(fiml, n_levels)
        # kmix's reported log-likelihood is the observed-data likelihood at its parameters
        assert fiml.log_likelihood_ == pytest.approx(
            _observed_loglik(X, fiml.weights_, P), rel=1e-9
        )
        # and the maximum: plain EM from several random starts ends no higher
        rng = np.random.default_rng(100 + seed)
        best = max(
            _fiml_em(X, rng.dirichlet([1, 1]), rng.dirichlet(np.ones(n_levels), size=(2, 6)))[2]
            for _ in range(2)
        )
        assert fiml.log_likelihood_ >= best - 1e-6 * abs(best)
        # from kmix's answer, EM does not move (a fixed point of the observed-data EM)
        assert _fiml_em(X, fiml.weights_, P, n_iter=50)[2] == pytest.approx(
            fiml.log_likelihood_, rel=1e-9
        )
        e_fiml = _param_error(w, probs, fiml.weights_, P)
        e_drop = _param_error(w, probs, drop.weights_, _probs3(drop, n_levels))
        better_or_equal += e_fiml <= e_drop + 1e-12
    assert better_or_equal >= 23  # of 25 (at least 45 of the 50 over both alphabets)


def test_missing_rows_score_their_observed_items():
    X, _, _ = _simulate(3, mar=False)
    model = ProductMixture(2, random_state=0).fit(X)
    P = _probs3(model)
    rows = X[:50]
    expected = [_observed_loglik(r[None, :], model.weights_, P) for r in rows]
    np.testing.assert_allclose(model.score_samples(rows), expected, rtol=1e-10)
    # a row without any answer: the class weights are its posterior
    empty = np.full((1, X.shape[1]), np.nan)
    np.testing.assert_allclose(model.predict_proba(empty)[0], model.weights_)
    assert model.score_samples(empty)[0] == pytest.approx(0.0)


def test_complete_data_fit_is_unchanged_by_the_missing_option():
    X, _, _ = _simulate(4, mar=False)
    X = np.nan_to_num(X)  # complete
    a = ProductMixture(2, random_state=0).fit(X)
    b = ProductMixture(2, random_state=0, missing="error").fit(X)
    assert a.log_likelihood_ == b.log_likelihood_
    assert a.n_missing_.tolist() == [0] * 6


# ----------------------------------------------------------------------------- bad input
def test_a_column_without_any_value_is_refused_by_name():
    X = np.random.default_rng(0).integers(0, 2, size=(200, 4)).astype(float)
    X[:, 2] = np.nan
    with pytest.raises(DataError, match=r"column 2 has no observed value in 200 rows"):
        ProductMixture(2).fit(X)


def test_rows_without_any_answer_are_counted_and_said_once():
    X = np.random.default_rng(1).integers(0, 2, size=(300, 5)).astype(float)
    X[[5, 6, 7], :] = np.nan
    X[10, 1] = np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = ProductMixture(2, random_state=0).fit(X)
    said = [w for w in caught if "no observed value" in str(w.message)]
    assert len(said) == 1 and "3 of 300 rows" in str(said[0].message)
    assert model.n_rows_dropped_ == 3
    assert model.n_missing_.tolist() == [3, 4, 3, 3, 3]
    assert model.n_samples_ == 297


def test_an_item_observed_at_one_level_only_is_constant():
    X = np.random.default_rng(2).integers(0, 2, size=(200, 4)).astype(float)
    X[:, 3] = np.where(X[:, 3] == 1, 1.0, np.nan)
    with pytest.raises(DataError, match=r"column 3 is constant .*among its observed values"):
        ProductMixture(2).fit(X)


def test_missing_error_names_the_cell_and_the_options():
    X = np.random.default_rng(3).integers(0, 2, size=(100, 4)).astype(object)
    X[9, 2] = None
    with pytest.raises(DataError, match=r"first at row 9, column 2.*missing='fiml'"):
        ProductMixture(2, missing="error").fit(X)


def test_pandas_string_columns_with_na_are_fitted():
    rng = np.random.default_rng(4)
    z = rng.random(3000) < 0.4
    cols = {
        f"q{j}": pd.array(
            np.where(rng.random(3000) < np.where(z, 0.85, 0.2), "yes", "no"), dtype="string"
        )
        for j in range(5)
    }
    frame = pd.DataFrame(cols)
    frame.loc[rng.random(3000) < 0.2, "q1"] = pd.NA
    frame.loc[::7, "q3"] = pd.NA
    model = ProductMixture(2, random_state=0).fit(frame)
    assert [c.tolist() for c in model.categories_] == [["no", "yes"]] * 5
    assert model.n_missing_[1] == int(frame["q1"].isna().sum())
    assert model.predict(frame).shape == (3000,)
    assert sorted(np.round(model.probs_[:, 0], 1).tolist()) == [0.2, 0.8]


def test_none_nan_and_empty_strings_are_all_missing():
    rng = np.random.default_rng(5)
    X = rng.choice(np.array(["a", "b", "c"], dtype=object), size=(400, 5))
    X[0, 0], X[1, 1], X[2, 2], X[3, 3] = None, float("nan"), "", "  "
    model = ProductMixture(2, random_state=0).fit(X)
    assert model.n_missing_.tolist() == [1, 1, 1, 1, 0]
    assert [c.tolist() for c in model.categories_] == [["a", "b", "c"]] * 5


def test_an_unseen_level_beside_gaps_is_named_at_its_cell():
    """Reference: the cell written below (row 1, column 1), not its place among the answers."""
    X = np.array([["a", "x"], [None, "y"], ["b", "y"], ["a", None], ["b", "x"]] * 40, dtype=object)
    model = ProductMixture(1).fit(X)
    with pytest.raises(DataError, match=r"X\[1, 1\] = 'z' is a level not seen in fit"):
        model.predict(np.array([["a", None], [None, "z"]], dtype=object))

"""``kmix.distal``: distal outcomes per latent class, three-step with BCH or ML corrections.

References: the simulation's own truth (class means 0 and 1, level shares 0.2 and 0.7), the
identities of the BCH weights (each row's weights sum to 1; with error-free classification
they are the modal assignment), and a null outcome independent of the classes.
"""

from __future__ import annotations

import numpy as np
import pytest

import kmix
from kmix import ProductMixture
from kmix.exceptions import DataError
from kmix.solvers.latent_class.distal import bch_weights, classification_matrix

PROBS = np.array([[0.25, 0.3, 0.3, 0.35, 0.3], [0.75, 0.7, 0.65, 0.7, 0.7]])


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(1)
    n = 20_000
    u = (rng.random(n) < 0.4).astype(int)
    X = (rng.random((n, 5)) < PROBS[u]).astype(int)
    y = np.array([0.0, 1.0])[u] + rng.normal(size=n)
    levels = (rng.random(n) < np.array([0.2, 0.7])[u]).astype(int)
    null = rng.normal(size=n)
    model = ProductMixture(2, random_state=0).fit(X)
    order = np.argsort(model.params_.probs[0][:, 1])  # the class with low P(item = 1) first
    return model, X, y, levels, null, order


def test_corrections_remove_most_of_the_modal_bias(simulated):
    """The classes overlap (entropy well below 1): modal assignment pulls the two means
    together; BCH, ML and the one-step joint model stay within a third of its error, and
    within 4 standard errors."""
    model, X, y, levels, _, order = simulated
    truth = {"mean": np.array([0.0, 1.0]), "share": np.array([0.2, 0.7])}
    modal = kmix.distal(model, X, y, method="modal")
    modal_c = kmix.distal(model, X, levels, method="modal")
    for method in ("bch", "ml", "one-step"):
        got = kmix.distal(model, X, y, method=method)
        err = np.abs(got.estimates[order] - truth["mean"])
        assert np.all(err <= np.abs(modal.estimates[order] - truth["mean"]) / 3)
        assert np.all(err <= 4 * got.std_errors[order])
        cat = kmix.distal(model, X, levels, method=method)
        assert cat.levels == [0, 1]
        err_c = np.abs(cat.estimates[order, 1] - truth["share"])
        assert np.all(err_c <= np.abs(modal_c.estimates[order, 1] - truth["share"]) / 3)
        assert np.all(err_c <= 4 * cat.std_errors[order, 1])
        np.testing.assert_allclose(cat.estimates.sum(axis=1), 1.0, atol=1e-12)


def test_bch_weights_identities(simulated):
    model, X, *_ = simulated
    post = model.predict_proba(X)
    hard = np.eye(2)[np.argmax(post, axis=1)]
    D = classification_matrix(post, hard, np.ones(len(X)))
    np.testing.assert_allclose(D.sum(axis=1), 1.0)
    w = bch_weights(hard, D)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    # error-free classification: D is the identity and BCH is the modal assignment
    exact = np.eye(2)[np.arange(len(X)) % 2]
    D_exact = classification_matrix(exact, exact, np.ones(len(X)))
    np.testing.assert_allclose(bch_weights(exact, D_exact), exact)


def test_the_equality_test_sees_a_difference_and_not_a_null(simulated):
    model, X, y, _, null, _ = simulated
    assert kmix.distal(model, X, y).p_value < 1e-10
    result = kmix.distal(model, X, null)
    assert result.df == 1 and result.p_value > 0.01
    table = result.table()
    assert table["class"].tolist() == [0, 1] and table["level"].tolist() == [None, None]


def test_bad_outcomes_are_named(simulated):
    model, X, y, *_ = simulated
    gappy = y.copy()
    gappy[7] = np.nan
    with pytest.raises(DataError, match="y is missing at row 7"):
        kmix.distal(model, X, gappy)
    with pytest.raises(DataError, match="y has 10 rows but X has"):
        kmix.distal(model, X, y[:10])
    with pytest.raises(DataError, match="method must be one of"):
        kmix.distal(model, X, y, method="two-step")
    with pytest.raises(DataError, match="one-step' refits a ProductMixture"):
        kmix.distal(model, X, y, method="one-step", n_trials=3)

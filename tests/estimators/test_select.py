"""Choosing the number of latent classes (kmix.estimators.select).

References: the simulation's k; the published BIC ranking for the carcinoma data
(poLCA); the published maximum log-likelihoods of the election data for k = 1, 2, 3
(R poLCA, ``kmix.datasets.election``); the closed forms of BIC, SABIC, CAIC and AIC
from the log-likelihood, the parameter count (k - 1) + k sum_j (d_j - 1) and N; the
stopping rule as documented (BIC(k) > BIC(k - 1) > BIC(k - 2)); a 3 x 3 table has
rank <= 3 whatever the population; ``kmix.estimators.fitstats.blrt`` called directly.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

import kmix
from kmix.datasets import carcinoma
from kmix.exceptions import DataError


def _survey(seed: int, n_rows: int = 1311, n_items: int = 12, n_levels: int = 4) -> np.ndarray:
    """Three classes (shares 0.45 / 0.35 / 0.20), items with Dirichlet(1) level shares."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(n_levels), size=(3, n_items))
    z = rng.choice(3, size=n_rows, p=[0.45, 0.35, 0.20])
    u = rng.random((n_rows, n_items))
    return np.minimum((u[:, :, None] > np.cumsum(probs[z], axis=2)).sum(axis=2), n_levels - 1)


def test_select_k_classes_by_rank_test_and_bic():
    """Reference: the simulation's k; the published BIC ranking for the carcinoma data."""
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


def test_election_reaches_the_published_fits_with_their_statistics():
    """Reference: poLCA's maximum log-likelihoods of the 1,311 complete election rows,
    and the closed forms of the criteria (p = (k - 1) + 36 k for 12 four-level items)."""
    from kmix.datasets import election

    data = election()
    X = data.items[data.complete()].astype(np.int64)
    sel = kmix.select_k_classes(X, max_components=3, random_state=0)
    published = data.published
    n = X.shape[0]
    for row in sel["table"]:
        k, ll = row["k"], row["log_likelihood"]
        assert ll == pytest.approx(published[k]["log_likelihood"], abs=0.01), k
        p = (k - 1) + k * 12 * 3
        assert row["n_parameters"] == p
        assert row["bic"] == pytest.approx(-2 * ll + p * math.log(n), rel=1e-12)
        assert row["sabic"] == pytest.approx(-2 * ll + p * math.log((n + 2) / 24), rel=1e-12)
        assert row["caic"] == pytest.approx(-2 * ll + p * (math.log(n) + 1), rel=1e-12)
        assert row["aic"] == pytest.approx(-2 * ll + 2 * p, rel=1e-12)
        assert row["seconds"] > 0 and isinstance(row["warnings"], list)
    assert sel["table"][0]["entropy_r2"] != sel["table"][0]["entropy_r2"]  # NaN for one class
    assert 0 < sel["table"][2]["entropy_r2"] < 1
    # k <= 3 needs a table with 4 well-filled rows and columns: one item per view
    assert sel["table_shape"] == (4, 4) and min(sel["tested_shape"]) >= 4
    assert all(len(view) == 1 for view in sel["views"])


def test_the_search_stops_after_two_rises_of_bic():
    """Reference: the documented rule; three classes simulated, so BIC turns up after 3."""
    X = _survey(1)
    sel = kmix.select_k_classes(X, random_state=0)
    rows = sel["table"]
    assert [row["k"] for row in rows] == [1, 2, 3, 4, 5, 6]  # default max_components
    fitted = [row["k"] for row in rows if "bic" in row]
    assert fitted == [1, 2, 3, 4, 5]
    bic = [row["bic"] for row in rows[:5]]
    assert bic[4] > bic[3] > bic[2]
    assert not any(bic[i] > bic[i - 1] > bic[i - 2] for i in range(2, 4))
    assert sel["bic_k"] == 3 and "BIC rose 2 times in a row" in sel["stopped"]
    assert np.isfinite(rows[5]["rank_p_value"])  # the cheap test still runs for k = 6
    every = kmix.select_k_classes(X, max_components=4, patience=None, random_state=0)
    assert [row["k"] for row in every["table"] if "bic" in row] == [1, 2, 3, 4]
    assert every["stopped"] == "reached max_components = 4"


def test_progress_goes_to_the_logger_and_the_callback(caplog: pytest.LogCaptureFixture):
    """Reference: one INFO line and one callback per fitted k, in order, with its numbers."""
    data = carcinoma()
    seen: list[dict] = []
    with caplog.at_level(logging.INFO, logger="kmix"):
        sel = kmix.select_k_classes(
            data.patterns, sample_weight=data.counts, random_state=0, progress=seen.append
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "kmix"]
    lines = [line for line in lines if line.startswith("select_k_classes:")]
    assert [row["k"] for row in seen] == [1, 2, 3, 4]
    assert len(lines) == 4
    for line, row in zip(lines, seen, strict=True):
        assert f"k = {row['k']}," in line and f"BIC {row['bic']:.4f}" in line
    assert seen[2]["bic"] == sel["table"][2]["bic"]


def test_a_sparse_table_cannot_judge_large_k():
    """Reference: 118 rows pool the two-view table to 3 x 3, which has rank <= 3 whatever
    the population, so k >= 3 cannot be judged: NaN p-values and a reason."""
    data = carcinoma()
    sel = kmix.select_k_classes(data.patterns, sample_weight=data.counts, random_state=0)
    assert sel["tested_shape"] == (3, 3)
    rows = sel["table"]
    assert all(np.isfinite(row["rank_p_value"]) for row in rows[:2])
    assert all(np.isnan(row["rank_p_value"]) and row["rank_reason"] for row in rows[2:])
    assert sel["rank_k"] is None
    assert "cannot judge k >= 3" in sel["rank_reason"]


def test_views_leave_out_a_column_with_many_levels():
    """Reference: the documented rule (fewest levels first); a 72-level column unrelated
    to the classes would make a table with no power."""
    X = _survey(2, n_items=6)
    age = np.random.default_rng(3).integers(18, 90, X.shape[0])
    sel = kmix.select_k_classes(np.column_stack([age, X]), max_components=2, random_state=0)
    assert 0 not in sel["views"][0] + sel["views"][1]


def test_blrt_matches_the_function_called_directly():
    """Reference: kmix.estimators.blrt on the same 2-class fit with the same seed."""
    from kmix.estimators import ProductMixture
    from kmix.estimators.fitstats import blrt

    data = carcinoma()
    X, w = data.patterns, data.counts
    sel = kmix.select_k_classes(X, sample_weight=w, max_components=2, random_state=0, blrt_boot=9)
    assert "blrt_p_value" not in sel["table"][0]
    model = ProductMixture(2, random_state=0).fit(X, sample_weight=w)
    direct = blrt(model, X, n_boot=9, sample_weight=w, random_state=0)
    assert sel["table"][1]["blrt_p_value"] == direct.p_value
    assert direct.p_value * 10 == pytest.approx(round(direct.p_value * 10))  # on the 1/(B+1) grid


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 1.5}, r"alpha=1\.5"),
        ({"alpha": 0.0}, r"alpha"),
        ({"patience": 0}, r"patience must be >= 1; got 0"),
        ({"blrt_boot": -1}, r"blrt_boot must be >= 0; got -1"),
        ({"max_components": 0}, r"max_components must be >= 1; got 0"),
    ],
)
def test_bad_options_name_the_value(kwargs, match):
    data = carcinoma()
    with pytest.raises(DataError, match=match):
        kmix.select_k_classes(data.patterns, sample_weight=data.counts, **kwargs)

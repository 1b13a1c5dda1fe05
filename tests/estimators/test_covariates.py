"""ProductMixture with covariates: latent class regression through the estimator.

References: the published poLCA regression of the 2000 ANES ``election`` data on PARTY (the
poLCA user's manual v1.4, bundled in ``kmix/datasets/data/SOURCES.md``): log-likelihood,
coefficients, and poLCA's empirical-information standard errors as printed; identities
between codings of the same covariate; Bayes' rule for the posteriors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kmix import ProductMixture
from kmix.datasets import election
from kmix.exceptions import DataError


@pytest.fixture(scope="module")
def anes():
    data = election()
    keep = data.complete()
    items = pd.DataFrame(data.items[keep], columns=data.item_names).reset_index(drop=True)
    party = pd.DataFrame({"PARTY": data.covariate("PARTY")[keep]})
    return items, party, data.published_covariate_models["PARTY"]


@pytest.fixture(scope="module")
def fitted(anes):
    items, party, _ = anes
    model = ProductMixture(
        3, covariate_missing="drop", covariate_se="empirical", random_state=0, tol=1e-12
    )
    return model.fit(items, covariates=party)


def test_the_published_regression_through_the_estimator(anes, fitted):
    _, _, published = anes
    assert fitted.n_covariate_rows_dropped_ == 11 and fitted.n_samples_ == 1300
    assert fitted.log_likelihood_ == pytest.approx(published["log_likelihood"], abs=5e-3)
    np.testing.assert_allclose(fitted.coef_, published["coefficients"], atol=1e-3)
    np.testing.assert_allclose(fitted.coef_se_, published["std_errors"], atol=2e-4)
    assert fitted.covariate_terms_ == ["(Intercept)", "PARTY"]
    assert fitted.n_parameters() == 112  # poLCA's npar: 3 * 12 * 3 item + 2 * 2 coefficients
    table = fitted.covariate_table()
    assert table["term"].tolist() == ["(Intercept)", "PARTY"] * 2
    with pytest.raises(DataError, match="bootstrap refits the model without covariates"):
        fitted.bootstrap(anes[0], 2)
    np.testing.assert_allclose(table["z"], table["coefficient"] / table["std_error"])


def test_posteriors_follow_bayes_rule_with_the_rows_shares(anes, fitted):
    """Reference: pi_u(z) prod_j P(x_j | u), normalised, computed here by hand."""
    items, party, _ = anes
    rows = items.iloc[:5]
    z = party.iloc[:5]
    got = fitted.predict_proba(rows, covariates=z)
    eta = np.column_stack([np.zeros(5), (np.column_stack([np.ones(5), z]) @ fitted.coef_.T)])
    prior = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    like = np.ones((5, 3))
    for j, p in enumerate(fitted.params_.probs):
        like *= p[:, rows.iloc[:, j].to_numpy().astype(int)].T
    want = prior * like
    np.testing.assert_allclose(got, want / want.sum(axis=1, keepdims=True), atol=1e-12)
    with pytest.raises(DataError, match="pass covariates="):
        fitted.predict_proba(rows)


def test_a_text_covariate_is_its_indicator(anes):
    """A two-level text column and its 0/1 coding give one fit; the level sorted first is
    the reference, and the term is named column[level]."""
    items, party, _ = anes
    sub = items.iloc[:600]
    strong = party["PARTY"].iloc[:600].fillna(4).to_numpy() >= 5
    text = pd.DataFrame({"side": np.where(strong, "rep", "dem")})
    numeric = pd.DataFrame({"side": strong.astype(float)})
    a = ProductMixture(2, random_state=0).fit(sub, covariates=text)
    b = ProductMixture(2, random_state=0).fit(sub, covariates=numeric)
    assert a.covariate_terms_ == ["(Intercept)", "side[rep]"]
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, abs=1e-6)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-4)


def test_missing_covariates_and_misuse_are_named(anes):
    items, party, _ = anes
    with pytest.raises(DataError, match=r"covariate 'PARTY' is missing at row \d+ \(11 row"):
        ProductMixture(3, random_state=0).fit(items, covariates=party)
    with pytest.raises(DataError, match="covariates have 5 rows but X has 1311"):
        ProductMixture(2, random_state=0).fit(items, covariates=party.iloc[:5])
    columns = {c: items[c].to_numpy() for c in items.columns}  # a mapping of columns
    with pytest.raises(DataError, match="covariates have 5 rows but X has 1311"):
        ProductMixture(2, random_state=0).fit(columns, covariates=party.iloc[:5])
    plain = ProductMixture(2, random_state=0).fit(items.iloc[:300])
    assert not hasattr(plain, "coef_")
    with pytest.raises(DataError, match="fitted without covariates"):
        plain.predict(items.iloc[:3], covariates=party.iloc[:3])


def test_a_saved_regression_loads_with_its_covariates(fitted, anes, tmp_path):
    """Reference: the fitted model itself (identical posteriors and table after a round trip)."""
    from kmix.io import load, save

    items, party, _ = anes
    path = save(fitted, tmp_path / "lcr.json")
    back = load(path)
    np.testing.assert_array_equal(back.coef_, fitted.coef_)
    np.testing.assert_array_equal(back.coef_se_, fitted.coef_se_)
    assert back.covariate_terms_ == fitted.covariate_terms_
    rows, z = items.iloc[:20], party.iloc[:20].fillna(4)
    np.testing.assert_allclose(
        back.predict_proba(rows, covariates=z), fitted.predict_proba(rows, covariates=z)
    )


def test_log_likelihood_history_of_the_regression(fitted):
    """Reference: EM with a Newton step for the logit is a generalised EM, which never lowers
    the log-likelihood (Dempster, Laird & Rubin 1977): one entry per E-step of the
    regression (``n_iter_ + 1``), climbing to log_likelihood_ (not the starting fit's)."""
    h = fitted.log_likelihood_history_
    assert h.dtype == np.float64 and len(h) == fitted.n_iter_ + 1
    assert h[-1] == fitted.log_likelihood_
    assert np.all(np.diff(h) >= -1e-9 * abs(h[-1]))

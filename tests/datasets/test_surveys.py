"""The bundled surveys (kmix.datasets.surveys).

References: the fit on the patterns with their counts; published maximum
log-likelihoods (R poLCA's help pages ``gss82``, ``election`` and ``poLCA``,
and UCLA statistical consulting's Mplus replication of McCutcheon 1987,
Table 3.2), each quoted where it is tested; closed forms computed in the
tests (the independence model's MLE is the product of the item margins).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kmix import DataError, ProductMixture
from kmix.datasets import election, gss82


def test_expand_gives_one_row_per_respondent():
    from kmix.datasets import stouffer_toby

    data = stouffer_toby()
    X = data.expand()
    assert X.shape == (216, 4)
    a = ProductMixture(2, random_state=0).fit(X)
    b = ProductMixture(2, random_state=0).fit(data.patterns, sample_weight=data.counts)
    np.testing.assert_allclose(a.probs_, b.probs_, atol=1e-8)


# ------------------------------------------------------------------ gss82
def test_gss82_is_the_published_table():
    # poLCA's gss82 help page: 1202 respondents, two dichotomous and two
    # trichotomous items (PURPOSE 3, ACCURACY 2, UNDERSTA 2, COOPERAT 3 levels).
    data = gss82()
    assert data.columns == ["PURPOSE", "ACCURACY", "UNDERSTA", "COOPERAT"]
    assert data.counts.sum() == 1202
    assert data.expand().shape == (1202, 4)
    assert data.levels is not None
    assert [len(levels) for levels in data.levels] == [3, 2, 2, 3]
    assert data.levels[0] == ["Good", "Depends", "Waste of time"]
    for j, levels in enumerate(data.levels):
        assert set(data.patterns[:, j]) == set(range(len(levels)))
    assert len(np.unique(data.patterns, axis=0)) == len(data.patterns) == 33
    assert np.all(data.counts >= 1)


def test_gss82_independence_model_matches_the_mplus_replication():
    # UCLA's Mplus replication of McCutcheon (1987), Table 3.2, complete
    # independence: log-likelihood -2872.230, Pearson X^2 368.666 and
    # likelihood-ratio L^2 257.260 on 29 degrees of freedom. The MLE is the
    # product of the item margins (closed form), so these pin the table.
    data = gss82()
    assert data.levels is not None
    n = data.counts.sum()
    margins = [
        np.bincount(data.patterns[:, j], weights=data.counts, minlength=len(levels)) / n
        for j, levels in enumerate(data.levels)
    ]
    loglik = sum(
        float(np.sum(data.counts * np.log(margins[j][data.patterns[:, j]]))) for j in range(4)
    )
    assert round(loglik, 3) == data.published[1]["log_likelihood"] == -2872.230
    cells = np.array(list(itertools.product(*(range(len(m)) for m in margins))))
    observed = np.zeros(len(cells))
    index = np.ravel_multi_index(data.patterns.T, [len(m) for m in margins])
    np.add.at(observed, index, data.counts)
    expected = n * np.prod([margins[j][cells[:, j]] for j in range(4)], axis=0)
    seen = observed > 0
    lr = 2 * np.sum(observed[seen] * np.log(observed[seen] / expected[seen]))
    pearson = np.sum((observed - expected) ** 2 / expected)
    assert (round(lr, 3), round(pearson, 3)) == (257.260, 368.666)
    assert len(cells) - 1 - sum(len(m) - 1 for m in margins) == 29


def test_gss82_two_classes_reach_the_published_maximum():
    # poLCA gss82 help page: gss.lc2 <- poLCA(f, gss82, nclass=2)  # log-likelihood = -2783.268
    data = gss82()
    model = ProductMixture(2, random_state=0).fit(data.patterns, sample_weight=data.counts)
    assert round(model.log_likelihood_, 3) == data.published[2]["log_likelihood"] == -2783.268


def test_gss82_three_classes_reach_the_published_maximum_and_shares():
    # poLCA gss82 help page: -2754.545; poLCA user's manual, section 5.7,
    # Table 1: shares 0.621, 0.172, 0.207 with classes ordered by decreasing
    # P(UNDERSTA = Good) ("ideal, skeptic, believer").
    data = gss82()
    model = ProductMixture(3, random_state=0).fit(data.patterns, sample_weight=data.counts)
    assert round(model.log_likelihood_, 3) == data.published[3]["log_likelihood"] == -2754.545
    order = np.argsort(-model.probs_[2][:, 0])
    np.testing.assert_allclose(model.weights_[order], [0.621, 0.172, 0.207], atol=5e-4)
    assert data.published[3]["weights"] == [0.621, 0.172, 0.207]


def test_gss82_four_classes_reach_the_published_maximum():
    # poLCA gss82 help page: -2746.621 (nclass=4, nrep=10). Kruskal's sufficient
    # condition fails for four classes (sum min(kappa, k) = 9 < 10), but the Jacobian of
    # the 27 free parameters has full rank: locally identified, fitted and labelled so.
    data = gss82()
    model = ProductMixture(4, random_state=0).fit(data.patterns, sample_weight=data.counts)
    assert round(model.log_likelihood_, 3) == data.published[4]["log_likelihood"] == -2746.621
    assert model.identifiability_.startswith("locally identified (numerical rank 27 of 27")


# --------------------------------------------------------------- election
def test_election_rows_gaps_and_codes():
    # poLCA election help page: 1785 observations on 17 variables, 1311 of
    # them answered all twelve candidate evaluations; answers 1..4 (here
    # 0..3); VOTE3 1..3, EDUC 1..7, GENDER 1..2, PARTY 1..7.
    data = election()
    assert data.items.shape == (1785, 12)
    assert data.covariates.shape == (1785, 5)
    assert data.item_names[:2] == ["MORALG", "CARESG"] and data.item_names[-1] == "INTELB"
    assert data.covariate_names == ["VOTE3", "AGE", "EDUC", "GENDER", "PARTY"]
    complete = data.complete()
    assert int(complete.sum()) == 1311
    assert int((~complete).sum()) == 474
    for j in range(12):
        answered = data.items[:, j][~np.isnan(data.items[:, j])]
        assert set(answered) == {0.0, 1.0, 2.0, 3.0}
    assert data.levels[5] == ["Extremely well", "Quite well", "Not too well", "Not well at all"]
    codings = {"VOTE3": range(1, 4), "EDUC": range(1, 8), "GENDER": range(1, 3)}
    codings["PARTY"] = range(1, 8)
    for name, codes in codings.items():
        column = data.covariate(name)
        assert set(column[~np.isnan(column)]) == {float(c) for c in codes}
    age = data.covariate("AGE")
    assert np.all(age[~np.isnan(age)] >= 18)


def test_election_independence_model_matches_the_published_value():
    # poLCA election help page: nes1 <- poLCA(f, election, nclass=1)  # -18647.31
    # (na.rm=TRUE: the complete rows). The MLE is the product of the margins.
    data = election()
    rows = data.items[data.complete()].astype(np.int64)
    n = rows.shape[0]
    loglik = sum(
        float(np.sum(np.log(np.bincount(rows[:, j], minlength=4)[rows[:, j]] / n)))
        for j in range(12)
    )
    assert round(loglik, 2) == data.published[1]["log_likelihood"] == -18647.31


@pytest.mark.parametrize(("k", "published"), [(2, -17344.92), (3, -16714.66)])
def test_election_classes_reach_the_published_maximum(k, published):
    # poLCA election help page: nes2 ... # -17344.92; nes3 ... # -16714.66,
    # both on the 1311 complete rows (poLCA's default na.rm=TRUE).
    data = election()
    with pytest.warns(UserWarning, match="dropped 474 of 1785 rows"):
        model = ProductMixture(k, random_state=0, missing="drop").fit(data.items)
    assert model.n_rows_dropped_ == 474
    assert round(model.log_likelihood_, 2) == data.published[k]["log_likelihood"] == published


def test_election_names_the_covariates_on_a_wrong_name():
    with pytest.raises(DataError, match=r"no covariate named 'party'.*'PARTY'"):
        election().covariate("party")

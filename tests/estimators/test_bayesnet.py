"""BayesNetMixture: the estimator over the k-MixBND reduction and EM, and its causal queries.

References: exact population distributions (every pattern of the nodes with its
probability under the true mixture as the row weight), for which the fit must
return the true parameters; the exact interventional distributions of the true
model (``kmix.solvers.effects.interventional``, itself checked against brute
force in ``tests/causal/test_effects.py``); the confounded conditional
computed from the sampled rows. Missing values: the pure function
``fit_bayesnet_mixture`` on codes with -1; the posterior of a row with gaps
summed over its completions here; the simulator's truth for full-information
ML against listwise deletion; counts of the gaps made in the test.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from kmix.causal import effects
from kmix.datasets import HOSPITALS_DAG, bayesnet_mixture, random_sparse_dag, two_hospitals
from kmix.estimators.bayesnet import BayesNetMixture
from kmix.exceptions import DataError
from kmix.solvers.bayesnet import inference
from kmix.solvers.linalg import best_permutation


def population(truth):
    levels = truth.n_levels
    rows = np.array(list(itertools.product(*[range(d) for d in levels])), dtype=np.int64)
    logp = inference.log_prob_rows(truth, rows)
    prob = np.exp(logp) @ truth.weights
    return rows, prob


def flat(params):
    k = params.weights.shape[0]
    return np.concatenate([c.reshape(k, -1) for c in params.cpts], axis=1)


def aligned_error(truth, fitted):
    a, b = flat(truth), flat(fitted)
    perm = best_permutation(np.abs(a[:, None, :] - b[None, :, :]).sum(axis=2))
    return max(np.abs(a - b[perm]).max(), np.abs(truth.weights - fitted.weights[perm]).max())


@pytest.mark.parametrize(("n_nodes", "max_degree", "seed"), [(6, 2, 0), (8, 2, 1), (10, 3, 2)])
def test_exact_population_gives_the_true_mixture_and_effects(n_nodes, max_degree, seed):
    dag = random_sparse_dag(n_nodes, max_degree, random_state=seed)
    _, truth = bayesnet_mixture(dag, 2, 10, separation=0.2, random_state=seed)
    rows, prob = population(truth)
    model = BayesNetMixture(truth.dag, 2, tol=1e-15, max_iter=20000, random_state=0)
    model.fit(rows, columns=list(truth.columns), sample_weight=prob * 1e6)
    assert aligned_error(truth, model.params_) < 1e-6
    # an effect between two connected nodes, and one between unconnected ones
    x, y = next(iter(dag.edges))
    for outcome, treat in ((y, x), (dag.nodes[-1], dag.nodes[0])):
        for t in (0, 1):
            want = effects.interventional(truth, outcome, {treat: t})
            got = model.interventional(outcome, {treat: t})
            np.testing.assert_allclose(got, want, atol=1e-6)


def test_sampled_data_ate_beats_the_naive_contrast():
    """N = 2e5, 8 nodes: the recovered effect is close; the confounded contrast is not."""
    dag = random_sparse_dag(8, 2, random_state=5)
    errors, naive = [], []
    for seed in range(3):
        X, truth = bayesnet_mixture(dag, 2, 200_000, separation=0.2, random_state=10 + seed)
        x, y = next(iter(dag.edges))
        model = BayesNetMixture(dag, 2, random_state=0).fit(X, columns=list(truth.columns))
        true_ate = effects.ate(truth, x, y)
        errors.append(abs(model.ate(x, y) - true_ate))
        naive.append(abs(model.naive_ate(x, y) - true_ate))
    assert max(errors) < 0.02, errors
    assert np.median(naive) > np.median(errors), (naive, errors)


def test_inference_and_tables(fitted_bayesnet):
    model, data, truth = fitted_bayesnet
    post = model.predict_proba(data)
    assert post.shape == (20_000, 2)
    np.testing.assert_allclose(post.sum(axis=1), 1.0)
    assert model.score(data) == pytest.approx(model.log_likelihood_ / model.n_samples_)
    sample, sources = model.sample(50)
    assert set(sample) == set(truth.columns) and sources.shape == (50,)
    assert set(np.unique(sample[truth.columns[0]])) <= {"no", "yes"}
    node = next(v for v in model.columns_ if model.dag_.parents[v])
    table = model.cpd_table(node)
    parents = model.dag_.parents[node]
    assert set(table) == {"source", *parents, node, "probability"}
    assert table["probability"].shape == (2 * 2 ** (len(parents) + 1),)
    n_par = 1 + sum(2 ** len(model.dag_.parents[v]) for v in model.columns_) * 2
    assert model.n_parameters() == n_par  # k - 1 + k * (levels - 1) per parent pattern
    assert model.bic() == pytest.approx(
        -2 * model.log_likelihood_ + n_par * np.log(model.n_samples_)
    )
    p = model.interventional(node, {parents[0]: "yes"})
    assert p.shape == (2,) and p.sum() == pytest.approx(1.0)
    assert model.interventional(node, {parents[0]: "yes"}, per_source=True).shape == (2, 2)


def test_pickle_and_clone_keep_the_model():
    import pickle

    from sklearn.base import clone

    dag = random_sparse_dag(6, 2, random_state=3)
    X, truth = bayesnet_mixture(dag, 2, 5_000, separation=0.2, random_state=3)
    model = BayesNetMixture(dag, 2, random_state=0).fit(X, columns=list(truth.columns))
    x, y = next(iter(dag.edges))
    again = pickle.loads(pickle.dumps(model))
    assert again.ate(x, y) == model.ate(x, y)
    assert clone(model).dag == dag


def test_ate_arms_and_text_levels():
    """Reference: the same model on 0/1 codes; swapping the arms flips the sign."""
    dag = random_sparse_dag(6, 2, random_state=3)
    X, truth = bayesnet_mixture(dag, 2, 20_000, separation=0.2, random_state=3)
    cols = list(truth.columns)
    x, y = next(iter(dag.edges))
    coded = BayesNetMixture(dag, 2, random_state=0).fit(X, columns=cols)
    text = {c: np.where(X[:, j] == 1, "drug", "placebo") for j, c in enumerate(cols)}
    named = BayesNetMixture(dag, 2, random_state=0).fit(text)
    # "drug" < "placebo": the default arms are drug (control, code 1) and placebo (treated,
    # code 0), and the outcome's text levels count as their codes (drug = 0 for code 1):
    # both flips together give the coded model's effect back
    assert named.ate(x, y) == pytest.approx(coded.ate(x, y), abs=1e-6)
    assert named.ate(x, y) == pytest.approx(-coded.ate(x, y, treated=0, control=1), abs=1e-6)
    assert named.ate(x, y, treated="drug", control="placebo") == pytest.approx(
        -named.ate(x, y), abs=1e-12
    )
    with pytest.raises(DataError, match="'dose' is not a level"):
        named.ate(x, y, treated="dose", control="drug")


def test_options_reach_the_reduction_and_bad_ones_are_named(monkeypatch):
    # the pure fit (which BayesNetMixture calls) hands the options to the reduction
    import kmix.solvers.bayesnet.fit as est

    seen = {}
    real = est.fit_bayesnet_reduction

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(est, "fit_bayesnet_reduction", spy)
    dag = random_sparse_dag(6, 2, random_state=3)
    X, truth = bayesnet_mixture(dag, 2, 5_000, separation=0.2, random_state=3)
    cols = list(truth.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        BayesNetMixture(dag, 2, min_run_size=10, refine_runs=False, random_state=0).fit(
            X, columns=cols
        )
    assert seen["min_run_size"] == 10 and seen["refine_runs"] is False
    for kwargs, match in (
        ({"init": "moments"}, "init='moments' is not valid"),
        ({"n_components": 0}, "n_components"),
        ({"tol": -1.0}, "tol"),
        ({"min_run_size": -5}, "min_run_size"),
        ({"init": "random", "n_init": 0}, "n_init"),
    ):
        with pytest.raises(DataError, match=match):
            BayesNetMixture(dag, **kwargs).fit(X, columns=cols)


def test_bad_input_is_named():
    dag = random_sparse_dag(6, 2, random_state=3)
    X, truth = bayesnet_mixture(dag, 2, 2_000, random_state=3)
    cols = list(truth.columns)
    with pytest.raises(DataError, match="no column names"):
        BayesNetMixture(dag).fit(X)
    with pytest.raises(DataError, match="needs the DAG"):
        BayesNetMixture().fit(X, columns=cols)
    with pytest.raises(DataError, match="cycle"):
        BayesNetMixture("A -> B\nB -> A").fit({"A": [0, 1], "B": [1, 0]})
    with pytest.raises(DataError, match=cols[0]):
        BayesNetMixture(dag).fit(X[:, 1:], columns=cols[1:])  # a DAG node missing
    extra = np.hstack([X, X[:, :1]])
    with pytest.raises(DataError, match="extra"):
        BayesNetMixture(dag).fit(extra, columns=[*cols, "W"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        BayesNetMixture(dag, ignore_extra_columns=True, random_state=0).fit(
            extra, columns=[*cols, "W"]
        )
    assert any("W" in str(w.message) for w in caught)
    real = X.astype(float)
    real[3, 2] = 0.5
    with pytest.raises(DataError, match=rf"node '{cols[2]}' holds 0.5 at row 3"):
        BayesNetMixture(dag).fit(real, columns=cols)


def test_dense_dag_and_thin_strata_are_reported():
    from itertools import combinations

    from kmix.exceptions import IdentifiabilityError

    nodes = [f"V{i}" for i in range(5)]
    complete = "\n".join(f"{a} -> {b}" for a, b in combinations(nodes, 2))
    X = np.random.default_rng(0).integers(0, 2, size=(500, 5))
    # no covering runs, and the Jacobian proves it: 63 parameters, 31 free cells
    with pytest.raises(IdentifiabilityError, match="not identified: numerical rank 31 of 63"):
        BayesNetMixture(complete, 2).fit(X, columns=nodes)
    dag = random_sparse_dag(6, 2, random_state=3)
    X, truth = bayesnet_mixture(dag, 2, 1_500, separation=0.2, random_state=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        BayesNetMixture(dag, 2, random_state=0).fit(X, columns=list(truth.columns))
    assert any("effective sample size" in str(w.message) for w in caught)


def test_to_pgmpy_exports_one_population():
    """Reference: pgmpy's own inference on the exported network vs kmix's exact P_u(Y)."""
    pytest.importorskip("pgmpy")
    from pgmpy.inference import VariableElimination

    dag = random_sparse_dag(8, 3, random_state=4)  # nodes with two and three parents
    X, truth = bayesnet_mixture(dag, 2, 20_000, separation=0.2, random_state=3)
    model = BayesNetMixture(dag, 2, random_state=0).fit(X, columns=list(truth.columns))
    for source in (0, 1):
        net = model.to_pgmpy(source)
        assert net.check_model()
        for v in model.columns_:
            got = VariableElimination(net).query([v], show_progress=False).values
            want = model.interventional(v, {}, per_source=True)[source]
            np.testing.assert_allclose(got, want, atol=1e-10)


# ---------------------------------------------------------------- missing values
def hospitals_with_gaps(n, seed, *, mar=False):
    """two_hospitals rows as floats with NaN: at random given A (mar) or completely at random.

    Under MAR, treatment X and outcome Y go missing more often for severe cases
    (A = 1) and A is always seen; the routine readings C, D, E go missing 15% of
    the time either way.
    """
    X, truth = two_hospitals(n, random_state=seed)
    rng = np.random.default_rng(1000 + seed)
    gaps = rng.random(X.shape) < 0.15
    if mar:
        gaps[:, 0] = False
        gaps[:, 1:3] = rng.random((n, 2)) < np.where(X[:, :1] == 1, 0.4, 0.05)
    Xf = X.astype(float)
    Xf[gaps] = np.nan
    return Xf, truth


def mean_error(truth, est):
    """Mean absolute difference of the weights and CPT entries, best relabelling."""
    k = truth.n_components
    a = np.concatenate([truth.weights[:, None], flat(truth)], axis=1)
    b = np.concatenate([est.weights[:, None], flat(est)], axis=1)
    perm = best_permutation(np.abs(a[:, None, :] - b[None, :, :]).sum(axis=2))
    assert sorted(perm) == list(range(k))
    return float(np.abs(a - b[perm]).mean())


def test_missing_markers_are_read_alike_and_fitted_as_the_solver_fits_them():
    """Reference: ``fit_bayesnet_mixture`` on the codes with -1, and the gaps counted here.

    NaN in floats, None in objects, empty strings among text labels and
    pandas' NA in a nullable integer frame all mark the same cells.
    """
    pd = pytest.importorskip("pandas")
    from kmix.solvers.bayesnet.design import compress_coded
    from kmix.solvers.bayesnet.fit import fit_bayesnet_mixture

    Xf, truth = hospitals_with_gaps(4000, 0)
    cols = list(truth.columns)
    gaps = np.isnan(Xf)
    objects = Xf.astype(object)
    objects[gaps] = None
    text = {
        c: np.where(gaps[:, j], "", np.where(Xf[:, j] == 1, "yes", "no"))
        for j, c in enumerate(cols)
    }
    frame = pd.DataFrame(Xf, columns=cols).astype("Int64")
    assert frame.isna().to_numpy().sum() == gaps.sum()
    fits = [
        BayesNetMixture(HOSPITALS_DAG, 2, random_state=0).fit(data, columns=names)
        for data, names in ((Xf, cols), (objects, cols), (text, None), (frame, None))
    ]
    seen = ~gaps.all(axis=1)  # a row with nothing observed is left out
    codes = np.where(gaps, -1, np.nan_to_num(Xf)).astype(np.int64)
    values, counts = compress_coded(codes[seen])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fit_bayesnet_mixture(
            values, counts, truth.dag, [2] * 6, 2, rng=np.random.default_rng(0)
        )
    for model in fits:
        assert model.n_missing_ == dict(zip(cols, gaps.sum(axis=0).tolist(), strict=True))
        assert model.n_rows_dropped_ == int((~seen).sum()) and model.n_rows_ == int(seen.sum())
        assert model.log_likelihood_ == pytest.approx(ref.log_likelihood, rel=1e-12)
        np.testing.assert_allclose(flat(model.params_), flat(ref.params), atol=1e-10)
    assert list(fits[2].categories_["X"]) == ["no", "yes"]  # "" is no level


def test_complete_data_take_one_path_under_every_missing_option():
    """Reference: the default fit; without gaps the three options are the same fit."""
    X, truth = two_hospitals(3000, random_state=1)
    cols = list(truth.columns)
    fits = [
        BayesNetMixture(HOSPITALS_DAG, 2, missing=m, random_state=0).fit(X, columns=cols)
        for m in ("fiml", "drop", "error")
    ]
    for model in fits:
        assert model.n_rows_dropped_ == 0 and set(model.n_missing_.values()) == {0}
        assert model.log_likelihood_ == fits[0].log_likelihood_
        np.testing.assert_array_equal(flat(model.params_), flat(fits[0].params_))


def test_fiml_is_closer_to_the_truth_than_listwise_deletion_under_mar():
    """Reference: the simulator's truth. With X and Y missing more often for severe
    cases, the complete cases over-represent mild ones; full-information ML uses
    every row's observed values. Mean absolute parameter error over six seeds."""
    wins = 0
    for seed in range(6):
        Xf, truth = hospitals_with_gaps(8000, seed, mar=True)
        assert 0.1 < np.isnan(Xf).mean() < 0.3
        cols = list(truth.columns)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fiml = BayesNetMixture(HOSPITALS_DAG, 2, random_state=0).fit(Xf, columns=cols)
            drop = BayesNetMixture(HOSPITALS_DAG, 2, missing="drop", random_state=0).fit(
                Xf, columns=cols
            )
        assert drop.n_rows_dropped_ == int(np.isnan(Xf).any(axis=1).sum())
        wins += mean_error(truth, fiml.params_) <= mean_error(truth, drop.params_)
    assert wins >= 5, wins


def test_posterior_of_a_row_with_gaps_sums_over_its_completions():
    """Reference: ``inference.log_prob_rows`` on every completion of the row, summed here."""
    Xf, truth = hospitals_with_gaps(3000, 2)
    cols = list(truth.columns)
    model = BayesNetMixture(HOSPITALS_DAG, 2, random_state=0).fit(Xf, columns=cols)
    rows = np.array([[np.nan, 1, np.nan, 0, 1, np.nan], [1, np.nan, 0, np.nan, np.nan, 1]])
    want_p, want_post = [], []
    for row in rows:
        gaps = np.flatnonzero(np.isnan(row))
        total = np.zeros(2)
        for fill in itertools.product((0, 1), repeat=gaps.size):
            full = row.copy()
            full[gaps] = fill
            total += np.exp(inference.log_prob_rows(model.params_, full[None].astype(int))[0])
        joint = model.weights_ * total
        want_p.append(np.log(joint.sum()))
        want_post.append(joint / joint.sum())
    np.testing.assert_allclose(model.score_samples(rows, columns=cols), want_p, rtol=1e-12)
    np.testing.assert_allclose(model.predict_proba(rows, columns=cols), want_post, rtol=1e-10)
    # the contrast of the training data counts the rows that show Y and X (available cases)
    seen = ~np.isnan(Xf[:, 1]) & ~np.isnan(Xf[:, 2])
    x, y = Xf[seen, 1], Xf[seen, 2]
    assert model.naive_ate("X", "Y") == pytest.approx(y[x == 1].mean() - y[x == 0].mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (two replicates: the interval is their range)
        lo, hi = model.bootstrap(n_boot=2, random_state=0).weights(level=0.5)[1:]
    assert np.all(np.abs(lo - model.weights_) < 0.1) and np.all(np.abs(hi - model.weights_) < 0.1)


def test_missing_values_bad_cases_are_named():
    Xf, truth = hospitals_with_gaps(2000, 3)
    cols = list(truth.columns)
    i, j = (int(v) for v in np.argwhere(np.isnan(Xf))[0])
    with pytest.raises(
        DataError,
        match=rf"node '{cols[j]}' is missing \(nan\) at row {i}.*"
        r"missing='error'",
    ):
        BayesNetMixture(HOSPITALS_DAG, 2, missing="error").fit(Xf, columns=cols)
    with pytest.raises(DataError, match="missing='zap' is not valid"):
        BayesNetMixture(HOSPITALS_DAG, 2, missing="zap").fit(Xf, columns=cols)
    blank = Xf.copy()
    blank[:, 4] = np.nan
    with pytest.raises(DataError, match=r"\['D'\] are missing in every row"):
        BayesNetMixture(HOSPITALS_DAG, 2).fit(blank, columns=cols)
    inf = Xf.copy()
    inf[5, 3] = np.inf
    with pytest.raises(DataError, match="node 'C' holds inf at row 5: infinite"):
        BayesNetMixture(HOSPITALS_DAG, 2).fit(inf, columns=cols)
    empty = Xf.copy()
    empty[[3, 7]] = np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = BayesNetMixture(HOSPITALS_DAG, 2, random_state=0).fit(empty, columns=cols)
    told = [w for w in caught if "every node missing" in str(w.message)]
    assert len(told) == 1 and "left out 2 of 2000 rows" in str(told[0].message)
    assert model.n_rows_dropped_ == 2 and model.n_rows_ == 1998
    # rows of weight 0 are not counted (reference: the count over the others)
    w = (np.arange(2000) % 3 > 0).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weighted = BayesNetMixture(HOSPITALS_DAG, 2, random_state=0).fit(
            Xf, columns=cols, sample_weight=w
        )
    assert weighted.n_missing_["C"] == int(np.isnan(Xf[w > 0, 3]).sum())
    assert weighted.n_rows_ == int((w > 0).sum())
    strict = BayesNetMixture(HOSPITALS_DAG, 2, missing="error", random_state=0)
    strict.fit(np.nan_to_num(Xf), columns=cols)
    with pytest.raises(DataError, match="refit with missing='fiml'"):
        strict.predict(Xf, columns=cols)
    # drop: exactly the fit of the complete rows, with one warning
    complete = ~np.isnan(Xf).any(axis=1)
    with pytest.warns(UserWarning, match=rf"left out {int((~complete).sum())} of 2000 rows"):
        drop = BayesNetMixture(HOSPITALS_DAG, 2, missing="drop", random_state=0).fit(
            Xf, columns=cols
        )
    ref = BayesNetMixture(HOSPITALS_DAG, 2, random_state=0).fit(Xf[complete], columns=cols)
    assert drop.log_likelihood_ == ref.log_likelihood_ and drop.n_rows_ == int(complete.sum())


def test_log_likelihood_history_climbs_to_log_likelihood(fitted_bayesnet):
    """Reference: EM never lowers the log-likelihood (Dempster, Laird & Rubin 1977) and SQUAREM
    keeps an extrapolation only where it does not lose against two plain EM maps (Varadhan &
    Roland 2008): with alpha=1 (maximum likelihood) the kept run's history climbs (to
    rounding) to log_likelihood_, one entry per SQUAREM cycle (three EM maps of n_iter_) and
    the end point. With alpha > 1 EM climbs the log-posterior; the plain log-likelihood still
    ends at log_likelihood_, one entry per cycle and the end point."""
    model, data, _ = fitted_bayesnet
    smoothed = BayesNetMixture(model.dag_, 2, alpha=3.0, n_init=2, random_state=0).fit(data)
    for fit, monotone in ((model, True), (smoothed, False)):
        h = fit.log_likelihood_history_
        assert isinstance(h, np.ndarray) and h.dtype == np.float64 and h.ndim == 1
        assert h[-1] == fit.log_likelihood_
        assert fit.n_iter_ % 3 == 0 and len(h) == fit.n_iter_ // 3 + 1
        if monotone:
            assert np.all(np.diff(h) >= -1e-9 * abs(h[-1]))

"""kmix.plotting: every figure rendered to PNG, and what it shows read back off its artists.

References: the fitted models' own numbers (``weights_``, ``params_.probs``, ``cpds_``,
``biases_``, ``log_likelihood_history_``, ``coef_`` / ``coef_se_``, ``naive_ate`` / ``ate``,
a DistalResult's estimates), recomputed here by an independent route where one is cheap:
class shares as the mean posterior (EM's fixed point), a network's marginals by summing its
CPTs by hand, the binomial mixture through scipy, percentile bounds through ``np.quantile``
over the bootstrap draws, Wald bounds with ``z = 1.959964`` (the 97.5% normal quantile), and
the layered layout worked out by hand for the hospitals' DAG.
"""

from __future__ import annotations

import itertools
import warnings
from io import BytesIO

import numpy as np
import pytest
from scipy.stats import binom

import kmix
from kmix import BayesNetMixture, CoinMixture, FiniteMixture, ProductMixture
from kmix.causal import discover
from kmix.datasets import HOSPITALS_DAG, bayesnet_mixture, coin_flips, stouffer_toby, two_hospitals
from kmix.exceptions import DataError
from kmix.params import DAG, BinomialParams, Mixture
from kmix.plotting import (
    choose_k,
    class_profiles,
    coin_atoms,
    convergence,
    covariate_effects,
    dag_figure,
    discovered_graph,
    distal_outcome,
    effect_figure,
    effect_rows,
    layered_layout,
    profile_tables,
)
from kmix.plotting._common import GREY, PALETTE
from kmix.solvers.bayesnet.inference import log_prob_rows
from tests.helpers.latent_class import three_level

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
mcolors = pytest.importorskip("matplotlib.colors")
mfigure = pytest.importorskip("matplotlib.figure")
mpatches = pytest.importorskip("matplotlib.patches")
mtext = pytest.importorskip("matplotlib.text")

#: The 97.5% quantile of the standard normal (the 95% Wald interval's z).
Z95 = 1.959963984540054


# ------------------------------------------------------------------------------- helpers
def png(fig) -> bytes:
    """Render the figure to PNG (this is what fails on a broken artist) and return the bytes."""
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=50)
    data = buffer.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    return data


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def ticks(labels) -> list[str]:
    return [t.get_text() for t in labels]


def same_colour(a, b) -> bool:
    return mcolors.to_hex(a) == mcolors.to_hex(b)


def annotations(ax) -> list:
    """Arrows: ``ax.annotate`` puts an Annotation (a Text subclass) into ``ax.texts``."""
    return [t for t in ax.texts if isinstance(t, mtext.Annotation)]


def plain_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts if not isinstance(t, mtext.Annotation)]


def segments(collection) -> np.ndarray:
    return np.array([np.asarray(s) for s in collection.get_segments()])


def quiet(fit):
    """Run a fit with kmix's advisory UserWarnings (small-sample runs) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fit()


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def stouffer():
    """Stouffer & Toby's 216 respondents, 4 binary items, 2 classes (shares 0.72 / 0.28)."""
    data = stouffer_toby()
    X = data.expand()
    model = ProductMixture(2, random_state=0).fit(data.patterns, sample_weight=data.counts)
    return X, model


@pytest.fixture(scope="module")
def stouffer_boot(stouffer):
    X, model = stouffer
    return quiet(lambda: model.bootstrap(X, 6, random_state=0))


@pytest.fixture(scope="module")
def hospitals():
    """The two hospitals' network (``HOSPITALS_DAG``: A -> X, A -> Y, X -> Y; C, D, E alone)
    on 5,000 rows, with a 3-replicate bootstrap."""
    codes, truth = two_hospitals(5000, random_state=0)
    model = quiet(
        lambda: BayesNetMixture(HOSPITALS_DAG, 2, random_state=0).fit(
            codes, columns=list(truth.columns)
        )
    )
    boot = quiet(lambda: model.bootstrap(3, random_state=0))
    return model, boot


@pytest.fixture(scope="module")
def coins():
    """Two coins (p = 0.2, 0.7, equal shares), 2,000 trials of 3 flips."""
    truth = Mixture(np.array([0.5, 0.5]), BinomialParams(np.array([[0.2], [0.7]])))
    heads = coin_flips(truth, 2000, 3, random_state=0)
    return heads, CoinMixture(2).fit(heads, n_trials=3)


@pytest.fixture(scope="module")
def with_covariates(stouffer):
    """Stouffer-Toby with two covariates: ``z1`` tracks class 2's posterior, ``z2`` is noise."""
    X, model = stouffer
    rng = np.random.default_rng(0)
    z1 = 2.0 * model.predict_proba(X)[:, 1] + rng.normal(size=X.shape[0])
    z2 = rng.normal(size=X.shape[0])
    return ProductMixture(2, random_state=0).fit(X, covariates={"z1": z1, "z2": z2})


@pytest.fixture(scope="module")
def chain_class():
    """The learned class of a chain A - B - C (exact table of a 2-source mixture, weights =
    probabilities x 1e9, as in tests/causal/test_discovery.py): both edges left undirected."""
    chain = DAG.from_edges(["A", "B", "C"], [("A", "B"), ("B", "C")])
    _, truth = bayesnet_mixture(chain, 2, 0, n_levels=3, separation=0.3, random_state=1)
    rows = np.array(list(itertools.product(range(3), repeat=3)), dtype=np.int64)
    weights = (np.exp(log_prob_rows(truth, rows)) @ truth.weights) * 1e9
    return discover(rows, 2, columns=list("ABC"), sample_weight=weights, alpha=0.01)


# -------------------------------------------------------------------------- class_profiles
def test_class_profiles_one_line_per_class_at_the_model_probabilities(stouffer):
    """Expected: one line per class (PALETTE[u]) through ``params_.probs[j][u, 1]`` at the
    cells ``item = 1`` (binary items show their second level); legend shares from the mean
    posterior, which equals ``weights_`` at EM's fixed point; a faint line between items."""
    X, model = stouffer
    fig = class_profiles(model, names=list("ABCD"))
    png(fig)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_title() == "Class profiles"
    assert ax.get_ylabel() == "P(response | class)"
    assert ticks(ax.get_xticklabels()) == ["A = 1", "B = 1", "C = 1", "D = 1"]
    shares = model.predict_proba(X).mean(axis=0)
    assert legend_texts(ax) == [f"class {u + 1} ({100 * w:.1f}%)" for u, w in enumerate(shares)]
    assert legend_texts(ax) == ["class 1 (72.1%)", "class 2 (27.9%)"]
    for u in range(2):
        mine = [ln for ln in ax.lines if same_colour(ln.get_color(), PALETTE[u])]
        assert len(mine) == 1  # one Line2D per class (no bootstrap: no caps)
        np.testing.assert_allclose(mine[0].get_xdata(), np.arange(4))
        expected = [model.params_.probs[j][u, 1] for j in range(4)]
        np.testing.assert_allclose(mine[0].get_ydata(), expected, rtol=0, atol=1e-12)
    separators = [ln for ln in ax.lines if not ln.get_label().startswith("class")]
    assert [float(ln.get_xdata()[0]) for ln in separators] == [0.5, 1.5, 2.5]


def test_class_profiles_items_with_three_levels_show_every_level():
    """Six three-level items (text labels hi / lo / mid, tests/helpers/latent_class.py): every
    level is a cell, 18 in all, in the model's level order (``categories_``), and the lines pass
    through ``params_.probs[j][u, v]``."""
    labels, _ = three_level(600, seed=0)
    model = ProductMixture(2, random_state=0).fit(labels)
    fig = class_profiles(model)
    png(fig)
    ax = fig.axes[0]
    levels = [[str(v) for v in c] for c in model.categories_]
    assert levels == [["hi", "lo", "mid"]] * 6
    cells = [(j, v) for j in range(6) for v in range(3)]
    assert ticks(ax.get_xticklabels()) == [f"x{j} = {levels[j][v]}" for j, v in cells]
    class_lines = [ln for ln in ax.lines if ln.get_label().startswith("class")]
    assert len(class_lines) == 2
    for u, line in enumerate(class_lines):
        expected = [model.params_.probs[j][u, v] for j, v in cells]
        np.testing.assert_allclose(line.get_ydata(), expected, rtol=0, atol=1e-12)
    # a subset, in the order asked
    ax2 = class_profiles(model, items=["x3", "x1"]).axes[0]
    assert ticks(ax2.get_xticklabels())[:4] == ["x3 = hi", "x3 = lo", "x3 = mid", "x1 = hi"]


def test_class_profiles_bootstrap_bars_are_percentile_intervals(stouffer, stouffer_boot):
    """Expected bars: ``np.quantile`` of the ProductBootstrap's draws ``probs[j][:, u, 1]`` at
    (1 -/+ level) / 2, widened to the point estimate where it falls outside (the bar is drawn
    from the estimate); classes dodged by 0.12; the title names the level."""
    _, model = stouffer
    fig = class_profiles(model, bootstrap=stouffer_boot, level=0.9)
    png(fig)
    ax = fig.axes[0]
    assert ax.get_title() == "Class profiles (90% bootstrap intervals)"
    assert len(ax.containers) == 2  # one errorbar set per class
    for u, container in enumerate(ax.containers):
        _, caps, (bars,) = container.lines
        assert len(caps) == 2  # lower and upper caps
        seg = segments(bars)
        y = np.array([model.params_.probs[j][u, 1] for j in range(4)])
        draws = np.stack([stouffer_boot.probs[j][:, u, 1] for j in range(4)], axis=1)
        lo, hi = np.quantile(draws, 0.05, axis=0), np.quantile(draws, 0.95, axis=0)
        np.testing.assert_allclose(seg[:, 0, 0], np.arange(4) + 0.12 * (u - 0.5))
        np.testing.assert_allclose(seg[:, 0, 1], np.minimum(lo, y), atol=1e-12)
        np.testing.assert_allclose(seg[:, 1, 1], np.maximum(hi, y), atol=1e-12)
        assert same_colour(bars.get_colors()[0], PALETTE[u])


def test_class_profiles_of_a_network_are_each_sources_marginals(hospitals):
    """Expected: P_u(node = 1) summed by hand over the CPTs ``cpds_[v][u, parents..., x]``:
    roots (A, C, D, E) read their CPT, X = sum_a P(a) P(X | a), Y = sum_{a,x} P(a) P(x | a)
    P(Y | a, x); the legend says "source"."""
    model, _ = hospitals
    cp = model.cpds_
    pa = cp["A"]  # (k, 2)
    px = np.einsum("ua,uax->ux", pa, cp["X"])
    py = np.einsum("ua,uax,uaxy->uy", pa, cp["X"], cp["Y"])
    marg = {"A": pa, "X": px, "Y": py, "C": cp["C"], "D": cp["D"], "E": cp["E"]}
    fig = class_profiles(model)
    png(fig)
    ax = fig.axes[0]
    assert ax.get_title() == "Source profiles"
    assert ticks(ax.get_xticklabels()) == [f"{v} = 1" for v in model.columns_]
    assert legend_texts(ax) == [
        f"source {u + 1} ({100 * w:.1f}%)" for u, w in enumerate(model.weights_)
    ]
    lines = [ln for ln in ax.lines if ln.get_label().startswith("source")]
    for u, line in enumerate(lines):
        expected = [marg[v][u, 1] for v in model.columns_]
        np.testing.assert_allclose(line.get_ydata(), expected, atol=1e-10)
    items, _, tables, weights = profile_tables(model)
    assert items == list(model.columns_)
    np.testing.assert_allclose(tables[2], py, atol=1e-10)
    np.testing.assert_allclose(weights, model.weights_)


def test_class_profiles_of_a_bernoulli_mixture(stouffer):
    """Expected: a bernoulli FiniteMixture's cells are ``x_j = 1`` at ``params_.p[u, j]``;
    ``profile_tables`` gives ``[1 - p, p]`` per item."""
    X, _ = stouffer
    model = FiniteMixture(2, family="bernoulli", random_state=0).fit(X)
    fig = class_profiles(model)
    png(fig)
    ax = fig.axes[0]
    assert ticks(ax.get_xticklabels()) == [f"x{j} = 1" for j in range(4)]
    lines = [ln for ln in ax.lines if ln.get_label().startswith("class")]
    for u, line in enumerate(lines):
        np.testing.assert_allclose(line.get_ydata(), model.params_.p[u], atol=1e-12)
    _, levels, tables, _ = profile_tables(model)
    assert levels == [["0", "1"]] * 4
    np.testing.assert_allclose(tables[1][:, 0], 1.0 - model.params_.p[:, 1])


def test_class_profiles_refuses_what_it_cannot_draw(stouffer):
    _, model = stouffer
    with pytest.raises(DataError, match="needs a fitted model"):
        class_profiles(ProductMixture(2))
    rng = np.random.default_rng(0)
    two_blobs = np.r_[rng.normal(0.0, 1.0, (50, 2)), rng.normal(6.0, 1.0, (50, 2))]
    gaussian = FiniteMixture(2, random_state=0).fit(two_blobs)
    with pytest.raises(DataError, match="gaussian components"):
        class_profiles(gaussian)
    with pytest.raises(DataError, match=r"items \['Z'\] are not in the model"):
        class_profiles(model, items=["Z"])
    with pytest.raises(DataError, match="names gives 2 names for the model's 4 items"):
        class_profiles(model, names=["a", "b"])


# ------------------------------------------------------------------------------ coin_atoms
def test_coin_atoms_histogram_mixture_and_coins(coins):
    """Expected: bars = the observed share of each head count (``np.bincount / N``); the grey
    line = ``sum_u w_u Binomial(h; 3, p_u)`` (scipy); one stem and dot per coin at
    ``(biases_[u], weights_[u])`` on the right-hand axes; legend in that order."""
    heads, model = coins
    fig = coin_atoms(model, heads)
    png(fig)
    assert len(fig.axes) == 2  # the counts and the twin axis of the coins' weights
    left, right = fig.axes
    assert left.get_xlabel() == "share of heads (of 3 flips) / coin bias"
    assert left.get_ylabel() == "share of trials" and right.get_ylabel() == "coin weight"
    assert left.get_title() == "2 coins recovered"
    h = np.arange(4)
    bars = [p for p in left.patches if isinstance(p, mpatches.Rectangle)]
    np.testing.assert_allclose(
        [b.get_height() for b in bars], np.bincount(heads, minlength=4) / 2000
    )
    (mixture,) = left.lines
    assert same_colour(mixture.get_color(), GREY)
    np.testing.assert_allclose(mixture.get_xdata(), h / 3)
    pmf = sum(w * binom.pmf(h, 3, p) for w, p in zip(model.weights_, model.biases_, strict=True))
    np.testing.assert_allclose(mixture.get_ydata(), pmf, rtol=1e-12)
    assert len(right.lines) == 2 and len(right.collections) == 2
    for u, (dot, stem) in enumerate(zip(right.lines, right.collections, strict=True)):
        p, w = model.biases_[u], model.weights_[u]
        assert (dot.get_xdata()[0], dot.get_ydata()[0]) == (p, w)
        np.testing.assert_allclose(segments(stem)[0], [[p, 0.0], [p, w]])
        assert same_colour(dot.get_color(), PALETTE[u])
    assert legend_texts(left) == [
        "fitted mixture",
        "observed (2000 trials)",
        *(
            f"coin {u + 1}: p = {p:.3f}, w = {w:.3f}"
            for u, (p, w) in enumerate(zip(model.biases_, model.weights_, strict=True))
        ),
    ]
    # truth p = 0.2, 0.7 (2,000 trials)
    assert sorted(np.round(model.biases_, 1)) == [0.2, 0.7]


def test_coin_atoms_without_counts_and_bad_counts(coins):
    _, model = coins
    ax = coin_atoms(model).axes[0]
    assert not ax.patches and legend_texts(ax)[0] == "fitted mixture"
    with pytest.raises(DataError, match="whole numbers between 0 and n_trials=3"):
        coin_atoms(model, [0, 1, 4])
    with pytest.raises(DataError, match="n_trials must be a positive"):
        coin_atoms(model, n_trials=0)
    with pytest.raises(DataError, match="needs a fitted CoinMixture"):
        coin_atoms(CoinMixture(2))


# -------------------------------------------------------------------------------- choose_k
def test_choose_k_classes_marks_rank_and_bic_choices(stouffer):
    """Expected: ``select_k_classes`` on Stouffer-Toby picks k = 2 by both the rank test and
    BIC (Goodman's two classes): two dashed vertical lines at x = 2, the BIC curve at the
    table's ``bic``, the rank p-values on a log axis with the line ``alpha = 0.05``."""
    data = stouffer_toby()
    sel = kmix.select_k_classes(data.patterns, sample_weight=data.counts, random_state=0)
    assert (sel["rank_k"], sel["bic_k"]) == (2, 2)
    fig = choose_k(sel)
    png(fig)
    assert len(fig.axes) == 2
    ax, right = fig.axes
    assert ax.get_xlabel() == "number of classes k" and ax.get_ylabel() == "BIC"
    assert ax.get_title() == "Choosing the number of classes"
    bic_line = next(ln for ln in ax.lines if ln.get_label() == "BIC (left)")
    np.testing.assert_allclose(bic_line.get_ydata(), [r["bic"] for r in sel["table"]])
    vertical = {ln.get_label(): ln.get_xdata() for ln in ax.lines if ln.get_linestyle() == "--"}
    assert set(vertical) == {"rank test: k = 2", "BIC: k = 2"}
    for xs in vertical.values():
        assert list(xs) == [sel["rank_k"]] * 2
    p_line = next(ln for ln in right.lines if ln.get_label() == "rank test p-value (right)")
    np.testing.assert_allclose(p_line.get_ydata(), [r["rank_p_value"] for r in sel["table"]])
    assert right.get_yscale() == "log"
    alpha = next(ln for ln in right.lines if ln.get_label() == "alpha = 0.05")
    assert list(alpha.get_ydata()) == [0.05, 0.05]
    assert ticks(ax.get_xticklabels()) == ["1", "2"]


def test_choose_k_coins_draws_the_hankel_evidence(coins):
    """Expected: ``select_k_coins`` on the two coins: Hankel and BIC both at k = 2, the Hankel
    z per k on the right with the threshold ``z = 3``."""
    heads, _ = coins
    sel = kmix.select_k_coins(heads, n_trials=3)
    fig = choose_k(sel, z_support=3.0)
    png(fig)
    ax, right = fig.axes
    assert ax.get_xlabel() == "number of coins k"
    vertical = {
        ln.get_label(): list(ln.get_xdata()) for ln in ax.lines if ln.get_linestyle() == "--"
    }
    assert vertical == {f"Hankel: k = {sel.hankel_k}": [2, 2], f"BIC: k = {sel.bic_k}": [2, 2]}
    z = next(ln for ln in right.lines if ln.get_label().startswith("Hankel eigenvalue"))
    np.testing.assert_allclose(z.get_ydata(), [r["hankel_z"] for r in sel.table])
    assert "z = 3" in legend_texts(ax)


def test_choose_k_refuses_other_objects():
    with pytest.raises(DataError, match="select_k_classes"):
        choose_k([1, 2])
    with pytest.raises(DataError, match="no candidate k"):
        choose_k({"table": []})


# ----------------------------------------------------------------------------- convergence
def test_convergence_curve_is_the_history_relative_to_its_end(hospitals):
    """Expected: top panel y = ``log_likelihood_history_ - log_likelihood_history_[-1]``;
    the lower panel (at least two steps below the end) the positive gaps ``h[-1] - h[:-1]``
    on a log axis; the title counts the steps and gives the final value."""
    model, _ = hospitals
    h = np.asarray(model.log_likelihood_history_)
    gaps = h[-1] - h[:-1]
    assert np.count_nonzero(gaps > 0) >= 2
    fig = convergence(model)
    png(fig)
    assert len(fig.axes) == 2
    top, bottom = fig.axes
    (curve,) = top.lines
    np.testing.assert_allclose(curve.get_ydata(), h - h[-1], rtol=0, atol=0)
    np.testing.assert_array_equal(curve.get_xdata(), np.arange(h.size))
    assert top.get_title() == f"EM convergence ({h.size - 1} steps, final {h[-1]:.4f})"
    assert top.get_ylabel() == f"log-likelihood - ({h[-1]:.6g})"
    (gap,) = bottom.lines
    np.testing.assert_allclose(gap.get_ydata(), gaps[gaps > 0])
    assert bottom.get_yscale() == "log" and bottom.get_xlabel() == "EM step"
    # gap=False: the curve alone
    single = convergence(model, gap=False)
    assert len(single.axes) == 1 and single.axes[0].get_xlabel() == "EM step"


def test_convergence_ticks_stay_readable_for_a_tiny_climb(stouffer):
    """Stouffer-Toby's fit starts at the tensor estimate, already within ~1e-10 nats of the
    maximum: the y ticks must still differ from one another (a plain formatter prints them all
    as 0.000000000000)."""
    _, model = stouffer
    h = np.asarray(model.log_likelihood_history_)
    assert 0 < np.ptp(h) < 1e-6
    fig = convergence(model)
    png(fig)  # draws the figure, which sets the tick labels
    labels = [t for t in ticks(fig.axes[0].get_yticklabels()) if t]
    assert len(set(labels)) == len(labels) > 1


def test_convergence_needs_a_history():
    with pytest.raises(DataError, match="log_likelihood_history_"):
        convergence(ProductMixture(2))


# --------------------------------------------------------------------------- graphs
def test_layered_layout_by_longest_path():
    """Hand layout of HOSPITALS_DAG: layer 0 the roots A, C, D, E (1.3 apart, centred), X on
    layer 1 (A -> X), Y on layer 2 (its longest path A -> X -> Y), each centred under its
    parents' mean x (A at -1.95, X at 0 alone)."""
    nodes = ["A", "X", "Y", "C", "D", "E"]
    edges = [("A", "X"), ("A", "Y"), ("X", "Y")]
    pos = layered_layout(nodes, edges)
    expected = {"A": (-1.95, 0), "C": (-0.65, 0), "D": (0.65, 0), "E": (1.95, 0)}
    expected |= {"X": (0.0, -1.0), "Y": (0.0, -2.0)}
    assert set(pos) == set(nodes)
    for v, (x, y) in expected.items():
        assert pos[v] == pytest.approx((x, y))
    with pytest.raises(DataError, match="directed cycle"):
        layered_layout(["a", "b"], [("a", "b"), ("b", "a")])


def test_dag_figure_one_arrow_per_edge_and_per_node_from_u(hospitals):
    """Expected for HOSPITALS_DAG (6 nodes, 3 edges): 3 solid arrows along the edges, 6 dashed
    ones from U, 6 + 1 circles (U included), the nodes' names and U as text."""
    model, _ = hospitals
    fig = dag_figure(model)
    png(fig)
    ax = fig.axes[0]
    assert ax.get_title() == "DAG (3 edges), U hidden"
    circles = [p for p in ax.patches if isinstance(p, mpatches.Circle)]
    assert len(circles) == 6 + 1
    arrows = annotations(ax)
    assert len(arrows) == 3 + 6
    pos = layered_layout(list(model.dag_.nodes), list(model.dag_.edges))
    where = {tuple(np.round(xy, 9)): v for v, xy in pos.items()}
    solid = [a for a in arrows if a.arrowprops["color"] == "black"]
    drawn = {(where[tuple(np.round(a.xyann, 9))], where[tuple(np.round(a.xy, 9))]) for a in solid}
    assert drawn == {("A", "X"), ("A", "Y"), ("X", "Y")}
    from_u = [a for a in arrows if a.arrowprops["color"] == GREY]
    assert {where[tuple(np.round(a.xy, 9))] for a in from_u} == set(model.dag_.nodes)
    assert sorted(plain_texts(ax)) == sorted([*model.dag_.nodes, "U"])
    # without the latent node; and a kmix DAG directly, with a title
    bare = dag_figure(model.dag_, latent=None, title="plain").axes[0]
    assert len([p for p in bare.patches if isinstance(p, mpatches.Circle)]) == 6
    assert len(annotations(bare)) == 3 and bare.get_title() == "plain"


def test_dag_figure_refuses_other_objects():
    with pytest.raises(DataError, match="unfitted BayesNetMixture"):
        dag_figure(BayesNetMixture(HOSPITALS_DAG, 2))
    with pytest.raises(DataError, match="got str"):
        dag_figure(HOSPITALS_DAG)


def test_discovered_graph_labels_each_edge_with_its_evidence(chain_class):
    """Expected for the chain's class: 2 undirected edges (arrowstyle "-") labelled with their
    BIC margin ``f"{score_margin:+.0f}"``, 3 arrows from U, circles 3 + 1, and a title counting
    0 directed and 2 undirected edges."""
    res = chain_class
    assert res.directed == () and set(res.undirected) == {("A", "B"), ("B", "C")}
    fig = discovered_graph(res)
    png(fig)
    ax = fig.axes[0]
    assert ax.get_title() == "Learned class (k = 2): 0 directed, 2 undirected"
    arrows = annotations(ax)
    edges = [a for a in arrows if a.arrowprops["color"] == "black"]
    assert [a.arrowprops["arrowstyle"] for a in edges] == ["-", "-"]
    assert len(arrows) - len(edges) == 3  # from U
    assert len([p for p in ax.patches if isinstance(p, mpatches.Circle)]) == 4
    margins = [f"{res.evidence[e].score_margin:+.0f}" for e in res.undirected]
    assert sorted(plain_texts(ax)) == sorted([*margins, "A", "B", "C", "U"])
    # the class drawn as one of its DAGs
    assert len(annotations(dag_figure(res).axes[0])) == 2 + 3


def test_discovered_graph_refuses_other_objects(hospitals):
    with pytest.raises(DataError, match="draws a DiscoveryResult"):
        discovered_graph(hospitals[0])


# ------------------------------------------------------------------------------- effects
def test_effect_figure_markers_at_naive_kmix_and_per_source(hospitals):
    """Expected markers (top to bottom, y = 3 .. 0): ``naive_ate`` (grey square), ``ate``
    (black diamond), ``ate(per_source=True)`` (PALETTE[u] dots); no intervals without a
    bootstrap; ``truth`` a dashed line in the legend."""
    model, _ = hospitals
    fig = effect_figure(model, "X", "Y", truth=0.2)
    png(fig)
    ax = fig.axes[0]
    assert ax.get_title() == "Effect of X on Y"
    assert ax.get_xlabel() == "E[Y | do(X=1)] - E[Y | do(X=0)]"
    shares = [f"{100 * w:.0f}%" for w in model.weights_]
    assert ticks(ax.get_yticklabels()) == [
        "naive (confounded)",
        "kmix (U adjusted)",
        *(f"source {u + 1} ({s})" for u, s in enumerate(shares)),
    ]
    markers = [ln for ln in ax.lines if ln.get_marker() in ("s", "D", "o")]
    expected = [
        model.naive_ate("X", "Y"),
        model.ate("X", "Y"),
        *model.ate("X", "Y", per_source=True),
    ]
    assert [ln.get_marker() for ln in markers] == ["s", "D", "o", "o"]
    np.testing.assert_allclose([ln.get_xdata()[0] for ln in markers], expected, rtol=1e-12)
    assert [ln.get_ydata()[0] for ln in markers] == [3, 2, 1, 0]
    colours = [GREY, "black", *PALETTE[:2]]
    assert all(same_colour(ln.get_color(), c) for ln, c in zip(markers, colours, strict=True))
    assert [t.get_text() for t in annotations(ax)] == [f"{v:+.3f}" for v in expected]
    assert not ax.collections  # no intervals
    assert legend_texts(ax) == ["truth +0.200"]
    # the confounding the demo shows: the naive contrast has the wrong sign
    assert model.naive_ate("X", "Y") < 0 < model.ate("X", "Y")


def test_effect_figure_intervals_are_percentiles_of_the_bootstrap(hospitals):
    """Expected bars: ``np.quantile`` at 0.025 / 0.975 over the replicates' ATEs (evaluated
    with ``ate(params=replicate)``), for kmix and each source; the kmix bar also equals
    ``BayesNetBootstrap.ate``'s own interval."""
    model, boot = hospitals
    fig = effect_figure(model, "X", "Y", bootstrap=boot)
    png(fig)
    ax = fig.axes[0]
    assert ax.get_title() == "Effect of X on Y, 95% bootstrap intervals"
    draws = np.array(
        [
            [model.ate("X", "Y", params=p), *model.ate("X", "Y", per_source=True, params=p)]
            for p in boot.replicates
        ]
    )
    lo, hi = np.quantile(draws, 0.025, axis=0), np.quantile(draws, 0.975, axis=0)
    bars = [segments(c)[0] for c in ax.collections]
    assert len(bars) == 3  # kmix and two sources; the naive contrast has none
    np.testing.assert_allclose([b[0, 0] for b in bars], lo, rtol=1e-12)
    np.testing.assert_allclose([b[1, 0] for b in bars], hi, rtol=1e-12)
    assert [b[0, 1] for b in bars] == [2, 1, 0]
    with pytest.warns(UserWarning, match="only their range"):  # 3 replicates
        _, lo_own, hi_own = boot.ate("X", "Y")
    assert (lo_own, hi_own) == pytest.approx((lo[0], hi[0]))
    rows = effect_rows(model, "X", "Y", bootstrap=boot)
    assert [r["kind"] for r in rows] == ["naive", "kmix", "source", "source"]
    assert np.isnan(rows[0]["lower"]) and rows[1]["upper"] == pytest.approx(hi[0])


def test_effect_figure_needs_a_fitted_network(stouffer):
    with pytest.raises(DataError, match="needs a fitted BayesNetMixture; got ProductMixture"):
        effect_figure(stouffer[1], "A", "B")
    with pytest.raises(DataError, match="unfitted BayesNetMixture"):
        effect_figure(BayesNetMixture(HOSPITALS_DAG, 2), "X", "Y")


# ---------------------------------------------------------------------------- regression
def test_covariate_effects_are_the_coefficients_with_wald_bars(with_covariates):
    """Expected: one row per slope (intercept left out), a dot at ``coef_[0, t]`` and a bar
    ``coef_ -/+ 1.959964 coef_se_``; ``z1`` (built from class 2's posterior) has a positive
    coefficient whose interval excludes 0."""
    model = with_covariates
    assert model.covariate_terms_ == ["(Intercept)", "z1", "z2"]
    fig = covariate_effects(model)
    png(fig)
    ax = fig.axes[0]
    assert ticks(ax.get_yticklabels()) == ["z1", "z2"]
    assert ax.get_title() == "Covariate effects on class membership (95% Wald intervals)"
    assert ax.get_xlabel() == "log-odds of membership (per unit of the term)"
    assert legend_texts(ax) == ["class 2 vs 1"]
    coef, se = np.asarray(model.coef_)[0, 1:], np.asarray(model.coef_se_)[0, 1:]
    (dots,) = [ln for ln in ax.lines if ln.get_marker() == "o"]
    np.testing.assert_allclose(dots.get_xdata(), coef)
    (bars,) = ax.collections
    seg = segments(bars)
    np.testing.assert_allclose(seg[:, 0, 0], coef - Z95 * se, rtol=1e-9)
    np.testing.assert_allclose(seg[:, 1, 0], coef + Z95 * se, rtol=1e-9)
    assert coef[0] - Z95 * se[0] > 0
    # the intercept on request
    assert ticks(covariate_effects(model, intercept=True).axes[0].get_yticklabels()) == [
        "(Intercept)",
        "z1",
        "z2",
    ]


def test_covariate_effects_needs_coefficients(stouffer):
    with pytest.raises(
        DataError, match=r"fitted with covariates=\.\.\.; this ProductMixture has no coef_"
    ):
        covariate_effects(stouffer[1])


def test_distal_outcome_continuous_and_categorical(stouffer):
    """Expected: ``kmix.distal``'s estimates per class as dots with bars ``est -/+ 1.959964
    se``; one tick "mean" for a continuous outcome, the levels for a categorical one; the
    title gives the method and the Wald test."""
    X, model = stouffer
    rng = np.random.default_rng(1)
    y = 2.0 * X[:, 0] + rng.normal(size=X.shape[0])
    result = kmix.distal(model, X, y)
    fig = distal_outcome(result)
    png(fig)
    ax = fig.axes[0]
    assert ticks(ax.get_xticklabels()) == ["mean"] and ax.get_ylabel() == "mean"
    assert ax.get_title().startswith(
        f"Distal outcome by class (bch; equal classes: chi2 = {result.chi2:.1f}"
    )
    assert legend_texts(ax) == ["class 1", "class 2"]
    for u, (dot, bar) in enumerate(zip(ax.lines, ax.collections, strict=True)):
        assert dot.get_ydata()[0] == pytest.approx(result.estimates[u])
        lo, hi = segments(bar)[0][:, 1]
        assert (lo, hi) == pytest.approx(
            (
                result.estimates[u] - Z95 * result.std_errors[u],
                result.estimates[u] + Z95 * result.std_errors[u],
            )
        )
    labels = np.where(rng.random(X.shape[0]) < 0.5, "no", "yes")
    cat = kmix.distal(model, X, labels)
    ax = distal_outcome(cat, level=0.9).axes[0]
    assert ticks(ax.get_xticklabels()) == ["no", "yes"] and ax.get_ylabel() == "share of the level"
    for u, dot in enumerate(ax.lines):
        np.testing.assert_allclose(dot.get_ydata(), np.asarray(cat.estimates)[u])
    with pytest.raises(DataError, match="draws a DistalResult"):
        distal_outcome(model)


# ------------------------------------------------------------------------------ ax= given
def test_every_function_draws_into_the_axes_given(
    stouffer, coins, hospitals, with_covariates, chain_class
):
    """Expected: each function draws into the axes passed and returns their figure (no new
    figure); the twin axes of coin_atoms and choose_k join that figure."""
    X, model = stouffer
    heads, coin_model = coins
    bn, _ = hospitals
    data = stouffer_toby()
    sel = kmix.select_k_classes(data.patterns, sample_weight=data.counts, random_state=0)
    draws = {
        "class_profiles": lambda ax: class_profiles(model, ax=ax),
        "coin_atoms": lambda ax: coin_atoms(coin_model, heads, ax=ax),
        "choose_k": lambda ax: choose_k(sel, ax=ax),
        "convergence": lambda ax: convergence(bn, ax=ax),
        "dag_figure": lambda ax: dag_figure(bn, ax=ax),
        "discovered_graph": lambda ax: discovered_graph(chain_class, ax=ax),
        "effect_figure": lambda ax: effect_figure(bn, "X", "Y", ax=ax),
        "covariate_effects": lambda ax: covariate_effects(with_covariates, ax=ax),
        "distal_outcome": lambda ax: distal_outcome(kmix.distal(model, X, X[:, 1] * 1.0), ax=ax),
    }
    fig = mfigure.Figure(figsize=(12, 10), layout="constrained")
    grid = fig.subplots(3, 3).ravel()
    for ax, (name, draw) in zip(grid, draws.items(), strict=True):
        before = len(ax.lines) + len(ax.patches) + len(ax.texts) + len(ax.collections)
        assert draw(ax) is fig, name
        after = len(ax.lines) + len(ax.patches) + len(ax.texts) + len(ax.collections)
        assert after > before, name
    assert len(fig.axes) == 9 + 2  # the twin axes of coin_atoms and choose_k
    assert len(convergence(bn, ax=grid[3]).axes) == 11  # no gap panel into given axes
    png(fig)


def test_without_matplotlib_the_error_names_the_extra(monkeypatch):
    """kmix.plotting imports matplotlib only when a figure is drawn; without it, the
    ImportError says which extra to install (the design's rule for optional imports)."""
    from kmix.plotting import _common

    real = _common.importlib.import_module

    def refuse(name, *args, **kwargs):
        if name.split(".")[0] == "matplotlib":
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(_common.importlib, "import_module", refuse)
    with pytest.raises(ImportError, match=r"kmix\[plot\]"):
        _common.new_axes(None, figsize=(3.0, 2.0))

"""kmix.report: one self-contained HTML page per fitted model, bootstrap or learned graph.

References: the models' own numbers, formatted by ``html.format_value`` (4 significant
digits, 6 from 1e4), and the sections ``build_report`` documents for each kind of object;
a figure is one inline ``<svg``: the convergence curve for every model with a likelihood
history, plus the kind's own figures (profiles, coins, DAG, effect, distal outcome,
covariates, learned graph). The headless-Chromium test checks that a browser draws them.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import warnings

import numpy as np
import pytest

import kmix
from kmix import BayesNetMixture, CoinMixture, FiniteMixture, ProductMixture
from kmix.causal import discover
from kmix.datasets import HOSPITALS_DAG, bayesnet_mixture, coin_flips, stouffer_toby, two_hospitals
from kmix.exceptions import DataError
from kmix.params import DAG, BinomialParams, Mixture
from kmix.plotting._common import PALETTE
from kmix.solvers.bayesnet.inference import log_prob_rows

pytest.importorskip("matplotlib")
report = pytest.importorskip("kmix.report")
html = pytest.importorskip("kmix.report.html")
build_report, write_report = report.build_report, report.write_report
fmt = html.format_value


# ------------------------------------------------------------------------------- helpers
def headings(page: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", page)


def pair(label: str, value) -> str:
    """A row of a two-column table (``Section.pairs``) as the page writes it."""
    return f'<tr><th class="t">{label}</th><td class="t">{fmt(value)}</td></tr>'


def cell(value) -> str:
    """A number's cell in a column table (``table_html``)."""
    return f'<td class="">{fmt(value)}</td>'


def assert_self_contained(page: str, n_figures: int) -> None:
    """One document, ``n_figures`` inline SVG figures, no script, nothing fetched."""
    assert page.startswith("<!DOCTYPE html>\n") and page.endswith("</html>\n")
    for tag in ("<html", "</html>", "<head>", "<body>", "</body>", "<main>", "<h1>"):
        assert page.count(tag) == 1, tag
    assert page.count("<svg") == page.count("</svg>") == n_figures
    assert page.count("<figure>") == page.count("<figcaption>") == n_figures
    assert "<script" not in page.lower()
    assert not re.search(r"\ssrc\s*=", page, flags=re.IGNORECASE)
    assert 'href="http' not in page and "href='http" not in page
    assert "url(http" not in page and "@import" not in page


def quiet(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fit()


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def stouffer():
    """Stouffer & Toby's 216 respondents, 4 binary items, 2 classes."""
    X = stouffer_toby().expand()
    return X, ProductMixture(2, random_state=0).fit(X)


@pytest.fixture(scope="module")
def hospitals():
    codes, truth = two_hospitals(5000, random_state=0)
    model = quiet(
        lambda: BayesNetMixture(HOSPITALS_DAG, 2, random_state=0).fit(
            codes, columns=list(truth.columns)
        )
    )
    return model, quiet(lambda: model.bootstrap(3, random_state=0))


# ------------------------------------------------------------------------ ProductMixture
def test_product_report_with_data_and_a_distal_outcome(stouffer):
    """Expected: sections Fit, Classes, Fit statistics, Distal outcome (the outcome's name
    ``a<b`` escaped everywhere); 3 figures (convergence, profiles, distal); the Fit table
    holds the log-likelihood and BIC, the Classes table the shares, the distal table
    ``kmix.distal``'s estimates, all as ``format_value`` writes them."""
    X, model = stouffer
    y = 2.0 * X[:, 0] + np.random.default_rng(0).normal(size=X.shape[0])
    page = build_report(model, data=X, distal={"a<b": y})
    assert_self_contained(page, 3)
    assert headings(page) == [
        "Fit",
        "Classes",
        "Fit statistics on the data",
        "Distal outcome: a&lt;b",
    ]
    assert "a<b" not in page and page.count("a&lt;b") >= 2  # heading and caption
    assert pair("log-likelihood", model.log_likelihood_) in page
    assert pair("log-likelihood", -504.4677) in page  # published: -504.4677 (Goodman 1974)
    assert pair("BIC", model.bic()) in page
    assert pair("components (k)", 2) in page and pair("rows fitted", 216.0) in page
    for u, w in enumerate(model.weights_):
        assert pair(f"class {u + 1} share", w) in page
    result = kmix.distal(model, X, y)
    for est, se in zip(result.estimates, result.std_errors, strict=True):
        assert cell(est) in page and cell(se) in page
    assert f"chi2 = {result.chi2:.3f}" in page
    assert "<title>kmix report: ProductMixture</title>" in page
    assert '<p class="meta">Command: not recorded</p>' in page


def test_product_report_header_shows_the_recorded_command(stouffer):
    _, model = stouffer
    meta = {"command": "kmix fit data.csv --model product -k 2 --out m.json", "data": "data.csv"}
    page = build_report(model, metadata=meta, source="m.json", title="Survey <2>")
    assert_self_contained(page, 2)  # convergence and profiles; no data, no statistics
    assert headings(page) == ["Fit", "Classes"]
    assert '<p class="meta">ProductMixture from m.json</p>' in page
    assert f'<p class="meta">Command: {meta["command"]}</p>' in page
    assert '<p class="meta">Data: data.csv</p>' in page
    assert "<h1>Survey &lt;2&gt;</h1>" in page


def test_product_report_with_covariates_escapes_their_names(stouffer):
    """Expected: a section "Covariates of class membership" with the logit's figure (3 figures
    in all) and ``covariate_table``'s coefficients; the covariate ``a<b`` appears escaped in
    the table and in the figure's SVG text."""
    X, base = stouffer
    z = 2.0 * base.predict_proba(X)[:, 1] + np.random.default_rng(0).normal(size=X.shape[0])
    model = ProductMixture(2, random_state=0).fit(X, covariates={"a<b": z})
    page = build_report(model)
    assert_self_contained(page, 3)
    assert headings(page) == ["Fit", "Classes", "Covariates of class membership"]
    assert "a<b" not in page and '<td class="t">a&lt;b</td>' in page
    table = model.covariate_table()
    for value in [*table["coefficient"], *table["std_error"]]:
        assert cell(value) in page


# ------------------------------------------------------------------------- FiniteMixture
def test_finite_report_bernoulli_and_gaussian(stouffer):
    """Expected: bernoulli components get the profile figure (2 figures with convergence),
    gaussian ones only convergence (1 figure); the weights in the Components table."""
    X, _ = stouffer
    bern = FiniteMixture(2, family="bernoulli", random_state=0).fit(X)
    page = build_report(bern)
    assert_self_contained(page, 2)
    assert headings(page) == ["Fit", "Components"]
    assert "<p>Family: bernoulli.</p>" in page
    for w in bern.weights_:
        assert cell(w) in page
    assert pair("log-likelihood", bern.log_likelihood_) in page
    rng = np.random.default_rng(0)
    blobs = np.r_[rng.normal(0.0, 1.0, (100, 2)), rng.normal(5.0, 1.0, (100, 2))]
    gauss = FiniteMixture(2, random_state=0).fit(blobs)
    page = build_report(gauss)
    assert_self_contained(page, 1)
    assert headings(page) == ["Fit", "Components"] and "<p>Family: gaussian.</p>" in page
    assert pair("log-likelihood", gauss.log_likelihood_) in page


# -------------------------------------------------------------------------- CoinMixture
def test_coin_report_lists_the_coins():
    """Expected: Fit and Coins; 2 figures (convergence, coins over the head counts); each
    coin's bias and weight in the table; the histogram's legend counts the 2,000 trials."""
    truth = Mixture(np.array([0.5, 0.5]), BinomialParams(np.array([[0.2], [0.7]])))
    heads = coin_flips(truth, 2000, 3, random_state=0)
    model = CoinMixture(2).fit(heads, n_trials=3)
    page = build_report(model, data=heads)
    assert_self_contained(page, 2)
    assert headings(page) == ["Fit", "Coins"]
    for p, w in zip(model.biases_, model.weights_, strict=True):
        assert cell(p) in page and cell(w) in page
    assert "observed (2000 trials)" in page
    assert "observed (" not in build_report(model)  # no counts, no histogram


# ---------------------------------------------------------------------- BayesNetMixture
def test_bayesnet_report_and_its_bootstrap_with_the_effect(hospitals):
    """Expected: the network's sections (Fit, DAG, Sources, Identifiability, reduction) with
    3 figures (convergence, DAG, profiles); with the bootstrap and a treatment, the section
    "Effect of X on Y" adds the effect figure (4) and a table of ``naive_ate``, ``ate`` and
    the per-source ATEs; the metadata's treatment / outcome are used when none is named."""
    model, boot = hospitals
    page = build_report(model)
    assert_self_contained(page, 3)
    assert headings(page) == [
        "Fit",
        "The DAG",
        "Sources",
        "Identifiability",
        "How the sources were recovered",
    ]
    assert pair("log-likelihood", model.log_likelihood_) in page
    for node in model.columns_:
        assert f"<summary>CPT of {node} per source</summary>" in page
    full = build_report(boot, treatment="X", outcome="Y")
    assert_self_contained(full, 4)
    assert headings(full)[:3] == ["Fit", "The DAG", "Effect of X on Y"]
    assert '<p class="meta">BayesNetMixture with its bootstrap</p>' in full
    for value in [model.naive_ate("X", "Y"), model.ate("X", "Y")]:
        assert cell(value) in full
    for value in model.ate("X", "Y", per_source=True):
        assert cell(value) in full
    assert '<p class="note">3 bootstrap replicates.</p>' in full
    from_meta = build_report(boot, metadata={"treatment": "X", "outcome": "Y"})
    assert "<h2>Effect of X on Y</h2>" in from_meta


# --------------------------------------------------------------------- DiscoveryResult
def test_discovery_report_shows_the_learned_class():
    """Chain A - B - C (exact table, as tests/causal/test_discovery.py): one section, one
    figure, both edges undirected, every pair's evidence in a folded table."""
    chain = DAG.from_edges(["A", "B", "C"], [("A", "B"), ("B", "C")])
    _, truth = bayesnet_mixture(chain, 2, 0, n_levels=3, separation=0.3, random_state=1)
    rows = np.array(list(itertools.product(range(3), repeat=3)), dtype=np.int64)
    weights = (np.exp(log_prob_rows(truth, rows)) @ truth.weights) * 1e9
    res = discover(rows, 2, columns=list("ABC"), sample_weight=weights, alpha=0.01)
    page = build_report(res)
    assert_self_contained(page, 1)
    assert headings(page) == ["Learned graph"]
    assert pair("undirected edges", "A -- B, B -- C") in page
    assert pair("directed edges", "none") in page
    assert "<summary>Evidence for every pair (3)</summary>" in page
    assert pair("BIC", res.bic) in page


# ------------------------------------------------------------------------- refusals
def test_build_and_write_refuse_what_they_cannot_do(stouffer, tmp_path):
    _, model = stouffer
    with pytest.raises(DataError, match="got str"):
        build_report("not a model")
    gauss = FiniteMixture(1).fit(np.random.default_rng(0).normal(size=(30, 1)))
    with pytest.raises(DataError, match="ProductMixture models only"):
        build_report(gauss, distal={"y": np.zeros(30)})
    page = build_report(model)
    with pytest.raises(DataError, match=r"ending in \.html"):
        write_report(tmp_path / "report.txt", page)
    assert not (tmp_path / "report.txt").exists()
    path = write_report(tmp_path / "report.HTML", page)
    assert path.read_text(encoding="utf-8") == page


# ------------------------------------------------------------------------------- html
def test_html_building_blocks_escape_and_format():
    """Expected: ``format_value`` as documented (4 significant digits, 6 from 1e4, NaN and
    None as a dash, booleans yes/no); ``table_html`` escapes names and cells and aligns text
    columns left; ``figure_svg`` is the bare ``<svg`` element."""
    assert fmt(-504.46767) == "-504.5" and fmt(12345.678) == "12345.7"
    assert fmt(float("nan")) == "—" and fmt(None) == "—"
    assert fmt(True) == "yes" and fmt(np.bool_(False)) == "no" and fmt([0.5, 2]) == "0.5, 2"
    table = html.table_html({"a<b": [1.5, 2.0], "name": ["x & y", "<z>"]})
    assert '<th class="">a&lt;b</th><th class="t">name</th>' in table
    assert '<td class="">1.5</td><td class="t">x &amp; y</td>' in table
    assert "&lt;z&gt;" in table and "<z>" not in table
    section = html.Section("T<1>").text("p < q").note("n & m").pre("<pre>")
    assert section.parts == [
        "<p>p &lt; q</p>",
        '<p class="note">n &amp; m</p>',
        "<pre>&lt;pre&gt;</pre>",
    ]
    figure = pytest.importorskip("matplotlib.figure").Figure()
    figure.add_subplot().plot([0, 1], [0, 1])
    svg = html.figure_svg(figure)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>") and "<?xml" not in svg


# --------------------------------------------------------------------- in a browser
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

#: Pixels of class 1's colour (PALETTE[0], "#0072B2", within 24 per channel) a screenshot
#: must hold. The ProductMixture page draws that colour in three figures: the convergence
#: curve, class 1's profile line with its markers and legend entry, and class 1's distal
#: estimate; at 1100 px wide the profile line alone is about 3 segments x 70 px long and
#: 2 px thick (~400 px), and the whole page measured ~1,100. 300 is well above what stray
#: antialiasing of other colours gives (a page without figures has none: the link colour
#: #0b5394 is 31 away in green), and well below what any one drawn figure gives.
MIN_BLUE_PIXELS = 300


def test_a_browser_draws_the_figures(stouffer, tmp_path):
    """Headless Chromium screenshots the page: it is not blank, and class 1's colour appears
    in quantity in at least two figures (convergence near the top, profiles below it)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    image = pytest.importorskip("PIL.Image")
    X, model = stouffer
    y = 2.0 * X[:, 0] + np.random.default_rng(0).normal(size=X.shape[0])
    page = write_report(tmp_path / "report.html", build_report(model, data=X, distal={"y": y}))
    shot = tmp_path / "shot.png"
    done = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1100,2400",
            f"--screenshot={shot}",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shot.exists(), f"no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    with image.open(shot) as img:
        pixels = np.asarray(img.convert("RGB"), dtype=np.int64)
    assert pixels.shape == (2400, 1100, 3)
    # not blank: a few hundred colours and a good share of non-white pixels
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100
    assert (pixels.min(axis=2) < 200).mean() > 0.01
    blue = np.array([int(PALETTE[0][i : i + 2], 16) for i in (1, 3, 5)])
    near = np.abs(pixels - blue).max(axis=2) <= 24
    assert near.sum() >= MIN_BLUE_PIXELS, near.sum()
    rows = np.nonzero(near.any(axis=1))[0]
    # the colour spreads over more than one figure (each is < 450 px tall on this page)
    assert rows.max() - rows.min() > 500, (rows.min(), rows.max())

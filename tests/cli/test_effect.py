"""``kmix effect``: the causal estimate with its interval beside the naive contrast.

Reference: the exact interventional distributions of the simulating model
(``kmix.causal.effects``), and the library API on the same file.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from kmix.causal import effects
from kmix.datasets import bayesnet_mixture, random_sparse_dag
from tests.helpers.cli import run


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("effect")
    dag = random_sparse_dag(6, 2, random_state=3)
    X, truth = bayesnet_mixture(dag, 2, 50_000, separation=0.2, random_state=3)
    data = root / "data.csv"
    rows = "\n".join(",".join(map(str, r)) for r in X)
    data.write_text(",".join(truth.columns) + "\n" + rows + "\n")
    graph = root / "graph.txt"
    graph.write_text("\n".join(f"{a} -> {b}" for a, b in dag.edges) + "\n" + "\n".join(dag.nodes))
    return data, graph, dag, truth


def test_effect_prints_causal_interval_naive_and_shares(capsys, files):
    data, graph, dag, truth = files
    x, y = next(iter(dag.edges))
    status, out, err = run(
        capsys,
        *("effect", str(data), "--dag", str(graph), "-k", "2"),
        *("--treatment", x, "--outcome", y, "--n-boot", "5", "--seed", "0"),
    )
    assert status == 0, err
    line = next(ln for ln in out.splitlines() if ln.strip().startswith(f"ATE of {x} on {y}"))
    ate = float(line.split(")")[-1].split()[0])  # the first number after "(X=1 vs 0)"
    lo, hi = (float(v) for v in re.findall(r"-?\d+\.\d+", line.split("[")[1].split("]")[0]))
    assert lo <= ate <= hi
    assert abs(ate - effects.ate(truth, x, y)) < 0.03  # N = 5e4
    assert "population 0" in out and "population 1" in out
    assert "bootstrap: refitting 5 resamples" in err


def test_effect_names_bad_nodes(capsys, files):
    data, graph, _, _ = files
    status, _, err = run(
        capsys, "effect", str(data), "--dag", str(graph), "--treatment", "Z", "--outcome", "V1"
    )
    assert status == 1 and "--treatment 'Z' is not a node of the DAG" in err
    cyclic = graph.parent / "cycle.txt"
    cyclic.write_text("V0 -> V1\nV1 -> V0\n")
    status, _, err = run(
        capsys, "effect", str(data), "--dag", str(cyclic), "--treatment", "V0", "--outcome", "V1"
    )
    assert status == 1 and "cycle" in err


def test_effect_fits_empty_cells_or_drops_or_refuses_them(capsys, files, tmp_path):
    """10% of the cells blanked completely at random: the full-information fit keeps every
    row and its ATE stays near the simulating model's; drop and error do what they say."""
    data, graph, dag, truth = files
    lines = data.read_text().splitlines()
    rng = np.random.default_rng(0)
    cells = [ln.split(",") for ln in lines[1:]]
    blank = rng.random((len(cells), len(cells[0]))) < 0.1
    holed = tmp_path / "holed.csv"
    body = [
        ",".join("" if b else v for v, b in zip(r, bs, strict=True))
        for r, bs in zip(cells, blank, strict=True)
    ]
    holed.write_text("\n".join([lines[0], *body]) + "\n")
    x, y = next(iter(dag.edges))
    args = ("effect", str(holed), "--dag", str(graph), "--treatment", x, "--outcome", y)
    status, out, err = run(capsys, *args, "--n-boot", "0", "--seed", "0")
    assert status == 0, err
    per_node = blank.sum(axis=0)
    assert "full-information ML" in out
    assert re.search(rf"^\s*{truth.columns[0]}\s+{per_node[0]:,}$", out, flags=re.M)
    line = next(ln for ln in out.splitlines() if ln.strip().startswith(f"ATE of {x} on {y}"))
    assert abs(float(line.split(")")[-1].split()[0]) - effects.ate(truth, x, y)) < 0.04
    status, out, err = run(capsys, *args, "--n-boot", "0", "--seed", "0", "--missing", "drop")
    assert status == 0, err
    assert f"rows left out: {int(blank.any(axis=1).sum()):,}" in out
    status, _, err = run(capsys, *args, "--missing", "error")
    assert status == 1 and "missing" in err


@pytest.fixture(scope="module")
def three_level(tmp_path_factory):
    """A 3-level treatment V0 -> V1 (3 levels) on a 6-node graph; V1 written as text."""
    root = tmp_path_factory.mktemp("effect3")
    dag = random_sparse_dag(6, 2, random_state=3)
    x, y = next(iter(dag.edges))
    levels = [3 if v in (x, y) else 2 for v in dag.nodes]
    X, truth = bayesnet_mixture(dag, 2, 20_000, n_levels=levels, separation=0.2, random_state=4)
    names = np.array(["low", "mid", "high"], dtype=object)
    cols = list(truth.columns)
    rows = [",".join(names[v] if cols[j] == y else str(v) for j, v in enumerate(r)) for r in X]
    data = root / "data.csv"
    data.write_text(",".join(cols) + "\n" + "\n".join(rows) + "\n")
    graph = root / "graph.txt"
    graph.write_text("\n".join(f"{a} -> {b}" for a, b in dag.edges) + "\n" + "\n".join(dag.nodes))
    return data, graph, x, y, truth


def test_effect_names_the_arms_of_a_multi_level_treatment_before_fitting(capsys, three_level):
    data, graph, x, y, truth = three_level
    base = ("effect", str(data), "--dag", str(graph), "--treatment", x, "--outcome", y)
    status, out, err = run(capsys, *base, "--n-boot", "0")
    assert status == 1 and out == ""  # refused before the fit, naming the levels and options
    assert f"--treatment {x!r} has 3 levels ['0', '1', '2']" in err and "--treated" in err
    status, _, err = run(capsys, *base, "--treated", "7", "--control", "0")
    assert status == 1 and "--treated '7' is not a level" in err
    status, out, err = run(capsys, *base, "--treated", "2", "--control", "0", "--n-boot", "0")
    assert status == 0, err
    # a text outcome of three levels has no mean: its distributions, and no ATE row
    assert f"P({y}=high | do({x}=2))" in out and f"P({y}=low | do({x}=0))" in out
    assert "ATE" not in out and "no mean" in out
    # the printed interventional probabilities are the library's on the same fit
    line = next(ln for ln in out.splitlines() if f"P({y}=mid | do({x}=2))" in ln)
    exact = effects.interventional(truth, y, {x: 2})[1]
    assert abs(float(line.split(")")[-1].split()[0]) - exact) < 0.05  # N = 2e4


def test_effect_random_init_and_a_binary_text_outcome(capsys, files, tmp_path):
    data, graph, dag, truth = files
    x, y = next(iter(dag.edges))
    lines = data.read_text().splitlines()
    j = lines[0].split(",").index(y)
    text = tmp_path / "text.csv"
    body = []
    for ln in lines[1:]:
        cells = ln.split(",")
        cells[j] = {"0": "no", "1": "yes"}[cells[j]]
        body.append(",".join(cells))
    text.write_text("\n".join([lines[0], *body]) + "\n")
    args = ("effect", str(text), "--dag", str(graph), "--treatment", x, "--outcome", y)
    status, out, err = run(capsys, *args, "--init", "random", "--n-init", "3", "--n-boot", "0")
    assert status == 0, err
    line = next(ln for ln in out.splitlines() if f"effect on P({y}=yes)" in ln)
    assert abs(float(line.split(")")[-1].split()[0]) - effects.ate(truth, x, y)) < 0.03


def test_effect_on_a_dag_too_dense_for_runs_says_how_it_is_identified(capsys, tmp_path):
    """The textbook confounding DAG (A, B -> X; X -> M; X, M, C -> Y; Y -> D) has no
    covering runs for k = 2: fitted from random starts once the Jacobian rank (39 of 39,
    1 weight and 19 CPT entries per source) certifies it, and the output says so."""
    from kmix.params.dag import DAG

    edges = [("A", "X"), ("B", "X"), ("X", "M"), ("X", "Y"), ("M", "Y"), ("C", "Y"), ("Y", "D")]
    dag = DAG.from_edges(None, edges)
    X, truth = bayesnet_mixture(dag, 2, 20_000, separation=0.2, random_state=1)
    data = tmp_path / "textbook.csv"
    data.write_text(
        ",".join(truth.columns) + "\n" + "\n".join(",".join(map(str, r)) for r in X) + "\n"
    )
    graph = tmp_path / "textbook.txt"
    graph.write_text("\n".join(f"{a} -> {b}" for a, b in edges) + "\n")
    status, out, err = run(
        capsys,
        *("effect", str(data), "--dag", str(graph), "--treatment", "X", "--outcome", "Y"),
        *("--n-boot", "0", "--seed", "0"),
    )
    assert status == 0, err
    flat = " ".join(out.split())
    assert "identifiability: locally identified: numerical rank 39 of 39" in flat
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("ATE of X on Y"))
    assert abs(float(line.split(")")[-1].split()[0]) - effects.ate(truth, "X", "Y")) < 0.03


def test_effect_with_a_discovered_graph(capsys, tmp_path):
    """``--discover``: the graph printed is ``kmix.causal.discover``'s on the same rows (the
    reference), then one effect per parent set of the treatment in the class."""
    from kmix.causal import discover
    from kmix.params import DAG

    dag = DAG.from_edges(list("ABCDE"), [("A", "C"), ("B", "C"), ("C", "D"), ("D", "E")])
    X, _ = bayesnet_mixture(dag, 2, 50_000, n_levels=3, separation=0.3, random_state=4)
    data = tmp_path / "found.csv"
    data.write_text("A,B,C,D,E\n" + "\n".join(",".join(map(str, r)) for r in X) + "\n")
    status, out, err = run(
        capsys,
        *("effect", str(data), "--discover", "-k", "2", "--treatment", "D", "--outcome", "E"),
        *("--treated", "2", "--control", "0", "--n-boot", "0", "--seed", "0"),
    )
    assert status == 0, err
    found = discover(X, 2, columns=list("ABCDE"))
    assert found.to_text() in out
    assert "discovering the graph" in err
    assert ("identified within the class" in out) != ("parent sets, one effect each" in out)
    assert out.count("Effect of D on E") >= 1
    status, _, err = run(
        capsys,
        "effect",
        str(data),
        "--discover",
        "--dag",
        "g.txt",
        "--treatment",
        "D",
        "--outcome",
        "E",
    )
    assert status == 2 and "not allowed with argument" in err
    status, _, err = run(
        capsys,
        "effect",
        str(data),
        "--dag",
        "g.txt",
        "--alpha",
        "0.1",
        "--treatment",
        "D",
        "--outcome",
        "E",
    )
    assert status != 0 and "--alpha is the level of --discover's tests" in err


def test_discovered_graph_from_a_file_with_empty_cells(capsys, tmp_path):
    """Rows with an empty cell sit out the discovery: the graph printed is
    ``kmix.causal.discover``'s on the complete rows (the reference), the count left out
    is reported, and ``--missing fiml`` (the default) still fits them over the class."""
    from kmix.causal import discover
    from kmix.params import DAG

    dag = DAG.from_edges(list("ABCDE"), [("A", "C"), ("B", "C"), ("C", "D"), ("D", "E")])
    X, _ = bayesnet_mixture(dag, 2, 20_000, n_levels=3, separation=0.3, random_state=4)
    cells = np.asarray(X).astype(str).astype(object)
    cells[::40, 0] = ""  # 500 rows without A
    data = tmp_path / "gaps.csv"
    data.write_text("A,B,C,D,E\n" + "\n".join(",".join(r) for r in cells) + "\n")
    complete = np.delete(np.asarray(X), np.s_[::40], axis=0)
    want = discover(complete, 2, columns=list("ABCDE"), random_state=0).to_text()
    for missing, said in (
        ("drop", "500 of 20,000 rows have empty cells: left out of the discovery and the fits"),
        ("fiml", "the fits over the class use every observed cell (--missing fiml)"),
    ):
        status, out, err = run(
            capsys,
            *("effect", str(data), "--discover", "--treatment", "D", "--outcome", "E"),
            *("--treated", "2", "--control", "0", "--n-boot", "0", "--seed", "0"),
            *("--missing", missing),
        )
        assert status == 0, err
        assert said in " ".join(err.split())
        assert want in out
        rows = "19,500 rows" if missing == "drop" else "20,000 rows"
        assert rows in out
        assert ("rows left out: 500" in out) == (missing == "drop")

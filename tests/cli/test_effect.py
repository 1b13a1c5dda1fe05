"""``kmix effect``: the causal estimate with its interval beside the naive contrast.

Reference: the exact interventional distributions of the simulating model
(``kmix.causal.effects``), and the library API on the same file.
"""

from __future__ import annotations

import re

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

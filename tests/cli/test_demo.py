"""``kmix demo`` and its sections (kmix.cli.demo, kmix.cli.demo_effect).

References: the closed form of the two-factory estimate, the simulated truths
of each section, the published latent class fit, and the exact ATE of the
demo's own two-hospital model.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import time

import numpy as np
import pytest

from kmix.cli import main
from kmix.cli.demo import run_demo
from kmix.datasets import marbles
from tests.helpers.cli import number, run


@pytest.fixture(scope="module")
def demo_run() -> tuple[int, str, float]:
    buffer = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(buffer):
        status = main(["demo"])
    return status, buffer.getvalue(), time.perf_counter() - start


def test_demo_estimate_matches_closed_form_and_truth(demo_run: tuple[int, str, float]) -> None:
    """Reference: the MLE of P(F1) with known colours is (P(red) - 0.3) / 0.5; truth 0.6."""
    status, out, seconds = demo_run
    assert status == 0
    assert seconds < 45, f"the demo took {seconds:.1f} s"
    estimate = number(out, "EM estimate")
    closed = number(out, "closed form")
    assert number(out, "truth") == 0.6
    assert abs(estimate - 0.6) <= 0.03
    assert abs(estimate - closed) <= 0.03
    gap = re.search(r"\|EM - closed form\| = ([0-9.e+-]+)", out)
    assert gap is not None, out
    assert float(gap.group(1)) <= 1e-6, "EM must reach the closed-form maximum"
    # the printed closed form is the one of the simulated marbles (seed 0 by default)
    X, _ = marbles(10_000, random_state=0)
    match = re.search(r"([\d,]+) red, ([\d,]+) blue", out)
    assert match is not None
    n_red = int(match.group(1).replace(",", ""))
    assert n_red == int(X.sum())
    assert closed == pytest.approx((n_red / 10_000 - 0.3) / 0.5, abs=5e-5)


def test_demo_shows_em_climbing_towards_the_estimate(demo_run: tuple[int, str, float]) -> None:
    """Reference: EM never lowers the log-likelihood, starts at P(F1) = 0.5 and ends at the MLE."""
    _, out, _ = demo_run
    rows = re.findall(r"^\s+(\d+)\s+(-\d+\.\d+)\s+(\d\.\d{4})$", out, flags=re.MULTILINE)
    assert len(rows) >= 4
    iterations = [int(r[0]) for r in rows]
    loglik = [float(r[1]) for r in rows]
    weight = [float(r[2]) for r in rows]
    assert iterations[0] == 0 and weight[0] == 0.5
    assert iterations == sorted(iterations)
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(loglik))
    assert weight[-1] == pytest.approx(number(out, "EM estimate"), abs=1e-4)


def test_demo_recovers_three_factories(demo_run: tuple[int, str, float]) -> None:
    """Reference: the simulated P(red) = 0.9, 0.5, 0.1 and weights 0.5, 0.3, 0.2."""
    _, out, _ = demo_run
    rows = re.findall(r"^\s+F(\d)\s+" + r"\s+".join([r"(\d\.\d{3})"] * 5) + "$", out, re.M)
    assert [int(r[0]) for r in rows] == [1, 2, 3]
    table = np.array([[float(v) for v in r[1:]] for r in rows])
    np.testing.assert_array_equal(table[:, 0], [0.9, 0.5, 0.1])
    np.testing.assert_array_equal(table[:, 2], [0.5, 0.3, 0.2])
    assert np.abs(table[:, 1] - table[:, 0]).max() < 0.08  # learned P(red)
    assert np.abs(table[:, 3] - table[:, 2]).max() < 0.03  # weights with colours known
    assert np.abs(table[:, 4] - table[:, 2]).max() < 0.08  # weights with colours learned


def test_demo_sections_can_be_chosen(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "demo", "--section", "factories", "--seed", "3")
    assert status == 0
    assert "EM estimate" in out and "factories, 5 marbles" not in out
    X, _ = marbles(10_000, random_state=3)
    assert number(out, "closed form") == pytest.approx((X.mean() - 0.3) / 0.5, abs=5e-5)
    status, _, err = run(capsys, "demo", "--section", "nope")
    assert status == 1 and err.startswith("kmix: error: unknown demo section")


def test_demo_coin_section():
    buffer = io.StringIO()
    results = run_demo(buffer, seed=0, sections=["coins"])["coins"]
    assert results["max_error"] < 0.03
    assert results["hankel_k"] == 4
    assert "4 coins, 7 flips per trial" in buffer.getvalue()


def test_demo_latent_class_section():
    import io

    from kmix.cli.demo import run_demo

    buffer = io.StringIO()
    res = run_demo(buffer, seed=0, sections=["latent-classes"])["latent-classes"]
    assert res["published_loglik_gap"] < 1e-3
    assert res["error"] < 0.03
    assert "published" in buffer.getvalue()


def test_demo_effects_section_naive_wrong_kmix_right():
    """Reference: the exact ATE of the demo's own two-hospital model (spec D2)."""
    import io

    from kmix.cli.demo import run_demo

    res = run_demo(io.StringIO(), seed=0, sections=["effects"])["effects"]
    assert res["naive_error"] > 0.25  # the pooled contrast even has the wrong sign
    assert res["naive_ate"] < 0 < res["true_ate"]
    assert res["kmix_error"] < 0.02  # N = 1e5

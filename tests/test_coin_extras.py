"""Around CoinMixture: transport distance, coin simulators, the CLI and the demo section.

References: scipy.stats.wasserstein_distance (an independent W1); the
simulator's own parameters; the library API for the CLI's printed numbers.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from kmix import CoinMixture
from kmix.cli import main
from kmix.cli.demo import run_demo
from kmix.datasets import coin_flips, random_coins
from kmix.exceptions import DataError
from kmix.metrics import transport_distance


def test_transport_distance_matches_scipy():
    rng = np.random.default_rng(0)
    for _ in range(50):
        ka, kb = rng.integers(1, 6, size=2)
        xa, xb = rng.random(ka), rng.random(kb)
        wa, wb = rng.dirichlet(np.ones(ka)), rng.dirichlet(np.ones(kb))
        got = transport_distance(wa, xa, wb, xb)
        assert got == pytest.approx(wasserstein_distance(xa, xb, wa, wb), abs=1e-14)


def test_transport_distance_ignores_labels_and_sees_coinciding_atoms():
    assert transport_distance([0.3, 0.7], [0.1, 0.9], [0.7, 0.3], [0.9, 0.1]) == 0.0
    # two equal coins against one coin at the same place: distance 0
    assert transport_distance([0.5, 0.5], [0.4, 0.4], [1.0], [0.4]) == 0.0
    with pytest.raises(DataError, match="equal length"):
        transport_distance([0.5, 0.5], [0.1], [1.0], [0.2])


def test_random_coins_respect_separation_and_weights():
    for seed in range(20):
        mix = random_coins(5, separation=0.12, min_weight=0.1, random_state=seed)
        p = mix.params.p[:, 0]
        assert np.all(np.diff(p) >= 0.12 - 1e-12) and p.min() >= 0 and p.max() <= 1
        assert mix.weights.min() >= 0.1 - 1e-12
    with pytest.raises(DataError, match="do not fit"):
        random_coins(12, separation=0.1)


def test_coin_flips_follow_the_mixture():
    mix = random_coins(2, separation=0.5, min_weight=0.3, random_state=1)
    h, labels = coin_flips(mix, 200_000, 4, random_state=2, return_labels=True)
    p = mix.params.p[:, 0]
    for u in range(2):
        mean = h[labels == u].mean() / 4
        assert abs(mean - p[u]) < 5 * np.sqrt(p[u] * (1 - p[u]) / (4 * (labels == u).sum()))


@pytest.fixture()
def coins_csv(tmp_path):
    mix = random_coins(3, separation=0.25, min_weight=0.2, random_state=4)
    h = coin_flips(mix, 50_000, 5, random_state=5)
    both = tmp_path / "coins.csv"
    np.savetxt(
        both,
        np.column_stack([h, np.full_like(h, 5)]),
        fmt="%d",
        delimiter=",",
        header="heads,trials",
        comments="",
    )
    one = tmp_path / "heads.csv"
    np.savetxt(one, h, fmt="%d", header="heads", comments="")
    flips = tmp_path / "flips.csv"
    F = (np.arange(5)[None, :] < h[:, None]).astype(int)
    np.savetxt(flips, F, fmt="%d", delimiter=",", header="a,b,c,d,e", comments="")
    return both, one, flips, h


def test_cli_fits_coins_like_the_library(coins_csv, capsys):
    both, one, flips, h = coins_csv
    ref = CoinMixture(3).fit(h, n_trials=5)
    for argv in (
        ["fit", str(both), "--model", "coins", "-k", "3"],
        ["fit", str(one), "--model", "coins", "-k", "3", "--n-trials", "5"],
        ["fit", str(flips), "--model", "coins", "-k", "3", "--flips"],
    ):
        assert main(argv) == 0
        out = capsys.readouterr().out
        biases = [float(b) for b in re.findall(r"^\s+\d\s+([0-9.]+)", out, flags=re.M)]
        np.testing.assert_allclose(biases, ref.biases_, atol=5e-5)
        ll = float(re.search(r"log-likelihood\s+(-?[0-9.]+)", out).group(1))
        assert ll == pytest.approx(ref.log_likelihood_, abs=1e-3)


def test_cli_coin_errors_are_one_line(coins_csv, capsys):
    both, one, _, _ = coins_csv
    cases = [
        (["fit", str(both), "--model", "coins", "-k", "4"], "2k-1 = 7 flips"),
        (["fit", str(one), "--model", "coins", "-k", "2"], "two columns"),
        (["fit", str(both), "--model", "coins", "--n-trials", "5"], "one column"),
    ]
    for argv, match in cases:
        assert main(argv) != 0
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("kmix: error")]
        assert len(errors) == 1 and match in errors[0], err
        assert "Traceback" not in err


def test_cli_select_k(coins_csv, capsys):
    both, _, _, _ = coins_csv
    assert main(["select-k", str(both)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"choice: k = 3", out), out


def test_demo_coin_section():
    buffer = io.StringIO()
    results = run_demo(buffer, seed=0, sections=["coins"])["coins"]
    assert results["max_error"] < 0.03
    assert results["hankel_k"] == 4
    assert "4 coins, 7 flips per trial" in buffer.getvalue()


def test_save_and_load_round_trip(tmp_path):
    from kmix import io as kio

    h = coin_flips(random_coins(3, separation=0.2, random_state=0), 20_000, 5, random_state=1)
    model = CoinMixture(3, n_init=2, random_state=0).fit(h, n_trials=5)
    path = kio.save(model, tmp_path / "coins.json")
    back = kio.load(path)
    for name in ("weights_", "biases_", "moment_weights_", "moment_biases_"):
        np.testing.assert_array_equal(getattr(back, name), getattr(model, name))
    np.testing.assert_array_equal(back.moments_.covariance, model.moments_.covariance)
    assert back.log_likelihood_ == model.log_likelihood_
    assert back.n_supported_ == model.n_supported_ and back.hankel_ == model.hankel_
    np.testing.assert_array_equal(
        back.predict_proba(h[:50], n_trials=5), model.predict_proba(h[:50], n_trials=5)
    )
    assert back.get_params() == model.get_params()
    # exact moments (infinite sample sizes) survive too
    from kmix.stats import CoinMoments

    exact = CoinMixture(2).fit(CoinMoments.from_params([0.4, 0.6], [0.2, 0.7], 3))
    again = kio.load(kio.save(exact, tmp_path / "exact.json"))
    assert again.log_likelihood_ is None and np.isinf(again.moments_.n_samples).all()


def test_tampered_coin_file_is_refused(tmp_path):
    import json

    from kmix import io as kio

    h = coin_flips(random_coins(2, separation=0.3, random_state=0), 5_000, 3, random_state=1)
    path = kio.save(CoinMixture(2).fit(h, n_trials=3), tmp_path / "coins.json")
    doc = json.loads(path.read_text())
    doc["fitted"]["biases_"] = [0.5, 1.5]
    from kmix.io import document_checksum

    doc["sha256"] = document_checksum(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"biases_.*in \[0, 1\]"):
        kio.load(path)


def test_cli_saves_a_coin_model(coins_csv, capsys, tmp_path):
    from kmix import io as kio

    both, _, _, h = coins_csv
    out = tmp_path / "m.json"
    assert main(["fit", str(both), "--model", "coins", "-k", "3", "--out", str(out)]) == 0
    assert "model saved to" in capsys.readouterr().out
    np.testing.assert_allclose(kio.load(out).biases_, CoinMixture(3).fit(h, n_trials=5).biases_)

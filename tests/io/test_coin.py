"""CoinMixture in model files (kmix.io).

References: the in-memory model for the round trip; the validation a fresh
fit passes, reached after re-signing a tampered file.
"""

from __future__ import annotations

import numpy as np
import pytest

from kmix import CoinMixture
from kmix.datasets import coin_flips, random_coins
from kmix.exceptions import DataError


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


def test_log_likelihood_history_round_trips_bit_for_bit(tmp_path):
    """Reference: the saved array's bytes (an empty one from moments alone too); files
    written before the member existed load without it (it is optional)."""
    import json

    from kmix import io as kio
    from kmix.stats import CoinMoments

    h = coin_flips(random_coins(2, separation=0.3, random_state=0), 5_000, 4, random_state=1)
    fitted = CoinMixture(2, random_state=0).fit(h, n_trials=4)
    exact = CoinMixture(2).fit(CoinMoments.from_params([0.4, 0.6], [0.2, 0.7], 3))
    for model in (fitted, exact):
        back = kio.load(kio.save(model, tmp_path / "coins.json"))
        got, want = back.log_likelihood_history_, model.log_likelihood_history_
        assert got.dtype == want.dtype == np.float64 and got.tobytes() == want.tobytes()
    document = json.loads(kio.dumps(fitted))
    del document["fitted"]["log_likelihood_history_"]
    document["sha256"] = kio.document_checksum(document)
    older = kio.from_document(document)
    assert not hasattr(older, "log_likelihood_history_")
    assert older.log_likelihood_ == fitted.log_likelihood_

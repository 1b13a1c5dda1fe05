"""The :class:`~kmix.estimators.CoinMixture` codec, registered on import.

The ``fitted`` member holds the coins (weights and biases, refined and from
the moments), the moments with their sample sizes and covariance, and the fit
diagnostics. The Hankel evidence (``hankel_``, ``n_supported_``) is not
stored: it is recomputed from the moments on loading, as ``fit`` computes it.
Infinite values (exact moments, a singular Hankel matrix) are written as
``null``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..estimators import CoinMixture
from ..estimators.coin import coin_order, hankel_evidence
from ..exceptions import DataError
from ..params import BinomialParams, check_weights
from ..stats import CoinMoments
from ._format import Codec, FieldReader, describe, register_codec, to_json_value
from ._history import HISTORY, history_from_json, history_to_json

__all__ = ["COIN_MIXTURE"]


def _maybe_inf(values: NDArray[np.float64]) -> list[float | None]:
    return [None if np.isinf(v) else float(v) for v in values.tolist()]


def _dump_coin_mixture(model: CoinMixture) -> dict[str, Any]:
    """The fitted state of a CoinMixture as plain JSON values."""
    m = model.moments_
    fitted: dict[str, Any] = {
        "weights_": to_json_value(model.weights_),
        "biases_": to_json_value(model.biases_),
        "moment_weights_": to_json_value(model.moment_weights_),
        "moment_biases_": to_json_value(model.moment_biases_),
        "condition_number_": (
            None if np.isinf(model.condition_number_) else float(model.condition_number_)
        ),
        "moments_valid_": bool(model.moments_valid_),
        "denoised_": bool(model.denoised_),
        "misfit_": float(model.misfit_),
        "log_likelihood_": model.log_likelihood_,
        "converged_": bool(model.converged_),
        "n_iter_": int(model.n_iter_),
        "n_samples_": None if np.isinf(model.n_samples_) else float(model.n_samples_),
        "n_trials_": int(model.n_trials_),
        "moments_": {
            "chebyshev": to_json_value(m.chebyshev),
            "monomial": to_json_value(m.monomial),
            "n_samples": _maybe_inf(m.n_samples),
            "covariance": None if m.covariance is None else to_json_value(m.covariance),
        },
    }
    if hasattr(model, "restart_log_likelihoods_"):
        fitted["restart_log_likelihoods_"] = to_json_value(model.restart_log_likelihoods_)
    if hasattr(model, HISTORY):
        fitted[HISTORY] = history_to_json(model.log_likelihood_history_)
    return fitted


def _unit_interval(values: Any, k: int) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (k,) or not np.all((arr >= 0) & (arr <= 1)):
        raise DataError(f"must be {k} numbers in [0, 1]")
    return arr


def _moments(reader: FieldReader) -> CoinMoments:
    reader.check_keys(["chebyshev", "monomial", "n_samples", "covariance"])
    n = reader.get("n_samples")
    if not isinstance(n, list) or not all(
        v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0) for v in n
    ):
        raise DataError(f"{reader.where}.n_samples must list positive numbers or null")
    n_arr = np.array([np.inf if v is None else float(v) for v in n])
    cov = None if reader.get("covariance") is None else reader.array("covariance", ndim=2)
    return reader.validated(
        "chebyshev",
        lambda c: CoinMoments(
            np.asarray(c, dtype=np.float64), reader.array("monomial", ndim=1), n_arr, cov
        ),
    )


def _load_coin_mixture(model: CoinMixture, reader: FieldReader) -> None:
    """Validate the ``fitted`` member of a CoinMixture file and set it on ``model``."""
    reader.check_keys(
        [
            "weights_",
            "biases_",
            "moment_weights_",
            "moment_biases_",
            "condition_number_",
            "moments_valid_",
            "denoised_",
            "misfit_",
            "log_likelihood_",
            "converged_",
            "n_iter_",
            "n_samples_",
            "n_trials_",
            "moments_",
        ],
        ["restart_log_likelihoods_", HISTORY],  # (older files lack the history)
    )
    weights = reader.validated("weights_", check_weights)
    k = int(weights.shape[0])
    if model.n_components != k:
        raise DataError(
            f"hyper_parameters.n_components={model.n_components!r} but weights_ has {k} entries"
        )
    biases = reader.validated("biases_", lambda v: _unit_interval(v, k))
    # files written before one label order held for every estimator list the coins by
    # ascending bias: put them in kmix's order (largest weight first)
    order = coin_order(weights, biases)
    weights, biases = weights[order], biases[order]
    moments = _moments(reader.object("moments_"))
    if moments.order < 2 * k - 1:
        raise DataError(f"{reader.where}.moments_ must reach order {2 * k - 1} for {k} coins")
    cond = reader.get("condition_number_")
    if cond is not None and (
        isinstance(cond, bool) or not isinstance(cond, (int, float)) or cond < 1
    ):
        raise DataError(
            f"{reader.where}.condition_number_ must be a number >= 1 or null; got {describe(cond)}"
        )
    ll = reader.get("log_likelihood_")
    if ll is not None and (isinstance(ll, bool) or not isinstance(ll, (int, float)) or ll > 0):
        raise DataError(
            f"{reader.where}.log_likelihood_ must be a number <= 0 or null; got {describe(ll)}"
        )
    n_samples = np.inf if reader.get("n_samples_") is None else reader.number("n_samples_")
    if n_samples <= 0:
        raise DataError(f"{reader.where}.n_samples_ must be positive; got {n_samples!r}")
    model.weights_, model.biases_ = weights, biases
    model.params_ = BinomialParams(biases[:, None])
    model.n_features_in_ = 1
    m_weights = reader.validated("moment_weights_", check_weights)
    m_biases = reader.validated("moment_biases_", lambda v: _unit_interval(v, k))
    m_order = coin_order(m_weights, m_biases)
    model.moment_weights_, model.moment_biases_ = m_weights[m_order], m_biases[m_order]
    model.moments_ = moments
    model.condition_number_ = float("inf") if cond is None else float(cond)
    model.moments_valid_ = reader.boolean("moments_valid_")
    model.denoised_ = reader.boolean("denoised_")
    model.misfit_ = reader.number("misfit_")
    model.log_likelihood_ = None if ll is None else float(ll)
    model.converged_ = reader.boolean("converged_")
    model.n_iter_ = reader.integer("n_iter_", low=0)
    model.n_samples_ = n_samples
    model.n_trials_ = reader.integer("n_trials_", low=1)
    if "restart_log_likelihoods_" in reader.data:
        model.restart_log_likelihoods_ = list(reader.array("restart_log_likelihoods_", ndim=1))
    if HISTORY in reader.data:
        model.log_likelihood_history_ = history_from_json(reader)
    model.hankel_, model.n_supported_ = hankel_evidence(moments, k, float(model.z_support))


#: The registered codec of :class:`~kmix.estimators.CoinMixture`.
COIN_MIXTURE = register_codec(
    Codec("CoinMixture", CoinMixture, _dump_coin_mixture, _load_coin_mixture)
)

"""The :class:`~kmix.estimators.ProductMixture` codec, registered on import.

The ``fitted`` member of a ProductMixture file holds the class shares, the
class-conditional probabilities of every item, the item levels, the fit
diagnostics and, when the moment step ran, its answer and diagnostics.

``probs_`` and ``moment_probs_`` are stored in the per-item form, one
``(k, n_levels_j)`` array per item (``probs_[j][u, v] = P(X_j = level v |
class u)``), whatever the data: for binary data ``fit`` exposes the public
attributes as the ``(k, n_items)`` matrix of the second level, and loading
rebuilds that matrix from the stored arrays exactly as ``fit`` does, so the
public attributes are bit-identical to the saved model's. ``eigengap_`` is
``null`` when the moment step did not run (it is NaN then).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..estimators import ProductMixture
from ..exceptions import DataError
from ..params import CategoricalParams, check_weights, item_view
from ._covariates import dump_covariates, load_covariates
from ._format import Codec, FieldReader, describe, register_codec, to_json_value
from ._history import HISTORY, history_from_json, history_to_json
from ._levels import levels_from_json, levels_to_json

__all__ = ["PRODUCT_MIXTURE"]

FloatArray = NDArray[np.float64]

#: Largest distance of a probability row's sum from 1 that loading accepts.
_SUM_TOL = 1e-6

_REQUIRED = (
    "n_features_in_",
    "weights_",
    "probs_",
    "categories_",
    "log_likelihood_",
    "n_samples_",
    "converged_",
    "n_iter_",
    "identifiability_",
    "n_rows_dropped_",
)
_OPTIONAL = (
    "covariates_",
    "feature_names_in_",
    "moment_weights_",
    "moment_probs_",
    "moment_out_of_range_",
    "views_",
    "singular_values_",
    "eigengap_",
    "restart_log_likelihoods_",
    HISTORY,  # (files written before it existed lack it)
    "misfit_",
    "n_polish_iter_",
    "signal_to_noise_",
)


def _per_item(public: Any) -> list[FloatArray]:
    """Public probabilities (binary matrix or per-item list) as per-item arrays.

    The binary matrix holds ``P(X_j = second level | u)``; its per-item form
    puts ``1 - p`` before ``p``, so that the second column is ``p`` itself.
    """
    if isinstance(public, np.ndarray):
        return [
            np.stack([1.0 - public[:, j], public[:, j]], axis=1) for j in range(public.shape[1])
        ]
    return [np.asarray(p, dtype=np.float64) for p in public]


def _dump_product_mixture(model: ProductMixture) -> dict[str, Any]:
    """The ``fitted`` member of a ProductMixture file.

    Parameters
    ----------
    model : ProductMixture
        A fitted latent class model.

    Returns
    -------
    dict
        Plain JSON values for every fitted attribute.
    """
    if not hasattr(model, "weights_"):
        raise DataError("the model is not fitted; call fit before saving it")
    fitted: dict[str, Any] = {
        "n_features_in_": int(model.n_features_in_),
        "weights_": to_json_value(np.asarray(model.weights_)),
        "probs_": [to_json_value(np.asarray(p)) for p in model.params_.probs],
        "categories_": [levels_to_json(c, j) for j, c in enumerate(model.categories_)],
        "log_likelihood_": float(model.log_likelihood_),
        "n_samples_": float(model.n_samples_),
        "converged_": bool(model.converged_),
        "n_iter_": int(model.n_iter_),
        "identifiability_": str(model.identifiability_),
        "n_rows_dropped_": int(model.n_rows_dropped_),
    }
    if hasattr(model, "feature_names_in_"):
        fitted["feature_names_in_"] = [str(v) for v in model.feature_names_in_]
    if hasattr(model, "moment_weights_"):
        fitted["moment_weights_"] = to_json_value(np.asarray(model.moment_weights_))
        fitted["moment_probs_"] = [to_json_value(p) for p in _per_item(model.moment_probs_)]
    out_of_range = getattr(model, "moment_out_of_range_", None)
    if out_of_range is not None:
        fitted["moment_out_of_range_"] = float(out_of_range)
    if hasattr(model, "views_"):
        fitted["views_"] = [[[int(c) for c in group] for group in t] for t in model.views_]
    if hasattr(model, "singular_values_"):
        fitted["singular_values_"] = to_json_value(np.asarray(model.singular_values_))
    if hasattr(model, "eigengap_"):
        gap = float(model.eigengap_)
        fitted["eigengap_"] = gap if math.isfinite(gap) else None
    if hasattr(model, "restart_log_likelihoods_"):
        fitted["restart_log_likelihoods_"] = to_json_value(
            np.asarray(model.restart_log_likelihoods_, dtype=np.float64)
        )
    if hasattr(model, HISTORY):
        fitted[HISTORY] = history_to_json(model.log_likelihood_history_)
    if hasattr(model, "misfit_"):
        fitted["misfit_"] = float(model.misfit_)
    if hasattr(model, "n_polish_iter_"):
        fitted["n_polish_iter_"] = int(model.n_polish_iter_)
    if hasattr(model, "signal_to_noise_"):
        snr = float(model.signal_to_noise_)
        fitted["signal_to_noise_"] = snr if math.isfinite(snr) else None  # exact tables: inf
    if hasattr(model, "coef_"):
        fitted["covariates_"] = dump_covariates(model)
    return fitted


def _probabilities(reader: FieldReader, key: str, k: int, n_items: int) -> list[FloatArray]:
    """Per-item ``(k, n_levels_j)`` arrays of ``key``: finite, in [0, 1], rows summing to 1.

    Parameters
    ----------
    reader : FieldReader
        Reader over the ``fitted`` member.
    key : str
        ``probs_`` or ``moment_probs_``.
    k : int
        Number of classes.
    n_items : int
        Number of items (columns).

    Returns
    -------
    list of ndarray
        One float array per item, at least two levels each.
    """
    raw = reader.get(key)
    where = f"{reader.where}.{key}"
    if not isinstance(raw, list) or len(raw) != n_items:
        raise DataError(
            f"{where} must be a list of {n_items} arrays, one (k, n_levels) array per item; "
            f"got {describe(raw)}"
        )
    out = []
    for j, block in enumerate(raw):
        name = f"{where}[{j}]"
        try:
            arr = np.array(block, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(
                f"{name} must be a rectangular array of numbers; got {describe(block)}"
            ) from None
        if arr.ndim != 2 or arr.shape[0] != k or arr.shape[1] < 2:
            raise DataError(
                f"{name} must have shape ({k}, n_levels) with n_levels >= 2; got {arr.shape}"
            )
        if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
            raise DataError(f"{name} must hold probabilities in [0, 1]")
        sums = arr.sum(axis=1)
        bad = np.flatnonzero(np.abs(sums - 1.0) > _SUM_TOL)
        if bad.size:
            u = int(bad[0])
            raise DataError(
                f"{name}: row {u} (class {u}) sums to {float(sums[u])!r}, not 1; each row "
                "must be a probability distribution over the item's levels"
            )
        out.append(arr)
    return out


def _views(reader: FieldReader, n_items: int) -> list[tuple[tuple[int, ...], ...]]:
    """``views_``: triples of disjoint, non-empty groups of item indices."""
    raw = reader.get("views_")
    where = f"{reader.where}.views_"
    if not isinstance(raw, list):
        raise DataError(f"{where} must be a list of view triples; got {describe(raw)}")
    out = []
    for t, triple in enumerate(raw):
        ok = isinstance(triple, list) and len(triple) == 3
        groups: list[tuple[int, ...]] = []
        for group in triple if ok else []:
            if not isinstance(group, list) or not group:
                ok = False
                break
            if not all(
                isinstance(c, int) and not isinstance(c, bool) and 0 <= c < n_items for c in group
            ):
                ok = False
                break
            groups.append(tuple(group))
        flat = [c for g in groups for c in g]
        if not ok or len(set(flat)) != len(flat):
            raise DataError(
                f"{where}[{t}] must be three disjoint, non-empty lists of item indices in "
                f"0..{n_items - 1}; got {describe(triple)}"
            )
        out.append(tuple(groups))
    return out


def _optional_number(reader: FieldReader, key: str) -> float:
    """A number or ``null`` (NaN)."""
    return float("nan") if reader.get(key) is None else reader.number(key)


def _load_product_mixture(model: ProductMixture, reader: FieldReader) -> None:
    """Validate the ``fitted`` member of a ProductMixture file and set it on ``model``.

    Parameters
    ----------
    model : ProductMixture
        A fresh instance built from the saved hyper-parameters.
    reader : FieldReader
        Reader over the ``fitted`` member.
    """
    reader.check_keys(_REQUIRED, _OPTIONAL)
    data = reader.data
    n_items = reader.integer("n_features_in_", low=1)
    weights = reader.validated("weights_", check_weights)
    k = int(weights.shape[0])
    if model.n_components != k:
        raise DataError(
            f"hyper_parameters.n_components={model.n_components!r} but weights_ has {k} entries"
        )
    probs = _probabilities(reader, "probs_", k, n_items)
    raw = reader.get("categories_")
    if not isinstance(raw, list) or len(raw) != n_items:
        raise DataError(f"{reader.where}.categories_ must be a list of {n_items} objects")
    categories = [
        levels_from_json(FieldReader(c, f"{reader.where}.categories_[{j}]"), probs[j].shape[1])
        for j, c in enumerate(raw)
    ]
    ll = reader.number("log_likelihood_")
    if ll > 0:
        raise DataError(f"{reader.where}.log_likelihood_ must be <= 0; got {ll!r}")
    n_samples = reader.number("n_samples_")
    if n_samples <= 0:
        raise DataError(f"{reader.where}.n_samples_ must be positive; got {n_samples!r}")
    ident = reader.get("identifiability_")
    if not isinstance(ident, str):
        raise DataError(f"{reader.where}.identifiability_ must be a string; got {describe(ident)}")
    names = data.get("feature_names_in_")
    if names is not None and (
        not isinstance(names, list)
        or len(names) != n_items
        or not all(isinstance(v, str) for v in names)
    ):
        raise DataError(f"{reader.where}.feature_names_in_ must be a list of {n_items} strings")
    if ("moment_weights_" in data) != ("moment_probs_" in data):
        raise DataError(
            f"{reader.where} must hold both moment_weights_ and moment_probs_ or neither"
        )
    moment: tuple[FloatArray, list[FloatArray]] | None = None
    if "moment_weights_" in data:
        moment_weights = reader.validated("moment_weights_", lambda w: check_weights(w, k))
        moment_probs = _probabilities(reader, "moment_probs_", k, n_items)
        for j, p in enumerate(moment_probs):
            if p.shape != probs[j].shape:
                raise DataError(
                    f"{reader.where}.moment_probs_[{j}] has shape {p.shape} but probs_[{j}] "
                    f"has {probs[j].shape}"
                )
        moment = (moment_weights, moment_probs)
    singular = None
    if "singular_values_" in data:
        singular = reader.array("singular_values_", ndim=1)
        if np.any(singular < 0) or np.any(np.diff(singular) > 0):
            raise DataError(
                f"{reader.where}.singular_values_ must be non-negative and non-increasing"
            )
    out_of_range = None
    if "moment_out_of_range_" in data:
        out_of_range = reader.number("moment_out_of_range_")
        if out_of_range < 0:
            raise DataError(
                f"{reader.where}.moment_out_of_range_ must be >= 0; got {out_of_range!r}"
            )

    views = _views(reader, n_items) if "views_" in data else None
    gap = _optional_number(reader, "eigengap_") if "eigengap_" in data else None
    restarts = (
        reader.array("restart_log_likelihoods_", ndim=1)
        if "restart_log_likelihoods_" in data
        else None
    )
    ll_history = history_from_json(reader) if HISTORY in data else None
    misfit = reader.number("misfit_") if "misfit_" in data else None
    if misfit is not None and not misfit >= 0:
        raise DataError(f"{reader.where}.misfit_ must be >= 0; got {misfit!r}")
    n_polish = reader.integer("n_polish_iter_", low=0) if "n_polish_iter_" in data else None
    snr = None
    if "signal_to_noise_" in data:
        snr = math.inf if data["signal_to_noise_"] is None else reader.number("signal_to_noise_")
    if snr is not None and not snr >= 0:
        raise DataError(f"{reader.where}.signal_to_noise_ must be >= 0; got {snr!r}")
    converged = reader.boolean("converged_")
    n_iter = reader.integer("n_iter_", low=0)
    n_dropped = reader.integer("n_rows_dropped_", low=0)

    model.n_features_in_ = n_items
    if names is not None:
        model.feature_names_in_ = np.array(names, dtype=object)
    model.categories_ = categories
    model.weights_ = weights
    model.params_ = CategoricalParams(tuple(probs))
    model.probs_ = item_view(probs)  # as fit sets it: binary -> (k, n) matrix
    model.log_likelihood_ = ll
    model.n_samples_ = n_samples
    model.converged_ = converged
    model.n_iter_ = n_iter
    model.identifiability_ = ident
    model.n_rows_dropped_ = n_dropped
    if moment is not None:
        model.moment_weights_ = moment[0]
        model.moment_probs_ = item_view(moment[1])
    if out_of_range is not None:
        model.moment_out_of_range_ = out_of_range
    if views is not None:
        model.views_ = views
    if singular is not None:
        model.singular_values_ = singular
    if gap is not None:
        model.eigengap_ = gap
    if restarts is not None:
        model.restart_log_likelihoods_ = [float(v) for v in restarts]
        model.n_starts_ = len(model.restart_log_likelihoods_)
    if ll_history is not None:
        model.log_likelihood_history_ = ll_history
    if misfit is not None:
        model.misfit_ = misfit
    if n_polish is not None:
        model.n_polish_iter_ = n_polish
    if snr is not None:
        model.signal_to_noise_ = snr
    if "covariates_" in data:
        load_covariates(model, FieldReader(data["covariates_"], f"{reader.where}.covariates_"), k)


#: The registered codec of :class:`~kmix.estimators.ProductMixture`.
PRODUCT_MIXTURE = register_codec(
    Codec("ProductMixture", ProductMixture, _dump_product_mixture, _load_product_mixture)
)

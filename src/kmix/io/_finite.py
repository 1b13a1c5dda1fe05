"""The :class:`~kmix.estimators.FiniteMixture` codec, registered on import.

The ``fitted`` member of a FiniteMixture file holds the family (name and
options), the mixing weights, the component parameters, the fit diagnostics
and, when the model saw them, the feature names and the category levels of a
categorical fit. Loading validates each of them as a fresh fit would.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..components import get_family
from ..estimators import FiniteMixture
from ..exceptions import DataError
from ..params import check_weights
from ._covariates import dump_covariates, load_covariates
from ._format import Codec, FieldReader, describe, register_codec, to_json_value
from ._history import HISTORY, history_from_json, history_to_json
from ._levels import levels_from_json, levels_to_json

__all__ = ["FINITE_MIXTURE"]


def _dump_finite_mixture(model: FiniteMixture) -> dict[str, Any]:
    """The ``fitted`` member of a FiniteMixture file.

    Parameters
    ----------
    model : FiniteMixture
        A fitted mixture.

    Returns
    -------
    dict
        Plain JSON values for every fitted attribute.
    """
    if not hasattr(model, "params_"):
        raise DataError("the model is not fitted; call fit before saving it")
    fitted: dict[str, Any] = {
        "family": {"name": model.family_.name, "options": to_json_value(model.family_.options())},
        "n_features_in_": int(model.n_features_in_),
        "weights_": model.weights_.tolist(),
        "params_": to_json_value(model.params_.to_dict()),
        "converged_": bool(model.converged_),
        "n_iter_": int(model.n_iter_),
        "n_parameters_": int(model.n_parameters_),
        "history_": np.asarray(model.history_, dtype=np.float64).tolist(),
        "log_likelihood_": float(model.log_likelihood_),
        "lower_bound_": float(model.lower_bound_),
        "n_samples_fit_": float(model.n_samples_),
        "restart_log_likelihoods_": np.asarray(
            model.restart_log_likelihoods_, dtype=np.float64
        ).tolist(),
    }
    if hasattr(model, HISTORY):
        fitted[HISTORY] = history_to_json(model.log_likelihood_history_)
    if hasattr(model, "feature_names_in_"):
        fitted["feature_names_in_"] = [str(v) for v in model.feature_names_in_]
    if hasattr(model, "categories_"):
        fitted["categories_"] = [levels_to_json(c, j) for j, c in enumerate(model.categories_)]
    if hasattr(model, "coef_"):
        fitted["covariates_"] = dump_covariates(model)
    return fitted


_FITTED_REQUIRED: tuple[str, ...] = (
    "family",
    "n_features_in_",
    "weights_",
    "params_",
    "converged_",
    "n_iter_",
    "n_parameters_",
    "history_",
    "log_likelihood_",
    "lower_bound_",
    "n_samples_fit_",
    "restart_log_likelihoods_",
)


def _load_finite_mixture(model: FiniteMixture, reader: FieldReader) -> None:
    """Validate the ``fitted`` member of a FiniteMixture file and set it on ``model``.

    Parameters
    ----------
    model : FiniteMixture
        A fresh instance built from the saved hyper-parameters.
    reader : FieldReader
        Reader over the ``fitted`` member.
    """
    required = _FITTED_REQUIRED
    if reader.version < 2:  # version 1 files predate n_parameters_
        required = tuple(key for key in required if key != "n_parameters_")
    # (files written before log_likelihood_history_ existed lack it)
    reader.check_keys(required, ["feature_names_in_", "categories_", "covariates_", HISTORY])
    fam = reader.object("family")
    fam.check_keys(["name", "options"])
    name, options = fam.get("name"), fam.object("options").data
    family = fam.validated("name", lambda n: get_family(n, **options))
    if family.name != name or family.options() != options:
        raise DataError(
            f"{fam.where} = {describe(fam.data)} does not describe a kmix family exactly"
        )
    declared = FieldReader(model.get_params(), "hyper_parameters").validated("family", get_family)
    if declared.name != family.name:
        raise DataError(
            f"hyper_parameters.family={model.family!r} but the fitted family is {family.name!r}"
        )
    n_features = reader.integer("n_features_in_", low=1)
    weights = reader.validated("weights_", check_weights)
    k = int(weights.shape[0])
    if model.n_components != k:
        raise DataError(
            f"hyper_parameters.n_components={model.n_components!r} but weights_ has {k} entries"
        )
    params = reader.validated("params_", lambda d: family.params_from_dict(d, k, n_features))
    categories: list[NDArray[Any]] | None = None
    if family.name == "categorical":
        raw = reader.get("categories_")
        if not isinstance(raw, list) or len(raw) != n_features:
            raise DataError(f"{reader.where}.categories_ must be a list of {n_features} objects")
        n_levels = params.n_levels  # type: ignore[attr-defined]
        categories = [
            levels_from_json(FieldReader(c, f"{reader.where}.categories_[{j}]"), n_levels[j])
            for j, c in enumerate(raw)
        ]
    elif "categories_" in reader.data:
        raise DataError(f"{reader.where}.categories_ is only valid for the categorical family")
    history = reader.array("history_", ndim=1)
    ll_history = history_from_json(reader) if HISTORY in reader.data else None
    restarts = reader.array("restart_log_likelihoods_", ndim=1)
    n_samples = reader.number("n_samples_fit_")
    if n_samples <= 0:
        raise DataError(f"{reader.where}.n_samples_fit_ must be positive; got {n_samples!r}")
    names = reader.data.get("feature_names_in_")
    if names is not None and (
        not isinstance(names, list)
        or len(names) != n_features
        or not all(isinstance(v, str) for v in names)
    ):
        raise DataError(f"{reader.where}.feature_names_in_ must be a list of {n_features} strings")

    model.family_ = family
    model.n_features_in_ = n_features
    if names is not None:
        model.feature_names_in_ = np.array(names, dtype=object)
    if categories is not None:
        model.categories_ = categories
    model.weights_ = weights
    model.params_ = params
    model.converged_ = reader.boolean("converged_")
    model.n_iter_ = reader.integer("n_iter_", low=0)
    if reader.version < 2:
        # as fit counts them: learned components' parameters plus k - 1 learned weights
        n_free = 0 if model.fixed_params is not None else family.n_free_parameters(params)
        model.n_parameters_ = n_free + (0 if model.fixed_weights is not None else k - 1)
    else:
        model.n_parameters_ = reader.integer("n_parameters_", low=0)
    model.history_ = history
    if ll_history is not None:
        model.log_likelihood_history_ = ll_history
    model.log_likelihood_ = reader.number("log_likelihood_")
    model.lower_bound_ = reader.number("lower_bound_")
    model.n_samples_ = n_samples
    model.restart_log_likelihoods_ = restarts
    if "covariates_" in reader.data:
        where = f"{reader.where}.covariates_"
        load_covariates(model, FieldReader(reader.data["covariates_"], where), k)


#: The registered codec of :class:`~kmix.estimators.FiniteMixture`.
FINITE_MIXTURE = register_codec(
    Codec("FiniteMixture", FiniteMixture, _dump_finite_mixture, _load_finite_mixture)
)

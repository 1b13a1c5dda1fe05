"""The :class:`~kmix.estimators.FiniteMixture` codec, registered on import.

The ``fitted`` member of a FiniteMixture file holds the family (name and
options), the mixing weights, the component parameters, the fit diagnostics
and, when the model saw them, the feature names and the category levels of a
categorical fit. Loading validates each of them as a fresh fit would.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..components import get_family
from ..estimators import FiniteMixture
from ..exceptions import DataError
from ..params import check_weights
from ._format import Codec, FieldReader, describe, register_codec, to_json_value

__all__ = ["FINITE_MIXTURE"]

#: NumPy dtypes (``dtype.str``) that numeric category levels may be stored as.
_LEVEL_DTYPES = frozenset(np.dtype(t).str for t in ("?", "i1", "i2", "i4", "i8", "u1", "u2"))
_LEVEL_DTYPES |= {np.dtype(t).str for t in ("u4", "u8", "f2", "f4", "f8")}


def _levels_to_json(levels: NDArray[Any], j: int) -> dict[str, Any]:
    """The levels of categorical feature ``j`` as ``{"dtype": ..., "values": [...]}``."""
    kind = levels.dtype.kind
    if kind == "U":
        return {"dtype": "str", "values": levels.tolist()}
    if kind in "biuf":
        return {"dtype": levels.dtype.str, "values": levels.tolist()}
    if kind == "O" and all(isinstance(v, (str, bool, int, float)) for v in levels.tolist()):
        return {"dtype": "object", "values": to_json_value(levels)}
    raise DataError(
        f"categories_[{j}] holds values that JSON cannot store faithfully (dtype "
        f"{levels.dtype}); use strings or numbers as category labels"
    )


def _levels_from_json(reader: FieldReader, n_levels: int) -> NDArray[Any]:
    """The ``n_levels`` distinct, sorted levels of one feature, in their declared dtype.

    Parameters
    ----------
    reader : FieldReader
        Reader over one entry of ``fitted.categories_``.
    n_levels : int
        Number of levels the fitted parameters have for this feature.

    Returns
    -------
    numpy.ndarray
        The levels, exactly as they were before saving.
    """
    reader.check_keys(["dtype", "values"])
    dtype, values = reader.get("dtype"), reader.get("values")
    name = f"{reader.where}.values"
    if not isinstance(values, list) or len(values) != n_levels:
        raise DataError(f"{name} must list the {n_levels} levels of the parameters")
    if not all(isinstance(v, (str, bool, int, float)) for v in values):
        raise DataError(f"{name} may hold only strings and numbers")
    texts = [isinstance(v, str) for v in values]
    levels: NDArray[Any] | None = None
    if dtype == "str" and all(texts):
        levels = np.array(values, dtype=np.str_)
    elif dtype == "object":
        levels = np.empty(n_levels, dtype=object)
        levels[:] = values
    elif dtype in _LEVEL_DTYPES and not any(texts):
        with contextlib.suppress(OverflowError, TypeError, ValueError):
            levels = np.array(values, dtype=np.dtype(dtype))
    if levels is None or levels.tolist() != values:
        raise DataError(f"{name} does not match the declared dtype {dtype!r}")
    try:
        sorted_unique = np.unique(levels)
    except TypeError:
        raise DataError(f"{name} mixes values that cannot be ordered") from None
    if sorted_unique.shape != levels.shape or not bool(np.all(sorted_unique == levels)):
        raise DataError(f"{name} must list distinct levels in sorted order")
    return levels


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
        "n_samples_fit_": float(model.n_samples_fit_),
        "restart_log_likelihoods_": np.asarray(
            model.restart_log_likelihoods_, dtype=np.float64
        ).tolist(),
    }
    if hasattr(model, "feature_names_in_"):
        fitted["feature_names_in_"] = [str(v) for v in model.feature_names_in_]
    if hasattr(model, "categories_"):
        fitted["categories_"] = [_levels_to_json(c, j) for j, c in enumerate(model.categories_)]
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
    reader.check_keys(required, ["feature_names_in_", "categories_"])
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
            _levels_from_json(FieldReader(c, f"{reader.where}.categories_[{j}]"), n_levels[j])
            for j, c in enumerate(raw)
        ]
    elif "categories_" in reader.data:
        raise DataError(f"{reader.where}.categories_ is only valid for the categorical family")
    history = reader.array("history_", ndim=1)
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
    model.log_likelihood_ = reader.number("log_likelihood_")
    model.lower_bound_ = reader.number("lower_bound_")
    model.n_samples_fit_ = n_samples
    model.restart_log_likelihoods_ = restarts


#: The registered codec of :class:`~kmix.estimators.FiniteMixture`.
FINITE_MIXTURE = register_codec(
    Codec("FiniteMixture", FiniteMixture, _dump_finite_mixture, _load_finite_mixture)
)

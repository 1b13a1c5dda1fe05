"""The covariate part of a ProductMixture file (a latent class regression).

``fitted.covariates_`` holds the covariates' names, the levels of its text
columns (the first the reference), the logit's terms, and the coefficients
with their standard errors and covariance; a model fitted without covariates
has no such member.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..estimators import CovariateDesign
from ..exceptions import DataError
from ._format import FieldReader, describe, to_json_value

__all__ = ["dump_covariates", "load_covariates"]


def dump_covariates(model: Any) -> dict[str, Any]:
    """Plain JSON values of a fitted model's covariate part."""
    design: CovariateDesign = model.covariate_design_
    return {
        "columns": list(design.columns),
        "levels": {name: list(levels) for name, levels in design.levels.items()},
        "terms": list(design.terms),
        "coef_": to_json_value(np.asarray(model.coef_)),
        "coef_se_": to_json_value(np.asarray(model.coef_se_)),
        "coef_cov_": to_json_value(np.asarray(model.coef_cov_)),
        "n_covariate_rows_dropped_": int(model.n_covariate_rows_dropped_),
    }


def load_covariates(model: Any, reader: FieldReader, k: int) -> None:
    """Validate ``fitted.covariates_`` and set the covariate part on ``model``."""
    reader.check_keys(
        ("columns", "levels", "terms", "coef_", "coef_se_", "coef_cov_"),
        ("n_covariate_rows_dropped_",),
    )
    columns, levels, terms = (reader.get(key) for key in ("columns", "levels", "terms"))
    if not (isinstance(columns, list) and all(isinstance(c, str) for c in columns)):
        raise DataError(
            f"{reader.where}.columns must be a list of strings; got {describe(columns)}"
        )
    if not (isinstance(terms, list) and all(isinstance(t, str) for t in terms) and terms):
        raise DataError(f"{reader.where}.terms must be a list of strings; got {describe(terms)}")
    if not isinstance(levels, dict) or not all(
        name in columns and isinstance(v, list) and all(isinstance(x, str) for x in v)
        for name, v in levels.items()
    ):
        raise DataError(f"{reader.where}.levels must map covariate names to lists of strings")
    p = len(terms)
    coef = reader.array("coef_", ndim=2)
    se = reader.array("coef_se_", ndim=2)
    cov = reader.array("coef_cov_", ndim=2)
    if coef.shape != (k - 1, p) or se.shape != coef.shape or cov.shape != (coef.size,) * 2:
        raise DataError(
            f"{reader.where}: coef_ and coef_se_ must have shape ({k - 1}, {p}) and coef_cov_ "
            f"({(k - 1) * p}, {(k - 1) * p}); got {coef.shape}, {se.shape}, {cov.shape}"
        )
    model.covariate_design_ = CovariateDesign(list(columns), dict(levels), list(terms))
    model.covariate_terms_ = list(terms)
    model.coef_, model.coef_se_, model.coef_cov_ = coef, se, cov
    model.n_covariate_rows_dropped_ = (
        reader.integer("n_covariate_rows_dropped_", low=0)
        if "n_covariate_rows_dropped_" in reader.data
        else 0
    )

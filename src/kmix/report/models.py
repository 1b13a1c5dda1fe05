"""Report sections of the mixture models: what was fitted, how well, and its figures."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import plotting
from ..estimators import distal as distal_outcome_of
from ..estimators import fit_statistics
from ..estimators._checks import missing_cells
from ..exceptions import KmixError
from .html import Section

__all__ = [
    "coin_sections",
    "covariate_sections",
    "finite_sections",
    "fit_section",
    "product_sections",
]


def _given(covariates: Any) -> dict[str, Any]:
    return {} if covariates is None else {"covariates": covariates}


def _rows(covariates: Any, keep: Any) -> Any:
    """The covariates of the rows ``keep`` (a mapping of columns, or an array)."""
    if covariates is None:
        return None
    if isinstance(covariates, dict):
        return {name: np.asarray(col)[keep] for name, col in covariates.items()}
    return np.asarray(covariates)[keep]


def _maybe(model: Any, name: str) -> Any:
    """``model.name()``, or None where the criterion does not apply to this model."""
    try:
        return getattr(model, name)()
    except (KmixError, NotImplementedError, TypeError, ValueError):
        return None


def fit_section(model: Any) -> Section:
    """The fit in numbers: components, rows, likelihood, parameters, criteria, convergence."""
    rows: dict[str, Any] = {
        "model": type(model).__name__,
        "components (k)": int(np.asarray(model.weights_).shape[0]),
        "rows fitted": float(getattr(model, "n_samples_", np.nan)),
        "log-likelihood": getattr(model, "log_likelihood_", None),
        "free parameters": _maybe(model, "n_parameters"),
        "BIC": _maybe(model, "bic"),
        "AIC": _maybe(model, "aic"),
        "converged": getattr(model, "converged_", None),
        "EM iterations": getattr(model, "n_iter_", None),
    }
    for name, label in (
        ("n_rows_dropped_", "rows dropped"),
        ("n_covariate_rows_dropped_", "rows dropped (covariates)"),
    ):
        if getattr(model, name, None):
            rows[label] = int(getattr(model, name))
    restarts = getattr(model, "restart_log_likelihoods_", None)
    if restarts is not None and len(restarts) > 1:
        best = max(restarts)
        rows["starts reaching the best (1e-6)"] = (
            f"{sum(abs(r - best) <= 1e-6 * abs(best) for r in restarts)} of {len(restarts)}"
        )
    section = Section("Fit").pairs(rows)
    identifiability = getattr(model, "identifiability_", None)
    if identifiability:
        section.text(f"Identifiability: {identifiability}")
    if getattr(model, "log_likelihood_history_", None) is not None and len(
        model.log_likelihood_history_
    ):
        section.figure(plotting.convergence(model), "Log-likelihood per EM step of the start kept.")
    return section


def product_sections(
    model: Any,
    *,
    data: Any = None,
    sample_weight: Any = None,
    covariates: Any = None,
    distal: dict[str, Any] | None = None,
    distal_method: str = "bch",
) -> list[Section]:
    """A latent class model: profiles, class table, fit statistics, covariates, distal outcomes."""
    classes = Section("Classes")
    classes.figure(
        plotting.class_profiles(model),
        "Each class's probability of each response (binary items: the second level); "
        "shares in the legend.",
    )
    table = model.class_table()
    shares = np.asarray(model.weights_)
    classes.pairs({f"class {u + 1} share": float(w) for u, w in enumerate(shares)})
    classes.table(
        {k: list(v) for k, v in table.items()} | {"class": [int(c) + 1 for c in table["class"]]},
        folded=f"Class-conditional probabilities ({len(table['class'])} cells)",
    )
    sections = [fit_section(model), classes]
    sections += covariate_sections(model)
    if data is not None:
        stats = Section("Fit statistics on the data")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = fit_statistics(
                    model, data, sample_weight=sample_weight, **_given(covariates)
                ).as_dict()
            stats.pairs(found)
        except (KmixError, ValueError) as exc:  # the rest of the report still stands
            stats.note(f"not computed: {exc}")
        sections.append(stats)
        for name, y in (distal or {}).items():
            section = Section(f"Distal outcome: {name}")
            y = np.asarray(y)
            known = ~missing_cells(np.asarray(y, dtype=object), infinite=False)
            if not known.all():
                section.note(f"{int((~known).sum())} row(s) without {name} left out of this table.")
            weights = None if sample_weight is None else np.asarray(sample_weight)[known]
            result = distal_outcome_of(
                model,
                np.asarray(data)[known],
                y[known],
                method=distal_method,
                sample_weight=weights,
                **_given(_rows(covariates, known)),
            )
            section.figure(
                plotting.distal_outcome(result),
                f"{name} by class ({distal_method}), 95% Wald intervals.",
            )
            t = result.table()
            section.table(
                {
                    "class": [int(c) + 1 for c in t["class"]],
                    "level": list(t["level"]),
                    "estimate": list(t["estimate"]),
                    "std. error": list(t["std_error"]),
                }
            )
            section.text(
                f"Wald test that every class has the same {name}: chi2 = {result.chi2:.3f}, "
                f"df = {result.df}, p = {result.p_value:.3g}."
            )
            sections.append(section)
    return sections


def covariate_sections(model: Any) -> list[Section]:
    """The logit of class membership on covariates, when the model has one."""
    if getattr(model, "coef_", None) is None:
        return []
    section = Section("Covariates of class membership")
    section.figure(
        plotting.covariate_effects(model),
        "Logit coefficients of each class against class 1, 95% Wald intervals "
        "(intercepts not drawn).",
    )
    t = model.covariate_table()
    section.table(
        {
            "class": [f"{int(c) + 1} vs 1" for c in t["class"]],
            "term": list(t["term"]),
            "coefficient": list(t["coefficient"]),
            "std. error": list(t["std_error"]),
            "z": list(t["z"]),
            "p": list(t["p_value"]),
        }
    )
    return [section]


def finite_sections(model: Any) -> list[Section]:
    """A mixture of a component family: the components' parameters, profiles where discrete."""
    section = Section("Components")
    params = model.params_
    columns: dict[str, list[Any]] = {
        "component": list(range(1, len(model.weights_) + 1)),
        "weight": list(map(float, model.weights_)),
    }
    for name, value in params.to_dict().items():
        arr = np.asarray(value, dtype=object)
        if arr.ndim >= 1 and arr.shape[0] == len(model.weights_):
            columns[name] = [
                np.array2string(np.asarray(arr[u], dtype=np.float64), precision=4, separator=", ")
                if np.ndim(arr[u])
                else float(arr[u])
                for u in range(arr.shape[0])
            ]
    section.text(f"Family: {params.family}.")
    section.table(columns)
    if params.family in ("bernoulli", "categorical"):
        section.figure(
            plotting.class_profiles(model), "Each component's probability of each response."
        )
    return [fit_section(model), section, *covariate_sections(model)]


def coin_sections(model: Any, *, heads: Any = None) -> list[Section]:
    """k coins: the recovered biases and weights over the head counts."""
    section = Section("Coins")
    section.figure(
        plotting.coin_atoms(model, heads),
        "Coins (bias, weight) over the share of trials with each number of heads; "
        "grey line: the fitted mixture of binomials.",
    )
    section.table(
        {
            "coin": list(range(1, len(model.weights_) + 1)),
            "bias": list(map(float, model.biases_)),
            "weight": list(map(float, model.weights_)),
        }
    )
    for name, label in (
        ("condition_number_", "condition number of the moment solve"),
        ("n_supported_", "coins the Hankel test supports"),
    ):
        if getattr(model, name, None) is not None:
            section.text(f"{label}: {getattr(model, name)}")
    return [fit_section(model), section]

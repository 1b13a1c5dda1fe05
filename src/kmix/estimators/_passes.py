"""FiniteMixture of continuous components on rows that stay in their files or on a cluster.

Gaussian rows do not compress into distinct rows, so a source (files, globs,
Dask frames, Arrow and polars tables) is fitted by EM with one pass over the
rows per iteration (:func:`kmix.solvers.em.streamed.em_by_passes`): chunk by
chunk on this machine, or partition by partition on the Dask cluster the frame
lives on, with memory bounded by a few chunks. The start is the in-memory fit of a
systematic sample of the rows (:func:`kmix.data.passes.systematic_sample`,
:data:`SAMPLE_ROWS` rows, the estimator's own restarts), or the user's
``params_init`` and ``weights_init`` when both are given.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..components import Family
from ..data import as_source
from ..data.passes import map_reduce, systematic_sample
from ..exceptions import DataError
from ..solvers.em.loop import EMProgress
from ..solvers.em.streamed import PassSums, em_by_passes
from ._checks import take_fitted, variant
from ._finite_input import starting_values

__all__ = ["SAMPLE_ROWS", "fit_by_passes"]

logger = logging.getLogger("kmix")
FloatArray = NDArray[np.float64]
#: Rows of the systematic sample whose in-memory fit starts EM by passes
SAMPLE_ROWS = 100_000


def _checked(
    fn: Callable[[FloatArray, int], PassSums],
    rule: str,
    columns: list[str],
    values: FloatArray,
    offset: int,
) -> PassSums:
    """``fn`` on a chunk under the missing-value rule: ``"drop"`` leaves out rows with a
    missing cell (``n_rows`` then counts the rows kept); any other rule names the first."""
    gaps = np.isnan(values)
    if not gaps.any():
        return fn(values, offset)
    if rule != "drop":
        r, c = (int(i) for i in np.argwhere(gaps)[0])
        raise DataError(
            f"row {offset + r}, column {columns[c]!r} is missing; EM by passes over the rows "
            "of a file or cluster cannot integrate missing cells out (missing='fiml' needs "
            "the rows in memory): pass missing='drop' to leave out rows with a missing cell, "
            "read the rows into an array, or impute them"
        )
    out = fn(values[~gaps.any(axis=1)], offset)
    return replace(out, missing_cells=gaps.sum(axis=0).astype(np.float64))


def fit_by_passes(
    model: Any,
    X: Any,
    *,
    family: Family,
    missing: str,
    sample_weight: Any,
    n_trials: Any,
) -> None:
    """Fit ``model`` (a FiniteMixture of a continuous family) to the source ``X`` in place."""
    source = as_source(X)
    what = source.describe()
    if sample_weight is not None or n_trials is not None:
        raise DataError(
            f"sample_weight and n_trials cannot be given with {what}: its rows are read as "
            "they are; pass an array to weight rows"
        )
    if model.fixed_params is not None or model.fixed_weights is not None:
        raise DataError(
            f"fixed_params and fixed_weights are not supported on {what} (EM by passes over "
            "the rows learns both); fit rows in memory"
        )
    columns = list(source.columns)
    sample, n_rows = systematic_sample(source, SAMPLE_ROWS)
    logger.info(
        "EM by passes over %s: %s rows, start from %d sampled rows",
        what,
        f"{n_rows:,}",
        sample.shape[0],
    )
    # the same options, no callback (it may hold a stream) and gaps dropped in the sample
    starter = variant(model, callback=None, missing="drop")
    with warnings.catch_warnings():  # about the sample only: the passes below judge the rows
        warnings.simplefilter("ignore")
        starter.fit(sample)
    take_fitted(model, starter)
    weights, params = starter.weights_, starter.params_
    _, _, params_init, weights_init = starting_values(
        model, family, int(model.n_components), {"n_trials": None}
    )
    if params_init is not None and weights_init is not None:  # the user's start, as given
        weights, params = np.asarray(weights_init, dtype=np.float64), params_init

    def run(fn: Callable[[FloatArray, int], PassSums]) -> PassSums:
        out: PassSums = map_reduce(source, partial(_checked, fn, missing, columns), what="EM pass")
        return out

    def report(iteration: int, log_likelihood: float, weights: FloatArray) -> None:
        if model.callback is not None:  # the estimator's callback, one E-step a pass
            model.callback(EMProgress(0, iteration, log_likelihood, weights.copy()))

    result = em_by_passes(
        family,  # type: ignore[arg-type]
        run,
        weights,
        params,
        tol=float(model.tol),
        max_iter=int(model.max_iter),
        callback=report,
    )
    weights, params = result.weights, result.params
    named = model.params_init is not None or model.weights_init is not None
    if not named:  # kmix's label order: largest weight first
        order = np.argsort(-weights, kind="stable")
        weights, params = weights[order], params.permute(order)
    model.weights_, model.params_ = weights, params
    model.converged_, model.n_iter_ = result.converged, result.n_iter
    model.history_ = result.history
    model.log_likelihood_history_ = np.array(result.history, dtype=np.float64)  # plain: no prior
    model.reseed_iterations_ = ()
    model.log_likelihood_ = result.log_likelihood
    model.lower_bound_ = result.log_likelihood / max(result.n_rows, 1)
    model.n_samples_ = float(result.n_rows)
    model.restart_log_likelihoods_ = np.asarray([result.log_likelihood])
    gaps = result.missing_cells
    model.n_missing_ = (
        np.zeros(len(columns), dtype=np.int64) if gaps is None else np.rint(gaps).astype(np.int64)
    )
    model.n_rows_dropped_ = int(n_rows - result.n_rows)
    model.feature_names_in_ = np.asarray(columns, dtype=object)
    model.n_features_in_ = len(columns)

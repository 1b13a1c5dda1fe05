"""Bootstrap intervals for ``BayesNetMixture`` queries, over the whole pipeline."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..causal import effects
from ..exceptions import KmixError
from ..params.bayesnet import BayesNetMixtureParams
from ..solvers.linalg import best_permutation
from ._checks import check_int, rng_from

if TYPE_CHECKING:
    from .bayesnet import BayesNetMixture

__all__ = ["BayesNetBootstrap", "bootstrap"]

FloatArray = NDArray[np.float64]
#: Refits allowed to fail (left out, with a warning) before the bootstrap gives up.
MAX_FAILED_SHARE = 0.1


def _flat(params: BayesNetMixtureParams) -> FloatArray:
    """``(k, all CPT entries)``: the vector that identifies each source."""
    k = params.weights.shape[0]
    return np.concatenate([c.reshape(k, -1) for c in params.cpts], axis=1)


@dataclass(frozen=True)
class BayesNetBootstrap:
    """Refits of a ``BayesNetMixture`` on resampled data, sources aligned to the fit.

    Attributes
    ----------
    model : BayesNetMixture
        The fit the replicates are aligned to.
    replicates : list of BayesNetMixtureParams
        One per resample, its sources permuted to match ``model``'s (Hungarian
        matching on all CPT entries; Kuhn 1955).
    """

    model: BayesNetMixture
    replicates: list[BayesNetMixtureParams]

    def _interval(self, draws: FloatArray, level: float) -> tuple[FloatArray, FloatArray]:
        a = (1.0 - float(level)) / 2.0
        return np.quantile(draws, a, axis=0), np.quantile(draws, 1.0 - a, axis=0)

    def interventional(
        self,
        outcome: str,
        do: Mapping[str, Any],
        given: Mapping[str, Any] | None = None,
        *,
        level: float = 0.95,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(estimate, lower, upper)`` of ``P(outcome | do(...), given)``: percentile intervals."""
        m = self.model
        do_c, given_c = m._codes(do), m._codes(given)
        draws = np.array(
            [effects.interventional(p, outcome, do_c, given_c) for p in self.replicates]
        )
        lo, hi = self._interval(draws, level)
        return m.interventional(outcome, do, given), lo, hi

    def ate(
        self,
        treatment: str,
        outcome: str,
        *,
        treated: Any = None,
        control: Any = None,
        level: float = 0.95,
    ) -> tuple[float, float, float]:
        """``(estimate, lower, upper)`` of the average treatment effect (see ``model.ate``)."""
        m = self.model
        t0, t1 = m._treatment_levels(treatment, treated, control)
        y = m._values_of(outcome)
        c0, c1 = m._code(treatment, t0), m._code(treatment, t1)
        draws = np.array(
            [
                (
                    effects.interventional(p, outcome, {treatment: c1})
                    - effects.interventional(p, outcome, {treatment: c0})
                )
                @ y
                for p in self.replicates
            ]
        )
        lo, hi = self._interval(draws, level)
        return m.ate(treatment, outcome, treated=t1, control=t0), float(lo), float(hi)

    def weights(self, *, level: float = 0.95) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(estimate, lower, upper)`` of the source shares."""
        draws = np.array([p.weights for p in self.replicates])
        lo, hi = self._interval(draws, level)
        return self.model.weights_, lo, hi


def bootstrap(
    model: BayesNetMixture,
    n_boot: int = 100,
    *,
    random_state: Any = None,
    callback: Callable[[int, int], None] | None = None,
) -> BayesNetBootstrap:
    """Nonparametric bootstrap of the whole pipeline (reduction, alignment, EM).

    Each replicate redraws the training rows (a multinomial over the distinct
    rows with their counts as frequencies) and refits with the model's
    settings; its sources are matched to the model's. Efron & Tibshirani,
    *An Introduction to the Bootstrap*, 1993 (percentile intervals).
    ``callback(done, n_boot)`` is called after every replicate (progress).
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model, "params_")
    n_boot = check_int(n_boot, "n_boot", low=2)
    rng = rng_from(random_state)
    values, counts = model._values, model._counts
    total = float(counts.sum())
    # as many draws as the data had rows, whatever scale the sample weights were on
    n_draw = int(model.n_rows_)
    ref = _flat(model.params_)
    k = model.weights_.shape[0]
    settings = model.get_params()
    out: list[BayesNetMixtureParams] = []
    failures: list[str] = []
    for b in range(n_boot):
        draw = rng.multinomial(n_draw, counts / total).astype(np.float64) * (total / n_draw)
        rows = draw > 0
        twin = type(model)(**settings)
        twin.dag_, twin.columns_, twin.categories_ = model.dag_, model.columns_, model.categories_
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                twin._fit_counts(
                    values[rows],
                    draw[rows],
                    k,
                    int(model.n_init),
                    float(model.tol),
                    int(model.max_iter),
                    float(model.alpha),
                    rng,
                )
        except KmixError as exc:  # e.g. a resample that empties a conditioned stratum
            failures.append(str(exc))
            if len(failures) > MAX_FAILED_SHARE * n_boot:
                raise KmixError(
                    f"{len(failures)} of {b + 1} bootstrap refits failed so far (first: "
                    f"{failures[0]}); the intervals would rest on the resamples that happen "
                    "to work. Use more data or fewer sources"
                ) from None
            if callback is not None:
                callback(b + 1, n_boot)
            continue
        est = _flat(twin.params_)
        perm = best_permutation(np.abs(ref[:, None, :] - est[None, :, :]).sum(axis=2))
        out.append(twin.params_.permute(perm))
        if callback is not None:
            callback(b + 1, n_boot)
    if failures:
        warnings.warn(
            f"{len(failures)} of {n_boot} bootstrap refits failed and were left out (first: "
            f"{failures[0]})",
            UserWarning,
            stacklevel=2,
        )
    return BayesNetBootstrap(model, out)

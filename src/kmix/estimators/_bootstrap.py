"""Nonparametric bootstraps over the pure fits, replicates aligned to the point estimate.

Each replicate redraws the training rows (a multinomial over the distinct
rows with their counts as frequencies, the same as resampling rows with
replacement), runs the model's whole pure fit again on the redrawn counts, and
relabels its classes to match the point estimate by Hungarian matching on all
probabilities (Kuhn, "The Hungarian method for the assignment problem", 1955).
Standard errors and percentile intervals follow Efron & Tibshirani, *An
Introduction to the Bootstrap*, 1993.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError, KmixError
from ..params import DAG, BayesNetMixtureParams, CategoricalParams, check_weights, item_view
from ..solvers.bayesnet.fit import fit_bayesnet_mixture
from ..solvers.latent_class.fit import fit_latent_class
from ..solvers.linalg import best_permutation

__all__ = [
    "BayesNetBootstrap",
    "ProductBootstrap",
    "bootstrap_bayesnet",
    "bootstrap_latent_class",
]

FloatArray = NDArray[np.float64]
#: Refits allowed to fail (left out, with a warning) before the bootstrap gives up.
MAX_FAILED_SHARE = 0.1


def _resample(
    counts: FloatArray, n_draw: int, rng: np.random.Generator
) -> tuple[NDArray[np.bool_], FloatArray]:
    """Rows drawn at least once and their redrawn counts, on the scale of ``counts``."""
    total = float(counts.sum())
    draw = rng.multinomial(n_draw, counts / total).astype(np.float64) * (total / n_draw)
    rows = draw > 0
    return rows, draw[rows]


def _match(reference: FloatArray, estimate: FloatArray) -> NDArray[np.intp]:
    """Permutation of ``estimate``'s classes (rows) closest to ``reference``'s in L1."""
    return best_permutation(np.abs(reference[:, None, :] - estimate[None, :, :]).sum(axis=2))


@dataclass(frozen=True)
class ProductBootstrap:
    """Bootstrap replicates of a ProductMixture, classes aligned to the fit.

    Attributes
    ----------
    weights_se : ndarray of shape (k,)
    probs_se : ndarray or list of ndarray
        Same layout as ``probs_``.
    weights : ndarray of shape (n_boot, k)
    probs : list of ndarray of shape (n_boot, k, n_levels_j)
    """

    weights_se: FloatArray
    probs_se: Any
    weights: FloatArray
    probs: list[FloatArray]


def bootstrap_latent_class(
    values: FloatArray,
    counts: FloatArray,
    reference: CategoricalParams,
    settings: Mapping[str, Any],
    *,
    n_boot: int,
    rng: np.random.Generator,
) -> ProductBootstrap:
    """Refit :func:`~kmix.solvers.latent_class.fit.fit_latent_class` on ``n_boot`` resamples.

    Parameters
    ----------
    values, counts : ndarray
        Distinct coded rows and their frequencies.
    reference : CategoricalParams
        The point estimate the replicates' classes are matched to.
    settings : mapping
        Keyword arguments of ``fit_latent_class`` (``init``, ``n_init``, ...).
    n_boot : int
    rng : numpy Generator
    """
    n_levels = list(reference.n_levels)
    k = reference.n_components
    n_draw = max(round(float(counts.sum())), 1)
    ref = reference.flat()
    weights = np.empty((n_boot, k))
    probs = [np.empty((n_boot, k, d)) for d in n_levels]
    for b in range(n_boot):
        rows, draw = _resample(counts, n_draw, rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fit_latent_class(values[rows], draw, n_levels, k, rng=rng, **settings)
        perm = _match(ref, np.concatenate(res.probs, axis=1))
        weights[b] = check_weights(res.weights)[perm]
        for j, p in enumerate(res.probs):
            probs[j][b] = p[perm]
    return ProductBootstrap(
        weights_se=weights.std(axis=0, ddof=1),
        probs_se=item_view([p.std(axis=0, ddof=1) for p in probs]),
        weights=weights,
        probs=probs,
    )


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
        The fit the replicates are aligned to; its query methods evaluate
        each replicate through their ``params=`` argument.
    replicates : list of BayesNetMixtureParams
        One per resample, its sources permuted to match ``model``'s.
    """

    model: Any
    replicates: list[BayesNetMixtureParams]

    @staticmethod
    def _interval(draws: FloatArray, level: float) -> tuple[FloatArray, FloatArray]:
        if not 0.0 < float(level) < 1.0:
            raise DataError(f"level must be between 0 and 1 (e.g. 0.95); got {level!r}")
        a = (1.0 - float(level)) / 2.0
        n = draws.shape[0]
        if n * a < 1.0:
            need = int(np.ceil(1.0 / a))
            warnings.warn(
                f"a {100 * float(level):g}% percentile interval from {n} bootstrap replicate(s) "
                f"is only their range (fewer than one replicate lies beyond each bound); use at "
                f"least {need}, better {10 * need}, replicates",
                UserWarning,
                stacklevel=3,
            )
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
        draws = np.array([m.interventional(outcome, do, given, params=p) for p in self.replicates])
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
        kw = {"treated": treated, "control": control}
        draws = np.array([m.ate(treatment, outcome, **kw, params=p) for p in self.replicates])
        lo, hi = self._interval(draws, level)
        return float(m.ate(treatment, outcome, **kw)), float(lo), float(hi)

    def weights(self, *, level: float = 0.95) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(estimate, lower, upper)`` of the source shares."""
        draws = np.array([p.weights for p in self.replicates])
        lo, hi = self._interval(draws, level)
        return self.model.weights_, lo, hi


def bootstrap_bayesnet(
    values: NDArray[np.int64],
    counts: FloatArray,
    dag: DAG,
    reference: BayesNetMixtureParams,
    settings: Mapping[str, Any],
    *,
    n_boot: int,
    n_draw: int,
    rng: np.random.Generator,
    callback: Callable[[int, int], None] | None = None,
) -> list[BayesNetMixtureParams]:
    """Refit :func:`~kmix.solvers.bayesnet.fit.fit_bayesnet_mixture` on ``n_boot`` resamples.

    ``n_draw`` rows are redrawn each time (the rows the data had, whatever
    scale their weights were on). A refit that fails (e.g. a resample that
    empties a conditioned stratum) is left out with a warning, unless more
    than :data:`MAX_FAILED_SHARE` of them fail. ``callback(done, n_boot)``
    reports progress after every replicate.
    """
    n_levels = [int(c.shape[-1]) for c in reference.cpts]
    k = int(reference.weights.shape[0])
    ref = _flat(reference)
    out: list[BayesNetMixtureParams] = []
    failures: list[str] = []
    for b in range(n_boot):
        rows, draw = _resample(counts, n_draw, rng)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_bayesnet_mixture(
                    values[rows], draw, dag, n_levels, k, rng=rng, **settings
                )
        except KmixError as exc:
            failures.append(str(exc))
            if len(failures) > MAX_FAILED_SHARE * n_boot:
                raise KmixError(
                    f"{len(failures)} of {b + 1} bootstrap refits failed so far (first: "
                    f"{failures[0]}); the intervals would rest on the resamples that happen "
                    "to work. Use more data or fewer sources"
                ) from None
        else:
            out.append(fit.params.permute(_match(ref, _flat(fit.params))))
        if callback is not None:
            callback(b + 1, n_boot)
    if failures:
        warnings.warn(
            f"{len(failures)} of {n_boot} bootstrap refits failed and were left out (first: "
            f"{failures[0]})",
            UserWarning,
            stacklevel=3,
        )
    return out

"""What FiniteMixture borrows from the other rungs: identifiability conditions and starts.

Mixtures of bernoulli or categorical components are latent class models, and
one binomial feature is the k-coin problem; their identifiability conditions
and the latent class fit's start (which finds small classes that random starts
miss) apply to :class:`~kmix.FiniteMixture` as they are.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..params import BernoulliParams, CategoricalParams, ComponentParams
from ..solvers.latent_class.fit import fit_latent_class
from ..solvers.latent_class.identifiability import check_identifiability

__all__ = ["identifiability", "latent_class_start", "takes_latent_start"]

FloatArray = NDArray[np.float64]


def identifiability(
    family: str,
    k: int,
    n_features: int,
    n_levels: Sequence[int] | None,
    n_trials: Any,
) -> tuple[bool, str, int] | None:
    """``(ok, condition, most classes)`` for the families with a condition, else None.

    Bernoulli and categorical components are latent class models
    (:func:`~kmix.solvers.latent_class.identifiability.check_identifiability`);
    one binomial feature of ``t`` trials is the k-coin problem, identified by
    ``t >= 2k - 1`` (Teicher, "Identifiability of finite mixtures", Ann. Math.
    Statist. 34, 1963). Poisson and gaussian mixtures are identifiable
    (Teicher 1961; Yakowitz & Spragins 1968): None.
    """
    if family in ("bernoulli", "categorical"):
        levels = [2] * n_features if family == "bernoulli" else list(n_levels or [])
        ident = check_identifiability(levels, k)
        return ident.ok, ident.condition, ident.max_components
    if family == "binomial" and n_features == 1:
        t = int(np.max(n_trials))
        ok = t >= 2 * k - 1 or k == 1
        condition = (
            f"one binomial feature of {t} trials: t {'>=' if ok else '<'} 2k - 1 = {2 * k - 1}"
        )
        return ok, condition, max(1, (t + 1) // 2)
    return None


def takes_latent_start(family: str, init: str, given: bool) -> bool:
    """Whether ``init="auto"`` starts EM where the latent class fit ends (no start given)."""
    return family in ("bernoulli", "categorical") and init == "auto" and not given


def latent_class_start(
    family: str,
    values: FloatArray,
    counts: FloatArray,
    n_levels: Sequence[int] | None,
    k: int,
    *,
    rng: np.random.Generator,
    tol: float,
    max_iter: int,
) -> tuple[ComponentParams, FloatArray]:
    """The latent class fit of the distinct rows, as bernoulli or categorical parameters.

    :func:`~kmix.solvers.latent_class.fit.fit_latent_class`: the three-view
    moment start, more starts where the likelihood is flat or the fit leaves a
    two-way misfit, accelerated EM. Its answer is the maximum-likelihood fit
    with ``alpha = 1``; FiniteMixture's EM then only confirms it (or moves to
    the smoothed maximum).
    """
    levels = [2] * values.shape[1] if family == "bernoulli" else list(n_levels or [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FiniteMixture's EM reports on the fit it returns
        fit = fit_latent_class(values, counts, levels, k, rng=rng, tol=tol, max_iter=max_iter)
    if family == "bernoulli":
        p = np.stack([q[:, 1] for q in fit.probs], axis=1)
        return BernoulliParams(np.clip(p, 0.0, 1.0)), fit.weights
    # (EM's arithmetic leaves entries a rounding error outside [0, 1])
    probs = [np.clip(q, 0.0, 1.0) for q in fit.probs]
    return CategoricalParams(tuple(q / q.sum(axis=1, keepdims=True) for q in probs)), fit.weights

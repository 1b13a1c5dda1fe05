"""Bootstrap standard errors of a fitted ProductMixture, labels aligned to the fit."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.utils.validation import check_is_fitted

from ..solvers.linalg import best_permutation
from ..stats import compress_rows
from ._checks import check_int, rng_from
from .product import ProductMixture

__all__ = ["ProductBootstrap", "bootstrap"]

FloatArray = NDArray[np.float64]


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


def bootstrap(
    model: ProductMixture,
    X: Any,
    n_boot: int = 100,
    *,
    sample_weight: ArrayLike | None = None,
    random_state: Any = None,
) -> ProductBootstrap:
    """Bootstrap standard errors of the weights and probabilities.

    Each replicate resamples the rows (a multinomial draw over the
    distinct rows, the same as resampling rows with replacement), runs
    the whole pipeline again (moment step, then EM) with this model's
    settings, and relabels its classes to match this fit by Hungarian
    matching on all probabilities (Efron & Tibshirani, *An Introduction
    to the Bootstrap*, 1993).

    Parameters
    ----------
    model : ProductMixture
        A fitted model.
    X : array-like
        The data this model was fitted to.
    n_boot : int
        Replicates.
    sample_weight : array-like, optional
        As given to ``fit``.
    random_state : optional
        Seed of the resampling (default: the model's ``random_state``).

    Returns
    -------
    ProductBootstrap
    """
    check_is_fitted(model, "weights_")
    n_boot = check_int(n_boot, "n_boot", low=2)
    rng = rng_from(model.random_state if random_state is None else random_state)
    codes, keep = (
        model._encode(X, reset=False) if model.missing == "error" else model._encode_drop(X)
    )
    w_in = None
    if sample_weight is not None:
        w_in = np.asarray(sample_weight, dtype=np.float64).reshape(-1)[keep]
    values, counts, _ = compress_rows(codes, w_in)
    total = float(counts.sum())
    n_draw = max(round(total), 1)
    n_levels = [len(c) for c in model.categories_]
    k = int(model.weights_.shape[0])
    ref = np.concatenate(model._probs, axis=1)
    weights = np.empty((n_boot, k))
    probs = [np.empty((n_boot, k, d)) for d in n_levels]
    for b in range(n_boot):
        draw = rng.multinomial(n_draw, counts / total).astype(np.float64) * (total / n_draw)
        rows = draw > 0
        twin = ProductMixture(**model.get_params())
        twin.categories_ = model.categories_
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            twin._fit_counts(
                values[rows],
                draw[rows],
                n_levels,
                k,
                True,
                int(model.n_triples),
                float(model.tol),
                int(model.max_iter),
                rng,
            )
        est = np.concatenate(twin._probs, axis=1)
        perm = best_permutation(np.abs(ref[:, None, :] - est[None, :, :]).sum(axis=2))
        weights[b] = twin.weights_[perm]
        for j, p in enumerate(twin._probs):
            probs[j][b] = p[perm]
    probs_se = [p.std(axis=0, ddof=1) for p in probs]
    return ProductBootstrap(
        weights_se=weights.std(axis=0, ddof=1),
        probs_se=model._public(probs_se),
        weights=weights,
        probs=probs,
    )

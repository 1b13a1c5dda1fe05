"""Accuracy of a fitted mixture against a reference, after the best relabelling.

Mixture labels are arbitrary, so every comparison first matches estimated
components to reference components by the Hungarian method on the largest
absolute parameter difference, then reports errors under that matching.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .exceptions import DataError
from .params import ComponentParams, Mixture
from .solvers.linalg import best_permutation

__all__ = [
    "ParameterErrors",
    "align",
    "best_permutation",
    "parameter_errors",
    "transport_distance",
]


def _flat(params: ComponentParams) -> NDArray[np.float64]:
    return np.asarray(params.flat(), dtype=np.float64)


def align(reference: Mixture, estimate: Mixture) -> NDArray[np.intp]:
    """Permutation ``perm`` so that ``estimate.permute(perm)`` lines up with ``reference``.

    The cost of matching reference ``i`` to estimate ``j`` is the largest
    absolute difference between their parameter vectors.
    """
    if reference.n_components != estimate.n_components:
        raise DataError(
            f"cannot align mixtures with {reference.n_components} and "
            f"{estimate.n_components} components"
        )
    a, b = _flat(reference.params), _flat(estimate.params)
    if a.shape != b.shape:
        raise DataError(f"parameter shapes differ: {a.shape} and {b.shape}")
    cost = np.abs(a[:, None, :] - b[None, :, :]).max(axis=2)
    return best_permutation(cost)


@dataclass(frozen=True)
class ParameterErrors:
    """Errors of an estimate after the best permutation.

    Attributes
    ----------
    weights : float
        ``max_u |pi_u - pi_hat_sigma(u)|``.
    params : float
        Largest absolute difference over every component parameter.
    permutation : ndarray
        ``sigma``: estimate component matched to each reference component.
    """

    weights: float
    params: float
    permutation: NDArray[np.intp]


def parameter_errors(reference: Mixture, estimate: Mixture) -> ParameterErrors:
    """Max absolute weight and parameter errors after :func:`align`."""
    perm = align(reference, estimate)
    est = estimate.permute(perm)
    return ParameterErrors(
        weights=float(np.abs(reference.weights - est.weights).max()),
        params=float(np.abs(_flat(reference.params) - _flat(est.params)).max()),
        permutation=perm,
    )


def transport_distance(
    weights_a: ArrayLike, atoms_a: ArrayLike, weights_b: ArrayLike, atoms_b: ArrayLike
) -> float:
    r"""Earth-mover (Wasserstein-1) distance between two atomic measures on the line.

    .. math:: W_1(\mu, \nu) = \int |F_\mu(x) - F_\nu(x)| \, dx,

    computed exactly by merging the sorted atoms: between consecutive atoms
    the two CDFs are constant. This is the accuracy measure of Li, Rabani,
    Schulman & Swamy, "Learning arbitrary statistical mixtures of discrete
    distributions" (STOC 2015) for the k-coin problem; unlike per-coin
    errors it needs no matching and stays meaningful when coins coincide.
    Each measure is normalised to total mass 1.

    Examples
    --------
    >>> round(transport_distance([0.5, 0.5], [0.2, 0.8], [1.0], [0.5]), 12)
    0.3
    """
    wa, xa = np.asarray(weights_a, dtype=np.float64), np.asarray(atoms_a, dtype=np.float64)
    wb, xb = np.asarray(weights_b, dtype=np.float64), np.asarray(atoms_b, dtype=np.float64)
    for w, x, name in ((wa, xa, "a"), (wb, xb, "b")):
        if w.shape != x.shape or w.ndim != 1 or w.shape[0] == 0:
            raise DataError(f"measure {name}: weights and atoms must be 1-d of equal length")
        if np.any(w < 0) or w.sum() <= 0 or not np.all(np.isfinite(x)):
            raise DataError(f"measure {name}: weights must be >= 0 with a positive sum")
    x = np.concatenate([xa, xb])
    mass = np.concatenate([wa / wa.sum(), -wb / wb.sum()])
    order = np.argsort(x, kind="stable")
    diff_cdf = np.cumsum(mass[order])[:-1]
    gaps = np.diff(x[order])
    return float(np.abs(diff_cdf) @ gaps)

"""Accuracy of a fitted mixture against a reference, after the best relabelling.

Mixture labels are arbitrary, so every comparison first matches estimated
components to reference components by the Hungarian method on the largest
absolute parameter difference, then reports errors under that matching.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .exceptions import DataError
from .params import ComponentParams, Mixture
from .solvers.linalg import best_permutation

__all__ = ["ParameterErrors", "align", "parameter_errors"]


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

"""Small linear-algebra helpers shared by the solvers."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

__all__ = ["best_permutation", "project_simplex"]


def best_permutation(cost: NDArray[np.float64]) -> NDArray[np.intp]:
    """Assignment minimising the total cost (Hungarian method).

    Parameters
    ----------
    cost : ndarray of shape (k, k)
        ``cost[i, j]`` is the cost of matching reference component ``i`` with
        candidate component ``j``.

    Returns
    -------
    ndarray of shape (k,)
        ``perm`` such that candidate ``perm[i]`` is matched with reference ``i``
        (Kuhn, "The Hungarian method for the assignment problem", 1955).
    """
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(cost.shape[0], dtype=np.intp)
    perm[rows] = cols
    return perm


def project_simplex(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """Euclidean projection onto the probability simplex.

    Sort ``v`` descending into ``w``; with
    ``rho = max{r : w_r - (sum_{i<=r} w_i - 1)/r > 0}`` and
    ``tau = (sum_{i<=rho} w_i - 1)/rho``, the projection is ``max(v - tau, 0)``
    (Duchi, Shalev-Shwartz, Singer & Chandra, "Efficient projections onto the
    l1-ball for learning in high dimensions", ICML 2008).
    """
    w = np.sort(v)[::-1]
    css = np.cumsum(w) - 1.0
    r = np.arange(1, v.shape[0] + 1)
    rho = int(np.flatnonzero(w - css / r > 0)[-1]) + 1
    tau = css[rho - 1] / rho
    return np.maximum(v - tau, 0.0)

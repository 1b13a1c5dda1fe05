"""When do discrete variables identify a latent class model with ``k`` classes.

Binary variables: ``n >= 2k - 1`` suffices under separation (Gordon, Jahn,
Mazaheri, Rabani & Schulman 2024). Larger alphabets: split the variables
into three views with ``kappa_g`` joint states each; Kruskal's condition on
the three-way array, ``sum_g min(kappa_g, k) >= 2k + 2``, holds generically
(Kruskal 1977; Allman, Matias & Rhodes 2009, Theorem 4). Both are
sufficient conditions.

References
----------
J. B. Kruskal, "Three-way arrays: rank and uniqueness of trilinear
decompositions", Linear Algebra Appl. 18, 1977. E. S. Allman, C. Matias,
J. A. Rhodes, "Identifiability of parameters in latent structure models with
many observed variables", Ann. Statist. 37(6A), 2009. S. L. Gordon, E. Jahn,
B. Mazaheri, Y. Rabani, L. J. Schulman, "Identification of mixtures of
discrete product distributions in near-optimal sample and time complexity",
COLT 2024.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Identifiability", "check_identifiability"]


@dataclass(frozen=True)
class Identifiability:
    """Which identifiability condition the variables meet for ``k`` classes.

    Attributes
    ----------
    ok : bool
    condition : str
        The condition checked, with its numbers.
    max_components : int
        Largest ``k`` the same condition allows.
    """

    ok: bool
    condition: str
    max_components: int


def _kruskal_sum(n_levels: Sequence[int], k: int) -> tuple[int, list[int]]:
    """Best ``sum_g min(kappa_g, k)`` over three views (greedy), and the kappas."""
    kappas = [1, 1, 1]
    for d in sorted((int(v) for v in n_levels), reverse=True):
        # give the variable to the view that gains most (the one furthest below k)
        gains = [min(kap * d, k) - min(kap, k) for kap in kappas]
        g = int(np.argmax(gains))
        kappas[g] *= d
    return sum(min(kap, k) for kap in kappas), kappas


def check_identifiability(n_levels: Sequence[int], n_components: int) -> Identifiability:
    """The condition that makes ``k`` classes identifiable from these variables.

    Binary variables: ``n >= 2k - 1`` (necessary and sufficient under
    separation; Gordon et al. 2024). Otherwise the Kruskal-type condition on
    three views, ``sum_g min(kappa_g, k) >= 2k + 2`` with ``kappa_g`` the joint
    states of view ``g`` (Kruskal 1977; Allman, Matias & Rhodes 2009).
    """
    k = int(n_components)
    n = len(n_levels)
    if all(int(d) == 2 for d in n_levels):
        return Identifiability(
            n >= 2 * k - 1,
            f"binary variables: n = {n} {'>=' if n >= 2 * k - 1 else '<'} 2k - 1 = {2 * k - 1}",
            max(1, (n + 1) // 2),
        )
    best, kappas = _kruskal_sum(n_levels, k)
    largest = 1
    for cand in range(1, 64):
        if _kruskal_sum(n_levels, cand)[0] >= 2 * cand + 2:
            largest = cand
    ok = best >= 2 * k + 2 or k == 1
    return Identifiability(
        ok,
        f"three views with {kappas} joint states: sum min(kappa, k) = {best} "
        f"{'>=' if ok else '<'} 2k + 2 = {2 * k + 2}",
        largest,
    )

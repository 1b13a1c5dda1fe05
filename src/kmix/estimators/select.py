"""Choosing the number of classes.

* :func:`select_k_classes`: latent classes, from a rank test of a two-view
  table, with BIC beside it;
* :func:`select_k_coins` (defined with :class:`~kmix.CoinMixture`, which
  offers it as ``CoinMixture.select_k``): coins, from the Hankel spectrum.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..solvers.latent_class.identifiability import check_identifiability
from ..solvers.latent_class.ranktest import rank_test
from ..stats import compress_rows
from ..stats.tables import joint_table
from ._checks import check_int
from .coin import KSelection, select_k_coins
from .product import ProductMixture

__all__ = ["KSelection", "select_k_classes", "select_k_coins"]


def _rank_views(n_levels: list[int], need: int) -> tuple[list[int], list[int]]:
    """Two disjoint small column groups, each with at least ``need`` joint states.

    Small on purpose: the rank test's chi-square limit needs well-filled
    cells, and a 32 x 32 table of 5 + 5 binary items is already too sparse
    at N = 5e4 (its level drifts far above nominal).
    """
    groups: list[list[int]] = [[], []]
    order = sorted(range(len(n_levels)), key=lambda c: n_levels[c])
    pos = 0
    for g in range(2):
        states = 1
        while pos < len(order) and states < need:
            groups[g].append(order[pos])
            states *= n_levels[order[pos]]
            pos += 1
    return sorted(groups[0]), sorted(groups[1])


def select_k_classes(
    X: Any,
    *,
    max_components: int | None = None,
    alpha: float = 0.05,
    sample_weight: ArrayLike | None = None,
    random_state: Any = None,
) -> dict[str, Any]:
    """Number of latent classes from a rank test of ``P(X_A, X_B)``, with BIC beside it.

    Under ``k`` classes the joint table of two disjoint groups of variables
    has rank at most ``k``; the chi-square rank test
    (:func:`kmix.solvers.latent_class.ranktest.rank_test`; Ratsimalahelo 2001, correct for
    non-square tables) gives a p-value for "rank <= k" for each candidate,
    and BIC is computed for every ``k`` the variables identify.

    Returns
    -------
    dict
        ``table`` (one dict per k: ``k``, ``rank_p_value``, ``log_likelihood``,
        ``bic``), ``rank_k`` (smallest k the test does not reject at
        ``alpha``), ``bic_k`` and ``views`` (the two groups tested).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # one class: the levels of every column, checked as every fit checks them
        probe = ProductMixture(1).fit(X, sample_weight=sample_weight)
    codes, _ = probe.encode(X)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    values, counts, _ = compress_rows(codes, weights)
    n_levels = [len(c) for c in probe.categories_]
    top = check_identifiability(n_levels, 1).max_components
    if max_components is not None:
        top = check_int(max_components, "max_components", low=1)
    a, b = _rank_views(n_levels, top + 1)
    table = joint_table(values, counts, [a, b], n_levels, normalize=False)
    rows: list[dict[str, Any]] = []
    rank_k = None
    bics: dict[int, float] = {}
    for k in range(1, top + 1):
        test = rank_test(table, k)
        row: dict[str, Any] = {"k": k, "rank_p_value": test.p_value}
        if rank_k is None and test.p_value > alpha:
            rank_k = k
        if check_identifiability(n_levels, k).ok:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = ProductMixture(k, random_state=random_state).fit(
                    X, sample_weight=sample_weight
                )
            row.update(log_likelihood=model.log_likelihood_, bic=model.bic())
            bics[k] = model.bic()
        rows.append(row)
    bic_k = min(bics, key=lambda key: bics[key]) if bics else None
    return {"table": rows, "rank_k": rank_k, "bic_k": bic_k, "views": (a, b)}

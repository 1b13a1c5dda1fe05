"""Choosing the number of classes.

* :func:`select_k_classes`: latent classes, from a rank test of a two-view
  table, with BIC and the other fit statistics beside it;
* :func:`select_k_coins` (defined with :class:`~kmix.CoinMixture`, which
  offers it as ``CoinMixture.select_k``): coins, from the Hankel spectrum.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..exceptions import DataError
from ..solvers.latent_class.identifiability import check_identifiability
from ..solvers.latent_class.ranktest import PooledTable, RankTestResult, pool_sparse, rank_test
from ..stats import compress_rows
from ..stats.tables import joint_table
from ._checks import check_int, check_real
from .coin import KSelection, select_k_coins
from .fitstats import blrt, fit_statistics
from .product import ProductMixture

__all__ = ["DEFAULT_MAX_COMPONENTS", "KSelection", "select_k_classes", "select_k_coins"]

logger = logging.getLogger("kmix")
FloatArray = NDArray[np.float64]

#: Largest number of classes tried when ``max_components`` is not given (fewer when the
#: items identify fewer).
DEFAULT_MAX_COMPONENTS = 6
#: Cells of the two-view table before pooling: views stop growing past this size.
MAX_VIEW_CELLS = 1 << 16
#: Fields of :class:`~kmix.estimators.fitstats.FitStatistics` copied into each row.
FIT_FIELDS = (
    "log_likelihood",
    "n_parameters",
    "bic",
    "sabic",
    "caic",
    "aic",
    "entropy_r2",
    "g_squared",
    "chi_squared",
    "df",
)


def _effective_levels(values: FloatArray, counts: FloatArray, n_levels: list[int]) -> FloatArray:
    """``exp(entropy)`` of every column's level shares: how many well-filled levels it has."""
    out = np.empty(len(n_levels))
    total = float(counts.sum())
    for j, d in enumerate(n_levels):
        share = np.bincount(values[:, j].astype(np.int64), weights=counts, minlength=d) / total
        share = share[share > 0]
        out[j] = math.exp(-float(share @ np.log(share)))
    return out


def _pooled(
    values: FloatArray, counts: FloatArray, a: list[int], b: list[int], n_levels: list[int]
) -> PooledTable:
    return pool_sparse(joint_table(values, counts, [a, b], n_levels, normalize=False))


def _rank_views(
    values: FloatArray, counts: FloatArray, n_levels: list[int], need: int
) -> tuple[list[int], list[int], PooledTable]:
    """Two disjoint column groups whose pooled joint table has ``need`` rows and columns.

    Columns are taken fewest levels first (a column with dozens of levels,
    such as an age, would take the table's whole budget of well-filled
    cells for one view), and among equals the most evenly spread first (the
    largest effective number of levels), one to each view, then one at a
    time to the view whose pooled side is shorter, until both sides of the
    pooled table (:func:`~kmix.solvers.latent_class.ranktest.pool_sparse`)
    reach ``need``, or a column no longer lengthens it (the table would only
    grow sparser), or the table would pass :data:`MAX_VIEW_CELLS` cells. The
    choice reads the margins of each column alone, never the association
    between the views that the test measures.
    """
    spread = _effective_levels(values, counts, n_levels)
    order = sorted(range(len(n_levels)), key=lambda j: (n_levels[j], -spread[j], j))
    views = [[order[0]], [order[1]]]
    pooled = _pooled(values, counts, views[0], views[1], n_levels)
    for col in order[2:]:
        shape = pooled.counts.shape
        if min(shape) >= need:
            break
        side = 0 if shape[0] <= shape[1] else 1
        grown = [list(v) for v in views]
        grown[side].append(col)
        cells = math.prod(n_levels[c] for c in grown[0] + grown[1])
        if cells > MAX_VIEW_CELLS:
            break
        candidate = _pooled(values, counts, sorted(grown[0]), sorted(grown[1]), n_levels)
        if candidate.counts.shape[side] <= shape[side]:
            break
        views, pooled = grown, candidate
    return sorted(views[0]), sorted(views[1]), pooled


def _rank_choice(tests: list[RankTestResult], alpha: float) -> tuple[int | None, str | None]:
    """Smallest ``k`` not rejected, or None with the reason the tests cannot name one."""
    for test in tests:
        if test.reason is not None:
            last = test.rank - 1
            rejected = f"rejects every k up to {last}, and " if last >= 1 else ""
            return None, f"the rank test {rejected}cannot judge k >= {test.rank}: {test.reason}"
        if test.p_value > alpha:
            return test.rank, None
    top = tests[-1].rank if tests else 0
    return None, f"the rank test rejects every k up to {top} at {alpha:g}: more classes"


def _fit_row(
    k: int,
    X: Any,
    sample_weight: ArrayLike | None,
    random_state: Any,
    blrt_boot: int,
) -> dict[str, Any]:
    """Fit ``k`` classes; their fit statistics, time, warnings (and BLRT p-value)."""
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = ProductMixture(k, random_state=random_state).fit(X, sample_weight=sample_weight)
        stats = fit_statistics(model, X, sample_weight=sample_weight).as_dict()
        row: dict[str, Any] = {name: stats[name] for name in FIT_FIELDS}
        if blrt_boot and k >= 2:
            seed = random_state if isinstance(random_state, (int, np.integer)) else None
            test = blrt(model, X, n_boot=blrt_boot, sample_weight=sample_weight, random_state=seed)
            row["blrt_p_value"] = test.p_value
    row["seconds"] = time.perf_counter() - start
    row["warnings"] = list(dict.fromkeys(str(w.message) for w in caught))
    return row


def select_k_classes(
    X: Any,
    *,
    max_components: int | None = None,
    alpha: float = 0.05,
    sample_weight: ArrayLike | None = None,
    random_state: Any = None,
    patience: int | None = 2,
    blrt_boot: int = 0,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Number of latent classes from a rank test of ``P(X_A, X_B)``, with BIC beside it.

    Under ``k`` classes the joint table of two disjoint groups of variables
    has rank at most ``k``; the chi-square rank test
    (:func:`kmix.solvers.latent_class.ranktest.rank_test`; Ratsimalahelo
    2001, Robin and Smith 2000) gives a p-value for "rank <= k" for each
    candidate. A :class:`~kmix.estimators.ProductMixture` is fitted for
    each ``k = 1, 2, ...`` that the variables identify, with its fit
    statistics (:func:`kmix.estimators.fitstats.fit_statistics`: BIC, AIC,
    sample-size adjusted BIC, CAIC, entropy R-squared, G-squared and its
    degrees of freedom).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Integer codes or labels per column, as :class:`ProductMixture` takes.
    max_components : int, optional
        Largest ``k`` considered. Default: :data:`DEFAULT_MAX_COMPONENTS`
        (6), or fewer when the variables identify fewer classes
        (:func:`~kmix.solvers.latent_class.identifiability.check_identifiability`).
        A larger value is taken as given: the rank test still runs for
        every ``k``, the fits only where ``k`` is identified.
    alpha : float, default 0.05
        Level of each rank test.
    sample_weight : array-like of shape (n_samples,), optional
        Frequency weights.
    random_state : None, int or numpy Generator
        Of every fit (and of the bootstrap test).
    patience : int or None, default 2
        Stop fitting once BIC has risen this many times in a row: with 2,
        after ``k`` when ``BIC(k) > BIC(k - 1) > BIC(k - 2)``. None fits every
        identified ``k`` up to ``max_components``. The minimum so far is then
        the answer; a later, lower minimum would need BIC to turn down again
        after two rises, which the information criteria of latent class
        models rarely do (Nylund, Asparouhov and Muthén 2007 report BIC
        curves with one minimum).
    blrt_boot : int, default 0
        Bootstrap data sets of the likelihood-ratio test of ``k - 1``
        against ``k`` classes (McLachlan 1987;
        :func:`kmix.estimators.fitstats.blrt`) for every fitted ``k >= 2``:
        each costs two more fits. 0 does not run it.
    progress : callable, optional
        Called with each row of the table (a dict, see below) once its
        ``k`` is done.

    Returns
    -------
    dict
        ``table``: one dict per ``k`` in ``1 .. max_components``, with ``k``,
        ``rank_p_value`` (NaN when the table cannot judge ``k``),
        ``rank_statistic``, ``rank_df`` and ``rank_reason`` (None, or why the
        p-value is NaN); for every fitted ``k`` also ``log_likelihood``,
        ``n_parameters``, ``bic``, ``sabic``, ``caic``, ``aic``,
        ``entropy_r2``, ``g_squared``, ``chi_squared``, ``df`` (of
        ``g_squared``), ``seconds``, ``warnings`` (the fit's warning
        messages) and, with ``blrt_boot``, ``blrt_p_value``.
        ``rank_k``: smallest ``k`` the test does not reject at ``alpha``, or
        None; ``rank_reason``: why it is None (every testable ``k``
        rejected, or the table cannot judge larger ``k``). ``bic_k``: the
        ``k`` of least BIC among the fits (None without fits). ``views``:
        the two column groups of the table; ``table_shape`` and
        ``tested_shape``: its shape before and after pooling; ``stopped``:
        why the fits ended; ``alpha``: the tests' level.

    Notes
    -----
    The two views are chosen from the columns' margins only (their numbers
    of levels and how evenly their rows spread over them) and grown until the table, with its sparse
    rows and columns pooled by Cochran's rule
    (:func:`~kmix.solvers.latent_class.ranktest.pool_sparse`), has
    ``max_components + 1`` rows and columns, if the data allow. Pooling
    keeps the test valid (a pooled table of a rank-``k`` table has rank at
    most ``k``) but costs power; a ``k`` at or beyond the pooled table's
    smaller side cannot be judged, and its p-value is NaN. Progress goes to
    the ``kmix`` logger at INFO level, one line per ``k``.

    References
    ----------
    Z. Ratsimalahelo, "Strongly consistent determination of the rank of
    matrix", working paper, Université de Franche-Comté, 2001.
    J.-M. Robin and R. J. Smith, "Tests of rank", Econometric Theory 16(2),
    2000. G. Schwarz, "Estimating the dimension of a model", Ann. Statist.
    6(2), 1978. K. L. Nylund, T. Asparouhov and B. O. Muthén, "Deciding on
    the number of classes in latent class analysis and growth mixture
    modeling: a Monte Carlo simulation study", Structural Equation
    Modeling 14(4), 2007. G. J. McLachlan, "On bootstrapping the likelihood
    ratio test statistic for the number of components in a normal
    mixture", Applied Statistics 36(3), 1987.
    """
    alpha = check_real(alpha, "alpha", low=0.0, strict=True)
    if not alpha < 1.0:
        raise DataError(f"alpha must lie in (0, 1); got alpha={alpha!r}")
    rises_allowed = None if patience is None else check_int(patience, "patience", low=1)
    blrt_boot = check_int(blrt_boot, "blrt_boot", low=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # one class: the levels of every column, checked as every fit checks them
        probe = ProductMixture(1).fit(X, sample_weight=sample_weight)
    codes, keep = probe.encode(X)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    weights = None if weights is None else weights[keep]
    # the rank test reads the complete rows (the fits use every observed answer)
    full = np.all(codes >= 0, axis=1)
    values, counts, _ = compress_rows(codes[full], None if weights is None else weights[full])
    n_levels = [len(c) for c in probe.categories_]
    if max_components is None:
        bound = check_identifiability(n_levels, 1).max_components
        top = max(1, min(DEFAULT_MAX_COMPONENTS, bound))
    else:
        top = check_int(max_components, "max_components", low=1)
    rows: list[dict[str, Any]] = [{"k": k} for k in range(1, top + 1)]
    views: tuple[list[int], list[int]] = ([], [])
    table_shape = tested_shape = (0, 0)
    if len(n_levels) >= 2:
        a, b, pooled = _rank_views(values, counts, n_levels, top + 1)
        views = (a, b)
        table_shape = (math.prod(n_levels[c] for c in a), math.prod(n_levels[c] for c in b))
        tested_shape = (int(pooled.counts.shape[0]), int(pooled.counts.shape[1]))
        tests = [rank_test(pooled.counts, k, pool=False) for k in range(1, top + 1)]
        rank_k, rank_reason = _rank_choice(tests, alpha)
        for row, test in zip(rows, tests, strict=True):
            row.update(
                rank_p_value=test.p_value,
                rank_statistic=test.statistic,
                rank_df=test.df,
                rank_reason=test.reason,
            )
    else:
        rank_k = None
        rank_reason = "one column: the rank test needs two groups of columns"
        for row in rows:
            row.update(rank_p_value=math.nan, rank_statistic=math.nan, rank_df=0)
            row["rank_reason"] = rank_reason
    bics: dict[int, float] = {}
    rises = 0
    stopped = f"reached max_components = {top}"
    for row in rows:
        k = row["k"]
        if not check_identifiability(n_levels, k).ok:
            stopped = f"k = {k} is not identified by these columns"
            break
        row.update(_fit_row(k, X, sample_weight, random_state, blrt_boot))
        if k - 1 in bics:
            rises = rises + 1 if row["bic"] > bics[k - 1] else 0
        bics[k] = row["bic"]
        logger.info(
            "select_k_classes: k = %d, log-likelihood %.4f, BIC %.4f, rank-test p-value %.4g "
            "(%.2f s)",
            k,
            row["log_likelihood"],
            row["bic"],
            row["rank_p_value"],
            row["seconds"],
        )
        if progress is not None:
            progress(dict(row))
        if rises_allowed is not None and rises >= rises_allowed:
            stopped = f"BIC rose {rises} times in a row (patience = {rises_allowed})"
            break
    bic_k = min(bics, key=lambda key: bics[key]) if bics else None
    return {
        "table": rows,
        "rank_k": rank_k,
        "rank_reason": rank_reason,
        "alpha": alpha,
        "bic_k": bic_k,
        "views": views,
        "table_shape": table_shape,
        "tested_shape": tested_shape,
        "stopped": stopped,
    }

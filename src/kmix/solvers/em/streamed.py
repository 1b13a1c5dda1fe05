"""EM by passes: every iteration one map over the rows and one sum, for rows that stay on disk
or on a cluster.

EM for a mixture ``p(x) = sum_u pi_u f(x; theta_u)`` needs of the rows, per
iteration, only sums that add across any split of the rows (Dempster, Laird &
Rubin, "Maximum likelihood from incomplete data via the EM algorithm", JRSS-B
39, 1977): the log-likelihood ``sum_s log p(x_s)``, the expected counts
``n_u = sum_s r_su`` and the family's expected sufficient statistics (for
Gaussian components the weighted first and second moments). So an iteration is
a map over chunks (or over the partitions of a Dask frame) that returns a
:class:`PassSums`, a reduction that adds them, and the M-step on the total:
memory holds a few chunks however many rows there are, and the iterates are
those of EM over all the rows at once (up to the order of the additions).

The caller supplies the map and the reduction (``map_reduce``), so this module
knows nothing of files or clusters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ...exceptions import DataError
from ...params import ComponentParams
from .loop import log_mixture

__all__ = ["PassFamily", "PassSums", "StreamedEMResult", "em_by_passes", "pass_sums"]

logger = logging.getLogger("kmix")
FloatArray = NDArray[np.float64]


class PassFamily(Protocol):
    """What EM by passes needs from a component family."""

    def prepare(self, values: FloatArray, **context: Any) -> Any: ...

    def log_prob(self, prepared: Any, params: ComponentParams) -> FloatArray: ...

    def pass_sums(
        self, prepared: Any, resp_w: FloatArray, current: ComponentParams
    ) -> tuple[FloatArray, ...]: ...

    def m_step_from_sums(
        self, sums: tuple[FloatArray, ...], nk: FloatArray, current: ComponentParams
    ) -> ComponentParams: ...


@dataclass(frozen=True)
class PassSums:
    """What one pass over some rows gives EM; ``a + b`` is the pass over both row sets.

    Attributes
    ----------
    log_likelihood : float
        ``sum_s log p(x_s)`` over the rows.
    nk : ndarray of shape (k,)
        ``sum_s r_su``.
    sums : tuple of ndarray
        The family's additive statistics (``Family.pass_sums``).
    n_rows : int
    missing_cells : ndarray of shape (n_features,), optional
        Missing cells per column among rows a caller left out (None: none).
    """

    log_likelihood: float
    nk: FloatArray
    sums: tuple[FloatArray, ...]
    n_rows: int
    missing_cells: FloatArray | None = None

    def __add__(self, other: PassSums) -> PassSums:
        a, b = self.missing_cells, other.missing_cells
        return PassSums(
            self.log_likelihood + other.log_likelihood,
            self.nk + other.nk,
            tuple(x + y for x, y in zip(self.sums, other.sums, strict=True)),
            self.n_rows + other.n_rows,
            a if b is None else b if a is None else a + b,
        )


def pass_sums(
    family: PassFamily,
    weights: FloatArray,
    params: ComponentParams,
    values: FloatArray,
    offset: int = 0,
) -> PassSums:
    """The E-step over one chunk of rows (``offset``: its first row's position, for messages).

    Raises
    ------
    DataError
        A row has probability zero under every component (named by its position).
    """
    prepared = family.prepare(values)
    with np.errstate(divide="ignore"):
        lse, log_r = log_mixture(family.log_prob(prepared, params), np.log(weights))
    if not np.all(np.isfinite(lse)):
        row = offset + int(np.flatnonzero(~np.isfinite(lse))[0])
        raise DataError(f"row {row} has probability zero under every component")
    resp = np.exp(log_r)
    return PassSums(
        float(lse.sum()), resp.sum(axis=0), family.pass_sums(prepared, resp, params), len(lse)
    )


@dataclass(frozen=True)
class StreamedEMResult:
    """Outcome of :func:`em_by_passes`.

    Attributes
    ----------
    weights : ndarray of shape (k,)
    params : ComponentParams
    log_likelihood : float
        At the returned parameters.
    converged : bool
    n_iter : int
        M-steps taken (passes: ``n_iter + 1``).
    history : ndarray
        Log-likelihood at every pass.
    n_rows : int
        Rows of the last pass.
    missing_cells : ndarray, optional
        :attr:`PassSums.missing_cells` of the last pass.
    """

    weights: FloatArray
    params: ComponentParams
    log_likelihood: float
    converged: bool
    n_iter: int
    history: FloatArray = field(repr=False)
    n_rows: int = 0
    missing_cells: FloatArray | None = None


def em_by_passes(
    family: PassFamily,
    map_reduce: Callable[[Callable[[FloatArray, int], PassSums]], PassSums],
    weights: FloatArray,
    params: ComponentParams,
    *,
    tol: float = 1e-10,
    max_iter: int = 1000,
    callback: Callable[[int, float, FloatArray], None] | None = None,
) -> StreamedEMResult:
    """EM from ``(weights, params)``, one pass over the rows per iteration.

    Parameters
    ----------
    family : FamilyLike
        With ``pass_sums`` and ``m_step_from_sums`` (Gaussian components).
    map_reduce : callable
        ``map_reduce(fn)`` applies ``fn(values, offset)`` to every chunk of the
        rows and returns the sum of the results.
    weights, params
        The start.
    tol, max_iter
        The stopping rule of :func:`kmix.solvers.em.loop.run_em`: stop when
        the log-likelihood rises by at most ``tol * |log-likelihood|``, or
        after ``max_iter`` M-steps.
    callback : callable, optional
        ``callback(iteration, log_likelihood, weights)`` after every pass.

    Returns
    -------
    StreamedEMResult
    """
    history: list[float] = []
    n_iter, converged = 0, False
    total: PassSums | None = None
    while True:
        total = map_reduce(partial(pass_sums, family, weights, params))
        history.append(total.log_likelihood)
        logger.info("EM pass %d: log-likelihood %.6f", n_iter, total.log_likelihood)
        if callback is not None:
            callback(n_iter, total.log_likelihood, weights)
        if n_iter > 0 and history[-1] - history[-2] <= tol * abs(history[-1]):
            converged = True
            break
        if n_iter >= max_iter:
            break
        nk = total.nk
        if np.any(nk <= 1e-10 * total.n_rows):
            empty = np.flatnonzero(nk <= 1e-10 * total.n_rows).tolist()
            raise DataError(
                f"component(s) {empty} lost every row during EM; fewer components, or a "
                "start fitted to more rows, would avoid it"
            )
        weights = nk / nk.sum()
        params = family.m_step_from_sums(total.sums, nk, params)
        n_iter += 1
    return StreamedEMResult(
        weights,
        params,
        history[-1],
        converged,
        n_iter,
        np.asarray(history),
        total.n_rows,
        total.missing_cells,
    )

"""Generic local identifiability from the rank of a Jacobian.

A parametric model ``theta -> p(theta)`` (free parameters to the
probabilities of what is observed) is *locally identified* at ``theta`` when
no other parameter value in a neighbourhood gives the same observables. At a
regular point this holds exactly when the Jacobian ``J = dp / dtheta`` has
full column rank (Rothenberg, "Identification in parametric models",
Econometrica 39, 1971; for latent class models McHugh, "Efficient
estimation and local identification in latent class analysis",
Psychometrika 21, 1956, and Goodman, "Exploratory latent structure analysis
using both identifiable and unidentifiable models", Biometrika 61, 1974).

For a map that is polynomial (or analytic) in ``theta`` the rank of ``J`` is
the same at almost every point, its *generic rank*, and lower only on a
proper algebraic subset; this is how Allman, Matias & Rhodes ("Identifiability
of parameters in latent structure models with many observed variables", Ann.
Statist. 37, 2009) speak of generic identifiability. Hence

* full column rank at **one** random interior point proves generic local
  identifiability (the rank can only drop on a measure-zero set);
* a deficiency seen at **every** one of a few random points is structural:
  the generic rank is below the number of parameters and the model is not
  locally identified anywhere.

The numerical rank counts the singular values of the Jacobian, after each
column is scaled to unit length (the rank does not change; the scaling
removes the arbitrary units of the parameters), above ``rtol`` times the
largest. Rounding in an analytic or complex-step Jacobian is near
``1e-15`` relative, so :data:`RTOL_EXACT` leaves six orders of magnitude on
both sides; central differences carry errors near ``eps ** (2/3) ~ 4e-11``,
hence :data:`RTOL_CENTRAL`. The ratio of the last kept to the first dropped
singular value (the *gap*) says how clear the decision was.

Interface for any mixture
-------------------------
The caller supplies

* ``fun(theta) -> p``: a 1-D vector of free parameters to a 1-D vector of
  observables. Free parameters are coordinates of an open set: a probability
  vector on ``d`` states contributes its first ``d - 1`` entries (the last is
  one minus their sum), so the mixture weights give ``k - 1`` and every
  conditional probability table gives ``d - 1`` per parent configuration and
  component. The observables are the joint probabilities, or any functions
  of them, such as the low-order margins of a table too large to form: the
  Jacobian of a function of the joint is the product of two Jacobians, so
  full rank on margins proves full rank on the joint, while a deficiency on
  the margins proves nothing about the joint.
* ``sample(rng) -> theta``: a random interior point (for instance flat
  Dirichlet draws of every probability vector, with the last entry dropped).
* optionally ``jacobian(theta) -> J`` of shape ``(len(p), len(theta))``;
  otherwise central differences (any map) or the complex step (maps
  written with arithmetic only, no ``abs``, ``maximum`` or comparisons).

The mixtures of latent class models
(:mod:`kmix.solvers.latent_class.certificate`) use this with an analytic
Jacobian; a mixture of Bayesian networks maps the free entries of every
source's conditional probability tables and the weights to its joint table
or low-order margins in the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError

__all__ = [
    "RTOL_CENTRAL",
    "RTOL_EXACT",
    "LocalIdentifiability",
    "jacobian_at",
    "local_identifiability",
    "rank_of",
]

FloatArray = NDArray[np.float64]

#: Relative tolerance on the singular values of an analytic or complex-step Jacobian.
RTOL_EXACT = 1e-9
#: Relative tolerance for a Jacobian by central differences (truncation error ~ eps^(2/3)).
RTOL_CENTRAL = 1e-6
#: Points evaluated before a deficiency is called structural.
N_POINTS = 3

_METHODS = ("central", "complex-step")


@dataclass(frozen=True, eq=False)
class LocalIdentifiability:
    """Numerical rank of a Jacobian, at one point or the largest over random points.

    Attributes
    ----------
    rank : int
        Largest numerical rank seen (the generic rank when the points are random).
    n_parameters : int
        Columns of the Jacobian (free parameters).
    n_observables : int
        Rows of the Jacobian.
    singular_values : ndarray
        Singular values (descending) of the column-scaled Jacobian at the point
        that gave ``rank``.
    tolerance : float
        Absolute threshold on those singular values (``rtol`` times the largest).
    ranks : tuple of int
        Numerical rank at every point evaluated, in order.
    gaps : tuple of float
        At every point, the last kept singular value over the first dropped
        one (``inf`` at full rank): how clear the decision was.
    """

    rank: int
    n_parameters: int
    n_observables: int
    singular_values: FloatArray
    tolerance: float
    ranks: tuple[int, ...]
    gaps: tuple[float, ...]

    @property
    def identified(self) -> bool:
        """Full column rank: locally identified (generically, when the points were random)."""
        return self.rank == self.n_parameters

    @property
    def deficiency(self) -> int:
        """Parameters minus rank: directions along which the observables do not move."""
        return self.n_parameters - self.rank

    @property
    def min_gap(self) -> float:
        """The least clear of the rank decisions over the points evaluated."""
        return min(self.gaps)

    def __repr__(self) -> str:
        return (
            f"LocalIdentifiability(rank={self.rank}, n_parameters={self.n_parameters}, "
            f"n_observables={self.n_observables}, ranks={self.ranks})"
        )


def _check_rtol(rtol: float) -> float:
    if not (np.isfinite(rtol) and 0.0 < rtol < 1.0):
        raise DataError(f"rtol must be a number in (0, 1); got {rtol!r}")
    return float(rtol)


def _rank(jac: FloatArray, rtol: float) -> tuple[int, FloatArray, float, float]:
    """Numerical rank, singular values, threshold and gap of the column-scaled ``jac``."""
    if jac.ndim != 2 or not np.isfinite(jac).all():
        raise DataError(
            f"the Jacobian must be a finite 2-D array; got shape {jac.shape} "
            f"with {int((~np.isfinite(jac)).sum())} non-finite entries"
        )
    norms = np.linalg.norm(jac, axis=0)
    scaled = jac / np.where(norms > 0, norms, 1.0)
    s = np.linalg.svd(scaled, compute_uv=False)
    full = np.zeros(jac.shape[1])  # a wide Jacobian has fewer values than columns
    full[: s.shape[0]] = s
    top = float(full[0]) if full.size else 0.0
    tol = rtol * top
    rank = int((full > tol).sum()) if top > 0 else 0
    if rank == full.shape[0]:
        gap = np.inf
    elif rank == 0:
        gap = 0.0
    else:
        gap = float(full[rank - 1] / full[rank]) if full[rank] > 0 else np.inf
    return rank, full, tol, gap


def rank_of(jacobian: FloatArray, *, rtol: float = RTOL_EXACT) -> LocalIdentifiability:
    """Numerical rank of one Jacobian matrix (identifiability at that one point).

    Parameters
    ----------
    jacobian : ndarray of shape (n_observables, n_parameters)
    rtol : float
        Singular values of the column-scaled matrix at most ``rtol`` times the
        largest count as zero.

    Examples
    --------
    >>> rank_of(np.array([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]])).rank
    1
    """
    jac = np.asarray(jacobian, dtype=np.float64)
    rank, s, tol, gap = _rank(jac, _check_rtol(rtol))
    return LocalIdentifiability(rank, jac.shape[1], jac.shape[0], s, tol, (rank,), (gap,))


def jacobian_at(
    fun: Callable[[FloatArray], FloatArray],
    theta: FloatArray,
    *,
    method: str = "central",
) -> FloatArray:
    """Jacobian of ``fun`` at ``theta`` by central differences or the complex step.

    Central differences use ``h_i = eps^(1/3) max(1, |theta_i|)`` (error
    ``O(h^2)``, about ``eps^(2/3)``); the complex step
    ``Im f(theta + i h e_i) / h`` with ``h = 1e-20`` has no subtractive
    cancellation and is exact to rounding for maps written with arithmetic
    only (Squire & Trapp, "Using complex variables to estimate derivatives of
    real functions", SIAM Review 40, 1998).

    Parameters
    ----------
    fun : callable
        ``fun(theta) -> p``, 1-D in and out.
    theta : ndarray of shape (n_parameters,)
    method : {"central", "complex-step"}

    Returns
    -------
    ndarray of shape (n_observables, n_parameters)
    """
    if method not in _METHODS:
        raise DataError(f"method must be one of {list(_METHODS)}; got {method!r}")
    x = np.asarray(theta, dtype=np.float64).ravel()
    p = x.shape[0]
    cols: list[FloatArray] = []
    if method == "complex-step":
        h = 1e-20
        for i in range(p):
            z = x.astype(np.complex128)
            z[i] += 1j * h
            cols.append(np.asarray(fun(z)).ravel().imag / h)  # type: ignore[arg-type]
    else:
        step = np.finfo(np.float64).eps ** (1.0 / 3.0) * np.maximum(1.0, np.abs(x))
        for i in range(p):
            up, down = x.copy(), x.copy()
            up[i] += step[i]
            down[i] -= step[i]
            diff = np.asarray(fun(up), dtype=np.float64) - np.asarray(fun(down), dtype=np.float64)
            cols.append(diff.ravel() / (up[i] - down[i]))
    return np.stack(cols, axis=1) if cols else np.zeros((0, 0))


def local_identifiability(
    fun: Callable[[FloatArray], FloatArray] | None,
    sample: Callable[[np.random.Generator], FloatArray],
    *,
    rng: np.random.Generator,
    jacobian: Callable[[FloatArray], FloatArray] | None = None,
    method: str = "central",
    n_points: int = N_POINTS,
    rtol: float | None = None,
) -> LocalIdentifiability:
    """Generic rank of the Jacobian of ``fun``: the largest over random interior points.

    Evaluation stops at the first point of full column rank, which proves
    generic local identifiability (Rothenberg 1971; the rank of an analytic
    map's Jacobian drops only on a measure-zero set). When every one of the
    ``n_points`` points is deficient, the deficiency is structural.

    Parameters
    ----------
    fun : callable or None
        ``fun(theta) -> p`` (see the module docstring for the
        parameterisation); may be None when ``jacobian`` is given.
    sample : callable
        ``sample(rng) -> theta``, a random interior point.
    rng : numpy.random.Generator
    jacobian : callable, optional
        ``jacobian(theta) -> J`` of shape ``(n_observables, n_parameters)``;
        finite differences of ``fun`` (``method``) otherwise.
    method : {"central", "complex-step"}
        How ``J`` is approximated without ``jacobian``.
    n_points : int
        Most points evaluated.
    rtol : float, optional
        Relative tolerance on the singular values: :data:`RTOL_EXACT` for an
        analytic or complex-step Jacobian, :data:`RTOL_CENTRAL` for central
        differences, by default.

    Returns
    -------
    LocalIdentifiability

    Examples
    --------
    Two coins flipped once each cannot tell a mixture of two coins
    (3 parameters, 1 free cell):

    >>> def cells(t):
    ...     w, a, b = t
    ...     return np.array([w * a + (1 - w) * b, w * (1 - a) + (1 - w) * (1 - b)])
    >>> res = local_identifiability(
    ...     cells, lambda r: r.uniform(0.1, 0.9, 3), rng=np.random.default_rng(0))
    >>> res.rank, res.n_parameters, res.identified
    (1, 3, False)
    """
    if n_points < 1:
        raise DataError(f"n_points must be >= 1; got {n_points}")
    if jacobian is None and fun is None:
        raise DataError("give fun (differentiated numerically) or jacobian")
    if rtol is None:
        rtol = RTOL_CENTRAL if jacobian is None and method == "central" else RTOL_EXACT
    rtol = _check_rtol(rtol)
    best: tuple[int, FloatArray, float] | None = None
    ranks: list[int] = []
    gaps: list[float] = []
    shape = (0, 0)
    for _ in range(n_points):
        theta = np.asarray(sample(rng), dtype=np.float64)
        if jacobian is not None:
            jac = np.asarray(jacobian(theta), dtype=np.float64)
        else:
            assert fun is not None
            jac = jacobian_at(fun, theta, method=method)
        shape = jac.shape
        rank, s, tol, gap = _rank(jac, rtol)
        ranks.append(rank)
        gaps.append(gap)
        if best is None or rank > best[0]:
            best = (rank, s, tol)
        if rank == jac.shape[1]:
            break
    assert best is not None
    return LocalIdentifiability(
        best[0], shape[1], shape[0], best[1], best[2], tuple(ranks), tuple(gaps)
    )

"""The k-coin problem: a k-atom measure on [0, 1] from its first 2k - 1 moments.

Given moments of ``mu = sum_u pi_u delta_{p_u}``, the biases ``p_u`` are the
nodes and the weights ``pi_u`` the Christoffel weights of the k-point Gauss
quadrature of ``mu``; they come out of a symmetric generalised eigenproblem
(a Hankel pencil). In the monomial basis

.. math::
   H_0 = [m_{i+j}]_{i,j<k}, \\qquad H_1 = [m_{i+j+1}]_{i,j<k}, \\qquad
   H_1 x_u = p_u H_0 x_u, \\qquad \\pi_u = (x_u^\\top m_{0:k})^2
   \\ \\text{with}\\ x_u^\\top H_0 x_u = 1,

but ``H_0`` is exponentially ill-conditioned in ``k`` (a Hilbert-like
matrix). Writing ``y = 2p - 1`` and using the modified moments
``nu_j = E[T_j(y)]`` with ``T_j T_l = (T_{j+l} + T_{|j-l|}) / 2`` gives the
same pencil in the Chebyshev basis,

.. math::
   G_0[i,j] = \\tfrac12(\\nu_{i+j} + \\nu_{|i-j|}), \\qquad
   G_1[i,j] = \\tfrac14(\\nu_{i+j+1} + \\nu_{|i+j-1|} + \\nu_{|i-j|+1}
              + \\nu_{||i-j|-1|}),

whose condition number stays modest (about 12 instead of 4e7 at k = 6).
The vector ``(m_0, ..., m_{2k-1})`` is a moment vector of a measure on
[0, 1] iff the localising matrices ``G_0 + G_1`` (for ``1 + y >= 0``) and
``G_0 - G_1`` (for ``1 - y >= 0``) are positive semidefinite (the truncated
Hausdorff conditions); then, with ``G_0`` positive definite, the pencil's
nodes lie in [-1, 1] and its weights on the simplex. Noisy moments that
fail the conditions are projected back onto the moment space: every point of
the order-(2k-1) moment space is the moment vector of a measure with at most
k atoms, so the projection is a weighted least-squares fit over k-atom
measures (solved from several starts).

References
----------
G. H. Golub and J. H. Welsch, "Calculation of Gauss quadrature rules",
Math. Comp. 23, 1969.
Y. Rabani, L. J. Schulman, C. Swamy, "Learning mixtures of arbitrary
distributions over large discrete domains", ITCS 2014.
S. L. Gordon, B. Mazaheri, Y. Rabani, L. J. Schulman, "The sparse Hausdorff
moment problem, with application to topic models", arXiv:2007.08101, 2020.
Y. Wu and P. Yang, "Optimal estimation of Gaussian mixtures via denoised
method of moments", Ann. Statist. 48(4), 2020 (denoising by projection).
M. G. Krein and A. A. Nudelman, "The Markov moment problem and extremal
problems", AMS, 1977 (moment-space conditions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.polynomial import chebyshev as C
from numpy.typing import NDArray
from scipy import linalg, optimize

from ...exceptions import DataError, IdentifiabilityError
from ...params import check_weights
from ..linalg import project_simplex

__all__ = [
    "METHODS",
    "HankelRow",
    "KCoinResult",
    "MomentsLike",
    "chebyshev_hankel",
    "fit_kcoin",
    "hankel_test",
    "hausdorff_margin",
    "polish_binomial_mle",
    "supported_components",
]

FloatArray = NDArray[np.float64]
METHODS = ("chebyshev", "monomial", "prony")
#: nodes this far outside [0, 1] are rounding, anything more is invalid moments
NODE_TOL = 1e-9
#: default significance (in standard errors) for a Hankel eigenvalue to count
Z_SUPPORT = 3.0


class MomentsLike(Protocol):
    """What the solvers read from :class:`kmix.stats.CoinMoments`."""

    @property
    def chebyshev(self) -> FloatArray: ...

    @property
    def monomial(self) -> FloatArray: ...

    @property
    def covariance(self) -> FloatArray | None: ...


class _Invalid(Exception):
    """The moments do not determine a valid k-atom measure by this method."""


@dataclass(frozen=True)
class KCoinResult:
    """Outcome of :func:`fit_kcoin`.

    Attributes
    ----------
    weights : ndarray of shape (k,)
        On the simplex, ordered like ``biases``.
    biases : ndarray of shape (k,)
        In [0, 1], ascending.
    method : str
    valid : bool
        The moments lay inside the moment space and the method solved them
        directly; False means the answer is a projection (``denoised``).
    denoised : bool
    condition_number : float
        Of the Hankel matrix the method used (``G_0``, or ``H_0`` for the
        monomial methods); ``inf`` when it is singular.
    misfit : float
        Whitened residual norm between the moments of the answer and the
        input moments (orders 1..2k-1); about 0 when ``valid``.
    """

    weights: FloatArray
    biases: FloatArray
    method: str
    valid: bool
    denoised: bool
    condition_number: float
    misfit: float


def chebyshev_hankel(nu: FloatArray, k: int) -> tuple[FloatArray, FloatArray]:
    """``(G_0, G_1)``, the k x k Chebyshev Hankel pair; needs ``nu_0..nu_{2k-1}``.

    ``G_1`` is only formed when ``nu_{2k-1}`` is available (else zeros).
    """
    i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    G0 = 0.5 * (nu[i + j] + nu[np.abs(i - j)])
    if nu.shape[0] < 2 * k:
        return G0, np.zeros_like(G0)
    d = np.abs(i - j)
    G1 = 0.25 * (nu[i + j + 1] + nu[np.abs(i + j - 1)] + nu[d + 1] + nu[np.abs(d - 1)])
    return G0, G1


def _chebyshev_gradient(k: int, order: int) -> NDArray[np.float64]:
    """``dG_0 / d nu_l`` as an array of shape (order + 1, k, k)."""
    out = np.zeros((order + 1, k, k))
    for a in range(k):
        for b in range(k):
            out[a + b, a, b] += 0.5
            out[abs(a - b), a, b] += 0.5
    return out


def hausdorff_margin(nu: FloatArray, k: int) -> float:
    """Smallest eigenvalue of ``G_0 +- G_1``, relative to ``||G_0||``.

    Non-negative (up to rounding) iff ``nu_0..nu_{2k-1}`` are moments of a
    measure on [-1, 1], i.e. ``m_0..m_{2k-1}`` of a measure on [0, 1].
    """
    G0, G1 = chebyshev_hankel(nu, k)
    scale = float(np.abs(linalg.eigvalsh(G0)).max())
    lo = min(float(linalg.eigvalsh(G0 + G1)[0]), float(linalg.eigvalsh(G0 - G1)[0]))
    return lo / scale if scale > 0 else -np.inf


def _cond(A: FloatArray) -> float:
    ev = np.abs(linalg.eigvalsh(A))
    return float(ev.max() / ev.min()) if ev.min() > 0 else float("inf")


def _gauss(A0: FloatArray, A1: FloatArray, first_col: FloatArray) -> tuple[FloatArray, ...]:
    """Nodes and weights of the symmetric pencil ``A1 x = lambda A0 x``."""
    try:
        nodes, X = linalg.eigh(A1, A0)
    except linalg.LinAlgError as exc:  # A0 not positive definite
        raise _Invalid("the Hankel matrix is not positive definite") from exc
    weights = (X.T @ first_col) ** 2
    return nodes, weights


def _pencil_chebyshev(nu: FloatArray, k: int) -> tuple[FloatArray, FloatArray, float]:
    G0, G1 = chebyshev_hankel(nu, k)
    y, w = _gauss(G0, G1, nu[:k])
    cond = _cond(G0)
    if np.any(np.abs(y) > 1.0 + 2.0 * NODE_TOL):
        raise _Invalid(f"nodes {np.round((y + 1) / 2, 6)} leave [0, 1]")
    return np.clip((y + 1.0) / 2.0, 0.0, 1.0), w / w.sum(), cond


def _pencil_monomial(m: FloatArray, k: int) -> tuple[FloatArray, FloatArray, float]:
    i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    H0, H1 = m[i + j], m[i + j + 1]
    p, w = _gauss(H0, H1, m[:k])
    if np.any((p < -NODE_TOL) | (p > 1.0 + NODE_TOL)):
        raise _Invalid(f"nodes {np.round(p, 6)} leave [0, 1]")
    return np.clip(p, 0.0, 1.0), w / w.sum(), _cond(H0)


def _vandermonde_weights(p: FloatArray, m: FloatArray) -> FloatArray:
    """Weights fitting ``sum_u pi_u p_u^j = m_j`` (j < 2k) by NNLS, then the simplex."""
    n = 2 * p.shape[0]
    V = np.vander(p, n, increasing=True).T
    V[0] *= 1e3  # hold sum(pi) = 1 firmly
    rhs = m[:n].copy()
    rhs[0] *= 1e3
    w, _ = optimize.nnls(V, rhs)
    return project_simplex(w)


def _prony(m: FloatArray, k: int) -> tuple[FloatArray, FloatArray, float]:
    i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    H0 = m[i + j]
    try:
        c = linalg.solve(H0, -m[k : 2 * k], assume_a="sym")
    except (linalg.LinAlgError, ValueError) as exc:
        raise _Invalid("the Hankel system is singular") from exc
    roots = np.roots(np.concatenate([[1.0], c[::-1]]))
    if np.any(np.abs(roots.imag) > 1e-6):
        raise _Invalid("the Prony polynomial has complex roots")
    p = roots.real
    if np.any((p < -1e-6) | (p > 1.0 + 1e-6)):
        raise _Invalid(f"Prony roots {np.round(p, 6)} leave [0, 1]")
    p = np.clip(p, 0.0, 1.0)
    return p, _vandermonde_weights(p, m), _cond(H0)


def _whitener(cov: FloatArray | None, order: int) -> FloatArray:
    """Matrix ``W`` with ``W^T W`` = inverse covariance of ``nu_1..nu_order``."""
    if cov is None:
        return np.eye(order)
    S = cov[1 : order + 1, 1 : order + 1]
    vals, vecs = linalg.eigh(S)
    top = float(vals.max())
    if not top > 0:  # no sampling variation at all (e.g. every trial all tails)
        return np.eye(order)
    # directions with (almost) no variance get the precision of the best-known ones
    return (vecs / np.sqrt(np.maximum(vals, 1e-10 * top))).T


def _project(
    nu: FloatArray,
    k: int,
    W: FloatArray,
    starts: list[tuple[FloatArray, FloatArray]],
) -> tuple[FloatArray, FloatArray, float]:
    """Weighted least squares over k-atom measures: the projection onto the moment space."""
    order = 2 * k - 1
    target = nu[1 : order + 1]

    # derivative of T_j, as Chebyshev coefficients: T_j'(y) = chebvander(y) @ D[j]
    D = np.zeros((order + 1, order + 1))
    for j in range(1, order + 1):
        d = C.chebder(np.eye(order + 1)[j])
        D[j, : d.shape[0]] = d

    def parts(theta: FloatArray) -> tuple[FloatArray, FloatArray, float]:
        p, w = theta[:k], theta[k:]
        total = float(w.sum())
        pi = w / total if total > 0 else np.full(k, 1.0 / k)
        return np.asarray(C.chebvander(2.0 * p - 1.0, order)), pi, total

    def resid(theta: FloatArray) -> FloatArray:
        V, pi, total = parts(theta)
        return np.concatenate([W @ (V[:, 1:].T @ pi - target), [total - 1.0]])

    def jac(theta: FloatArray) -> FloatArray:
        V, pi, total = parts(theta)
        dV = (V @ D.T)[:, 1:]  # T_j'(y_u), j = 1..order
        J = np.zeros((order + 1, 2 * k))
        J[:order, :k] = W @ (2.0 * dV.T * pi[None, :])
        fitted = V[:, 1:].T @ pi
        J[:order, k:] = W @ ((V[:, 1:].T - fitted[:, None]) / max(total, 1e-300))
        J[order, k:] = 1.0
        return J

    lower = np.zeros(2 * k)
    upper = np.concatenate([np.ones(k), np.full(k, np.inf)])
    best: tuple[float, FloatArray] | None = None
    for p0, w0 in starts:
        x0 = np.concatenate([np.clip(p0, 0.0, 1.0), np.clip(w0, 1e-6, None)])
        x0[k:] /= x0[k:].sum()
        sol = optimize.least_squares(
            resid,
            x0,
            jac=jac,
            bounds=(lower, upper),
            method="trf",
            xtol=1e-12,
            ftol=1e-12,
            gtol=1e-12,
            max_nfev=30 * k,
        )
        cost = float(np.linalg.norm(sol.fun[:-1]))
        if best is None or cost < best[0]:
            best = (cost, sol.x)
    assert best is not None
    p, w = best[1][:k], best[1][k:]
    return p, w / w.sum(), best[0]


def _grid_projection(nu: FloatArray, k: int, W: FloatArray, n_grid: int) -> FloatArray:
    """Moments of the nearest measure supported on a grid: a convex NNLS problem.

    The moment space is convex and every point of it is the moment vector of
    some measure, so ``min_{pi >= 0} ||W (V^T pi - nu)||`` over measures on a
    fine grid lands (up to the grid's resolution) on the projection; the
    answer is sparse, and its moments are a valid input for the Gauss rule.
    """
    order = 2 * k - 1
    grid = np.linspace(-1.0, 1.0, n_grid)
    V = C.chebvander(grid, order)
    heavy = 1e3 * max(float(np.abs(W).max()), 1.0)
    A = np.vstack([W @ V[:, 1:].T, heavy * np.ones((1, n_grid))])
    b = np.concatenate([W @ nu[1 : order + 1], [heavy]])
    pi, _ = optimize.nnls(A, b, maxiter=50 * n_grid)
    pi /= pi.sum()
    return V.T @ pi


def _starts(
    nu: FloatArray, k: int, W: FloatArray, rng: np.random.Generator, n_random: int
) -> list[tuple[FloatArray, FloatArray]]:
    """Starting measures for the projection.

    The Gauss rule of the grid projection's moments (or the largest rule
    they support, padded with light atoms), then a few random measures.
    """
    starts = []
    proj = _grid_projection(nu, k, W, n_grid=max(400, 100 * k))
    for size in range(k, 0, -1):
        try:
            p, w, _ = _pencil_chebyshev(proj, size)
        except _Invalid:
            continue
        extra = k - size
        if extra:
            p = np.concatenate([p, rng.uniform(0.0, 1.0, extra)])
            w = np.concatenate([w * (1.0 - 0.01 * extra), np.full(extra, 0.01)])
        starts.append((p, w))
        break
    for _ in range(n_random if starts else max(n_random, 3)):
        starts.append((np.sort(rng.uniform(0.0, 1.0, k)), rng.dirichlet(np.ones(k))))
    return starts


def _chebyshev_misfit(nu: FloatArray, k: int, W: FloatArray, p: FloatArray, w: FloatArray) -> float:
    order = 2 * k - 1
    fitted = C.chebvander(2.0 * p - 1.0, order)[:, 1:].T @ w
    return float(np.linalg.norm(W @ (fitted - nu[1 : order + 1])))


def check_identifiable(order: int, n_components: int) -> None:
    """Raise :class:`IdentifiabilityError` unless ``2k - 1`` moments are available."""
    need = 2 * n_components - 1
    if order < need:
        supported = (order + 1) // 2
        raise IdentifiabilityError(
            f"{n_components} coins need at least 2k-1 = {need} flips per trial "
            f"(moments up to order {need}); the data have at most {order}, which "
            f"identifies at most {supported} coin(s). Use n_components <= {supported} "
            "or collect more flips per trial"
        )


def fit_kcoin(
    moments: MomentsLike,
    n_components: int,
    *,
    method: str = "chebyshev",
    denoise: bool = True,
    n_random_starts: int = 0,
    rng: np.random.Generator | None = None,
) -> KCoinResult:
    """Biases and weights of k coins from the moments of their head counts.

    Parameters
    ----------
    moments : kmix.stats.CoinMoments
        Moments up to order at least ``2k - 1`` (with their covariance when
        estimated from data).
    n_components : int
        ``k``, the number of coins.
    method : {"chebyshev", "monomial", "prony"}
        ``"chebyshev"``: symmetric Hankel pencil in the Chebyshev basis
        (stable; default). ``"monomial"``: the same pencil on monomial
        moments. ``"prony"``: roots of the monomial Prony polynomial with
        Vandermonde least-squares weights, the classical and least stable
        route, kept for comparison.
    denoise : bool, default True
        When the moments lie outside the moment space (or the method fails
        on them), project them onto it by weighted least squares over
        k-atom measures. With False such moments raise :class:`DataError`.
    n_random_starts : int
        Random starts of the projection besides the Gauss rule of the grid
        projection (at least 3 are used when that rule cannot be formed).
    rng : numpy.random.Generator, optional
        For the random starts of the projection.

    Returns
    -------
    KCoinResult
        Always a valid mixture: biases in [0, 1], weights on the simplex.
    """
    nu = np.asarray(moments.chebyshev, dtype=np.float64)
    m = np.asarray(moments.monomial, dtype=np.float64)
    cov = moments.covariance
    if method not in METHODS:
        raise DataError(f"method={method!r} is not valid; choose one of {METHODS}")
    k = int(n_components)
    if k < 1:
        raise DataError(f"n_components must be >= 1; got {n_components}")
    check_identifiable(nu.shape[0] - 1, k)
    order = 2 * k - 1
    W = _whitener(cov, order)
    solve = {"chebyshev": _pencil_chebyshev, "monomial": _pencil_monomial, "prony": _prony}[method]
    source = nu if method == "chebyshev" else m
    try:
        p, w, cond = solve(source, k)
    except _Invalid as exc:
        if not denoise:
            raise DataError(
                f"the moments lie outside the moment space of {k}-atom measures on [0, 1] "
                f"({exc}); pass denoise=True to project them onto it"
            ) from None
    else:
        order_idx = np.argsort(p, kind="stable")
        p, w = p[order_idx], check_weights(w[order_idx])
        misfit = _chebyshev_misfit(nu, k, W, p, w)
        return KCoinResult(w, p, method, True, False, cond, misfit)
    cond = _cond(chebyshev_hankel(nu, k)[0])
    rng = np.random.default_rng(0) if rng is None else rng
    p, w, misfit = _project(nu, k, W, _starts(nu, k, W, rng, n_random_starts))
    order_idx = np.argsort(p, kind="stable")
    p, w = np.clip(p[order_idx], 0.0, 1.0), project_simplex(w[order_idx])
    return KCoinResult(w, p, method, False, True, cond, misfit)


@dataclass(frozen=True)
class HankelRow:
    """Evidence for at least ``size`` distinct biases (one row of :func:`hankel_test`).

    Attributes
    ----------
    size : int
        Order of the Chebyshev Hankel matrix ``G_0`` (uses ``nu_0..nu_{2 size - 2}``).
    smallest_eigenvalue, std_error : float
        Smallest eigenvalue of ``G_0`` and its first-order standard error.
    z : float
        ``smallest_eigenvalue / std_error``; large when the measure has at
        least ``size`` atoms, about N(0, 1) when it has fewer.
    determinant, determinant_std_error : float
        ``det G_0`` (exactly 0 for a measure with fewer atoms) and its
        first-order standard error.
    """

    size: int
    smallest_eigenvalue: float
    std_error: float
    z: float
    determinant: float
    determinant_std_error: float


def hankel_test(moments: MomentsLike, max_size: int | None = None) -> list[HankelRow]:
    """Singular-value evidence for the number of distinct biases.

    A measure with exactly ``k`` atoms has ``G_0`` of size ``k`` positive
    definite and of size ``k + 1`` singular. For each size the smallest
    eigenvalue is compared with its noise level, from the delta method:
    with ``v`` its unit eigenvector, ``d lambda = sum_l (v^T dG_0/d nu_l v) d nu_l``.
    """
    nu = np.asarray(moments.chebyshev, dtype=np.float64)
    cov = moments.covariance
    top = nu.shape[0] // 2 + 1 if max_size is None else int(max_size)
    top = min(top, (nu.shape[0] - 1) // 2 + 1)
    rows = []
    for size in range(1, top + 1):
        G0 = chebyshev_hankel(nu, size)[0]
        vals, vecs = linalg.eigh(G0)
        grad = _chebyshev_gradient(size, nu.shape[0] - 1)
        # gradient of each eigenvalue with respect to nu
        g_eig = np.einsum("lab,ai,bi->il", grad, vecs, vecs)
        others = np.array([np.prod(np.delete(vals, i)) for i in range(size)])
        g_det = others @ g_eig
        floor = 1e-13 * max(float(np.abs(vals).max()), 1e-300)
        if cov is None:
            se, det_se = floor, floor * float(np.abs(others).max())
        else:
            se = float(np.sqrt(max(g_eig[0] @ cov @ g_eig[0], 0.0))) + floor
            det_se = float(np.sqrt(max(g_det @ cov @ g_det, 0.0)))
        if size == 1:  # G_0 = [nu_0] = [1] exactly: one atom is always supported
            se, det_se = 0.0, 0.0
        rows.append(
            HankelRow(
                size=size,
                smallest_eigenvalue=float(vals[0]),
                std_error=se,
                z=float(vals[0]) / se if se > 0 else float("inf"),
                determinant=float(np.prod(vals)),
                determinant_std_error=det_se,
            )
        )
    return rows


def supported_components(rows: list[HankelRow], z: float = Z_SUPPORT) -> int:
    """Largest ``k`` whose Hankel matrices of sizes 1..k are all significant."""
    k = 0
    for row in rows:
        if row.z <= z:
            break
        k = row.size
    return max(k, 1)


def polish_binomial_mle(
    heads: FloatArray,
    trials: FloatArray,
    counts: FloatArray,
    weights: FloatArray,
    biases: FloatArray,
    *,
    max_iter: int = 10_000,
) -> tuple[FloatArray, FloatArray, float, bool]:
    """Finish a binomial-mixture fit by quasi-Newton ascent (L-BFGS-B).

    EM converges linearly, and crawls where coins overlap; on the histogram
    of ``(h, t)`` pairs the log-likelihood

    .. math:: \\ell(\\pi, p) = \\sum_s c_s \\log \\sum_u \\pi_u p_u^{h_s} (1 - p_u)^{t_s - h_s}

    (without the constant binomial coefficients) has only ``2k`` variables,
    so a quasi-Newton method reaches the optimum to rounding in a few dozen
    steps. Variables are ``p`` in ``[0, 1]`` and unnormalised weights
    ``w >= 0`` (``pi = w / sum w``). Returns ``(weights, biases, gain,
    success)``: the start comes back unchanged (gain 0) unless the
    likelihood rises; ``success`` says the optimiser met its tolerance.
    """
    h, f, c = heads[:, None], (trials - heads)[:, None], counts
    k = biases.shape[0]
    eps = 1e-15

    def neg(theta: FloatArray) -> tuple[float, FloatArray]:
        p, w = theta[:k], theta[k:]
        total = w.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            logf = h * np.log(p)[None, :] + f * np.log1p(-p)[None, :]
        logf = np.where((h == 0) & (p[None, :] == 0), 0.0, logf)
        top = logf.max(axis=1, keepdims=True)
        fu = np.exp(logf - top)
        mix = fu @ w
        ll = float(c @ (np.log(mix / total) + top[:, 0]))
        r = fu * (c / mix)[:, None]  # c_s f_u / (f . w)
        g_w = r.sum(axis=0) - c.sum() / total
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(h > 0, h / p, 0.0) - np.where(f > 0, f / (1.0 - p), 0.0)
        g_p = w * (r * score).sum(axis=0)
        return -ll, -np.concatenate([g_p, g_w])

    x0 = np.concatenate([np.clip(biases, eps, 1.0 - eps), np.maximum(weights, 0.0)])
    start, _ = neg(x0)
    bounds = [(eps, 1.0 - eps)] * k + [(0.0, None)] * k
    sol = optimize.minimize(
        neg,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iter, "ftol": 1e-15, "gtol": 1e-12},
    )
    if not np.isfinite(sol.fun) or sol.fun >= start:
        return weights, biases, 0.0, bool(sol.success)
    w = sol.x[k:] / sol.x[k:].sum()
    return check_weights(w), np.clip(sol.x[:k], 0.0, 1.0), float(start - sol.fun), bool(sol.success)

"""Mixtures of product distributions (latent class models) by the three-view tensor method.

Variables ``X_1..X_n`` are independent given a hidden ``U`` with ``k``
values. Split the variables into two views ``A`` and ``B`` and a pivot
``c``; their joint table is a rank-``k`` tensor

.. math::
   T[a, b, c] = P(X_A = a, X_B = b, X_c = c)
              = \\sum_u \\pi_u\\, \\mathbf a_u \\otimes \\mathbf b_u \\otimes \\mathbf c_u,
   \\qquad \\mathbf a_u = P(X_A = \\cdot \\mid u),

because ``X_A``, ``X_B`` and ``X_c`` are independent given ``u``. With the
truncated SVD ``M = \\sum_c T[:, :, c] = U_k S_k V_k^T`` the whitened slices

.. math::
   W_c = S_k^{-1/2} U_k^\\top T[:, :, c]\\, V_k S_k^{-1/2} = Q\\, \\mathrm{diag}(C[c, :])\\, Q^{-1}

share the eigenvectors ``Q`` (Jennrich's simultaneous diagonalisation): the
eigenvectors of one random contraction ``sum_c theta_c W_c`` diagonalise
every slice, and the diagonals give ``P(X_c = c | u)``. The same ``Q``
reads out every other variable ``l`` from ``P(X_A, X_B, X_l)``, so all
variables come out in one labelling; ``U_k S_k^{1/2} Q`` and
``V_k S_k^{1/2} Q^{-T}`` give the views' own distributions and ``pi``. The
answer is exact on population tables: there are no local optima.

Identifiability (Gordon, Mazaheri, Rabani & Schulman): with binary variables
``n >= 2k - 1`` suffices under separation; views of ``k - 1`` separated
binary variables have full column rank. With larger alphabets a view needs
only ``k`` joint states generically (Kruskal; Allman, Matias & Rhodes), so
fewer variables suffice.

References
----------
R. A. Harshman, "Foundations of the PARAFAC procedure", 1970 (Jennrich's
algorithm). J. B. Kruskal, "Three-way arrays: rank and uniqueness of trilinear
decompositions", Linear Algebra Appl. 18, 1977. E. S. Allman, C. Matias,
J. A. Rhodes, "Identifiability of parameters in latent structure models with
many observed variables", Ann. Statist. 37(6A), 2009. A. Anandkumar, D. Hsu,
S. M. Kakade, "A method of moments for mixture models and hidden Markov
models", COLT 2012. S. L. Gordon, E. Jahn, B. Mazaheri, Y. Rabani,
L. J. Schulman, "Identification of mixtures of discrete product distributions
in near-optimal sample and time complexity", COLT 2024.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, sparse

from ..exceptions import DataError, IdentifiabilityError
from ..stats.tables import joint_table
from .linalg import best_permutation, project_simplex

__all__ = [
    "Identifiability",
    "ProductMomentResult",
    "TripleFit",
    "Views",
    "candidate_views",
    "check_identifiability",
    "fit_product_mixture",
    "solve_triple",
]

FloatArray = NDArray[np.float64]
#: Largest number of joint states of one view.
MAX_VIEW_STATES = 4096
#: Probabilities are clipped to [PROB_FLOOR, 1] before renormalising.
PROB_FLOOR = 1e-6


@dataclass(frozen=True)
class Views:
    """Disjoint column groups: two views and the pivot."""

    a: tuple[int, ...]
    b: tuple[int, ...]
    pivot: tuple[int, ...]


@dataclass(frozen=True)
class TripleFit:
    """The decomposition from one choice of views.

    Attributes
    ----------
    views : Views
    weights : ndarray of shape (k,)
    probs : list of ndarray
        ``probs[j][u, v] = P(X_j = v | u)`` as read out (not yet clipped).
    singular_values : ndarray
        Of ``M = P(X_A, X_B)`` (all of them).
    eigengap : float
        Smallest gap between the eigenvalues of the chosen contraction,
        relative to the largest eigenvalue.
    score : float
        ``(sigma_k / sigma_1) * eigengap``: larger is better conditioned.
    signal_to_noise : float
        ``sigma_k`` over the spectral norm expected of the sampling noise of
        ``M``, ``(sqrt(max_a P(a)) + sqrt(max_b P(b))) / sqrt(N)`` (a bound of
        the Bandeira-van Handel type for a matrix of independent-ish cell
        errors); ``inf`` for population tables.
    """

    views: Views
    weights: FloatArray
    probs: list[FloatArray]
    singular_values: FloatArray
    eigengap: float
    score: float
    signal_to_noise: float = float("inf")


@dataclass(frozen=True)
class ProductMomentResult:
    """Outcome of :func:`fit_product_mixture`.

    Attributes
    ----------
    weights : ndarray of shape (k,)
    probs : list of ndarray
        One (k, n_levels_j) array per variable, rows on the simplex.
    triples : list of TripleFit
        The decompositions combined (best score first).
    out_of_range : float
        Largest amount by which a read-out probability left [0, 1] before
        clipping (0 on population tables).
    candidates : list of (weights, probs, log_likelihood)
        Every candidate answer (the median over the kept triples, and each
        triple alone), best likelihood first; ``weights``/``probs`` are the
        first. Refiners may start from several of them.
    """

    weights: FloatArray
    probs: list[FloatArray]
    triples: list[TripleFit] = field(default_factory=list)
    out_of_range: float = 0.0
    candidates: list[tuple[FloatArray, list[FloatArray], float]] = field(default_factory=list)


def _guaranteed_size(levels: Sequence[int], cols: Sequence[int]) -> int:
    """Rank a view is guaranteed under separation: ``1 + sum(d_i - 1)``."""
    return 1 + sum(int(levels[c]) - 1 for c in cols)


def candidate_views(
    n_levels: Sequence[int],
    n_components: int,
    rng: np.random.Generator,
    n_candidates: int = 20,
    *,
    guaranteed: bool = True,
) -> list[Views]:
    """Random triples of views large enough for ``k`` components.

    A view collects columns (in a random order) until it is guaranteed rank
    ``k`` (``1 + sum(d_i - 1) >= k``, each separated variable adding at least
    ``d_i - 1``) or, with ``guaranteed=False``, until it has ``k`` joint states
    (enough generically); the pivot is the next column.
    """
    k = int(n_components)
    n = len(n_levels)
    out: list[Views] = []
    seen: set[tuple[tuple[int, ...], ...]] = set()
    for _ in range(max(4 * n_candidates, 20)):
        order = rng.permutation(n).tolist()
        groups: list[list[int]] = [[], []]
        pos = 0
        for g in range(2):
            states = 1
            while pos < n:
                c = order[pos]
                groups[g].append(c)
                states *= int(n_levels[c])
                pos += 1
                big = _guaranteed_size(n_levels, groups[g]) if guaranteed else states
                if big >= k:
                    break
        if pos >= n:
            continue
        a, b = tuple(sorted(groups[0])), tuple(sorted(groups[1]))
        if _guaranteed_size(n_levels, a) < k and guaranteed:
            continue
        views = Views(a, b, (order[pos],))
        states_a = int(np.prod([n_levels[c] for c in a]))
        states_b = int(np.prod([n_levels[c] for c in b]))
        if max(states_a, states_b) > MAX_VIEW_STATES:
            continue
        key = (a, b, views.pivot)
        if key in seen or (b, a, views.pivot) in seen:
            continue
        seen.add(key)
        out.append(views)
        if len(out) >= n_candidates:
            break
    return out


def _marginals(joint: FloatArray, cols: Sequence[int], n_levels: Sequence[int]) -> list[FloatArray]:
    """Per-variable (k, d) conditionals from a (D, k) joint conditional of a view."""
    k = joint.shape[1]
    shaped = joint.reshape([int(n_levels[c]) for c in cols] + [k])
    out = []
    for pos in range(len(cols)):
        axes = tuple(i for i in range(len(cols)) if i != pos)
        out.append(shaped.sum(axis=axes).T)
    return out


def _best_contraction(
    W: FloatArray, rng: np.random.Generator, n_draws: int
) -> tuple[FloatArray, float]:
    """Eigenvectors of the random contraction with the widest relative eigengap."""
    best: tuple[float, FloatArray] | None = None
    k = W.shape[1]
    for _ in range(n_draws):
        theta = rng.standard_normal(W.shape[0])
        vals, vecs = np.linalg.eig(np.tensordot(theta, W, axes=1))
        scale = max(float(np.abs(vals).max()), 1e-300)
        diffs = np.abs(vals[:, None] - vals[None, :])
        gap = float(diffs[~np.eye(k, dtype=bool)].min()) / scale if k > 1 else 1.0
        if best is None or gap > best[0]:
            # normalise each eigenvector by its entry of largest modulus, then go real
            idx = np.argmax(np.abs(vecs), axis=0)
            vecs = vecs / vecs[idx, np.arange(k)][None, :]
            best = (gap, np.real(vecs))
    assert best is not None
    return best[1], best[0]


def solve_triple(
    values: FloatArray,
    counts: FloatArray,
    n_levels: Sequence[int],
    views: Views,
    n_components: int,
    *,
    rng: np.random.Generator,
    n_draws: int = 10,
) -> TripleFit:
    """Decompose the tensor of one triple of views and read out every variable.

    Raises :class:`IdentifiabilityError` when ``P(X_A, X_B)`` has rank below
    ``k`` (the views are too weak for ``k`` components).
    """
    k = int(n_components)
    n = len(n_levels)
    T = joint_table(values, counts, [views.a, views.b, views.pivot], n_levels)
    M = T.sum(axis=2)
    U, s, Vt = np.linalg.svd(M, full_matrices=False)
    if s.shape[0] < k or s[k - 1] <= 1e-14 * max(float(s[0]), 1e-300):
        raise IdentifiabilityError(
            f"P(X_A, X_B) for views {views.a} and {views.b} has rank below {k} "
            f"(singular values {np.round(s[: k + 1], 8).tolist()}); these views cannot "
            f"separate {k} classes"
        )
    root = np.sqrt(s[:k])
    left = U[:, :k].T / root[:, None]  # S^-1/2 U^T
    right = Vt[:k].T / root[None, :]  # V S^-1/2

    def whiten(table: FloatArray) -> FloatArray:
        # slices W[v] = left @ table[:, :, v] @ right
        return np.einsum("ia,abv,bj->vij", left, table, right, optimize=True)

    W = whiten(T)
    Q, gap = _best_contraction(W, rng, n_draws)
    try:
        Qinv = np.linalg.inv(Q)
    except np.linalg.LinAlgError:
        raise IdentifiabilityError(
            f"the pivot {views.pivot} does not separate the classes (repeated eigenvalues)"
        ) from None

    def read(table: FloatArray) -> FloatArray:
        Wt = whiten(table)
        return np.einsum("ui,vij,ju->uv", Qinv, Wt, Q, optimize=True)  # (k, d)

    probs: list[FloatArray | None] = [None] * n
    A = (U[:, :k] * root[None, :]) @ Q
    B = (Vt[:k].T * root[None, :]) @ Qinv.T
    col_a, col_b = A.sum(axis=0), B.sum(axis=0)
    tiny = 1e-12 * max(float(np.abs(A).max()), float(np.abs(B).max()), 1e-300)
    if np.any(np.abs(col_a) <= tiny) or np.any(np.abs(col_b) <= tiny):
        raise IdentifiabilityError(
            f"views {views.a}, {views.b} with pivot {views.pivot}: a class's view "
            "distribution sums to 0 (noise swamped the decomposition)"
        )
    weights = col_a * col_b
    for c, arr in zip(views.a, _marginals(A / col_a[None, :], views.a, n_levels), strict=True):
        probs[c] = arr
    for c, arr in zip(views.b, _marginals(B / col_b[None, :], views.b, n_levels), strict=True):
        probs[c] = arr
    pivot_table = read(T)  # (k, D_pivot)
    for c, arr in zip(views.pivot, _marginals(pivot_table.T, views.pivot, n_levels), strict=True):
        probs[c] = arr
    used = set(views.a) | set(views.b) | set(views.pivot)
    for col in range(n):
        if col not in used:
            probs[col] = read(joint_table(values, counts, [views.a, views.b, [col]], n_levels))
    # weights by non-negative least squares on M = sum_u pi_u a_u b_u^T (exact in population)
    a_n = np.clip(A / col_a[None, :], 0.0, None)
    b_n = np.clip(B / col_b[None, :], 0.0, None)
    design = np.einsum("au,bu->abu", a_n, b_n).reshape(-1, k)
    nnls_w, _ = optimize.nnls(design, M.reshape(-1))
    if nnls_w.sum() > 0:
        weights = project_simplex(nnls_w / nnls_w.sum())
    else:
        weights = project_simplex(weights / weights.sum())
    ratio = float(s[k - 1] / s[0])
    done = [p if p is not None else np.zeros((k, int(n_levels[j]))) for j, p in enumerate(probs)]
    total = float(counts.sum())
    noise = (np.sqrt(M.sum(axis=1).max()) + np.sqrt(M.sum(axis=0).max())) / np.sqrt(total)
    integral = bool(np.all(counts == np.round(counts)))  # population tables carry no noise
    snr = float(s[k - 1] / noise) if integral and total > 0 else float("inf")
    return TripleFit(views, weights, done, s, gap, ratio * gap, snr)


def _align(reference: TripleFit, other: TripleFit) -> NDArray[np.intp]:
    """Permutation of ``other``'s classes that best matches ``reference`` (all variables)."""
    ref = np.concatenate(reference.probs, axis=1)
    oth = np.concatenate(other.probs, axis=1)
    cost = np.abs(ref[:, None, :] - oth[None, :, :]).sum(axis=2)
    return best_permutation(cost)


def fit_product_mixture(
    values: FloatArray,
    counts: FloatArray,
    n_levels: Sequence[int],
    n_components: int,
    *,
    rng: np.random.Generator,
    views: Sequence[Views] | None = None,
    n_triples: int = 5,
    n_candidates: int = 20,
    guaranteed: bool = True,
) -> ProductMomentResult:
    """Latent class parameters from low-order tables by the three-view tensor method.

    Parameters
    ----------
    values : ndarray of shape (m, n_features)
        Unique rows of integer codes.
    counts : ndarray of shape (m,)
        Their counts.
    n_levels : sequence of int
        Levels of each variable.
    n_components : int
        ``k``.
    rng : numpy.random.Generator
        For the random triples and contractions.
    views : sequence of Views, optional
        Triples to use; by default up to ``n_candidates`` random triples
        (:func:`candidate_views`) are scored and the best ``n_triples`` kept.
    n_triples : int
        Decompositions combined: each is aligned to the best-scored one by
        Hungarian matching on all variables' parameters, then every parameter
        is the median over them.
    guaranteed : bool
        Build views by the guaranteed rank bound (default) or by joint states.

    Returns
    -------
    ProductMomentResult
        Probabilities clipped to ``[1e-6, 1]`` and renormalised; weights on
        the simplex. The answer is the likelihood-best of the median over the
        kept triples and each triple alone (all exact on population tables).
        ``out_of_range`` reports how far the raw read-out left [0, 1].
    """
    k = int(n_components)
    if k < 1:
        raise DataError(f"n_components must be >= 1; got {n_components}")
    if k == 1:
        total = float(counts.sum())
        probs = [
            np.bincount(values[:, j].astype(np.int64), weights=counts, minlength=int(d))[None, :]
            / total
            for j, d in enumerate(n_levels)
        ]
        return ProductMomentResult(np.ones(1), probs)
    triples_in = (
        list(views)
        if views is not None
        else candidate_views(n_levels, k, rng, n_candidates, guaranteed=guaranteed)
    )
    if not triples_in:
        raise IdentifiabilityError(
            f"no split of the {len(n_levels)} variables into two views and a pivot can carry "
            f"{k} classes"
        )
    fits: list[TripleFit] = []
    errors: list[str] = []
    for v in triples_in:
        try:
            fits.append(solve_triple(values, counts, n_levels, v, k, rng=rng))
        except IdentifiabilityError as exc:
            errors.append(str(exc))
    if not fits:
        raise IdentifiabilityError(errors[0])
    fits.sort(key=lambda f: -f.score)
    # views whose k-th singular value is within 3x the noise level are used only as a last resort
    strong = [f for f in fits if f.signal_to_noise >= 3.0]
    kept = (strong or fits)[: max(1, int(n_triples))]
    aligned_w = []
    aligned_p: list[list[FloatArray]] = [[] for _ in n_levels]
    for f in kept:
        perm = _align(kept[0], f) if f is not kept[0] else np.arange(k)
        aligned_w.append(f.weights[perm])
        for j, p in enumerate(f.probs):
            aligned_p[j].append(p[perm])
    raw = [np.median(np.array(ps), axis=0) for ps in aligned_p]
    excess = max(float(np.maximum(-p.min(), p.max() - 1.0)) for p in raw)
    # candidates: the median over the kept triples and every triple on its own; the data
    # decide between them by their likelihood (sampling noise, not the method, separates them)
    candidates = [(project_simplex(np.median(np.array(aligned_w), axis=0)), _clean(raw))]
    candidates += [(f.weights, _clean(f.probs)) for f in fits]
    lls = _logliks(values, counts, n_levels, candidates)
    ranked = [(candidates[i][0], candidates[i][1], lls[i]) for i in np.argsort(lls)[::-1]]
    weights, probs, _ = ranked[0]
    return ProductMomentResult(weights, probs, kept, max(excess, 0.0), ranked)


def _clean(probs: Sequence[FloatArray]) -> list[FloatArray]:
    """Probabilities clipped to ``[PROB_FLOOR, 1]`` and renormalised per class."""
    out = []
    for p in probs:
        clipped = np.clip(p, PROB_FLOOR, 1.0)
        out.append(clipped / clipped.sum(axis=1, keepdims=True))
    return out


def _logliks(
    values: FloatArray,
    counts: FloatArray,
    n_levels: Sequence[int],
    candidates: Sequence[tuple[FloatArray, Sequence[FloatArray]]],
) -> list[float]:
    """``sum_s c_s log sum_u pi_u prod_j P(X_j = x_sj | u)`` of every candidate at once.

    One sparse product of the rows' one-hot design with the stacked
    log-probabilities of all candidates.
    """
    m, n = values.shape
    offsets = np.concatenate([[0], np.cumsum(n_levels)[:-1]]).astype(np.int64)
    cols = (values.astype(np.int64) + offsets[None, :]).reshape(-1)
    design = sparse.csr_matrix(
        (np.ones(m * n), cols, np.arange(0, m * n + 1, n)), shape=(m, int(sum(n_levels)))
    )
    k = candidates[0][0].shape[0]
    stacked = np.concatenate(
        [np.log(np.concatenate(list(p), axis=1)) for _, p in candidates], axis=0
    )  # (C * k, sum of levels)
    log_f = np.asarray(design @ stacked.T)  # (m, C * k)
    out = []
    for c, (w, _) in enumerate(candidates):
        with np.errstate(divide="ignore"):
            joint = log_f[:, c * k : (c + 1) * k] + np.log(np.maximum(w, 0.0))[None, :]
        top = joint.max(axis=1, keepdims=True)
        out.append(float(counts @ (np.log(np.exp(joint - top).sum(axis=1)) + top[:, 0])))
    return out


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

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
from scipy import optimize

from ...exceptions import DataError, IdentifiabilityError
from ...stats.tables import mixed_radix_codes
from ..linalg import best_permutation, project_simplex
from .design import RowDesign, log_likelihoods

__all__ = [
    "ProductMomentResult",
    "TripleFit",
    "Views",
    "candidate_views",
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
        kept triple alone, or every triple when one is kept), best likelihood
        first; ``weights``/``probs`` are the
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
    """Eigenvectors of the random contraction with the widest relative eigengap.

    All ``n_draws`` contractions are decomposed in one batched call.
    """
    k = W.shape[1]
    theta = rng.standard_normal((n_draws, W.shape[0]))
    mixed = (theta @ W.reshape(W.shape[0], -1)).reshape(n_draws, k, k)
    vals, vecs = np.linalg.eig(mixed)  # (draws, k), (draws, k, k)
    scale = np.maximum(np.abs(vals).max(axis=1), 1e-300)
    if k > 1:
        diffs = np.abs(vals[:, :, None] - vals[:, None, :])
        diffs[:, np.arange(k), np.arange(k)] = np.inf
        gaps = diffs.min(axis=(1, 2)) / scale
    else:
        gaps = np.ones(n_draws)
    best = int(np.argmax(gaps))
    vec = vecs[best]
    # normalise each eigenvector by its entry of largest modulus, then go real
    idx = np.argmax(np.abs(vec), axis=0)
    vec = vec / vec[idx, np.arange(k)][None, :]
    return np.real(vec), float(gaps[best])


@dataclass(frozen=True)
class _Decomposition:
    """Whitening and eigenvectors of one triple: everything but the read-out."""

    views: Views
    code_ab: NDArray[np.int64]
    size_b: int
    M: FloatArray
    U: FloatArray
    s: FloatArray
    Vt: FloatArray
    Q: FloatArray
    Qinv: FloatArray
    gap: float
    score: float
    signal_to_noise: float


def _decompose(
    design: RowDesign,
    counts: FloatArray,
    n_levels: Sequence[int],
    views: Views,
    k: int,
    rng: np.random.Generator,
    n_draws: int,
) -> _Decomposition:
    """SVD of ``P(X_A, X_B)``, whitened pivot slices and their joint eigenvectors."""
    total = float(counts.sum())
    codes = design.codes
    code_a, size_a = mixed_radix_codes(codes, views.a, n_levels)
    code_b, size_b = mixed_radix_codes(codes, views.b, n_levels)
    code_p, size_p = mixed_radix_codes(codes, views.pivot, n_levels)
    code_ab = code_a * size_b + code_b
    tally = np.bincount(
        code_ab * size_p + code_p, weights=counts, minlength=size_a * size_b * size_p
    )
    T = tally.reshape(size_a, size_b, size_p) / total
    M = T.sum(axis=2)
    U, s, Vt = np.linalg.svd(M, full_matrices=False)
    if s.shape[0] < k or s[k - 1] <= 1e-14 * max(float(s[0]), 1e-300):
        raise IdentifiabilityError(
            f"P(X_A, X_B) for views {views.a} and {views.b} has rank below {k} "
            f"(singular values {np.round(s[: k + 1], 8).tolist()}); these views cannot "
            f"separate {k} classes"
        )
    root = np.sqrt(s[:k])
    left = U[:, :k] / root[None, :]  # rows: S^-1/2 U^T e_a
    right = Vt[:k].T / root[None, :]  # rows: S^-1/2 V^T e_b
    # slices W[v] = S^-1/2 U^T T[:, :, v] V S^-1/2
    size_a = T.shape[0]
    LT = (left.T @ T.reshape(size_a, -1)).reshape(k, size_b, size_p)  # (i, b, v)
    W = (LT.transpose(0, 2, 1) @ right).transpose(1, 0, 2)  # (v, i, j)
    Q, gap = _best_contraction(W, rng, n_draws)
    try:
        Qinv = np.asarray(np.linalg.inv(Q), dtype=np.float64)
    except np.linalg.LinAlgError:
        raise IdentifiabilityError(
            f"the pivot {views.pivot} does not separate the classes (repeated eigenvalues)"
        ) from None
    noise = (np.sqrt(M.sum(axis=1).max()) + np.sqrt(M.sum(axis=0).max())) / np.sqrt(total)
    # population tables (non-integer counts) carry no sampling noise
    snr = float(s[k - 1] / noise) if design.integral and total > 0 else float("inf")
    score = float(s[k - 1] / s[0]) * gap
    return _Decomposition(views, code_ab, size_b, M, U, s, Vt, Q, Qinv, gap, score, snr)


def solve_triple(
    values: FloatArray,
    counts: FloatArray,
    n_levels: Sequence[int],
    views: Views,
    n_components: int,
    *,
    rng: np.random.Generator,
    n_draws: int = 10,
    design: RowDesign | None = None,
) -> TripleFit:
    """Decompose the tensor of one triple of views and read out every variable.

    The whitened slices and the read-out of every variable outside the views
    come from one pass over the unique rows: row ``s`` contributes
    ``(c_s / N) (Q^{-1} S^{-1/2} U^T e_{a_s}) * (Q^T S^{-1/2} V^T e_{b_s})``
    to the level ``x_sl`` of every variable ``l`` (the diagonal of
    ``Q^{-1} W_l Q``), so no three-way table beyond the pivot's is built.

    Raises :class:`IdentifiabilityError` when ``P(X_A, X_B)`` has rank below
    ``k`` (the views are too weak for ``k`` components).
    """
    if design is None:
        design = RowDesign(values, n_levels, counts)
    k = int(n_components)
    dec = _decompose(design, counts, n_levels, views, k, rng, n_draws)
    return _read_out(design, counts, n_levels, dec, k)


def _read_out(
    design: RowDesign,
    counts: FloatArray,
    n_levels: Sequence[int],
    dec: _Decomposition,
    k: int,
) -> TripleFit:
    """Weights and every variable's conditionals from a decomposition."""
    views, U, s, Vt, Q, Qinv = dec.views, dec.U, dec.s, dec.Vt, dec.Q, dec.Qinv
    n = len(n_levels)
    total = float(counts.sum())
    root = np.sqrt(s[:k])
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
    # every variable outside the two views (the pivot included): row s adds
    # share_s * (Q^-1 left[a_s]) * (Q^T right[b_s]) to the level it takes
    left = U[:, :k] / root[None, :]
    right = Vt[:k].T / root[None, :]
    cell = (left @ Qinv.T)[:, None, :] * (right @ Q)[None, :, :]
    z = cell.reshape(-1, k).T[:, dec.code_ab] * (counts / total)[None, :]
    read = np.split(design.level_counts(z), design.offsets[1:], axis=1)
    used = set(views.a) | set(views.b)
    for col in range(n):
        if col not in used:
            probs[col] = read[col]
    # weights by non-negative least squares on M = sum_u pi_u a_u b_u^T (exact in population)
    a_n = np.clip(A / col_a[None, :], 0.0, None)
    b_n = np.clip(B / col_b[None, :], 0.0, None)
    design_w = (a_n[:, None, :] * b_n[None, :, :]).reshape(-1, k)
    nnls_w, _ = optimize.nnls(design_w, dec.M.reshape(-1))
    if nnls_w.sum() > 0:
        weights = project_simplex(nnls_w / nnls_w.sum())
    else:
        weights = project_simplex(weights / weights.sum())
    done = [p if p is not None else np.zeros((k, int(n_levels[j]))) for j, p in enumerate(probs)]
    return TripleFit(views, weights, done, s, dec.gap, dec.score, dec.signal_to_noise)


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
    design: RowDesign | None = None,
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
    design : RowDesign, optional
        The rows' design (:class:`kmix.solvers.latent_class.design.RowDesign`), when
        the caller has built it already.

    Returns
    -------
    ProductMomentResult
        Probabilities clipped to ``[1e-6, 1]`` and renormalised; weights on
        the simplex. The answer is the likelihood-best of the median over the
        kept triples and each kept triple alone (all exact on population tables).
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
    errors: list[str] = []
    if design is None:
        design = RowDesign(values, n_levels, counts)
    decs: list[_Decomposition] = []
    for v in triples_in:
        try:
            decs.append(_decompose(design, counts, n_levels, v, k, rng, 10))
        except IdentifiabilityError as exc:
            errors.append(str(exc))
    if not decs:
        raise IdentifiabilityError(errors[0])
    decs.sort(key=lambda d: -d.score)
    # views whose k-th singular value is within 3x the noise level are used only as a last resort
    strong = [d for d in decs if d.signal_to_noise >= 3.0]
    n_keep = max(1, int(n_triples))
    chosen = (strong or decs)[:n_keep]
    # with one triple kept, the next best ones stand as candidates of their own
    others = decs[:n_keep] if len(chosen) == 1 else chosen
    read: dict[Views, TripleFit] = {}
    for d in [*chosen, *others]:
        if d.views not in read:
            try:
                read[d.views] = _read_out(design, counts, n_levels, d, k)
            except IdentifiabilityError as exc:
                errors.append(str(exc))
    kept = [read[d.views] for d in chosen if d.views in read]
    alternates = [read[d.views] for d in others if d.views in read]
    if not kept:
        raise IdentifiabilityError(errors[-1])
    aligned_w = []
    aligned_p: list[list[FloatArray]] = [[] for _ in n_levels]
    for f in kept:
        perm = _align(kept[0], f) if f is not kept[0] else np.arange(k)
        aligned_w.append(f.weights[perm])
        for j, p in enumerate(f.probs):
            aligned_p[j].append(p[perm])
    raw = [ps[0] if len(ps) == 1 else np.median(np.array(ps), axis=0) for ps in aligned_p]
    excess = max(float(np.maximum(-p.min(), p.max() - 1.0)) for p in raw)
    # candidates: the median over the kept triples and every kept (or alternate) triple on
    # its own; the data
    # decide between them by their likelihood (sampling noise, not the method, separates them)
    w_mid = aligned_w[0] if len(aligned_w) == 1 else np.median(np.array(aligned_w), axis=0)
    candidates = [(project_simplex(w_mid), _clean(raw))]
    candidates += [(f.weights, _clean(f.probs)) for f in alternates]
    lls = log_likelihoods(values, counts, n_levels, candidates, design=design)
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

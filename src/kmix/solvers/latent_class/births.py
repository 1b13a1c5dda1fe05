"""Leaving a local maximum of the latent class likelihood by merging and seeding classes.

EM climbs to the maximum of the basin it starts in. The local maxima that
matter in practice misplace a class rather than a parameter: a small class
(1% of the rows) collapses to weight 0 or sits on the wrong rows while two
classes share one large group. No local move reaches the global maximum from
there, but two discrete moves do (Ueda, Nakano, Ghahramani & Hinton, "SMEM
algorithm for mixture models", Neural Computation 12, 2000):

* **birth**: a class seeded on the rows the fit explains worst. With
  ``p_s`` the fitted probability of the unique row ``s`` and ``c_s`` its
  count out of ``N``, the excess counts

  .. math:: e_s = \\max(c_s - N p_s, 0)

  are the rows a missing class would take (with missing values, ``N`` is
  the count of the rows that observe the same items); the new class's item
  probabilities are their level frequencies (smoothed by half a count) and
  its weight ``sum_s e_s / N``. Seeding a component where the fitted density
  falls short of the data is the greedy step of Vlassis & Likas ("A greedy EM
  algorithm for Gaussian mixture learning", Neural Processing Letters 15,
  2002) and Verbeek, Vlassis & Kröse ("Efficient greedy learning of Gaussian
  mixture models", Neural Computation 15, 2003).
* **replace or merge**: to keep ``k`` classes the birth takes the place of
  one class ``u`` (``k`` candidates), or of the merger of two classes ``u, v``
  into their weighted average (``k (k - 1) / 2`` candidates).
* **split and merge**: a class that holds two groups shows dependence
  between its items, which a latent class never has (local independence).
  The classes with the largest such dependence (the leading eigenvalue of
  the between-item blocks of their responsibility-weighted covariance) are
  split along its eigenvector, at the break that best separates the rows'
  projections (weighted two-means in one dimension), while the two classes
  whose responsibilities overlap most merge, or the smallest class gives up
  its place: the split and merge criteria of Ueda et al. (2000). The pooled
  rows of two classes are re-split the same way (two classes that share one
  group and a second group between them). Dense tables show a missed class
  in their excess counts; sparse tables (most rows unique) only through such
  dependence.
* **split by a two-class fit**: a small class hidden inside a large one is
  not where the two-means break falls (that break halves the class), so
  every class, and every class pooled with the smallest one, is also split
  by a two-class latent class model fitted to its own rows (weighted by
  their responsibilities; starts that seed a small class on one row), the
  split step of SMEM done by EM on the class's share of the data. The pooled
  pairs move a small class that sits on the wrong rows of its neighbour.

Every candidate runs a few EM maps at once; the best of them run to
convergence, and the best is kept when it is higher. Candidates are ranked
by their likelihood after the short run, except those that went back to the
current fit (same weights, same likelihood): a move towards a distant, higher
maximum often starts lower than the fit it leaves. The test is also the
diagnostic: a fit that no move improves has no class missing that the data
can show.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from .design import RowDesign, responsibilities, stack_starts
from .em import LatentClassFit, em_latent_class

__all__ = [
    "BIRTH_ROUNDS",
    "BIRTH_SHORT_MAPS",
    "birth_starts",
    "escape_local_maxima",
    "fits_the_table",
    "refit_split_starts",
    "split_starts",
]

FloatArray = NDArray[np.float64]
Start = tuple[FloatArray, list[FloatArray]]
#: EM maps every candidate runs before the best are continued
BIRTH_SHORT_MAPS = 24
#: Candidates continued to convergence per round
BIRTH_CONTINUED = 4
#: Rounds of moves at most (each accepted move may reveal the next)
BIRTH_ROUNDS = 3
#: A candidate must beat the fit by this much (relative) to count as a climb
BIRTH_GAIN = 1e-9
#: Cells that expect fewer rows are pooled in the likelihood-ratio check
DENSE_COUNT = 5.0
#: ... and a table with more of its rows expected in pooled cells than this is sparse
POOLED_SHARE = 0.1
#: Classes split per round (those with the strongest dependence between items)
SPLITS = 4
#: Split moves need the rows' design as a dense matrix of at most this many cells
SPLIT_CELLS = 20_000_000
#: Random starts and EM maps of the two-class fit that splits a class
REFIT_STARTS = 8
REFIT_MAPS = 100
#: ... on tables of at most this many unique rows x levels x classes (beyond it a
#: small class holds enough rows for the birth and two-means moves)
REFIT_WORK = 3_000_000
#: A short run whose sorted weights moved less than this (summed) and whose
#: log-likelihood is within RETURN_GAP nats per row of the fit went back to it
RETURN_WEIGHTS = 0.01
RETURN_GAP = 1e-5


def _pattern_log_probs(design: RowDesign, weights: FloatArray, P: FloatArray) -> FloatArray:
    """``log p_s = log sum_u pi_u prod_j P(x_sj | u)`` of every unique row."""
    with np.errstate(divide="ignore"):
        joint = design.log_f(P) + np.log(weights)[:, None]
    top = joint.max(axis=0)
    top[~np.isfinite(top)] = 0.0
    out: FloatArray = np.log(np.exp(joint - top).sum(axis=0)) + top
    return out


def birth_starts(
    design: RowDesign, counts: FloatArray, weights: FloatArray, probs: Sequence[FloatArray]
) -> list[Start]:
    """Starts that trade one class (or the merger of two) for a class seeded on the excess rows.

    Returns no starts for one class, or when the fit leaves less than one
    row's worth of excess (nothing to seed).
    """
    weights = np.asarray(weights, dtype=np.float64)
    k = weights.shape[0]
    if k < 2:
        return []
    _, P = stack_starts([(weights, list(probs))], design.width)
    P0 = P[0]
    total = float(counts.sum())
    expected = np.exp(_pattern_log_probs(design, weights, P0))
    if design.complete:
        expected *= total
    else:
        # rows that observe the same items form one table: their own total
        _, group = np.unique(design.observed(), axis=0, return_inverse=True)
        group = group.reshape(-1)
        expected *= np.bincount(group, weights=counts)[group]
    excess = np.maximum(counts - expected, 0.0)
    mass = float(excess.sum())
    if mass < 1.0:
        return []
    born = design.normalise(design.level_counts(excess[None, :])[0][None, :] + 0.5)[0]
    w_born = mass / total

    out: list[Start] = []
    for u in range(k):
        keep = [t for t in range(k) if t != u]
        extra = [(w_born * weights[keep].sum() / (1.0 - w_born), born)]
        out.append(_assemble(design, weights, P0, keep, extra))
    for u, v in combinations(range(k), 2):
        keep = [t for t in range(k) if t not in (u, v)]
        merged_w, merged = _merge(weights, P0, u, v)
        rest = weights[keep].sum() + merged_w
        extra = [(merged_w, merged), (w_born * rest / (1.0 - w_born), born)]
        out.append(_assemble(design, weights, P0, keep, extra))
    return out


def _dense_design(design: RowDesign) -> tuple[FloatArray, FloatArray, NDArray[np.intp]] | None:
    """Rows as a dense matrix of item indicators, its observed mask and each column's item."""
    m = design.codes.shape[0]
    observed = design.observed()
    if design.binary:
        return design.x, observed.astype(np.float64), np.arange(design.n_levels.shape[0])
    if m * design.width > SPLIT_CELLS:
        return None
    item = np.repeat(np.arange(design.n_levels.shape[0]), design.n_levels)
    dense = design.onehot if isinstance(design.onehot, np.ndarray) else design.onehot.toarray()
    return dense, observed[:, item].astype(np.float64), item


def _two_means(t: FloatArray, a: FloatArray) -> NDArray[np.bool_]:
    """The break of the weighted 1-d two-means of ``t``: rows on its upper side."""
    order = np.argsort(t, kind="stable")
    ts, ws = t[order], a[order]
    w_lo, s_lo = np.cumsum(ws)[:-1], np.cumsum(ws * ts)[:-1]
    w_all, s_all = float(ws.sum()), float((ws * ts).sum())
    w_hi, s_hi = w_all - w_lo, s_all - s_lo
    ok = (w_lo > 0) & (w_hi > 0)
    if not ok.any():
        return np.zeros(t.shape[0], dtype=bool)
    gain = np.where(ok, s_lo**2 / np.where(ok, w_lo, 1.0) + s_hi**2 / np.where(ok, w_hi, 1.0), -1)
    cut = int(np.argmax(gain))
    upper = np.zeros(t.shape[0], dtype=bool)
    upper[order[cut + 1 :]] = True
    return upper


def _class_rows(
    design: RowDesign, counts: FloatArray, weights: FloatArray, probs: Sequence[FloatArray]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The fit's probabilities ``(k, width)``, ``c_s r_su`` ``(k, m)`` and classes' overlap.

    The overlap of classes ``u, v`` is the cosine of their responsibility
    vectors over the rows, the merge criterion of Ueda et al. (2000).
    """
    W, P = stack_starts([(weights, list(probs))], design.width)
    resp = responsibilities(design, counts, W, P)[0][0]
    safe = np.maximum(counts, 1e-300)
    norms = np.sqrt(np.maximum((resp**2 / safe).sum(axis=1), 1e-300))
    overlap = (resp / safe) @ resp.T / np.outer(norms, norms)
    return P[0], resp, overlap


def _replace(
    design: RowDesign,
    weights: FloatArray,
    P0: FloatArray,
    overlap: FloatArray,
    group: tuple[int, ...],
    children: list[tuple[float, FloatArray]],
) -> list[Start]:
    """The classes of ``group`` replaced by the two ``children``.

    A pair's two places are the children's. One class's place is one too
    few: the smallest other class gives way, or the two others that overlap
    most merge (two starts).
    """
    k = weights.shape[0]
    others = [t for t in range(k) if t not in group]
    if len(group) == 2:
        return [_assemble(design, weights, P0, others, children)]
    v = min(others, key=lambda t: weights[t])
    out = [_assemble(design, weights, P0, [t for t in others if t != v], children)]
    pairs = [(overlap[v, w], v, w) for v, w in combinations(others, 2)]
    if pairs:
        _, v, w = max(pairs)
        keep = [t for t in others if t not in (v, w)]
        out.append(_assemble(design, weights, P0, keep, [*children, _merge(weights, P0, v, w)]))
    return out


def split_starts(
    design: RowDesign, counts: FloatArray, weights: FloatArray, probs: Sequence[FloatArray]
) -> list[Start]:
    """Starts that split the most dependent classes (merging or dropping others to keep
    ``k``), and that re-split the pooled rows of every pair of classes."""
    weights = np.asarray(weights, dtype=np.float64)
    k = weights.shape[0]
    dense = _dense_design(design) if k >= 2 else None
    if dense is None:
        return []
    Y, obs, item = dense
    P0, resp, overlap = _class_rows(design, counts, weights, probs)
    splits = []
    out: list[Start] = []
    groups: list[tuple[int, ...]] = [(u,) for u in range(k)]
    groups += list(combinations(range(k), 2))
    for group in groups:
        a = resp[list(group)].sum(axis=0)
        mass = float(a.sum())
        if mass < 2.0:
            continue
        seen = obs.T @ a
        mean = (Y.T @ a) / np.maximum(seen, 1e-300)
        dev = (Y - mean) * obs
        cov = dev.T @ (dev * a[:, None]) / mass
        cov[item[:, None] == item[None, :]] = 0.0  # a latent class's items are independent
        vals, vecs = np.linalg.eigh(cov)
        upper = _two_means(dev @ vecs[:, -1], a)
        share = float(weights[list(group)].sum())
        children = []
        for side in (upper, ~upper):
            part_a = np.where(side, a, 0.0)
            level = design.level_counts(part_a[None, :])[0] + 0.5
            children.append(
                (share * float(part_a.sum()) / mass, design.normalise(level[None, :])[0])
            )
        if len(group) == 1:
            splits.append((float(vals[-1]) * mass, group, children))
        else:
            out += _replace(design, weights, P0, overlap, group, children)
    splits.sort(key=lambda t: -t[0])
    for _, group, children in splits[:SPLITS]:
        out += _replace(design, weights, P0, overlap, group, children)
    return out


def _seeded_starts(
    design: RowDesign,
    dense: tuple[FloatArray, FloatArray, NDArray[np.intp]],
    a: FloatArray,
    profile: FloatArray,
    n_starts: int,
    rng: np.random.Generator,
) -> list[Start]:
    """Two-class starts: the class's profile, and a small class seeded on one of its rows.

    The seed row is drawn with probability proportional to its weight ``a_s``
    times its squared distance from the profile, the seeding of k-means++
    (Arthur & Vassilvitskii, "k-means++: the advantages of careful seeding",
    SODA 2007); the seeded class takes ``0.7 x_s + 0.3 profile`` (the profile
    where ``x_s`` is missing) and weight 0.05.
    """
    Y, obs, _ = dense
    at = profile[1::2] if design.binary else profile  # binary: P(X_j = 1 | u)
    d2 = (((Y - at) * obs) ** 2).sum(axis=1) * a
    if not d2.sum() > 0:
        return []
    out: list[Start] = []
    for s in rng.choice(a.shape[0], size=n_starts, p=d2 / d2.sum()):
        q = np.where(obs[s] > 0, 0.7 * Y[s] + 0.3 * at, at)
        seeded = np.column_stack([1.0 - q, q]).reshape(-1) if design.binary else q
        rows = design.normalise(np.stack([profile, seeded]))
        out.append((np.array([0.95, 0.05]), np.split(rows, design.offsets[1:], axis=1)))
    return out


def refit_split_starts(
    design: RowDesign,
    counts: FloatArray,
    weights: FloatArray,
    probs: Sequence[FloatArray],
    rng: np.random.Generator,
) -> list[Start]:
    """Starts that split every class by a two-class fit to its own rows.

    The rows weighted by ``c_s r_su`` are the data class ``u`` explains; if
    it holds two groups, a two-class latent class model of those weighted
    rows finds them: the best of :data:`REFIT_STARTS` starts that seed a
    small class on one of the class's rows (:func:`_seeded_starts`), after at
    most :data:`REFIT_MAPS` EM maps. A small group inside a large class sits
    on a flat ridge of the two-class likelihood, which random starts reach
    on a third of the draws and seeded starts on nearly all. The two classes
    take ``u``'s place with weights ``pi_u w_1, pi_u w_2``, and the smallest
    other class gives way, or the two others that overlap most merge. Each
    class pooled with the smallest class (rows weighted by ``c_s (r_su +
    r_sv)``) is re-split the same way, the two new classes taking both
    places. None on tables of more than :data:`REFIT_WORK` unique rows x
    levels x classes.
    """
    weights = np.asarray(weights, dtype=np.float64)
    k = weights.shape[0]
    if k < 2 or design.codes.shape[0] * design.width * k > REFIT_WORK:
        return []
    dense = _dense_design(design)
    if dense is None:
        return []
    P0, resp, overlap = _class_rows(design, counts, weights, probs)
    levels = [int(d) for d in design.n_levels]
    out: list[Start] = []
    smallest = int(np.argmin(weights))
    groups = [(u,) for u in range(k)] + [(u, smallest) for u in range(k) if u != smallest]
    for group in groups:
        a = resp[list(group)].sum(axis=0)
        if float(a.sum()) < 4.0:
            continue
        share = float(weights[list(group)].sum())
        profile = (weights[list(group)] @ P0[list(group)]) / share
        starts = _seeded_starts(design, dense, a, profile, REFIT_STARTS, rng)
        if not starts:
            continue
        fits = em_latent_class(
            design.codes, a, levels, starts, tol=1e-8, max_iter=REFIT_MAPS, design=design
        )
        two = max(fits, key=lambda f: f.log_likelihood)
        sub = np.concatenate([np.asarray(p) for p in two.probs], axis=1)
        children = [(share * float(two.weights[c]), sub[c]) for c in range(2)]
        out += _replace(design, weights, P0, overlap, group, children)
    return out


def _merge(weights: FloatArray, P0: FloatArray, u: int, v: int) -> tuple[float, FloatArray]:
    """Classes ``u`` and ``v`` as one: their summed weight and weighted-average probabilities."""
    both = float(weights[u] + weights[v])
    return both, (weights[u] * P0[u] + weights[v] * P0[v]) / max(both, 1e-300)


def _assemble(
    design: RowDesign,
    weights: FloatArray,
    P0: FloatArray,
    keep: list[int],
    extra: list[tuple[float, FloatArray]],
) -> Start:
    """The classes ``keep`` and the new ones ``(weight, probabilities)``, weights renormalised."""
    w = np.concatenate([weights[keep], [m for m, _ in extra]])
    rows = np.concatenate([P0[keep], np.array([p for _, p in extra])], axis=0)
    total = float(w.sum())
    # (classes of weight 0 only, e.g. a two-class fit whose classes both emptied: equal shares)
    w = w / total if total > 0 else np.full(w.shape[0], 1.0 / w.shape[0])
    return w, np.split(rows, design.offsets[1:], axis=1)


def fits_the_table(design: RowDesign, counts: FloatArray, fit: LatentClassFit) -> bool:
    """Whether the fit is within sampling error of a well-filled table (no class is missing).

    The likelihood-ratio statistic against the saturated table is about
    chi-square where the cells expect enough rows (Cochran's rule of at least
    :data:`DENSE_COUNT`), so the cells that expect fewer are pooled into one:

    .. math::
       G^2 = 2 \\sum_{s: N p_s \\ge 5} c_s \\log\\frac{c_s}{N p_s}
             + 2 c_{rest} \\log\\frac{c_{rest}}{N p_{rest}},
       \\qquad df = \\#\\{s: N p_s \\ge 5\\} - \\text{parameters}.

    A class that the fit misses adds to ``G^2`` in proportion to ``N``. The
    fit passes when ``G^2 <= df + 3 sqrt(2 df)``. Tables with missing values,
    with more than :data:`POOLED_SHARE` of their rows expected in the pooled
    cells (sparse tables), or with too few well-filled cells to leave a
    degree of freedom never pass (a single start is then not enough).
    """
    total = float(counts.sum())
    k = fit.weights.shape[0]
    n_params = (k - 1) + k * float((design.n_levels - 1).sum())
    if not design.complete:
        return False
    _, P = stack_starts([(fit.weights, list(fit.probs))], design.width)
    expected = total * np.exp(_pattern_log_probs(design, fit.weights, P[0]))
    filled = expected >= DENSE_COUNT
    df = float(filled.sum()) - n_params
    if df < 1:
        return False
    obs, exp_ = counts[filled], expected[filled]
    g2 = 2.0 * float(obs @ np.log(obs / exp_))
    rest_obs, rest_exp = total - float(obs.sum()), total - float(exp_.sum())
    if rest_exp > POOLED_SHARE * total:
        return False  # mostly sparse cells: the pooled statistic would miss a class there
    if rest_obs > 0 and rest_exp > 0:
        g2 += 2.0 * rest_obs * np.log(rest_obs / rest_exp)
    return bool(g2 <= df + 3.0 * np.sqrt(2.0 * df))


def _went_back(short: LatentClassFit, fit: LatentClassFit, total: float) -> bool:
    """Whether a candidate's short run came back to ``fit`` (its weights and likelihood)."""
    moved = float(np.abs(np.sort(short.weights) - np.sort(fit.weights)).sum())
    gap = (fit.log_likelihood - short.log_likelihood) / total
    return moved < RETURN_WEIGHTS and gap < RETURN_GAP


def escape_local_maxima(
    design: RowDesign,
    counts: FloatArray,
    fit: LatentClassFit,
    run: Callable[[list[Start], int], list[LatentClassFit]],
    *,
    max_iter: int,
    rng: np.random.Generator,
    rounds: int = BIRTH_ROUNDS,
) -> tuple[LatentClassFit, int]:
    """Improve ``fit`` by birth, split and merge moves until none climbs higher.

    Parameters
    ----------
    design : RowDesign
        The unique rows.
    counts : ndarray of shape (m,)
        Their counts.
    fit : LatentClassFit
        A converged EM fit.
    run : callable
        ``run(starts, max_iter)``: EM from several starts at once (e.g.
        :func:`kmix.solvers.latent_class.em.em_latent_class` on these rows).
    max_iter : int
        EM maps allowed to a continued candidate.
    rng : numpy Generator
        Random starts of the two-class fits that split a class.
    rounds : int
        Rounds of moves at most.

    Returns
    -------
    (LatentClassFit, int)
        The best fit found (``fit`` itself when no move climbs) and the
        number of candidate starts tried.
    """
    tried = 0
    total = float(counts.sum())
    if not (np.isfinite(fit.log_likelihood) and np.all(np.isfinite(fit.weights))):
        return fit, tried  # a class emptied out (0/0 weights): nothing to move
    for _ in range(rounds):
        cands = birth_starts(design, counts, fit.weights, fit.probs)
        cands += split_starts(design, counts, fit.weights, fit.probs)
        cands += refit_split_starts(design, counts, fit.weights, fit.probs, rng)
        if not cands:
            break
        tried += len(cands)
        bar = fit.log_likelihood + BIRTH_GAIN * abs(fit.log_likelihood)
        short = [f for f in run(cands, BIRTH_SHORT_MAPS) if np.isfinite(f.log_likelihood)]
        best_short = sorted(
            (f for f in short if f.log_likelihood > bar or not _went_back(f, fit, total)),
            key=lambda f: f.log_likelihood,
            reverse=True,
        )[:BIRTH_CONTINUED]
        if not best_short:
            break
        done = run([(f.weights, list(f.probs)) for f in best_short], max_iter)
        done = [f for f in done if np.isfinite(f.log_likelihood)]
        best = max(done, key=lambda f: f.log_likelihood) if done else fit
        if best.log_likelihood <= bar:
            break
        fit = LatentClassFit(
            best.weights,
            best.probs,
            best.log_likelihood,
            best.converged,
            best.n_iter,
            history=best.history,
        )
    return fit, tried

"""k-means++ seeding of EM: order-free, weighted, sparse-aware."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...exceptions import DataError

__all__ = ["kmeans_pp_labels"]

FloatArray = NDArray[np.float64]


class TooFewDistinctRows(DataError):
    """Fewer distinct rows (with positive count) than components."""


def _dense(a: Any) -> FloatArray:
    return np.asarray(a.toarray() if hasattr(a, "toarray") else a, dtype=np.float64)


def _centred(features: Any, counts: FloatArray) -> Any:
    """Dense features moved so that each column's midrange is 0; sparse ones as they are.

    k-means++ works with squared distances ``|x|^2 - 2 x.c + |c|^2``, which cancel
    catastrophically when the rows lie far from the origin compared with their
    spread (gaussian data offset by 1e9: ``|x|^2 ~ 1e18`` leaves a resolution of
    about 200 in the squared distances). Distances do not change under a shift,
    so the columns are centred first (as scikit-learn's ``KMeans`` does). The
    midrange of the rows with positive count depends only on the multiset of
    rows, not on their order or on how repeated rows are split into counts, so
    the seeding keeps that property. Sparse features (one-hot designs, counts
    near the origin) stay sparse and uncentred.
    """
    if hasattr(features, "toarray"):
        return features
    feats = np.asarray(features, dtype=np.float64)
    used = feats[counts > 0] if np.any(counts > 0) else feats
    if used.shape[0] == 0:
        return feats
    mid = 0.5 * used.min(axis=0) + 0.5 * used.max(axis=0)
    return feats - mid


def _squared_norms(a: Any) -> FloatArray:
    if hasattr(a, "multiply"):  # scipy sparse
        return np.asarray(a.multiply(a).sum(axis=1), dtype=np.float64).reshape(-1)
    return np.einsum("ij,ij->i", a, a)


def _nearest(features: Any, sq: FloatArray, centres: FloatArray) -> NDArray[np.intp]:
    # (centres @ features.T).T avoids a slow OpenBLAS path for few centres
    cross = np.asarray(
        (features @ centres.T) if hasattr(features, "toarray") else (centres @ features.T).T
    )
    return np.argmin(sq[:, None] - 2.0 * cross + (centres**2).sum(axis=1)[None, :], axis=1)


def _kmeans_centres(
    feats: FloatArray,
    counts: FloatArray,
    n_components: int,
    rng: np.random.Generator,
    lloyd_steps: int,
) -> tuple[FloatArray, float]:
    """Greedy k-means++ seeds refined by weighted Lloyd steps, on dense rows.

    Returns the centres and their inertia ``sum_s c_s min_u |x_s - m_u|^2``.
    """
    m = feats.shape[0]
    direction = 1.0 + 0.6180339887498949 * np.arange(feats.shape[1])
    order = np.argsort(feats @ direction, kind="stable")  # canonical row order
    feats, counts = feats[order], counts[order]

    def draw(mass: FloatArray, size: int) -> NDArray[np.intp]:
        cdf = np.cumsum(mass)
        idx = np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right")
        return np.minimum(idx, m - 1).astype(np.intp)

    n_trials = 2 + int(np.log(n_components))
    sq = _squared_norms(feats)
    centres = [int(draw(counts, 1)[0])]
    d2 = np.maximum(sq - 2.0 * feats @ feats[centres[0]] + sq[centres[0]], 0.0)
    for _ in range(1, n_components):
        mass = counts * d2
        if mass.sum() <= 0:
            raise TooFewDistinctRows(
                f"the data have only {len(centres)} distinct rows, fewer than "
                f"n_components={n_components}; lower n_components"
            )
        # greedy variant: of a few candidates keep the one lowering the potential most
        candidates = draw(mass, n_trials)
        cand = feats[candidates]
        to_cand = sq[None, :] - 2.0 * cand @ feats.T + sq[candidates][:, None]
        trial_d2 = np.minimum(d2[None, :], np.maximum(to_cand, 0.0))
        best = int(np.argmin(trial_d2 @ counts))
        centres.append(int(candidates[best]))
        d2 = trial_d2[best]
    cent = feats[centres]
    labels = _nearest(feats, sq, cent)
    labels[centres] = np.arange(n_components)  # each seed owns its own row
    for _ in range(lloyd_steps):
        mass = np.bincount(labels, weights=counts, minlength=n_components)
        if np.any(mass <= 0):
            break
        member = np.zeros((m, n_components))
        member[np.arange(m), labels] = counts
        new_cent = (feats.T @ member).T / mass[:, None]
        new = _nearest(feats, sq, new_cent)
        if np.bincount(new, minlength=n_components).min() == 0:
            break
        cent = new_cent
        if np.array_equal(new, labels):
            break
        labels = new
    diff = feats - cent[labels]
    return cent, float(counts @ np.einsum("ij,ij->i", diff, diff))


def _best_centres(
    feats: FloatArray,
    counts: FloatArray,
    n_components: int,
    rng: np.random.Generator,
    lloyd_steps: int,
    n_seedings: int,
) -> FloatArray:
    """The k-means solution of lowest inertia among ``n_seedings`` seedings."""
    best: tuple[FloatArray, float] | None = None
    for _ in range(n_seedings):
        cent, inertia = _kmeans_centres(feats, counts, n_components, rng, lloyd_steps)
        if best is None or inertia < best[1]:
            best = (cent, inertia)
    assert best is not None
    return best[0]


def kmeans_pp_labels(
    features: Any,
    counts: FloatArray,
    n_components: int,
    rng: np.random.Generator,
    lloyd_steps: int = 300,
    max_rows: int = 20_000,
    n_seedings: int = 1,
) -> NDArray[np.intp]:
    """Label rows by k-means: k-means++ seeding, then weighted Lloyd steps to convergence.

    Centres are drawn among the rows with probability proportional to
    ``count * D(x)^2``, ``D`` being the distance to the nearest centre chosen
    so far (Arthur & Vassilvitskii, "k-means++: the advantages of careful
    seeding", SODA 2007), in the greedy form that keeps the best of
    ``2 + log k`` candidates per step. Lloyd's k-means iterations (weighted by
    the counts; at most ``lloyd_steps``, until no row changes its cluster)
    then move the centres to their clusters' means, and every row joins its
    nearest centre. With ``n_seedings > 1`` the seeding and Lloyd's steps run
    that many times and the partition of lowest inertia (within-cluster sum of
    squares) is kept: a seeding that put two centres in one cluster ends with
    a visibly larger inertia, and EM started from it can crawl for thousands
    of iterations towards a poor local maximum.

    Up to ``max_rows`` rows, rows are visited in a canonical order (sorted by
    a fixed projection), so the result depends only on the multiset of rows
    and their counts: a row with count 3 and three copies of it give the same
    centres, whatever the order of the input. Beyond that, the centres are
    found on ``max_rows`` rows drawn with probability proportional to their
    counts; should that subsample hold fewer than ``n_components`` distinct
    rows (one row carrying almost all the weight), the centres are sought on
    every row instead, and :class:`DataError` is raised only when the data as a
    whole have too few distinct rows. ``features`` may be a dense array or a
    scipy sparse matrix; dense columns are centred first (see
    :func:`_centred`), so data far from the origin seed as well as data near it.
    """
    counts = np.asarray(counts, dtype=np.float64)
    features = _centred(features, counts)
    m = features.shape[0]
    centres: FloatArray | None = None
    if m > max_rows:
        pick = rng.choice(m, size=max_rows, p=counts / counts.sum())
        sub_rows, sub_counts = np.unique(pick, return_counts=True)
        if sub_rows.shape[0] >= n_components:
            try:
                centres = _best_centres(
                    _dense(features[sub_rows]),
                    sub_counts.astype(np.float64),
                    n_components,
                    rng,
                    lloyd_steps,
                    n_seedings,
                )
            except TooFewDistinctRows:
                # the subsample holds too few distinct rows (one row carrying
                # almost all the weight, repeated values): the data as a whole
                # may still have enough, so retry on every row before giving up
                centres = None
    if centres is None:
        centres = _best_centres(
            _dense(features), counts, n_components, rng, lloyd_steps, n_seedings
        )
    sq = _squared_norms(features)
    labels = _nearest(features, sq, centres)
    present = np.bincount(labels, minlength=n_components)
    for u in np.flatnonzero(present == 0):  # a centre no row chose: give it its nearest row
        dist = sq - 2.0 * np.asarray(features @ centres[u]).reshape(-1)
        labels[int(np.argmin(np.where(present[labels] > 1, dist, np.inf)))] = u
        present = np.bincount(labels, minlength=n_components)
    return labels.astype(np.intp)

"""k-means++ seeding of EM (kmix.solvers.em.seeding).

References: the same seeding on rows repeated ``count`` times; the simulated
labels of well separated clusters; the seeding of the same data near the
origin; the distinct values of the data. The regression tests from the code
review of the EM layer failed before their fix.
"""

from __future__ import annotations

import numpy as np
import pytest

from kmix import FiniteMixture
from kmix.exceptions import DataError
from kmix.solvers.em.seeding import kmeans_pp_labels
from tests.helpers.finite import fit_finite


@pytest.mark.parametrize("seed", range(5))
def test_kmeans_pp_seeding_uses_the_counts(seed):
    """Reference: the same seeding on the rows repeated ``count`` times.

    k-means++ draws rows with probability proportional to ``count * D^2`` and
    Lloyd steps average with the counts, so integer counts must act exactly
    like repeated rows: under the same generator every copy of a row gets the
    label its counted original gets. The order of the rows must not matter.
    """
    rng = np.random.default_rng(100 + seed)
    features = np.concatenate([rng.normal(c, 0.7, size=(15, 2)) for c in (0.0, 3.0, 6.0)])
    counts = rng.integers(1, 6, size=features.shape[0])
    on_counts = kmeans_pp_labels(
        features, counts.astype(float), 3, np.random.default_rng(seed), lloyd_steps=3
    )
    repeated = np.repeat(features, counts, axis=0)
    on_rows = kmeans_pp_labels(
        repeated, np.ones(repeated.shape[0]), 3, np.random.default_rng(seed), lloyd_steps=3
    )
    np.testing.assert_array_equal(on_rows, np.repeat(on_counts, counts))
    assert len(set(on_counts.tolist())) == 3
    # the seeding depends on the multiset of rows, not on their order
    order = np.random.default_rng(3).permutation(features.shape[0])
    a = kmeans_pp_labels(features, counts.astype(float), 3, np.random.default_rng(5))
    b = kmeans_pp_labels(features[order], counts[order].astype(float), 3, np.random.default_rng(5))
    np.testing.assert_array_equal(a[order], b)


def test_more_gaussian_components_than_distinct_rows():
    X = np.array([[0.0, 1.0]] * 10 + [[1.0, 1.0]] * 5)
    with pytest.raises(DataError, match="only 2 distinct rows, fewer than n_components=3"):
        fit_finite(X, family="gaussian", n_components=3)


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two labelings split the rows identically (up to renaming the labels)."""
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


# ---------------------------------------------- EM review 1: seeding far from the origin
def _four_tight_clusters(offset: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centres = 3.0 * np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels = rng.integers(0, 4, 2000)
    return centres[labels] + rng.normal(scale=0.1, size=(2000, 2)) + offset, labels


@pytest.mark.parametrize("seed", range(3))
def test_gaussian_clusters_far_from_the_origin_are_found(seed):
    """Reference: the simulated labels; four clusters 30 standard deviations apart.

    Offset by 1e9, |x|^2 - 2 x.c + |c|^2 resolves squared distances only to
    about 500, more than the clusters' separation (9): the seeding raised
    "only 2 distinct rows" (seed 0) or merged clusters that EM never split.
    """
    X, truth = _four_tight_clusters(1e9)
    model = FiniteMixture(4, random_state=seed).fit(X)
    assert _same_partition(model.predict(X), truth)


@pytest.mark.parametrize("seed", range(3))
def test_seeding_is_invariant_to_a_shift(seed):
    """Reference: the seeding of the same data near the origin (distances do not change)."""
    X, _ = _four_tight_clusters(0.0)
    near = kmeans_pp_labels(X, np.ones(len(X)), 4, np.random.default_rng(seed))
    far = kmeans_pp_labels(X + 1e9, np.ones(len(X)), 4, np.random.default_rng(seed))
    np.testing.assert_array_equal(far, near)


# ------------------------------------------ EM review 3: concentrated subsampled seeding
def _concentrated() -> tuple[np.ndarray, np.ndarray]:
    """One row at 0 with weight 1e7, 25,000 rows at 5 and five rows at 10 (weight 1)."""
    X = np.concatenate([[0.0], np.full(25_000, 5.0), np.full(5, 10.0)])[:, None]
    w = np.concatenate([[1e7], np.ones(25_000), np.ones(5)])
    return X, w


def test_subsampled_seeding_retries_on_every_row():
    """Reference: the data hold 3 distinct values, so 3 components are seeded.

    The 20,000-row subsample drawn by weight holds the heavy row and some
    rows at 5, but (almost surely) none at 10: 2 distinct values, which raised.
    """
    X, w = _concentrated()
    for seed in range(3):
        labels = kmeans_pp_labels(X, w, 3, np.random.default_rng(seed))
        assert _same_partition(labels, X[:, 0].astype(int))


def test_gaussian_fit_with_one_concentrated_weight():
    """Reference: the three values of the data are the three fitted means."""
    X, w = _concentrated()
    with pytest.warns(UserWarning, match="variance floor"):  # point masses: the floor binds
        model = FiniteMixture(3, random_state=0).fit(X, sample_weight=w)
    np.testing.assert_allclose(np.sort(model.params_.means[:, 0]), [0.0, 5.0, 10.0], atol=1e-9)

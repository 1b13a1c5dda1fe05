"""Latent class log-likelihoods and the two-way misfit (kmix.solvers.latent_class.design).

References: a direct triple loop over rows, classes and variables for the
log-likelihood; sampling noise at the true parameters for the misfit.
"""

from __future__ import annotations

import numpy as np
import pytest

from kmix.solvers.latent_class.design import RowDesign, log_likelihoods, pairwise_misfit
from kmix.solvers.latent_class.em import random_starts
from kmix.stats import compress_rows
from tests.helpers.latent_class import sampled


def direct_loglik(values, counts, w, probs):
    """Triple loop: rows, classes, variables."""
    total = 0.0
    for s in range(values.shape[0]):
        lik = 0.0
        for u in range(w.shape[0]):
            term = w[u]
            for j, p in enumerate(probs):
                term *= p[u, int(values[s, j])]
            lik += term
        total += counts[s] * np.log(lik)
    return total


@pytest.mark.parametrize("levels", [2, 3])
def test_log_likelihoods_match_a_direct_loop(levels):
    values, counts, w, probs = sampled(3, 5, 400, 0, levels)
    cands = [(w, probs), *random_starts([levels] * 5, 3, 2, np.random.default_rng(1))]
    got = log_likelihoods(values, counts, [levels] * 5, cands)
    want = [direct_loglik(values, counts, cw, cp) for cw, cp in cands]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_pairwise_misfit_separates_a_good_fit_from_a_wrong_one():
    """Reference: at the true parameters the residuals are sampling noise (|z| of a few);
    one class fitted to three-class data leaves margins many standard errors off."""
    from kmix.solvers.latent_class.design import pairwise_misfit
    from kmix.solvers.latent_class.em import RowDesign

    for levels in (2, 3):
        values, counts, w, probs = sampled(3, 8, 50_000, 21, levels)
        design = RowDesign(values, [levels] * 8, counts)
        assert pairwise_misfit(design, counts, w, probs) < 5.0
        pooled = [(w @ p)[None, :] for p in probs]  # the single-class fit: the margins
        assert pairwise_misfit(design, counts, np.ones(1), pooled) > 10.0


def test_pairwise_misfit_equals_the_dense_two_way_tables():
    """Reference: every two-way table built from the one-hot rows at once (the old dense way).

    The pairwise computation must give the same largest residual without ever
    holding a (levels x levels) array of all variables.
    """
    rng = np.random.default_rng(5)
    n_levels = [3, 2, 4, 5]
    values = np.column_stack([rng.integers(0, d, 400) for d in n_levels])
    values, counts, _ = compress_rows(values)
    weights = np.array([0.6, 0.4])
    probs = [rng.dirichlet(np.ones(d), size=2) for d in n_levels]
    design = RowDesign(values, n_levels, counts)
    codes = values.astype(int)
    onehot = np.concatenate([np.eye(d)[codes[:, j]] for j, d in enumerate(n_levels)], axis=1)
    total = counts.sum()
    emp = (onehot * (counts / total)[:, None]).T @ onehot
    full = np.concatenate(probs, axis=1)
    model = (full * weights[:, None]).T @ full
    owner = np.repeat(np.arange(len(n_levels)), n_levels)
    var = np.maximum(np.maximum(emp * (1 - emp), model * (1 - model)), 1 / total**2)
    se = np.sqrt(var / total)
    reference = (np.abs(emp - model) / se)[owner[:, None] != owner[None, :]].max()
    assert pairwise_misfit(design, counts, weights, probs) == pytest.approx(reference, rel=1e-12)

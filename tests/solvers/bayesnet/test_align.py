"""Label alignment of the reduction's runs (kmix.solvers.bayesnet.align).

Reference: runs built from one known set of source parameters, each given a
known random relabelling; the alignment must undo every relabelling.
"""

from __future__ import annotations

import numpy as np

from kmix.solvers.bayesnet import align
from kmix.solvers.bayesnet.align import align_runs
from kmix.solvers.bayesnet.runs import Run


def _runs(n_runs, k, rng):
    """Runs of members {A, Wr} given nothing: A's key is shared by all, Wr's by none."""
    theta_a = rng.dirichlet(np.ones(3), size=k)
    runs, truth = [], []
    for r in range(n_runs):
        perm = rng.permutation(k)  # run r's label of global source g is perm[g]
        w_r = rng.dirichlet(np.ones(2), size=k)
        probs = {"A": np.empty_like(theta_a), f"W{r}": np.empty_like(w_r)}
        probs["A"][perm] = theta_a + rng.normal(0, 0.01, theta_a.shape)
        probs[f"W{r}"][perm] = w_r
        weights = np.full(k, 1.0 / k)
        given = {"A": (), f"W{r}": ()}
        runs.append(Run(None, ("A", f"W{r}"), (), (), given, 1000.0 + r, weights, probs))
        truth.append(perm)
    return runs, truth


def test_many_runs_sharing_one_key_are_aligned_with_linear_work(monkeypatch):
    rng = np.random.default_rng(0)
    runs, truth = _runs(200, 3, rng)
    calls = []
    real = align._margin
    monkeypatch.setattr(align, "_margin", lambda c, p: calls.append(1) or real(c, p))
    perms, conflicts = align_runs(runs, 3)
    # all pairs would be 200 * 199 / 2 = 19,900 matchings; each run meets the HUBS largest
    assert len(calls) <= align.HUBS * len(runs)
    root = int(np.argmax([r.ess for r in runs]))
    for perm, p_true in zip(perms, truth, strict=True):
        assert perm is not None
        # global label g of the root maps to the same source in every run
        np.testing.assert_array_equal(perm, p_true[np.argsort(truth[root])])
    assert conflicts == 0

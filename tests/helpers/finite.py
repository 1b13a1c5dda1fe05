"""A small bernoulli table and a one-call FiniteMixture fit, for the bad-input tests."""

from __future__ import annotations

import numpy as np

from kmix import FiniteMixture

BERNOULLI = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0], [0, 0, 1]])


def fit_finite(X, **kw):
    family = kw.pop("family", "bernoulli")
    n_trials = kw.pop("n_trials_fit", None)
    return FiniteMixture(kw.pop("n_components", 2), family=family, **kw).fit(X, n_trials=n_trials)

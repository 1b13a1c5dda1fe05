"""Fixtures shared by the estimator tests."""

from __future__ import annotations

import numpy as np
import pytest

from kmix.datasets import bayesnet_mixture, random_sparse_dag
from kmix.estimators.bayesnet import BayesNetMixture


@pytest.fixture(scope="module")
def fitted_bayesnet():
    """BayesNetMixture on 20,000 rows with text levels, the data and the truth."""
    dag = random_sparse_dag(6, 2, random_state=3)
    X, truth = bayesnet_mixture(dag, 2, 20_000, separation=0.2, random_state=3)
    labels = np.where(X == 1, "yes", "no")  # text levels
    data = {c: labels[:, j] for j, c in enumerate(truth.columns)}
    return BayesNetMixture(dag, 2, random_state=0).fit(data), data, truth

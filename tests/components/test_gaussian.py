"""The Gaussian family's variance floor (kmix.components.gaussian) at a large data scale.

Regression tests from the code review of the EM layer: each test states its
reference; each failed before its fix.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from kmix import FiniteMixture


# ------------------------------------- EM review 7: variance floor at a large data scale
@pytest.mark.parametrize("scale", [1e2, 1e3, 1e4])
@pytest.mark.parametrize("seed", range(8))
def test_variance_floor_warning_at_large_scale(seed, scale):
    """Reference: column 1 = 2 * column 0 + 3, so the smallest eigenvalue is 0 and floored.

    The floored eigenvalue comes back from the covariance only to about
    d * eps * lambda_max; 10 of these 24 cases missed the warning.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 3)) * scale
    X[:, 1] = 2.0 * X[:, 0] + 3.0
    with pytest.warns(UserWarning, match=r"variance floor var_floor=1e-06 binds"):
        FiniteMixture(1, random_state=0).fit(X)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_no_variance_floor_warning_for_well_spread_large_data(covariance_type):
    """Control: data of scale 1e4 and full rank leave the floor far behind."""
    X = np.random.default_rng(0).normal(size=(300, 3)) * 1e4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FiniteMixture(1, covariance_type=covariance_type, random_state=0).fit(X)

"""Fixtures shared by test folders."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.bayesnet import SMALL, SMALL_LEVELS, random_bn


@pytest.fixture(scope="module")
def small():
    """A 3-source mixture on the 7-node graph ``SMALL`` (causal, inference, params)."""
    return random_bn(SMALL, 3, SMALL_LEVELS, np.random.default_rng(1))

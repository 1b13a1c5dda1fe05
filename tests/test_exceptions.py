"""kmix's errors (kmix.exceptions): a DataError is caught as ValueError and as KmixError."""

from __future__ import annotations

import pytest

from kmix.exceptions import KmixError
from tests.helpers.finite import BERNOULLI, fit_finite


def test_errors_are_catchable_as_value_error_and_kmix_error():
    with pytest.raises(KmixError):
        fit_finite(BERNOULLI, n_components=0)
    with pytest.raises(ValueError):
        fit_finite(BERNOULLI, n_components=0)

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


def test_an_unfitted_model_raises_a_kmix_error_that_scikit_learn_knows():
    """Reference: scikit-learn's NotFittedError, which pipelines and checks catch."""
    import numpy as np
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError

    from kmix import BayesNetMixture, CoinMixture, FiniteMixture, NotFittedError, ProductMixture

    for model in (FiniteMixture(), CoinMixture(), ProductMixture(), BayesNetMixture("A -> B")):
        with pytest.raises(NotFittedError) as info:
            model.predict(np.zeros((2, 2), dtype=int))
        assert isinstance(info.value, KmixError) and isinstance(info.value, SklearnNotFittedError)
        assert f"this {type(model).__name__} is not fitted yet" in str(info.value)

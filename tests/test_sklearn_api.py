"""scikit-learn conformance of the estimators.

Reference: scikit-learn's own estimator checks (``parametrize_with_checks``),
run on the families whose data scikit-learn's generic checks can produce
(real-valued data: the gaussian family, full and diagonal covariance).
"""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from kmix import FiniteMixture


@parametrize_with_checks(
    [
        FiniteMixture(n_components=1, random_state=0),
        FiniteMixture(n_components=2, covariance_type="diag", random_state=0),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)

"""The bundled surveys (kmix.datasets.surveys).

Reference: the fit on the patterns with their counts.
"""

from __future__ import annotations

import numpy as np

from kmix import ProductMixture


def test_expand_gives_one_row_per_respondent():
    from kmix.datasets import stouffer_toby

    data = stouffer_toby()
    X = data.expand()
    assert X.shape == (216, 4)
    a = ProductMixture(2, random_state=0).fit(X)
    b = ProductMixture(2, random_state=0).fit(data.patterns, sample_weight=data.counts)
    np.testing.assert_allclose(a.probs_, b.probs_, atol=1e-8)

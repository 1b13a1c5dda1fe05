"""Covariates and distal outcomes: the 2000 American National Election Study (poLCA's data).

Three classes of candidate ratings; class shares a multinomial logit in party identification
(poLCA's published latent class regression, reproduced by kmix's tests); then age as a distal
outcome per class, by the BCH correction.
"""

import sys
from pathlib import Path

import numpy as np

from kmix import ProductMixture, distal
from kmix.datasets import election
from kmix.plotting import covariate_effects, distal_outcome

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
data = election()
party, age = data.covariate("PARTY"), data.covariate("AGE")
keep = data.complete() & ~np.isnan(party) & ~np.isnan(age)  # every rating, both covariates
items, party, age = data.items[keep], party[keep], age[keep]
model = ProductMixture(3, random_state=0).fit(items, covariates={"PARTY": party})
print(f"log-likelihood {model.log_likelihood_:.2f}; coefficients per class vs class 1:")
print(np.round(model.coef_, 3))
covariate_effects(model).savefig(out / "covariates.png", dpi=80)
plain = ProductMixture(3, random_state=0).fit(items)
result = distal(plain, items, age, method="bch")
print("mean age per class (BCH):", result.estimates.round(1).tolist(), f"p = {result.p_value:.2g}")
distal_outcome(result).savefig(out / "distal.png", dpi=80)

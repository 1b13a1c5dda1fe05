"""FiniteMixture: two factories whose colour mixes are known; learn only the share of each.

Each marble is red with probability 0.8 (factory 1) or 0.3 (factory 2). With those fixed,
EM learns P(factory 1), whose closed form is (P(red) - 0.3) / 0.5.
"""

import sys
from pathlib import Path

from kmix import FiniteMixture
from kmix.datasets import marbles
from kmix.plotting import convergence

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
X, truth = marbles(10_000, random_state=0)  # 1 = red, 0 = blue
model = FiniteMixture(2, family="bernoulli", fixed_params={"p": [[0.8], [0.3]]}).fit(X)
closed_form = (X.mean() - 0.3) / 0.5
print(f"P(factory 1): EM {model.weights_[0]:.4f}, closed form {closed_form:.4f}, truth 0.6")
print("P(factory | red), P(factory | blue):", model.predict_proba([[1], [0]]).round(3).tolist())
convergence(model).savefig(out / "finite_convergence.png", dpi=80)

"""BayesNetMixture: the effect of a treatment despite a hidden hospital label.

Two hospitals pool patients; in each, severity A drives treatment X and recovery Y. The
hospital is hidden and shifts every variable, so the naive contrast has the wrong sign.
"""

import sys
from pathlib import Path

from kmix import BayesNetMixture, causal
from kmix.datasets import HOSPITALS_DAG, two_hospitals
from kmix.plotting import dag_figure, effect_figure

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
X, truth = two_hospitals(20_000, random_state=0)
model = BayesNetMixture(HOSPITALS_DAG, 2, random_state=0).fit(X, columns=list(truth.columns))
true_ate = float(causal.ate(truth, "X", "Y"))
print(
    f"ATE: kmix {model.ate('X', 'Y'):+.3f}, naive {model.naive_ate('X', 'Y'):+.3f}, "
    f"truth {true_ate:+.3f}"
)
boot = model.bootstrap(n_boot=20, random_state=0)
dag_figure(model).savefig(out / "dag.png", dpi=80)
effect_figure(model, "X", "Y", bootstrap=boot, truth=true_ate).savefig(out / "effect.png", dpi=80)

"""k-MixBND, mixtures of Bayesian networks on a known DAG with a hidden source.

* :mod:`~kmix.solvers.bayesnet.runs`, :mod:`~.planning`, :mod:`~.defaults`:
  the latent class runs on conditioned strata, and how they are chosen;
* :mod:`~kmix.solvers.bayesnet.align`, :mod:`~.unzip`: aligning the runs'
  labels and unzipping Markov-boundary conditionals into CPTs;
* :mod:`~kmix.solvers.bayesnet.reduction`: :func:`fit_bayesnet_reduction`,
  the whole reduction;
* :mod:`~kmix.solvers.bayesnet.em`: EM over the whole mixture of networks;
* :mod:`~kmix.solvers.bayesnet.design`: the rows as EM needs them, rows
  with missing values as their completions (full-information maximum
  likelihood);
* :mod:`~kmix.solvers.bayesnet.inference`: row likelihoods, sampling and
  variable elimination (used by :mod:`kmix.causal.effects`);
* :mod:`~kmix.solvers.bayesnet.fit`: :func:`fit_bayesnet_mixture`, the
  reduction's start refined by EM, the rung's pure entry point.
"""

from .em import em_bayesnet_mixture
from .fit import BayesNetMixtureFit, fit_bayesnet_mixture
from .reduction import BayesNetReduction, fit_bayesnet_reduction

__all__ = [
    "BayesNetMixtureFit",
    "BayesNetReduction",
    "em_bayesnet_mixture",
    "fit_bayesnet_mixture",
    "fit_bayesnet_reduction",
]

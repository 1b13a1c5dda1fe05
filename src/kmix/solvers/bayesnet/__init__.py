"""k-MixBND, mixtures of Bayesian networks on a known DAG with a hidden source.

* :mod:`~kmix.solvers.bayesnet.runs`, :mod:`~.planning`, :mod:`~.defaults`:
  the latent class runs on conditioned strata, and how they are chosen;
* :mod:`~kmix.solvers.bayesnet.align`, :mod:`~.unzip`: aligning the runs'
  labels and unzipping Markov-boundary conditionals into CPTs;
* :mod:`~kmix.solvers.bayesnet.reduction`: :func:`fit_bayesnet_reduction`,
  the whole reduction;
* :mod:`~kmix.solvers.bayesnet.em`: EM over the whole mixture of networks;
* :mod:`~kmix.solvers.bayesnet.inference`: row likelihoods, sampling and
  variable elimination (used by :mod:`kmix.causal.effects`).
"""

from .em import em_bayesnet_mixture
from .reduction import BayesNetReduction, fit_bayesnet_reduction

__all__ = ["BayesNetReduction", "em_bayesnet_mixture", "fit_bayesnet_reduction"]

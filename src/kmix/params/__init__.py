"""Fitted parameters as frozen values: validate, permute, canonical.

* :mod:`~kmix.params.mixture`: the component families' parameters and
  :class:`Mixture` (weights plus components);
* :mod:`~kmix.params.dag`: :class:`DAG`, the known graph of a mixture of
  Bayesian networks, and d-separation with the hidden class;
* :mod:`~kmix.params.bayesnet`: :class:`BayesNetMixtureParams`, the weights
  and per-source CPTs of a mixture of Bayesian networks.
"""

from .bayesnet import BayesNetMixtureParams
from .dag import DAG, d_separated
from .mixture import (
    BernoulliParams,
    BinomialParams,
    CategoricalParams,
    ComponentParams,
    GaussianParams,
    Mixture,
    PoissonParams,
    check_weights,
    item_view,
)

__all__ = [
    "DAG",
    "BayesNetMixtureParams",
    "BernoulliParams",
    "BinomialParams",
    "CategoricalParams",
    "ComponentParams",
    "GaussianParams",
    "Mixture",
    "PoissonParams",
    "check_weights",
    "d_separated",
    "item_view",
]

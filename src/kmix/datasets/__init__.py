"""Simulators that return data together with the parameters that made them, and bundled surveys.

* :mod:`~kmix.datasets.mixtures`: :func:`marbles` (the two-factory example),
  :func:`make_mixture` and :func:`random_params` (any EM family);
* :mod:`~kmix.datasets.coins`: :func:`random_coins` and :func:`coin_flips`
  (the k-coin problem, k-MixIID);
* :mod:`~kmix.datasets.bayesnet`: :func:`bayesnet_mixture`,
  :func:`random_sparse_dag` and :func:`two_hospitals` (mixtures of Bayesian
  networks, k-MixBND);
* :mod:`~kmix.datasets.discovery`: :func:`erdos_renyi_mixture` (random DAGs
  confounded by a hidden population label, for causal discovery);
* :mod:`~kmix.datasets.surveys`: classic surveys with published latent class
  estimates (k-MixProd): :func:`stouffer_toby` and :func:`carcinoma` (binary),
  :func:`gss82` (polytomous), all as patterns with counts
  (:class:`SurveyData`), and :func:`election`, one row per respondent with
  unanswered items and covariates (:class:`SurveyRows`).
"""

from .bayesnet import HOSPITALS_DAG, bayesnet_mixture, random_sparse_dag, two_hospitals
from .coins import coin_flips, random_coins
from .discovery import erdos_renyi_mixture
from .mixtures import make_mixture, marbles, random_params
from .surveys import SurveyData, SurveyRows, carcinoma, election, gss82, stouffer_toby

__all__ = [
    "HOSPITALS_DAG",
    "SurveyData",
    "SurveyRows",
    "bayesnet_mixture",
    "carcinoma",
    "coin_flips",
    "election",
    "erdos_renyi_mixture",
    "gss82",
    "make_mixture",
    "marbles",
    "random_coins",
    "random_params",
    "random_sparse_dag",
    "stouffer_toby",
    "two_hospitals",
]

"""Causal queries over fitted parameters (never raw data): DAG input and checks, do().

``interventional``, ``observational`` and ``ate`` take a mixture of Bayesian
networks (:class:`~kmix.solvers.bnmodel.BayesNetMixtureParams`, e.g. a fitted
``BayesNetMixture.params_``) and compute exact answers by the truncated
factorisation summed over the hidden source (:mod:`kmix.solvers.bnmodel`).
"""

from ..solvers.bnmodel import BayesNetMixtureParams, ate, interventional, observational
from ..solvers.graph import DAG, d_separated
from .dag import as_dag, check_dag_columns, parse_edge_list

__all__ = [
    "DAG",
    "BayesNetMixtureParams",
    "as_dag",
    "ate",
    "check_dag_columns",
    "d_separated",
    "interventional",
    "observational",
    "parse_edge_list",
]

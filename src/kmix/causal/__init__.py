"""Causal queries over fitted parameters (never raw data): DAG input and checks, do().

* :mod:`~kmix.causal.dag_input`: a DAG from networkx, pgmpy, ``A -> B`` text,
  a file, pairs or a function of the column names (:func:`as_dag`,
  :func:`isolated_nodes`), checked against the data's columns;
* :mod:`~kmix.causal.effects`: :func:`interventional`, :func:`observational`
  and :func:`ate` on a mixture of Bayesian networks
  (:class:`~kmix.params.BayesNetMixtureParams`, e.g. a fitted
  ``BayesNetMixture.params_``), exact by the truncated factorisation summed
  over the hidden source.

``DAG``, ``d_separated`` and ``BayesNetMixtureParams`` are re-exported from
:mod:`kmix.params` for convenience.
"""

from ..params import DAG, BayesNetMixtureParams, d_separated
from .dag_input import as_dag, check_dag_columns, isolated_nodes, parse_edge_list
from .effects import ate, interventional, observational

__all__ = [
    "DAG",
    "BayesNetMixtureParams",
    "as_dag",
    "ate",
    "check_dag_columns",
    "d_separated",
    "interventional",
    "isolated_nodes",
    "observational",
    "parse_edge_list",
]

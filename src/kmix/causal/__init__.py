"""Causal queries over fitted parameters: DAG input and checks, do(); and the DAG from data.

* :mod:`~kmix.causal.dag_input`: a DAG from networkx, pgmpy, ``A -> B`` text,
  a file, pairs or a function of the column names (:func:`as_dag`,
  :func:`isolated_nodes`), checked against the data's columns;
* :mod:`~kmix.causal.effects`: :func:`interventional`, :func:`observational`
  and :func:`ate` on a mixture of Bayesian networks
  (:class:`~kmix.params.BayesNetMixtureParams`, e.g. a fitted
  ``BayesNetMixture.params_``), exact by the truncated factorisation summed
  over the hidden source;
* :mod:`~kmix.causal.discovery`: :func:`discover`, the equivalence class of the
  DAG when a hidden population label confounds every variable.

``DAG``, ``d_separated`` and ``BayesNetMixtureParams`` are re-exported from
:mod:`kmix.params` for convenience.
"""

from ..params import DAG, BayesNetMixtureParams, d_separated
from .dag_input import as_dag, check_dag_columns, isolated_nodes, parse_edge_list
from .discovery import Background, DiscoveryResult, EdgeEvidence, discover, discover_over_k
from .effects import ate, interventional, observational

__all__ = [
    "DAG",
    "Background",
    "BayesNetMixtureParams",
    "DiscoveryResult",
    "EdgeEvidence",
    "as_dag",
    "ate",
    "check_dag_columns",
    "d_separated",
    "discover",
    "discover_over_k",
    "interventional",
    "isolated_nodes",
    "observational",
    "parse_edge_list",
]

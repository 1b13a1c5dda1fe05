"""Causal queries over fitted parameters (never raw data): DAG input and checks.

See :mod:`kmix.solvers.bnmodel` for the exact interventional numerics.
"""

from ..solvers.graph import DAG, d_separated
from .dag import as_dag, check_dag_columns, parse_edge_list

__all__ = ["DAG", "as_dag", "check_dag_columns", "d_separated", "parse_edge_list"]

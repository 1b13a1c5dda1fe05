"""Causal discovery when a hidden population label ``U`` confounds every variable.

* :mod:`~kmix.solvers.discovery.ranktests`: the conditional rank test on
  super-variables, statistics summed over strata;
* :mod:`~kmix.solvers.discovery.skeleton`: PC-stable search with those tests;
* :mod:`~kmix.solvers.discovery.orient`: background knowledge, colliders from
  separating sets, Meek's rules;
* :mod:`~kmix.solvers.discovery.families`: the mixture of networks on unique
  rows (expected family counts and scores, EM);
* :mod:`~kmix.solvers.discovery.starts`: starts that anchor ``U`` (witness
  sets, graphs grown around them);
* :mod:`~kmix.solvers.discovery.scoring`: structural EM over DAGs with the
  hidden ``U``, by the BIC of the mixture of networks, then iterated local
  search from the best model;
* :mod:`~kmix.solvers.discovery.fitcheck`: the best graph's dimension (is it
  identified at all?) and its goodness of fit (edges join while it is rejected);
* :mod:`~kmix.solvers.discovery.search`: :func:`discover_graph`, the whole
  search from counts.

Reference: B. Mazaheri, S. Gordon, Y. Rabani, L. Schulman, "Causal discovery
under latent class confounding", arXiv:2311.07454, 2023.
"""

from .orient import Orientation, equivalence_class, meek, orient
from .ranktests import RankTester, StratifiedRankTest
from .scoring import ScoredDAG, structural_em
from .search import DiscoveredGraph, discover_graph
from .skeleton import Skeleton, learn_skeleton

__all__ = [
    "DiscoveredGraph",
    "Orientation",
    "RankTester",
    "ScoredDAG",
    "Skeleton",
    "StratifiedRankTest",
    "discover_graph",
    "equivalence_class",
    "learn_skeleton",
    "meek",
    "orient",
    "structural_em",
]

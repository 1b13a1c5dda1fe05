"""Random DAGs confounded by a hidden population label, for causal discovery.

The protocol of Mazaheri, Gordon, Rabani & Schulman ("Causal discovery under
latent class confounding", arXiv:2311.07454, 2023): an Erdős–Rényi DAG (each
pair joined with probability ``edge_prob``, oriented along a random order of
the nodes), a hidden ``U`` uniform on ``k`` states pointing at every node,
and random structural equations: every CPT row of every source drawn from a
flat Dirichlet.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import DataError
from ..params import DAG, BayesNetMixtureParams
from ..solvers.bayesnet.inference import sample as sample_bayesnet
from ._random import rng_from

__all__ = ["erdos_renyi_mixture"]


def erdos_renyi_mixture(
    n_nodes: int = 7,
    edge_prob: float = 0.3,
    n_samples: int = 10_000,
    *,
    n_components: int = 2,
    n_levels: int = 2,
    random_state: Any = None,
) -> tuple[np.ndarray, DAG, BayesNetMixtureParams]:
    """Rows of a random DAG's variables, a uniform hidden ``U`` confounding all of them.

    Parameters
    ----------
    n_nodes : int
        Variables ``V0 .. V{n-1}``.
    edge_prob : float
        Probability of an edge between each pair.
    n_samples : int
        Rows (0: none, for the parameters alone).
    n_components : int
        States of ``U`` (equal weights).
    n_levels : int
        Levels of every variable.
    random_state : int, Generator or None

    Returns
    -------
    X : ndarray of shape (n_samples, n_nodes)
        Integer codes, column ``i`` the variable ``V{i}`` (``dag.nodes`` lists
        the same names parents first).
    dag : DAG
    params : BayesNetMixtureParams
        The simulating mixture.

    Examples
    --------
    >>> X, dag, params = erdos_renyi_mixture(5, 0.4, 100, random_state=0)
    >>> X.shape, params.weights.tolist()
    ((100, 5), [0.5, 0.5])
    """
    if not 0.0 <= float(edge_prob) <= 1.0:
        raise DataError(f"edge_prob must be in [0, 1]; got {edge_prob!r}")
    if int(n_nodes) < 2 or int(n_components) < 1 or int(n_levels) < 2:
        raise DataError(
            "n_nodes >= 2, n_components >= 1 and n_levels >= 2 are needed; got "
            f"{n_nodes!r}, {n_components!r}, {n_levels!r}"
        )
    rng = rng_from(random_state)
    names = [f"V{i}" for i in range(int(n_nodes))]
    order = rng.permutation(int(n_nodes))
    edges = [
        (names[order[a]], names[order[b]])
        for a in range(int(n_nodes))
        for b in range(a + 1, int(n_nodes))
        if rng.random() < float(edge_prob)
    ]
    dag = DAG.from_edges(names, edges)
    k, d = int(n_components), int(n_levels)
    cpts = [rng.dirichlet(np.ones(d), size=(k, *(d for _ in dag.parents[v]))) for v in dag.nodes]
    params = BayesNetMixtureParams(dag, (d,) * len(names), np.full(k, 1.0 / k), tuple(cpts))
    X, _ = sample_bayesnet(params, int(n_samples), rng=rng)
    # columns V0 .. V{n-1} in that order (the DAG lists its nodes parents first)
    by_name = [dag.nodes.index(name) for name in names]
    return np.asarray(X)[:, by_name], dag, params

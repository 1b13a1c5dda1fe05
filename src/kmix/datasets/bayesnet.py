"""Mixtures of Bayesian networks on a known DAG: random DAGs, random mixtures, two hospitals.

The hidden source is a parent of every node; :func:`bayesnet_mixture` draws
separated random CPTs per source, :func:`random_sparse_dag` degree-bounded
DAGs, and :func:`two_hospitals` a Simpson's-paradox example with a known
effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError
from ..params import DAG, BayesNetMixtureParams
from ..solvers.bayesnet.inference import sample as sample_bayesnet
from ._random import rng_from

__all__ = ["HOSPITALS_DAG", "bayesnet_mixture", "random_sparse_dag", "two_hospitals"]


def random_sparse_dag(n_nodes: int, max_degree: int = 2, *, random_state: Any = None) -> DAG:
    """A random DAG on ``V0 .. V{n-1}`` whose every node has at most ``max_degree`` edges.

    Nodes are visited in index order; node ``j`` draws a number of parents
    uniformly from ``0 .. min(max_degree, #eligible)`` and picks them
    uniformly among the earlier nodes that still have fewer than
    ``max_degree`` edges. Edges therefore point from lower to higher index
    (``V0 .. V{n-1}`` is a topological order), and every node's total degree
    (parents plus children), hence also its in-degree, is at most
    ``max_degree``.

    Parameters
    ----------
    n_nodes : int
    max_degree : int
        Bound on the total degree of every node (``DAG.max_degree``).
    random_state : int, Generator or None

    Returns
    -------
    DAG

    Examples
    --------
    >>> g = random_sparse_dag(6, 2, random_state=0)
    >>> g.nodes[:3], g.max_degree <= 2
    (('V0', 'V1', 'V2'), True)
    """
    for name, value, low in (("n_nodes", n_nodes, 1), ("max_degree", max_degree, 0)):
        if isinstance(value, bool) or int(value) != value or value < low:
            raise DataError(f"{name} must be an integer >= {low}; got {value!r}")
    rng = rng_from(random_state)
    n = int(n_nodes)
    names = [f"V{i}" for i in range(n)]
    degree = np.zeros(n, dtype=np.int64)
    parents: dict[str, tuple[str, ...]] = {}
    for j in range(n):
        eligible = np.flatnonzero(degree[:j] < max_degree)
        m = int(rng.integers(0, min(int(max_degree), eligible.size) + 1))
        chosen = np.sort(rng.choice(eligible, size=m, replace=False)) if m else eligible[:0]
        degree[chosen] += 1
        degree[j] += m
        parents[names[j]] = tuple(names[i] for i in chosen)
    return DAG(tuple(names), parents)


def _separated_rows(
    shape: tuple[int, int, int],
    separation: float,
    low: float,
    high: float,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """(rows, k, d) level probabilities; sources of a row at least ``separation`` apart."""
    rows, k, d = shape
    if d == 2:
        room = (high - low) - (k - 1) * separation
        p1 = low + np.sort(rng.uniform(0.0, room, (rows, k)), axis=1) + separation * np.arange(k)
        p1 = rng.permuted(p1, axis=1)
        return np.stack([1.0 - p1, p1], axis=-1)
    floor = low / d
    out = floor + (1.0 - low) * rng.dirichlet(np.ones(d), size=(rows, k))
    if k == 1 or separation <= 0:
        return out
    upper = np.triu(np.ones((k, k), dtype=bool), 1)
    for _ in range(1000):
        gap = np.abs(out[:, :, None, :] - out[:, None, :, :]).max(axis=-1)  # (rows, k, k)
        bad = (gap[:, upper] < separation).any(axis=1)
        if not bad.any():
            return out
        out[bad] = floor + (1.0 - low) * rng.dirichlet(np.ones(d), size=(int(bad.sum()), k))
    raise DataError(
        f"could not draw {k} sources with {d}-level rows at least separation={separation} "
        "apart; lower separation"
    )


def bayesnet_mixture(
    dag: DAG,
    n_components: int = 2,
    n_samples: int = 10_000,
    *,
    n_levels: int | Sequence[int] = 2,
    separation: float = 0.1,
    weight_concentration: float = 2.0,
    min_weight: float = 0.05,
    low: float = 0.1,
    high: float = 0.9,
    random_state: Any = None,
    return_labels: bool = False,
) -> Any:
    """Sample a random mixture of Bayesian networks on a known DAG.

    Every node has the hidden source ``U`` as an extra parent:
    ``P(v) = sum_u pi_u prod_V P_u(v_V | pa(V))``.

    CPTs. For a binary node, each parent configuration draws the ``k``
    values ``P_u(V = 1 | pa)`` as in :func:`random_coins`: sorted uniforms on
    ``[low, high]`` shortened by ``(k - 1) * separation``, spread by
    ``separation``, then shuffled across sources independently per row, so
    every two sources differ by at least ``separation`` in every entry. A
    node with ``d > 2`` levels draws each row as
    ``low / d + (1 - low) * Dirichlet(1, ..., 1)`` and redraws rows until
    every two sources differ by at least ``separation`` in some level (at
    most 1000 rounds, else :class:`DataError`). Weights are
    ``min_weight + (1 - k * min_weight) * Dirichlet(weight_concentration)``.

    Parameters
    ----------
    dag : DAG
        A :class:`kmix.params.DAG` (see :func:`kmix.causal.as_dag`
        and :func:`random_sparse_dag`).
    n_components : int
        Number of sources ``k``.
    n_samples : int
    n_levels : int or sequence of int
        Levels per node (in ``dag.nodes`` order); an int applies to all.
    separation : float
        Minimum gap between sources' CPT entries (see above); binary nodes
        need ``(k - 1) * separation <= high - low``.
    weight_concentration, min_weight : float
    low, high : float
        Range of the binary nodes' ``P_u(V = 1 | pa)``.
    random_state : int, Generator or None
    return_labels : bool
        Also return the source of each row.

    Returns
    -------
    X : ndarray of shape (n_samples, n_nodes), int64
        Level codes; column ``j`` is node ``dag.nodes[j]``.
    truth : BayesNetMixtureParams
    labels : ndarray of shape (n_samples,), only with ``return_labels``

    Examples
    --------
    >>> from kmix.params.dag import DAG
    >>> g = DAG.from_edges(None, [("A", "B"), ("B", "C")])
    >>> X, truth = bayesnet_mixture(g, 2, 100, random_state=0)
    >>> X.shape, truth.columns, truth.n_parameters
    ((100, 3), ('A', 'B', 'C'), 11)
    """
    if not isinstance(dag, DAG):
        raise DataError(
            f"dag must be a kmix DAG; got {type(dag).__name__}. Build one with "
            "kmix.causal.as_dag(...) or kmix.datasets.random_sparse_dag(...)"
        )
    k = int(n_components)
    if k < 1 or k != n_components:
        raise DataError(f"n_components must be a positive integer; got {n_components!r}")
    if isinstance(n_samples, bool) or int(n_samples) != n_samples or n_samples < 0:
        raise DataError(f"n_samples must be a non-negative integer; got {n_samples!r}")
    if not 0.0 <= low < high <= 1.0:
        raise DataError(f"need 0 <= low < high <= 1; got low={low}, high={high}")
    if separation < 0:
        raise DataError(f"separation must be >= 0; got {separation}")
    if k * min_weight > 1 or min_weight < 0:
        raise DataError(f"min_weight={min_weight} must lie in [0, 1/k] for k={k}")
    raw: Any = n_levels
    levels = (int(raw),) * dag.n_nodes if np.ndim(raw) == 0 else tuple(int(d) for d in raw)
    if len(levels) != dag.n_nodes or min(levels, default=2) < 2:
        raise DataError(
            f"n_levels must be one int >= 2 or one per node ({dag.n_nodes}); got {n_levels!r}"
        )
    if 2 in levels and (k - 1) * separation > high - low:
        raise DataError(
            f"{k} sources {separation} apart do not fit in [{low}, {high}]; use "
            f"separation <= {(high - low) / max(k - 1, 1):.3g} or fewer components"
        )
    rng = rng_from(random_state)
    card = dict(zip(dag.nodes, levels, strict=True))
    cpts = []
    for v in dag.nodes:
        pa_shape = tuple(card[p] for p in dag.parents[v])
        rows = int(np.prod(pa_shape, dtype=np.int64))
        table = _separated_rows((rows, k, card[v]), separation, low, high, rng)
        cpts.append(np.moveaxis(table, 1, 0).reshape((k, *pa_shape, card[v])))
    w = min_weight + (1.0 - k * min_weight) * rng.dirichlet(np.full(k, weight_concentration))
    truth = BayesNetMixtureParams(dag, levels, w / w.sum(), tuple(cpts))
    X, labels = sample_bayesnet(truth, int(n_samples), rng=rng)
    return (X, truth, labels) if return_labels else (X, truth)


HOSPITALS_DAG = "A -> X\nA -> Y\nX -> Y\nC\nD\nE"
_HOSPITAL_NODES = ("A", "X", "Y", "C", "D", "E")
_HOSPITAL_EDGES = (("A", "X"), ("A", "Y"), ("X", "Y"))


def _hospitals() -> BayesNetMixtureParams:
    """Two hospitals: one treats most patients and gets the severe cases, one treats few.

    Within each hospital treatment helps (Y = 1 is recovery); pooled, the treated
    recover less often, because the hospital that treats is the one with the
    sicker patients.
    """
    dag = DAG.from_edges(list(_HOSPITAL_NODES), list(_HOSPITAL_EDGES))
    tables = {
        # P(node = 1 | parents) per hospital, indexed by the parents' values
        "A": [np.array(0.7), np.array(0.2)],
        "X": [np.array([0.6, 0.9]), np.array([0.1, 0.3])],
        "Y": [  # [A][X]
            np.array([[0.5, 0.7], [0.2, 0.4]]),
            np.array([[0.8, 0.95], [0.5, 0.7]]),
        ],
        "C": [np.array(0.8), np.array(0.2)],
        "D": [np.array(0.7), np.array(0.3)],
        "E": [np.array(0.9), np.array(0.15)],
    }
    cpts = []
    for v in dag.nodes:
        p1 = np.stack(tables[v])
        if v == "Y" and dag.parents["Y"] == ("X", "A"):
            p1 = np.swapaxes(p1, 1, 2)
        cpts.append(np.stack([1.0 - p1, p1], axis=-1))
    return BayesNetMixtureParams(dag, (2,) * dag.n_nodes, np.array([0.55, 0.45]), tuple(cpts))


def two_hospitals(
    n_samples: int = 100_000, *, random_state: Any = None
) -> tuple[NDArray[np.intp], BayesNetMixtureParams]:
    """Patients of two hospitals pooled without the hospital label (Simpson's paradox).

    DAG inside each hospital (:data:`HOSPITALS_DAG`): severity ``A -> X``
    (treatment), ``A -> Y`` (recovery), ``X -> Y``, and routine readings ``C``,
    ``D``, ``E``; the hidden hospital points at every node. Treatment helps
    within each hospital (ATE about +0.18 overall), yet the pooled contrast
    ``P(Y | X = 1) - P(Y | X = 0)`` is negative: the hospital that treats most
    also receives the severe cases.

    Returns
    -------
    X : ndarray of shape (n_samples, 6)
        0/1 codes, columns in ``truth.columns`` order.
    truth : BayesNetMixtureParams
        The simulating model (shares 0.55 and 0.45).
    """
    truth = _hospitals()
    codes, _ = sample_bayesnet(truth, int(n_samples), rng=np.random.default_rng(random_state))
    return codes, truth

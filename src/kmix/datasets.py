"""Simulators that return data together with the parameters that made them.

* :func:`marbles`: the two-factory marbles example (Goodfellow, Bengio &
  Courville, *Deep Learning*, 2016, §3.9.6): each bag comes from factory ``u``
  with probability ``weights[u]`` and holds ``n_draws`` marbles, each red with
  probability ``p_red[u]``. With one draw per bag only ``P(red)`` is observed,
  so two factories with known colours are the most that can be told apart;
  with ``t`` draws per bag up to ``(t + 1) / 2`` factories become identifiable
  (the k-coin bound ``t >= 2k - 1``).
* :func:`make_mixture`: a random mixture of any family and a sample from it.
* :func:`random_coins` and :func:`coin_flips`: the k-coin problem (k-MixIID):
  random separated biases and weights, and head counts drawn from them.
* :func:`bayesnet_mixture` and :func:`random_sparse_dag`: a mixture of
  Bayesian networks on a known DAG (the hidden source is a parent of every
  node) with separated random CPTs, and random degree-bounded DAGs.
* :func:`stouffer_toby` and :func:`carcinoma`: two classic binary surveys with
  published latent class estimates, bundled with the package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .components import get_family
from .exceptions import DataError
from .params import (
    BernoulliParams,
    BinomialParams,
    CategoricalParams,
    ComponentParams,
    GaussianParams,
    Mixture,
    PoissonParams,
    check_weights,
)
from .solvers.bnmodel import BayesNetMixtureParams
from .solvers.bnmodel import sample as sample_bayesnet
from .solvers.graph import DAG

__all__ = [
    "HOSPITALS_DAG",
    "SurveyData",
    "bayesnet_mixture",
    "carcinoma",
    "coin_flips",
    "make_mixture",
    "marbles",
    "random_coins",
    "random_params",
    "random_sparse_dag",
    "stouffer_toby",
    "two_hospitals",
]


def _rng(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    return np.random.default_rng(random_state)


def _labels(weights: NDArray[np.float64], n: int, rng: np.random.Generator) -> NDArray[np.intp]:
    return rng.choice(weights.shape[0], size=n, p=weights).astype(np.intp)


def marbles(
    n_samples: int = 1000,
    *,
    p_red: ArrayLike = (0.8, 0.3),
    weights: ArrayLike = (0.6, 0.4),
    n_draws: int = 1,
    random_state: Any = None,
    return_labels: bool = False,
) -> Any:
    """Bags of marbles from factories with known colour mixes.

    Parameters
    ----------
    n_samples : int
        Number of bags (rows).
    p_red : array-like of shape (k,)
        ``P(red | factory u)``; the seed example uses (0.8, 0.3).
    weights : array-like of shape (k,)
        ``P(factory u)``; the seed example uses (0.6, 0.4).
    n_draws : int
        Marbles drawn from each bag (columns). All marbles of a bag come from
        the same factory.
    random_state : int, Generator or None
    return_labels : bool
        Also return the factory of each bag.

    Returns
    -------
    X : ndarray of shape (n_samples, n_draws), int
        1 = red, 0 = blue.
    truth : Mixture
        The weights and :class:`~kmix.params.BernoulliParams` with ``p`` of
        shape (k, n_draws) (``p_red`` repeated across draws).
    labels : ndarray of shape (n_samples,), only with ``return_labels``

    Examples
    --------
    >>> X, truth = marbles(5, random_state=0)
    >>> X.shape, truth.weights.tolist()
    ((5, 1), [0.6, 0.4])
    """
    if isinstance(n_samples, bool) or int(n_samples) != n_samples or n_samples < 1:
        raise DataError(f"n_samples must be a positive integer; got {n_samples!r}")
    if isinstance(n_draws, bool) or int(n_draws) != n_draws or n_draws < 1:
        raise DataError(f"n_draws must be a positive integer; got {n_draws!r}")
    p = np.asarray(p_red, dtype=np.float64).reshape(-1)
    w = check_weights(weights, p.shape[0])
    params = BernoulliParams(np.repeat(p[:, None], int(n_draws), axis=1))
    rng = _rng(random_state)
    labels = _labels(w, int(n_samples), rng)
    X = (rng.random((int(n_samples), int(n_draws))) < params.p[labels]).astype(np.int64)
    truth = Mixture(w, params)
    return (X, truth, labels) if return_labels else (X, truth)


def random_params(
    family: str,
    n_components: int,
    n_features: int,
    *,
    rng: np.random.Generator,
    n_levels: int | ArrayLike = 3,
    covariance_type: str = "full",
) -> ComponentParams:
    """Random parameters of a family.

    Bernoulli and binomial ``p ~ U(0.05, 0.95)``; categorical rows
    ``~ Dirichlet(1)``; Poisson rates ``~ U(0.5, 10)``; Gaussian means
    ``~ N(0, 5^2)`` and covariances ``A A^T / d + 0.5 I`` with ``A`` standard
    normal (or variances ``~ U(0.5, 2)`` for ``"diag"``).
    """
    name = get_family(family).name
    k, d = n_components, n_features
    if name in ("bernoulli", "binomial"):
        p = rng.uniform(0.05, 0.95, size=(k, d))
        return BernoulliParams(p) if name == "bernoulli" else BinomialParams(p)
    if name == "categorical":
        levels = np.broadcast_to(np.asarray(n_levels, dtype=np.int64), (d,))
        return CategoricalParams(tuple(rng.dirichlet(np.ones(int(L)), size=k) for L in levels))
    if name == "poisson":
        return PoissonParams(rng.uniform(0.5, 10.0, size=(k, d)))
    means = rng.normal(0.0, 5.0, size=(k, d))
    if covariance_type == "diag":
        return GaussianParams(means, rng.uniform(0.5, 2.0, size=(k, d)), "diag")
    A = rng.standard_normal((k, d, d))
    covs = A @ np.swapaxes(A, 1, 2) / d + 0.5 * np.eye(d)
    return GaussianParams(means, covs, "full")


def make_mixture(
    family: str,
    n_samples: int,
    n_components: int,
    n_features: int,
    *,
    weights: ArrayLike | None = None,
    params: ComponentParams | None = None,
    n_trials: int | ArrayLike = 10,
    n_levels: int | ArrayLike = 3,
    covariance_type: str = "full",
    random_state: Any = None,
    return_labels: bool = False,
) -> Any:
    """Sample from a mixture of one family, random unless parameters are given.

    Parameters
    ----------
    family : str
        ``"bernoulli"``, ``"categorical"``, ``"binomial"``, ``"poisson"`` or ``"gaussian"``.
    n_samples, n_components, n_features : int
    weights : array-like of shape (k,), optional
        Default: ``(Dirichlet(2) + 1/k) / 2``, so every weight is at least ``1/(2k)``.
    params : ComponentParams, optional
        Default: :func:`random_params`.
    n_trials : int or array-like
        Binomial family: trials per count.
    n_levels : int or array-like
        Categorical family: levels per feature.
    covariance_type : {"full", "diag"}
        Gaussian family.
    random_state : int, Generator or None
    return_labels : bool
        Also return the component of each row.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Integer codes/counts for the discrete families, floats for gaussian.
    truth : Mixture
    labels : ndarray, only with ``return_labels``
    """
    rng = _rng(random_state)
    fam = get_family(family, covariance_type=covariance_type)
    k = int(n_components)
    if params is None:
        params = random_params(
            fam.name,
            k,
            int(n_features),
            rng=rng,
            n_levels=n_levels,
            covariance_type=covariance_type,
        )
    if weights is None:
        weights = 0.5 * rng.dirichlet(np.full(k, 2.0)) + 0.5 / k
    truth = Mixture(np.asarray(weights, dtype=np.float64), params)
    labels = _labels(truth.weights, int(n_samples), rng)
    X = fam.sample(params, labels, rng, n_trials=n_trials)
    if fam.discrete:
        X = X.astype(np.int64)
    return (X, truth, labels) if return_labels else (X, truth)


def random_coins(
    n_components: int,
    *,
    separation: float = 0.1,
    min_weight: float = 0.05,
    low: float = 0.0,
    high: float = 1.0,
    random_state: Any = None,
) -> Mixture:
    """Random k-coin mixture with biases at least ``separation`` apart.

    Biases are uniform over the configurations in ``[low, high]`` whose
    gaps are all at least ``separation`` (sorted uniforms on a shortened
    interval, then spread); weights are ``min_weight + (1 - k min_weight) D``
    with ``D ~ Dirichlet(1, ..., 1)``.

    Returns
    -------
    Mixture
        Binomial components (``params.p`` of shape (k, 1)), biases ascending.
    """
    rng = _rng(random_state)
    k = int(n_components)
    room = (high - low) - (k - 1) * separation
    if k < 1 or room < 0 or not 0 <= low < high <= 1:
        raise DataError(
            f"{k} biases {separation} apart do not fit in [{low}, {high}]; "
            "lower separation or n_components"
        )
    if k * min_weight > 1:
        raise DataError(f"min_weight={min_weight} is too large for {k} components")
    p = low + np.sort(rng.uniform(0.0, room, k)) + separation * np.arange(k)
    w = min_weight + (1.0 - k * min_weight) * rng.dirichlet(np.ones(k))
    return Mixture(check_weights(w), BinomialParams(np.clip(p, 0.0, 1.0)[:, None]))


def coin_flips(
    mixture: Mixture,
    n_samples: int,
    n_trials: ArrayLike | int,
    *,
    random_state: Any = None,
    return_labels: bool = False,
) -> Any:
    """Head counts of ``n_samples`` trials of a k-coin mixture.

    Parameters
    ----------
    mixture : Mixture
        Binomial components (see :func:`random_coins`).
    n_samples : int
    n_trials : int or array-like of shape (n_samples,)
        Flips per trial.
    return_labels : bool
        Also return the coin of each trial.

    Returns
    -------
    heads : ndarray of shape (n_samples,)
    labels : ndarray of shape (n_samples,), only with ``return_labels``
    """
    rng = _rng(random_state)
    p = np.asarray(mixture.params.p, dtype=np.float64)[:, 0]  # type: ignore[attr-defined]
    labels = _labels(mixture.weights, int(n_samples), rng)
    t = np.broadcast_to(np.asarray(n_trials, dtype=np.int64), labels.shape)
    heads = rng.binomial(t, p[labels]).astype(np.int64)
    return (heads, labels) if return_labels else heads


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
    rng = _rng(random_state)
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
        A :class:`kmix.solvers.graph.DAG` (see :func:`kmix.causal.as_dag`
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
    >>> from kmix.solvers.graph import DAG
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
    rng = _rng(random_state)
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


@dataclass(frozen=True)
class SurveyData:
    """A bundled survey: response patterns with counts, and published estimates.

    Attributes
    ----------
    patterns : ndarray of shape (m, n_items)
        Observed response patterns, 0/1 coded.
    counts : ndarray of shape (m,)
        Respondents with each pattern (pass as ``sample_weight``).
    columns : list of str
        Item names.
    published : dict
        ``k -> {"log_likelihood", "weights", "probs"}``: the published
        maximum-likelihood latent class estimates (``probs[u][j]`` is
        ``P(item j = 1 | class u)``), classes in the published order.
    citation : str
    """

    patterns: NDArray[np.int64]
    counts: NDArray[np.float64]
    columns: list[str]
    published: dict[int, dict[str, Any]]
    citation: str

    def expand(self) -> NDArray[np.int64]:
        """One row per respondent."""
        return np.repeat(self.patterns, self.counts.astype(np.int64), axis=0)


def _bundled(name: str) -> tuple[NDArray[np.int64], NDArray[np.float64], list[str]]:
    text = (resources.files("kmix") / "_bundled" / name).read_text(encoding="utf-8")
    lines = [line.split(",") for line in text.strip().splitlines()]
    table = np.array(lines[1:], dtype=np.int64)
    return table[:, :-1], table[:, -1].astype(np.float64), lines[0][:-1]


def stouffer_toby() -> SurveyData:
    """Stouffer & Toby's role-conflict items: 216 respondents, 4 binary items.

    1 = universalistic answer. Published two-class estimates (poLCA's
    replication of Goodman 2002, Table 5b; printed output of R's poLCA)
    and the maximised log-likelihoods of Goodman's models.

    References: S. A. Stouffer and J. Toby, "Role conflict and personality",
    American Journal of Sociology 56, 1951; L. A. Goodman, "Exploratory latent
    structure analysis using both identifiable and unidentifiable models",
    Biometrika 61(2), 1974; D. A. Linzer and J. B. Lewis, "poLCA: an R package
    for polytomous variable latent class analysis", J. Stat. Softw. 42(10), 2011.
    Sources of every number: ``kmix/_bundled/SOURCES.md``.
    """
    patterns, counts, columns = _bundled("stouffer_toby.csv")
    published: dict[int, dict[str, Any]] = {
        1: {"log_likelihood": -543.6498},
        2: {
            "log_likelihood": -504.4677,
            "weights": [0.2792, 0.7208],
            "probs": [[0.9932, 0.9398, 0.9265, 0.7691], [0.7136, 0.3296, 0.3540, 0.1324]],
        },
    }
    return SurveyData(patterns, counts, columns, published, "Stouffer & Toby (1951)")


def carcinoma() -> SurveyData:
    """Seven pathologists rating 118 slides for carcinoma (1 = carcinoma).

    Published two- and three-class estimates (Agresti, *Categorical Data
    Analysis*, 2002, section 13.2; printed output of R's poLCA).

    References: J. R. Landis and G. G. Koch, "An application of hierarchical
    kappa-type statistics in the assessment of majority agreement among
    multiple observers", Biometrics 33, 1977; A. Agresti, *Categorical Data
    Analysis*, 2nd ed., Wiley, 2002. Sources: ``kmix/_bundled/SOURCES.md``.
    """
    patterns, counts, columns = _bundled("carcinoma.csv")
    published: dict[int, dict[str, Any]] = {
        2: {
            "log_likelihood": -317.2568,
            "weights": [0.5012, 0.4988],
            "probs": [
                [1.0000, 0.9831, 0.7609, 0.5411, 0.9786, 0.4227, 1.0000],
                [0.1165, 0.3544, 0.0000, 0.0000, 0.2229, 0.0000, 0.1165],
            ],
        },
        3: {
            "log_likelihood": -293.705,
            "weights": [0.4447, 0.3736, 0.1817],
            "probs": [
                [1.0000, 0.9809, 0.8575, 0.5862, 1.0000, 0.4764, 1.0000],
                [0.0573, 0.1379, 0.0000, 0.0000, 0.0551, 0.0000, 0.0000],
                [0.5128, 1.0000, 0.0000, 0.0576, 0.7506, 0.0000, 0.6307],
            ],
        },
    }
    return SurveyData(patterns, counts, columns, published, "Landis & Koch (1977); Agresti (2002)")


#: Severity A drives treatment X and recovery Y; C, D, E are routine readings. The hidden
#: hospital U (not in the file) points at every node.
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

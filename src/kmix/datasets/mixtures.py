"""Random mixtures of the EM families, and the two-factory marbles example.

* :func:`marbles`: the two-factory marbles example (Goodfellow, Bengio &
  Courville, *Deep Learning*, 2016, §3.9.6): each bag comes from factory ``u``
  with probability ``weights[u]`` and holds ``n_draws`` marbles, each red with
  probability ``p_red[u]``. With one draw per bag only ``P(red)`` is observed,
  so two factories with known colours are the most that can be told apart;
  with ``t`` draws per bag up to ``(t + 1) / 2`` factories become identifiable
  (the k-coin bound ``t >= 2k - 1``).
* :func:`make_mixture`: a random mixture of any family and a sample from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..components import get_family
from ..exceptions import DataError
from ..params import (
    BernoulliParams,
    BinomialParams,
    CategoricalParams,
    ComponentParams,
    GaussianParams,
    Mixture,
    PoissonParams,
    check_weights,
)
from ._random import labels_from, rng_from

__all__ = ["make_mixture", "marbles", "random_params"]


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
    rng = rng_from(random_state)
    labels = labels_from(w, int(n_samples), rng)
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
    rng = rng_from(random_state)
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
    labels = labels_from(truth.weights, int(n_samples), rng)
    X = fam.sample(params, labels, rng, n_trials=n_trials)
    if fam.discrete:
        X = X.astype(np.int64)
    return (X, truth, labels) if return_labels else (X, truth)

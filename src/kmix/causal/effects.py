"""Causal queries on a mixture of Bayesian networks: do(), the ATE and per-source effects.

Once ``pi`` and every ``P_u(V | PA(V))`` are known, the graph ``G_U`` (the
DAG plus the hidden source ``U`` pointing at every node) is a fully
specified Markovian model and every interventional distribution is
computable (Pearl 2009, section 3.2; Gordon, Mazaheri, Rabani & Schulman
2023). The truncated factorisation (Pearl 2009, eq. 3.10) drops the factors
of the intervened nodes ``X``:

.. math::
   P(v_{V \\setminus X} \\mid do(X = x))
     = \\sum_u \\pi_u \\prod_{V \\notin X} P_u(v_V \\mid \\mathrm{pa}(V))\\big|_{X = x},

and a conditional interventional query keeps ``U`` inside the sum until the
end, because observing ``Z = z`` shifts the posterior over sources:

.. math::
   P(y \\mid do(x), z)
     = \\frac{\\sum_u \\pi_u P_u(y, z \\mid do(x))}{\\sum_u \\pi_u P_u(z \\mid do(x))},
   \\qquad
   \\mathrm{ATE} = E[Y \\mid do(T=1)] - E[Y \\mid do(T=0)] = \\sum_u \\pi_u \\mathrm{ATE}_u.

Each ``P_u(y, z | do(x))`` comes from variable elimination in the mutilated
graph (:func:`kmix.solvers.bayesnet.inference.source_joint`).

References
----------
J. Pearl, *Causality: Models, Reasoning, and Inference*, 2nd ed., Cambridge
University Press, 2009 (section 3.2.3, the truncated factorisation).
S. L. Gordon, B. Mazaheri, Y. Rabani, L. J. Schulman, "Causal inference
despite limited global confounding via mixture models", CLeaR 2023.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, overload

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError
from ..params import BayesNetMixtureParams
from ..solvers.bayesnet.inference import source_joint

__all__ = ["ate", "interventional", "observational"]

FloatArray = NDArray[np.float64]


def interventional(
    params: BayesNetMixtureParams,
    outcome: str | Sequence[str],
    do: Mapping[str, int],
    given: Mapping[str, int] | None = None,
    *,
    per_source: bool = False,
) -> FloatArray:
    """Exact ``P(Y | do(X = x), Z = z)`` by the truncated factorisation.

    .. math::
       P(y \\mid do(x), z) = \\frac{\\sum_u \\pi_u P_u(y, z \\mid do(x))}
                                    {\\sum_u \\pi_u P_u(z \\mid do(x))}

    (Pearl 2009, section 3.2.3), each ``P_u`` by variable elimination over
    the ancestors of ``Y ∪ Z`` in the graph with the edges into ``X`` cut
    (Koller & Friedman 2009, chapter 9).

    Parameters
    ----------
    params : BayesNetMixtureParams
    outcome : str or sequence of str
        One node (the result has one axis) or several (the joint, one axis
        per node in the order given).
    do : dict str -> int
        Intervened nodes and their levels; may be empty (then the query is
        observational).
    given : dict str -> int, optional
        Observed nodes ``Z = z`` (after the intervention). Disjoint from
        ``outcome`` and ``do``.
    per_source : bool
        Return ``P_u(Y | do(x), z)`` for each source, component axis first.

    Returns
    -------
    ndarray of shape (*levels of Y) or (k, *levels of Y)
        Sums to one over the outcome axes.

    Raises
    ------
    DataError
        Unknown or overlapping nodes, levels out of range, or
        ``P(Z = z | do(x)) = 0`` (for a source, with ``per_source``).

    Examples
    --------
    >>> import numpy as np
    >>> from kmix.params import DAG
    >>> g = DAG.from_edges(None, [("T", "Y")])
    >>> p = BayesNetMixtureParams(g, 2, [0.5, 0.5], [
    ...     [[0.9, 0.1], [0.1, 0.9]],
    ...     [[[0.8, 0.2], [0.6, 0.4]], [[0.5, 0.5], [0.1, 0.9]]]])
    >>> interventional(p, "Y", {"T": 1}).round(3).tolist()
    [0.35, 0.65]
    >>> observational(p, "Y", {"T": 1}).round(3).tolist()
    [0.15, 0.85]
    """
    joint = source_joint(params, outcome, do, given)
    axes = tuple(range(1, joint.ndim))
    if per_source:
        den = joint.sum(axis=axes, keepdims=True)
        if np.any(den <= 0):
            u = int(np.argwhere(den.reshape(-1) <= 0)[0, 0])
            raise DataError(
                f"P_u(given={dict(given or {})} | do={dict(do)}) = 0 for source u={u}; "
                "the conditional is undefined there"
            )
        return joint / den
    num = np.tensordot(params.weights, joint, axes=1)
    total = float(num.sum())
    if total <= 0:
        raise DataError(
            f"P(given={dict(given or {})} | do={dict(do)}) = 0; the conditional is undefined"
        )
    return num / total


def observational(
    params: BayesNetMixtureParams,
    outcome: str | Sequence[str],
    given: Mapping[str, int] | None = None,
    *,
    per_source: bool = False,
) -> FloatArray:
    """Exact ``P(Y | Z = z)``: conditioning by seeing, confounded by ``U``.

    .. math::
       P(y \\mid z) = \\frac{\\sum_u \\pi_u P_u(y, z)}{\\sum_u \\pi_u P_u(z)}

    The same elimination as :func:`interventional` on the unmutilated graph;
    see there for the arguments and the shape of the result.
    """
    return interventional(params, outcome, {}, given, per_source=per_source)


@overload
def ate(
    params: BayesNetMixtureParams,
    treatment: str,
    outcome: str,
    given: Mapping[str, int] | None = ...,
    *,
    per_source: Literal[False] = ...,
) -> float: ...
@overload
def ate(
    params: BayesNetMixtureParams,
    treatment: str,
    outcome: str,
    given: Mapping[str, int] | None = ...,
    *,
    per_source: Literal[True],
) -> FloatArray: ...
def ate(
    params: BayesNetMixtureParams,
    treatment: str,
    outcome: str,
    given: Mapping[str, int] | None = None,
    *,
    per_source: bool = False,
) -> float | FloatArray:
    """Average treatment effect of a binary treatment.

    .. math::
       \\mathrm{ATE} = E[Y \\mid do(T=1)] - E[Y \\mid do(T=0)]
                     = \\sum_u \\pi_u \\mathrm{ATE}_u

    (the second form without ``given``). ``Y``'s levels are valued by their
    codes ``0 .. d - 1``, so for a binary ``Y`` this is the risk difference.

    Parameters
    ----------
    params : BayesNetMixtureParams
    treatment : str
        A node with exactly two levels.
    outcome : str
    given : dict str -> int, optional
        Condition both arms on ``Z = z`` (a conditional ATE).
    per_source : bool
        Return ``ATE_u`` for each source, shape (k,).

    Returns
    -------
    float or ndarray of shape (k,)
    """
    d = params.n_levels[params.index(treatment)]
    if d != 2:
        raise DataError(
            f"treatment {treatment!r} has {d} levels; the ATE needs a binary treatment "
            "(compare two levels with interventional() instead)"
        )
    values = np.arange(params.n_levels[params.index(outcome)], dtype=np.float64)
    arms = [
        interventional(params, outcome, {treatment: t}, given, per_source=per_source) @ values
        for t in (0, 1)
    ]
    effect = arms[1] - arms[0]
    return np.asarray(effect, dtype=np.float64) if per_source else float(effect)

"""The collection of runs of the k-MixBND reduction: which latent class models to solve.

A mixture of Bayesian networks on a known DAG ``G`` adds a hidden source
``U`` as a parent of every node. A *run* ``(I, COND, c)`` picks members
``I``, a conditioning set ``COND`` disjoint from them and an assignment
``c`` of ``COND`` such that the members are independent given ``COND`` and
``U`` (Gordon, Mazaheri, Rabani & Schulman 2023):

.. math::
   P(x_I \\mid COND = c) = \\sum_u P(u \\mid c) \\prod_{W \\in I} P_u(x_W \\mid S_W = c|_{S_W}),

a latent class (k-MixProd) model whose class weights ``P(u | c)`` differ
from run to run. Each member returns a conditional on its *key set*
``S_W ⊆ COND``: its parents ``PA(W)`` when ``PA(W) ⊆ COND`` and ``COND``
holds no descendant of ``W`` (local Markov property: the CPT itself), else
its Markov boundary ``MB(W) ⊆ COND`` (a conditional that must be unzipped).
A *key* ``(W, S_W, s)`` names one such conditional; runs that share a key
return the same ``k`` parameter vectors in permuted order, which is how
their labels are aligned.

Design (the search is in :mod:`kmix.solvers.bayesnet.planning`). For every
target node ``V`` a uniform-cost search over (members, ``COND``) finds the
smallest conditioning set (fewest strata, ``sum log d``) whose members meet
the latent class identifiability condition
(:func:`~kmix.solvers.latent_class.identifiability.check_identifiability`:
``2k - 1`` binary members) and pass the d-separation test
``W ⊥ I \\ {W} | COND, U`` in ``G_U`` for every member; a parents key for
``V`` is tried before a Markov-boundary key. The runs of ``V`` enumerate
every assignment of its key set and hold the rest of ``COND`` at a global
*default* assignment, so every other member keeps one key across ``V``'s
runs and aligns them; at least one member's key set must be disjoint from
``V``'s (an anchor) when possible. Keys already used by earlier targets are
preferred, and bridging runs are added until the alignment graph (runs
joined when they share a key) is connected.

References
----------
S. L. Gordon, B. Mazaheri, Y. Rabani, L. J. Schulman, "Causal inference
despite limited global confounding via mixture models", CLeaR 2023
(arXiv 2112.11602; v1 "Identifying mixtures of Bayesian network
distributions"). D. Koller and N. Friedman, *Probabilistic Graphical
Models*, MIT Press, 2009 (section 3.2.1, local Markov property; section
4.5.1, Markov boundary).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from ...exceptions import DataError
from ...params import DAG

__all__ = ["Key", "Run", "RunDesign", "RunPlan"]

FloatArray = NDArray[np.float64]


class Key(NamedTuple):
    """One conditional a run estimates: ``P_u(node | given = assignment)``.

    ``given`` lists the key set: for a parents key exactly ``dag.parents[node]``
    (the order of the CPT's axes, which the assembly of CPTs relies on), for a
    Markov-boundary key the boundary in topological order; ``assignment``
    holds their levels.
    """

    node: str
    given: tuple[str, ...]
    assignment: tuple[int, ...]


@dataclass(frozen=True)
class RunDesign:
    """Members and conditioning set of a family of runs.

    Attributes
    ----------
    target : str or None
        The node whose key is enumerated; ``None`` for a bridging run.
    members : tuple of str
        ``I``, in topological order.
    cond : tuple of str
        ``COND``, in topological order.
    given : mapping str -> tuple of str
        Each member's key set ``S_W`` (its parents or its Markov boundary).
    varying : tuple of str
        The part of ``COND`` whose every assignment gets a run (the target's key set).
    """

    target: str | None
    members: tuple[str, ...]
    cond: tuple[str, ...]
    given: Mapping[str, tuple[str, ...]]
    varying: tuple[str, ...]


@dataclass(frozen=True)
class Run:
    """One latent class model ``P(I | COND = c)`` and, once solved, its answer.

    Attributes
    ----------
    target : str or None
        The node this run's family covers (``None``: a bridging run).
    members, cond, given :
        As in :class:`RunDesign`.
    assignment : tuple of int
        ``c``, the levels of ``cond``.
    ess : float
        Effective sample size ``N * P(COND = c)``: the total count of the rows with ``COND = c``.
    weights : ndarray of shape (k,) or None
        ``P(u | c)``, in the global labelling once aligned.
    probs : mapping str -> ndarray of shape (k, d_W), or None
        ``P_u(W | S_W = c|S_W)`` per member, in the same labelling.
    log_likelihood : float or None
        Of the run's latent class fit on its rows.
    """

    target: str | None
    members: tuple[str, ...]
    cond: tuple[str, ...]
    assignment: tuple[int, ...]
    given: Mapping[str, tuple[str, ...]]
    ess: float
    weights: FloatArray | None = None
    probs: Mapping[str, FloatArray] | None = None
    log_likelihood: float | None = None

    @functools.cached_property
    def keys(self) -> dict[str, Key]:
        """The key ``(W, S_W, c|S_W)`` of every member (computed once; not to be modified)."""
        c = dict(zip(self.cond, self.assignment, strict=True))
        return {w: Key(w, self.given[w], tuple(c[x] for x in self.given[w])) for w in self.members}

    def answer(self) -> tuple[FloatArray, Mapping[str, FloatArray]]:
        """A solved run's ``P(u | c)`` and member conditionals (DataError if unsolved)."""
        if self.weights is None or self.probs is None:
            raise DataError(f"the run {self.describe()} has not been solved yet")
        return self.weights, self.probs

    def describe(self) -> str:
        """``I = {..} | V1=0, V2=1 (ESS 123)``, for messages."""
        cond = ", ".join(f"{x}={a}" for x, a in zip(self.cond, self.assignment, strict=True))
        return f"I = {{{', '.join(self.members)}}} | {cond or '(nothing)'} (ESS {self.ess:.4g})"


@dataclass(frozen=True)
class RunPlan:
    """The runs to solve, the runs left out, the default assignment and the targets' designs."""

    dag: DAG
    runs: list[Run]
    dropped: list[Run]
    defaults: dict[str, int]
    designs: list[RunDesign]

"""Weights and per-source CPTs of a mixture of discrete Bayesian networks, as a frozen value.

The hidden source ``U`` (``k`` values, weights ``pi``) is a parent of every
node of the DAG ``G``; each source ``u`` is a Bayesian network on ``G`` with
its own conditional probability tables (CPTs):

.. math::
   P(v) = \\sum_u \\pi_u \\prod_{V} P_u(v_V \\mid \\mathrm{pa}(V)).

Computations on these values (row likelihoods, sampling, variable
elimination) are in :mod:`kmix.solvers.bayesnet.inference`; the causal
queries (``do``, ATE) in :mod:`kmix.causal.effects`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError
from .dag import DAG
from .mixture import check_weights

__all__ = ["BayesNetMixtureParams"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class BayesNetMixtureParams:
    """Weights and per-source CPTs of a mixture of discrete Bayesian networks.

    Parameters
    ----------
    dag : DAG
        The known graph ``G`` (``U`` is implicit).
    n_levels : int or sequence of int
        Levels of each node, in ``dag.nodes`` order; an int applies to all.
        Values are coded ``0 .. n_levels - 1``.
    weights : array-like of shape (k,)
        ``pi_u = P(U = u)``.
    cpts : sequence of arrays
        One per node in ``dag.nodes`` order, of shape
        ``(k, *[n_levels[p] for p in dag.parents[v]], n_levels[v])``:
        ``cpts[j][u, pa..., x] = P_u(V_j = x | PA(V_j) = pa)`` with parents in
        the order of ``dag.parents[v]``. Every row (last axis) sums to one.

    Notes
    -----
    Instances are immutable (read-only arrays). ``==`` compares the DAG,
    the levels and every array exactly; instances are not hashable.
    """

    dag: DAG
    n_levels: tuple[int, ...]
    weights: FloatArray
    cpts: tuple[FloatArray, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.dag, DAG):
            raise DataError(
                f"dag must be a kmix DAG; got {type(self.dag).__name__} "
                "(convert with kmix.causal.as_dag)"
            )
        n = self.dag.n_nodes
        raw: Any = self.n_levels
        levels = (int(raw),) * n if np.ndim(raw) == 0 else tuple(int(d) for d in raw)
        object.__setattr__(self, "n_levels", levels)
        object.__setattr__(self, "weights", check_weights(self.weights))
        arrays: list[FloatArray] = []
        for j, c in enumerate(self.cpts):
            try:
                arr = np.array(c, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise DataError(f"cpts[{j}] must be numeric ({exc})") from None
            arr.setflags(write=False)
            arrays.append(arr)
        object.__setattr__(self, "cpts", tuple(arrays))
        self.validate()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BayesNetMixtureParams):
            return NotImplemented
        return (
            self.dag == other.dag
            and self.n_levels == other.n_levels
            and np.array_equal(self.weights, other.weights)
            and all(np.array_equal(a, b) for a, b in zip(self.cpts, other.cpts, strict=True))
        )

    def validate(self) -> None:
        """Raise :class:`DataError` naming the node if a shape or a probability is wrong."""
        nodes = self.dag.nodes
        if len(self.n_levels) != len(nodes):
            raise DataError(
                f"n_levels has {len(self.n_levels)} entries but the DAG has {len(nodes)} "
                f"nodes {list(nodes)}; give one per node in dag.nodes order"
            )
        bad = [(v, d) for v, d in zip(nodes, self.n_levels, strict=True) if d < 1]
        if bad:
            raise DataError(f"every node needs at least one level; got {bad}")
        if len(self.cpts) != len(nodes):
            raise DataError(
                f"cpts has {len(self.cpts)} tables but the DAG has {len(nodes)} nodes; "
                "give one per node in dag.nodes order"
            )
        k = self.n_components
        levels = dict(zip(nodes, self.n_levels, strict=True))
        for v, cpt in zip(nodes, self.cpts, strict=True):
            pa = self.dag.parents[v]
            shape = (k, *[levels[p] for p in pa], levels[v])
            if cpt.shape != shape:
                raise DataError(
                    f"the CPT of {v!r} has shape {cpt.shape}; expected {shape} = "
                    f"(k, levels of parents {list(pa)}, levels of {v!r})"
                )
            if not np.all(np.isfinite(cpt)) or np.any(cpt < 0) or np.any(cpt > 1):
                raise DataError(f"the CPT of {v!r} has entries outside [0, 1] or non-finite")
            sums = cpt.sum(axis=-1)
            if np.any(np.abs(sums - 1.0) > 1e-6):
                idx = tuple(int(i) for i in np.argwhere(np.abs(sums - 1.0) > 1e-6)[0])
                raise DataError(
                    f"the CPT of {v!r} has a row (u, parent levels) = {idx} summing to "
                    f"{float(sums[idx])!r}; each row must sum to 1"
                )

    @property
    def n_components(self) -> int:
        """Number of sources ``k``."""
        return int(self.weights.shape[0])

    @property
    def n_nodes(self) -> int:
        """Number of observed nodes."""
        return self.dag.n_nodes

    @property
    def columns(self) -> tuple[str, ...]:
        """Node names in the order of the data columns (``dag.nodes``)."""
        return self.dag.nodes

    @property
    def n_parameters(self) -> int:
        """Free parameters: ``k - 1 + sum_V k * prod(levels of PA(V)) * (levels(V) - 1)``."""
        k = self.n_components
        return k - 1 + sum(int(np.prod(c.shape[:-1])) * (c.shape[-1] - 1) for c in self.cpts)

    def cpt(self, node: str) -> FloatArray:
        """The CPT of ``node`` (shape ``(k, *parent levels, levels)``)."""
        return self.cpts[self.index(node)]

    def index(self, node: str) -> int:
        """Position of ``node`` in ``dag.nodes`` (the column order); DataError if unknown."""
        try:
            return self.dag.nodes.index(node)
        except ValueError:
            raise DataError(
                f"unknown node {node!r}; the DAG has nodes {list(self.dag.nodes)}"
            ) from None

    def permute(self, perm: Sequence[int] | NDArray[np.intp]) -> BayesNetMixtureParams:
        """Reorder the sources: new ``i`` = old ``perm[i]``."""
        idx = np.asarray(perm, dtype=np.intp)
        if sorted(idx.tolist()) != list(range(self.n_components)):
            raise DataError(
                f"perm must be a permutation of 0..{self.n_components - 1}; got {idx.tolist()}"
            )
        return dataclasses.replace(
            self, weights=self.weights[idx], cpts=tuple(c[idx] for c in self.cpts)
        )

    def canonical(self) -> BayesNetMixtureParams:
        """Sources sorted lexicographically by their flattened CPTs (first node first)."""
        key = np.concatenate([c.reshape(self.n_components, -1) for c in self.cpts], axis=1)
        return self.permute(np.lexsort(key.T[::-1]))

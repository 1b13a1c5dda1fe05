"""Effects when the DAG was learned: one mixture of networks per parent set of the treatment.

A learned equivalence class (:func:`kmix.causal.discover`) holds several DAGs.
Within each population the effect of ``X`` is the back-door adjustment by
``X``'s parents, so ``P(Y | do(X))`` under the mixture,
``sum_u pi_u sum_pa P_u(Y | X, pa) P_u(pa)``, depends on the DAG only
through ``pa(X)``: the DAGs of the class are grouped by it, one
:class:`~kmix.BayesNetMixture` is fitted per group, and the effect is
identified within the class when there is one group, else the class gives a
set of values, one per group (the IDA idea of Maathuis, Kalisch & Bühlmann,
"Estimating high-dimensional intervention effects from observational data",
Annals of Statistics 37, 2009).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..causal.discovery import DiscoveryResult
from ..exceptions import DataError
from ..params import DAG
from .bayesnet import BayesNetMixture

__all__ = ["ClassMember", "fit_over_class"]


@dataclass(frozen=True)
class ClassMember:
    """One group of the class's DAGs: the treatment's parents there, a DAG, its fitted model."""

    parents: tuple[str, ...]
    dag: DAG
    n_dags: int
    model: BayesNetMixture


def fit_over_class(
    data: Any,
    found: DiscoveryResult,
    treatment: str,
    n_components: int,
    *,
    columns: Sequence[str] | None = None,
    sample_weight: Any = None,
    limit: int = 1000,
    **params: Any,
) -> list[ClassMember]:
    """A fitted :class:`~kmix.BayesNetMixture` per parent set of ``treatment`` in the class.

    Parameters
    ----------
    data : array-like or DataFrame
        The rows the class was learned from.
    found : DiscoveryResult
    treatment : str
    n_components : int
    columns : sequence of str, optional
        Column names of an array (default: the class's nodes).
    sample_weight : array-like, optional
        Count of each row.
    limit : int
        DAGs of the class enumerated at most.
    **params
        Passed to :class:`~kmix.BayesNetMixture` (``random_state``, ``init``, ...).

    Returns
    -------
    list of ClassMember
        One per distinct ``pa(treatment)``, the class's smallest parent set first;
        a single member means the effect is identified within the class.
    """
    if treatment not in found.nodes:
        raise DataError(f"treatment {treatment!r} is not a node; nodes: {list(found.nodes)}")
    groups: dict[tuple[str, ...], list[DAG]] = {}
    for dag in found.dags(limit=limit):
        groups.setdefault(tuple(sorted(dag.parents[treatment])), []).append(dag)
    if not groups:
        raise DataError("the learned class has no DAG (its tests contradict each other)")
    # names for an array (a DataFrame brings its own)
    names = None if hasattr(data, "columns") else list(columns or found.nodes)
    out = []
    for parents in sorted(groups, key=lambda p: (len(p), p)):
        dag = groups[parents][0]
        model = BayesNetMixture(dag, n_components, **params).fit(
            data, columns=names, sample_weight=sample_weight
        )
        out.append(ClassMember(parents, dag, len(groups[parents]), model))
    return out

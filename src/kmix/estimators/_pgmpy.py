"""``BayesNetMixture.to_pgmpy``: one source's network as a pgmpy model (extra ``kmix[pgmpy]``)."""

from __future__ import annotations

from typing import Any

__all__ = ["source_network"]


def source_network(model: Any, source: int) -> Any:
    """Source ``source`` of a fitted :class:`~kmix.BayesNetMixture` as a pgmpy
    ``DiscreteBayesianNetwork``, its states named by ``categories_``."""
    try:
        from pgmpy.factors.discrete import TabularCPD
        from pgmpy.models import DiscreteBayesianNetwork
    except ImportError:  # pragma: no cover - optional extra
        raise ImportError("to_pgmpy needs pgmpy: pip install 'kmix[pgmpy]'") from None
    net = DiscreteBayesianNetwork(list(model.dag_.edges))
    net.add_nodes_from(model.columns_)
    for v in model.columns_:
        cpt = model.cpds_[v][source]
        parents = list(model.dag_.parents[v])
        d = cpt.shape[-1]
        table = cpt.reshape(-1, d).T  # pgmpy: rows are the node's states
        net.add_cpds(
            TabularCPD(
                v,
                d,
                table,
                evidence=parents or None,
                evidence_card=[cpt.shape[1 + i] for i in range(len(parents))] or None,
                state_names={n: model.categories_[n].tolist() for n in [v, *parents]},
            )
        )
    return net

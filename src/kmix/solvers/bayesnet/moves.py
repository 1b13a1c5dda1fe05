"""Split moves for a mixture of Bayesian networks: a source that EM lost, seeded afresh.

EM over the mixture of networks (:func:`kmix.solvers.bayesnet.em.em_bayesnet_mixture`)
climbs to the maximum nearest its start. From a rough start (thin strata in
the reduction's runs, or random CPTs) it can end where two sources have
merged into one network and another source has emptied (weight near 0) or
holds a small corner of the data: a local maximum, often far below the
global one (a 20-node network with 3 sources and 2e5 rows: 14,900 nats).
As in the split-and-merge EM of Ueda, Nakano, Ghahramani & Hinton ("SMEM
algorithm for mixture models", Neural Computation 12, 2000), the smallest
source ``v`` is traded for a perturbed copy of another source ``u``, the
two sharing ``u``'s weight:

.. math::
   \\theta_{v,V}(\\cdot \\mid a) \\leftarrow (1 - \\epsilon)\\,\\theta_{u,V}(\\cdot \\mid a)
   + \\epsilon\\, D_{V,a}, \\quad D_{V,a} \\sim \\mathrm{Dirichlet}(1), \\qquad
   \\pi_u, \\pi_v \\leftarrow \\pi_u / 2,

for every ``u != v`` and ``epsilon`` in :data:`SPLIT_NOISE` (the other weights
then renormalised). EM runs from every such start at once; the best replaces
the fit when it ends higher, and the moves repeat from there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ...params.bayesnet import BayesNetMixtureParams
from .design import BNRowDesign
from .em import BayesNetEMFit, em_bayesnet_mixture

__all__ = ["escape_source_collapse", "split_source_starts"]

FloatArray = NDArray[np.float64]
#: How far each copy is pulled towards a random network
SPLIT_NOISE = (0.3, 0.6)
#: Rounds of moves at most
MOVE_ROUNDS = 2
#: A move is kept when it raises the objective by more than this (relative)
MOVE_GAIN = 1e-9


def split_source_starts(
    params: BayesNetMixtureParams, rng: np.random.Generator
) -> list[BayesNetMixtureParams]:
    """Starts with the smallest source replaced by a perturbed copy of each other source."""
    k = params.weights.shape[0]
    if k < 2:
        return []
    v = int(np.argmin(params.weights))
    out = []
    for u in range(k):
        if u == v:
            continue
        for eps in SPLIT_NOISE:
            cpts = []
            for table in params.cpts:
                t = np.array(table, dtype=np.float64)
                noise = rng.dirichlet(np.ones(t.shape[-1]), size=t.shape[1:-1])
                t[v] = (1.0 - eps) * t[u] + eps * noise
                cpts.append(t)
            w = np.array(params.weights, dtype=np.float64)
            w[u] = w[v] = params.weights[u] / 2.0
            out.append(BayesNetMixtureParams(params.dag, params.n_levels, w / w.sum(), tuple(cpts)))
    return out


def escape_source_collapse(
    values: NDArray[np.int64],
    counts: FloatArray,
    levels: Sequence[int],
    fit: BayesNetEMFit,
    rng: np.random.Generator,
    *,
    tol: float,
    max_iter: int,
    alpha: float = 0.0,
    design: BNRowDesign | None = None,
) -> tuple[BayesNetEMFit, int]:
    """The fit after split moves (:func:`split_source_starts`) while they climb higher.

    Returns the best fit and the number of move starts tried.
    """
    tried = 0
    for _ in range(MOVE_ROUNDS):
        starts = split_source_starts(fit.params, rng)
        if not starts:
            break
        tried += len(starts)
        fits = em_bayesnet_mixture(
            values,
            counts,
            fit.params.dag,
            list(levels),
            starts,
            tol=tol,
            max_iter=max_iter,
            alpha=alpha,
            design=design,
        )
        top = max((f for f in fits if not f.merged), key=lambda f: f.objective)
        if not top.objective > fit.objective + MOVE_GAIN * abs(fit.objective):
            break
        fit = top
    return fit, tried

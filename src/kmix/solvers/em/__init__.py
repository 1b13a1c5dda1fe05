"""The machinery every rung shares: the EM loop, SQUAREM, seeding and the weights-only polish.

* :mod:`~kmix.solvers.em.loop`: :func:`run_em`, EM with restarts over any
  component family (Dempster, Laird & Rubin 1977);
* :mod:`~kmix.solvers.em.squarem`: :func:`accelerated_em`, SQUAREM-accelerated
  EM from many stacked starts (Varadhan & Roland 2008);
* :mod:`~kmix.solvers.em.streamed`: :func:`em_by_passes`, EM with one pass over
  rows read again at every iteration (files larger than memory, Dask);
* :mod:`~kmix.solvers.em.seeding`: k-means++ (Arthur & Vassilvitskii 2007);
* :mod:`~kmix.solvers.em.weights`: Newton polish of the concave weights-only
  problem.
"""

from .loop import EMProgress, EMResult, log_mixture, run_em
from .squarem import AcceleratedRuns, accelerated_em
from .streamed import PassSums, StreamedEMResult, em_by_passes

__all__ = [
    "AcceleratedRuns",
    "EMProgress",
    "EMResult",
    "PassSums",
    "StreamedEMResult",
    "accelerated_em",
    "em_by_passes",
    "log_mixture",
    "run_em",
]

"""k-MixIID, the k-coin problem: a k-atom measure on [0, 1] from head counts.

:func:`~kmix.solvers.coins.moments.fit_kcoin` solves the Hankel pencil in the
Chebyshev basis (projecting moments outside the moment space back onto it);
:func:`~kmix.solvers.coins.moments.hankel_test` gives the evidence for each
number of coins.
"""

from .moments import KCoinResult, fit_kcoin, hankel_test

__all__ = ["KCoinResult", "fit_kcoin", "hankel_test"]

"""k-MixProd, latent class models: discrete variables independent given a hidden class.

* :mod:`~kmix.solvers.latent_class.moments`: the three-view tensor method;
* :mod:`~kmix.solvers.latent_class.identifiability`: when ``k`` classes are identified;
* :mod:`~kmix.solvers.latent_class.design`: the unique rows in the form EM needs;
* :mod:`~kmix.solvers.latent_class.em`: EM from many starts at once and a
  quasi-Newton finish;
* :mod:`~kmix.solvers.latent_class.ranktest`: the chi-square rank test of a
  contingency table (the number of classes);
* :mod:`~kmix.solvers.latent_class.fit`: :func:`fit_latent_class`, the whole
  fit from counts (moment starts, EM, the finish), the rung's pure entry point.
"""

from .em import LatentClassFit, em_latent_class
from .fit import LatentClassResult, fit_latent_class
from .identifiability import check_identifiability
from .moments import fit_product_mixture

__all__ = [
    "LatentClassFit",
    "LatentClassResult",
    "check_identifiability",
    "em_latent_class",
    "fit_latent_class",
    "fit_product_mixture",
]

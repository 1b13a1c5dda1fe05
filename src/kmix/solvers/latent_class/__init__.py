"""k-MixProd, latent class models: discrete variables independent given a hidden class.

* :mod:`~kmix.solvers.latent_class.moments`: the three-view tensor method;
* :mod:`~kmix.solvers.latent_class.identifiability`: when ``k`` classes are identified
  (sufficient conditions, then :mod:`~kmix.solvers.latent_class.certificate`, the
  numerical certificate by the rank of the Jacobian);
* :mod:`~kmix.solvers.latent_class.design`: the unique rows in the form EM needs;
* :mod:`~kmix.solvers.latent_class.em`: EM from many starts at once and a
  quasi-Newton finish;
* :mod:`~kmix.solvers.latent_class.ranktest`: the chi-square rank test of a
  contingency table (the number of classes);
* :mod:`~kmix.solvers.latent_class.fit`: :func:`fit_latent_class`, the whole
  fit from counts (moment starts, EM, the finish), the rung's pure entry point.
"""

from .certificate import LatentClassCertificate, certify_latent_class
from .em import LatentClassFit, em_latent_class
from .fit import LatentClassResult, fit_latent_class
from .identifiability import Identifiability, check_identifiability, identify_latent_class
from .moments import fit_product_mixture

__all__ = [
    "Identifiability",
    "LatentClassCertificate",
    "LatentClassFit",
    "LatentClassResult",
    "certify_latent_class",
    "check_identifiability",
    "em_latent_class",
    "fit_latent_class",
    "fit_product_mixture",
    "identify_latent_class",
]

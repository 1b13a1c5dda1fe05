"""scikit-learn compatible estimators: validate -> pure solver -> fitted attributes.

Every estimator keeps the contract of :mod:`kmix.estimators._base`.
"""

from ._bootstrap import BayesNetBootstrap, ProductBootstrap
from ._covariates import CovariateDesign
from .bayesnet import BayesNetMixture
from .coin import CoinMixture
from .discovered import ClassMember, fit_over_class
from .distal import DistalResult, distal
from .finite import FiniteMixture
from .fitstats import BLRTResult, FitStatistics, blrt, fit_statistics
from .product import ProductMixture
from .select import KSelection, select_k_classes, select_k_coins

__all__ = [
    "BLRTResult",
    "BayesNetBootstrap",
    "BayesNetMixture",
    "ClassMember",
    "CoinMixture",
    "CovariateDesign",
    "DistalResult",
    "FiniteMixture",
    "FitStatistics",
    "KSelection",
    "ProductBootstrap",
    "ProductMixture",
    "blrt",
    "distal",
    "fit_over_class",
    "fit_statistics",
    "select_k_classes",
    "select_k_coins",
]

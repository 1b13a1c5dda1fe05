"""scikit-learn compatible estimators: validate -> pure solver -> fitted attributes.

Every estimator keeps the contract of :mod:`kmix.estimators._base`.
"""

from ._bootstrap import BayesNetBootstrap, ProductBootstrap
from .bayesnet import BayesNetMixture
from .coin import CoinMixture
from .finite import FiniteMixture
from .product import ProductMixture
from .select import KSelection, select_k_classes, select_k_coins

__all__ = [
    "BayesNetBootstrap",
    "BayesNetMixture",
    "CoinMixture",
    "FiniteMixture",
    "KSelection",
    "ProductBootstrap",
    "ProductMixture",
    "select_k_classes",
    "select_k_coins",
]

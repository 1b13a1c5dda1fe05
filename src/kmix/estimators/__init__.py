"""scikit-learn compatible estimators: validate -> solver -> fitted attributes."""

from .bayesnet import BayesNetMixture
from .bayesnet_bootstrap import BayesNetBootstrap
from .coin import CoinMixture, KSelection, select_k_coins
from .finite import FiniteMixture
from .product import ProductMixture
from .product_bootstrap import ProductBootstrap
from .product_select import select_k_classes

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

"""scikit-learn compatible estimators: validate -> solver -> fitted attributes."""

from .coin import CoinMixture, KSelection, select_k_coins
from .finite import FiniteMixture

__all__ = ["CoinMixture", "FiniteMixture", "KSelection", "select_k_coins"]

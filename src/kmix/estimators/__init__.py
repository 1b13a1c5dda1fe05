"""scikit-learn compatible estimators: validate -> solver -> fitted attributes."""

from .finite import FiniteMixture

__all__ = ["FiniteMixture"]

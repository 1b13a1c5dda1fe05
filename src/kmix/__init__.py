"""kmix: finite mixtures with a latent class, and causal queries they make answerable.

The public names are imported lazily, so ``import kmix`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "BayesNetMixture": "kmix.estimators",
    "CoinMixture": "kmix.estimators",
    "FiniteMixture": "kmix.estimators",
    "ProductMixture": "kmix.estimators",
    "select_k_classes": "kmix.estimators",
    "select_k_coins": "kmix.estimators",
    "BLRTResult": "kmix.estimators",
    "FitStatistics": "kmix.estimators",
    "blrt": "kmix.estimators",
    "fit_statistics": "kmix.estimators",
    "fit_over_class": "kmix.estimators",
    "distal": "kmix.estimators",
    "DistalResult": "kmix.estimators",
    "ConvergenceWarning": "kmix.exceptions",
    "DataError": "kmix.exceptions",
    "IdentifiabilityError": "kmix.exceptions",
    "KmixError": "kmix.exceptions",
    "NotFittedError": "kmix.exceptions",
    "Mixture": "kmix.params",
}
_SUBMODULES = (
    "causal",
    "datasets",
    "io",
    "metrics",
    "stats",
    "solvers",
    "components",
    "params",
)

__all__ = sorted([*_LAZY, *_SUBMODULES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"kmix.{name}")
    raise AttributeError(f"module 'kmix' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__

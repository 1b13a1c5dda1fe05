"""Component families for EM, and the registry that names them.

``get_family("bernoulli")`` returns a :class:`Family` instance; unknown names
raise an error listing the valid choices.
"""

from __future__ import annotations

from typing import Any

from ..options import FAMILY, normalize_choice
from .base import Family
from .discrete import Bernoulli, Binomial, Categorical, Poisson
from .gaussian import Gaussian

__all__ = [
    "FAMILIES",
    "Bernoulli",
    "Binomial",
    "Categorical",
    "Family",
    "Gaussian",
    "Poisson",
    "get_family",
    "normalize_choice",
]

FAMILIES: dict[str, type[Family]] = {
    cls.name: cls for cls in (Bernoulli, Binomial, Categorical, Gaussian, Poisson)
}


def get_family(name: str, **options: Any) -> Family:
    """Instantiate a component family by name.

    Parameters
    ----------
    name : str
        ``"bernoulli"``, ``"categorical"``, ``"binomial"``, ``"poisson"`` or
        ``"gaussian"`` (case-insensitive; a few aliases such as ``"binary"``
        and ``"normal"`` are accepted).
    **options
        Family options (``alpha``, ``covariance_type``, ``var_floor``, ...);
        options a family does not take are ignored.
    """
    canonical = normalize_choice(name, "family", FAMILY)
    cls = FAMILIES[canonical]
    import inspect

    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    return cls(**{k: v for k, v in options.items() if k in accepted})

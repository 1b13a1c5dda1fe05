"""Every string option of kmix in one registry, checked in one way.

Each entry maps an option (``"Owner.name"``) to its accepted spellings and the
canonical value each stands for. :func:`choose` normalises a value (case,
surrounding spaces, ``-`` for ``_``) and returns the canonical one, or raises
:class:`~kmix.DataError` naming the option, the bad value and the choices.
``None`` is accepted only where the registry lists it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .exceptions import DataError

__all__ = ["OPTIONS", "choose", "normalize_choice"]


def _same(*values: str | None) -> dict[str | None, str | None]:
    return {v: v for v in values}


FAMILY = {
    "binary": "bernoulli",
    "bernoulli": "bernoulli",
    "multinoulli": "categorical",
    "categorical": "categorical",
    "binomial": "binomial",
    "poisson": "poisson",
    "gaussian": "gaussian",
    "normal": "gaussian",
    "gmm": "gaussian",
}

#: option -> {accepted spelling: canonical value}
OPTIONS: dict[str, Mapping[Any, str | None]] = {
    "family": FAMILY,
    "FiniteMixture.family": FAMILY,
    "FiniteMixture.init": {
        "auto": "auto",
        "random": "random",
        "kmeans++": "kmeans++",
        "k_means++": "kmeans++",
        "kmeanspp": "kmeans++",
    },
    "FiniteMixture.covariance_type": _same("full", "diag"),
    "FiniteMixture.missing": _same("fiml", "drop", "error"),
    "CoinMixture.method": _same("chebyshev", "monomial", "prony"),
    "CoinMixture.refine": _same("em", None),
    "CoinMixture.init": _same("moments", "random"),
    "ProductMixture.init": _same("moments", "random"),
    "ProductMixture.refine": _same("em", None),
    "ProductMixture.missing": _same("fiml", "drop", "error"),
    "BayesNetMixture.init": _same("reduction", "random"),
    "BayesNetMixture.missing": _same("fiml", "drop", "error"),
}


def normalize_choice(value: object, name: str, choices: Mapping[Any, str | None]) -> str:
    """Normalise a string option (case, ``-``/``_``, spaces) against ``choices``.

    ``choices`` maps accepted spellings to canonical names. Raises
    :class:`DataError` listing the canonical choices otherwise.
    """
    out = _lookup(value, name, choices)
    if out is None:
        raise DataError(f"{name}=None is not valid; choose one of {_listing(choices)}")
    return out


def choose(value: object, option: str) -> str | None:
    """The canonical value of a registered option (``"Owner.name"``), or a DataError."""
    if option not in OPTIONS:
        raise KeyError(f"option {option!r} is not registered in kmix.options.OPTIONS")
    return _lookup(value, option.rpartition(".")[2], OPTIONS[option])


def _listing(choices: Mapping[Any, str | None]) -> str:
    canon = sorted({c for c in choices.values() if c is not None})
    extra = ", None" if None in choices.values() else ""
    return ", ".join(repr(c) for c in canon) + extra


def _lookup(value: object, name: str, choices: Mapping[Any, str | None]) -> str | None:
    if value is None and None in choices:
        return choices[None]
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "_").replace(" ", "_")
        if key in choices:
            return choices[key]
    raise DataError(f"{name}={value!r} is not valid; choose one of {_listing(choices)}")

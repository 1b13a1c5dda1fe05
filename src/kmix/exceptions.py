"""Exceptions and warnings raised by kmix.

Every error kmix raises derives from :class:`KmixError`. The concrete classes
also derive from :class:`ValueError`, so code written against scikit-learn's
conventions (``except ValueError``) keeps working.
"""

from __future__ import annotations

from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.exceptions import NotFittedError as SklearnNotFittedError

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "IdentifiabilityError",
    "ImpossibleRowError",
    "KmixError",
    "NotFittedError",
]


class KmixError(Exception):
    """Base class of every error raised by kmix."""


class DataError(KmixError, ValueError):
    """Input data, parameters or a model file are malformed.

    The message names the offending value and says how to fix it.
    """


class ImpossibleRowError(DataError):
    """A row has probability zero under every component.

    Attributes
    ----------
    row : int
        Index of the first such row in the array the solver was given.
    """

    def __init__(self, message: str, row: int) -> None:
        super().__init__(message)
        self.row = row


class IdentifiabilityError(KmixError, ValueError):
    """The data cannot pin down the requested model.

    Raised when an identifiability bound fails (for example fewer than
    ``2k - 1`` flips per trial for ``k`` coins); the message states the bound
    and what the data support.
    """


class ConvergenceWarning(SklearnConvergenceWarning):  # type: ignore[misc]
    """An iterative solver stopped at ``max_iter`` before meeting ``tol``.

    A subclass of scikit-learn's ``ConvergenceWarning`` (itself a
    ``UserWarning``), so one filter silences both.
    """


class NotFittedError(KmixError, SklearnNotFittedError):  # type: ignore[misc]
    """A method that needs a fitted model was called before ``fit``.

    Also scikit-learn's ``NotFittedError`` (a ``ValueError`` and an
    ``AttributeError``), so code written for either catches it.
    """

"""Fitted parameters as frozen values.

Every family's parameters are a frozen dataclass whose arrays carry the
component axis first. Each offers :meth:`validate`, :meth:`permute` and
:meth:`canonical`, so label switching is handled in one place and
comparisons between fits can be made permutation-aware.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..exceptions import DataError

__all__ = [
    "BernoulliParams",
    "BinomialParams",
    "CategoricalParams",
    "ComponentParams",
    "GaussianParams",
    "Mixture",
    "PoissonParams",
    "check_weights",
    "item_view",
]

FloatArray = NDArray[np.float64]
P = TypeVar("P", bound="ComponentParams")


def _frozen_array(value: ArrayLike, name: str, ndim: int) -> FloatArray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numeric; got {value!r} ({exc})") from None
    if arr.ndim != ndim:
        raise DataError(
            f"{name} must be a {ndim}-d array with the component axis first; got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{name} contains NaN or inf: {arr.tolist()}")
    arr.setflags(write=False)
    return arr


def _check_unit_interval(arr: FloatArray, name: str) -> None:
    bad = (arr < 0.0) | (arr > 1.0)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{name}{list(idx)} = {float(arr[idx])!r} lies outside [0, 1]; "
            "probabilities must be in [0, 1]"
        )


def check_weights(weights: ArrayLike, n_components: int | None = None) -> FloatArray:
    """Validate mixture weights: finite, non-negative, summing to one.

    Parameters
    ----------
    weights : array-like of shape (k,)
        Candidate mixing proportions.
    n_components : int, optional
        Expected length.

    Returns
    -------
    ndarray of shape (k,)
        A read-only float copy.
    """
    w = _frozen_array(weights, "weights", 1)
    if n_components is not None and w.shape[0] != n_components:
        raise DataError(
            f"weights has {w.shape[0]} entries but n_components={n_components}; "
            "give one weight per component"
        )
    if np.any(w < 0):
        raise DataError(f"weights must be non-negative; got {w.tolist()}")
    if abs(float(w.sum()) - 1.0) > 1e-6:
        raise DataError(f"weights must sum to 1; they sum to {float(w.sum())!r} ({w.tolist()})")
    return w


@dataclass(frozen=True)
class ComponentParams:
    """Base class: the parameters of ``k`` components of one family.

    Subclasses list their array fields in ``_arrays`` (component axis first).
    """

    _arrays: ClassVar[tuple[str, ...]] = ()
    family: ClassVar[str] = ""

    @property
    def n_components(self) -> int:
        """Number of components ``k``."""
        return int(np.shape(getattr(self, self._arrays[0]))[0])

    def permute(self: P, perm: Sequence[int] | NDArray[np.intp]) -> P:
        """Return the parameters with components reordered: new ``i`` = old ``perm[i]``."""
        idx = np.asarray(perm, dtype=np.intp)
        if sorted(idx.tolist()) != list(range(self.n_components)):
            raise DataError(
                f"perm must be a permutation of 0..{self.n_components - 1}; got {idx.tolist()}"
            )
        changes = {name: getattr(self, name)[idx] for name in self._arrays}
        return dataclasses.replace(self, **changes)

    def sort_key(self) -> FloatArray:
        """A (k, m) array whose rows order the components lexicographically."""
        first = np.asarray(getattr(self, self._arrays[0]))
        return first.reshape(first.shape[0], -1)

    def flat(self) -> FloatArray:
        """Every parameter of each component in one row, shape (k, m)."""
        k = self.n_components
        return np.concatenate(
            [np.asarray(getattr(self, name)).reshape(k, -1) for name in self._arrays], axis=1
        )

    def canonical_order(self) -> NDArray[np.intp]:
        """Permutation that sorts components by :meth:`sort_key` (lexicographic)."""
        key = self.sort_key()
        return np.lexsort(key.T[::-1]).astype(np.intp)

    def canonical(self: P) -> P:
        """Parameters with components in canonical (sorted) order."""
        return self.permute(self.canonical_order())

    def validate(self) -> None:  # pragma: no cover - overridden
        """Raise :class:`DataError` if the parameters are malformed."""

    def to_dict(self) -> dict[str, Any]:
        """Arrays as nested lists, plus non-array fields, for JSON."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in self._arrays:
                out[f.name] = np.asarray(value).tolist()
            else:
                out[f.name] = value
        return out


@dataclass(frozen=True)
class _ProbabilityArray(ComponentParams):
    """Parameters that are one (k, n_features) array ``p`` of probabilities."""

    p: FloatArray
    _arrays: ClassVar[tuple[str, ...]] = ("p",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "p", _frozen_array(self.p, "p", 2))
        self.validate()

    def validate(self) -> None:
        _check_unit_interval(self.p, "p")


@dataclass(frozen=True)
class BernoulliParams(_ProbabilityArray):
    """Independent bits: ``p[u, j] = P(X_j = 1 | U = u)``, shape (k, n_features)."""

    family: ClassVar[str] = "bernoulli"


@dataclass(frozen=True)
class BinomialParams(_ProbabilityArray):
    """Success probabilities ``p[u, j]`` of counts out of ``n_trials``; shape (k, n_features)."""

    family: ClassVar[str] = "binomial"


@dataclass(frozen=True)
class PoissonParams(ComponentParams):
    """Poisson rates ``rate[u, j] = E[X_j | U = u]``; shape (k, n_features)."""

    rate: FloatArray
    _arrays: ClassVar[tuple[str, ...]] = ("rate",)
    family: ClassVar[str] = "poisson"

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", _frozen_array(self.rate, "rate", 2))
        self.validate()

    def validate(self) -> None:
        if np.any(self.rate < 0):
            raise DataError(f"rate must be non-negative; got {self.rate.tolist()}")


@dataclass(frozen=True)
class CategoricalParams(ComponentParams):
    """Per-feature level probabilities.

    ``probs[j][u, v] = P(X_j = v | U = u)``: a tuple with one (k, n_levels_j)
    array per feature, each row on the simplex.
    """

    probs: tuple[FloatArray, ...]
    family: ClassVar[str] = "categorical"

    def __post_init__(self) -> None:
        if isinstance(self.probs, np.ndarray) and self.probs.ndim == 3:
            items: list[Any] = list(np.moveaxis(self.probs, 1, 0))
        else:
            items = list(self.probs)
        if not items:
            raise DataError("probs must hold one (k, n_levels) array per feature; got none")
        arrays = tuple(_frozen_array(a, f"probs[{j}]", 2) for j, a in enumerate(items))
        object.__setattr__(self, "probs", arrays)
        self.validate()

    @property
    def n_components(self) -> int:
        return int(self.probs[0].shape[0])

    @property
    def n_levels(self) -> tuple[int, ...]:
        """Number of levels of each feature."""
        return tuple(int(a.shape[1]) for a in self.probs)

    def validate(self) -> None:
        k = self.probs[0].shape[0]
        for j, a in enumerate(self.probs):
            if a.shape[0] != k:
                raise DataError(f"probs[{j}] has {a.shape[0]} components but probs[0] has {k}")
            _check_unit_interval(a, f"probs[{j}]")
            sums = a.sum(axis=1)
            if np.any(np.abs(sums - 1.0) > 1e-6):
                raise DataError(f"rows of probs[{j}] must sum to 1; they sum to {sums.tolist()}")

    def permute(self, perm: Sequence[int] | NDArray[np.intp]) -> CategoricalParams:
        idx = np.asarray(perm, dtype=np.intp)
        if sorted(idx.tolist()) != list(range(self.n_components)):
            raise DataError(
                f"perm must be a permutation of 0..{self.n_components - 1}; got {idx.tolist()}"
            )
        return CategoricalParams(tuple(a[idx] for a in self.probs))

    def sort_key(self) -> FloatArray:
        return np.concatenate(list(self.probs), axis=1)

    def flat(self) -> FloatArray:
        return self.sort_key()

    def to_dict(self) -> dict[str, Any]:
        return {"probs": [a.tolist() for a in self.probs]}


def item_view(probs: Sequence[FloatArray]) -> Any:
    """Per-item class probabilities as users read them.

    Binary items: the ``(k, n_items)`` matrix of ``P(X_j = second level | u)``;
    otherwise a list of copies of the ``(k, n_levels_j)`` arrays.
    """
    if all(p.shape[1] == 2 for p in probs):
        return np.stack([p[:, 1] for p in probs], axis=1)
    return [np.array(p, dtype=np.float64) for p in probs]


@dataclass(frozen=True)
class GaussianParams(ComponentParams):
    """Gaussian components.

    ``means`` has shape (k, d); ``covariances`` has shape (k, d, d) when
    ``covariance_type == "full"`` and (k, d) (the variances) when ``"diag"``.
    """

    means: FloatArray
    covariances: FloatArray
    covariance_type: str = "full"
    _arrays: ClassVar[tuple[str, ...]] = ("means", "covariances")
    family: ClassVar[str] = "gaussian"

    def __post_init__(self) -> None:
        if self.covariance_type not in ("full", "diag"):
            raise DataError(
                f"covariance_type must be 'full' or 'diag'; got {self.covariance_type!r}"
            )
        object.__setattr__(self, "means", _frozen_array(self.means, "means", 2))
        ndim = 3 if self.covariance_type == "full" else 2
        object.__setattr__(
            self, "covariances", _frozen_array(self.covariances, "covariances", ndim)
        )
        self.validate()

    def validate(self) -> None:
        k, d = self.means.shape
        expected = (k, d, d) if self.covariance_type == "full" else (k, d)
        if self.covariances.shape != expected:
            raise DataError(
                f"covariances must have shape {expected} for covariance_type="
                f"{self.covariance_type!r} and means of shape {(k, d)}; "
                f"got {self.covariances.shape}"
            )
        if self.covariance_type == "diag":
            if np.any(self.covariances <= 0):
                raise DataError(f"variances must be positive; got {self.covariances.tolist()}")
            return
        for u, cov in enumerate(self.covariances):
            if not np.allclose(cov, cov.T, rtol=1e-8, atol=1e-12):
                raise DataError(f"covariances[{u}] is not symmetric")
            try:
                np.linalg.cholesky(cov)
            except np.linalg.LinAlgError:
                raise DataError(
                    f"covariances[{u}] is not positive definite; raise the variance floor"
                ) from None


@dataclass(frozen=True)
class Mixture:
    """A finite mixture: weights ``P(U = u)`` and the components' parameters."""

    weights: FloatArray
    params: ComponentParams

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", check_weights(self.weights, self.params.n_components))

    @property
    def n_components(self) -> int:
        """Number of components."""
        return int(self.weights.shape[0])

    def permute(self, perm: Sequence[int] | NDArray[np.intp]) -> Mixture:
        """Reorder the components: new ``i`` = old ``perm[i]``."""
        idx = np.asarray(perm, dtype=np.intp)
        return Mixture(self.weights[idx], self.params.permute(idx))

    def canonical(self) -> Mixture:
        """The mixture with components in the parameters' canonical order."""
        return self.permute(self.params.canonical_order())

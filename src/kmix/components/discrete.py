"""Discrete component families: Bernoulli, categorical, binomial and Poisson.

All four are exponential families, so the M-step has a closed form (weighted
sufficient statistics divided by weighted totals); see e.g. McLachlan &
Peel, *Finite Mixture Models* (2000), ch. 2. Optional Dirichlet(alpha)
smoothing turns the M-step into the MAP update

.. math:: \\theta_{u,v} = \\frac{c_{u,v} + \\alpha - 1}{\\sum_{v'} c_{u,v'} + d(\\alpha - 1)},

where ``c`` are the expected counts and ``d`` the number of outcomes.

Missing cells (NaN) leave their coordinate out: with coordinates independent
given the component, ``log P(x_obs | u)`` is the sum over the observed
coordinates, and the M-step divides each coordinate's expected counts by the
responsibilities of the rows that observe it (Hunt & Jorgensen, "Mixture
model clustering for mixed data with missing information", Comput. Stat.
Data Anal. 41, 2003),

.. math:: p_{uj} = \\frac{\\sum_s r_{su} o_{sj} x_{sj}}{\\sum_s r_{su} o_{sj}},

``o_sj`` being 1 where row ``s`` observes coordinate ``j``. That is EM with
the component label as the only hidden variable, the missing coordinates
integrated out exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.special import gammaln

from ..exceptions import DataError
from ..params import (
    BernoulliParams,
    BinomialParams,
    CategoricalParams,
    ComponentParams,
    PoissonParams,
)
from .base import (
    Family,
    Gapped,
    check_shape,
    first_bad,
    gapped,
    mark_impossible,
    safe_log,
    weighted_sums,
)

__all__ = ["Bernoulli", "Binomial", "Categorical", "Poisson"]

FloatArray = NDArray[np.float64]
_TINY = 1e-300


def _check_alpha(alpha: float) -> float:
    a = float(alpha)
    if not np.isfinite(a) or a < 1.0:
        raise DataError(f"alpha (Dirichlet smoothing) must be >= 1 (1 means none); got {alpha!r}")
    return a


def _check_integer_counts(X: FloatArray, name: str, what: str) -> None:
    # (a missing cell, NaN, is no bad value)
    negative = X < 0  # (NaN compares False)
    bad = negative if negative.any() else (np.floor(X) != X) & ~np.isnan(X)
    if np.any(bad):  # negative values first: they are wrong in any table
        i, j = first_bad(bad)
        # (scikit-learn's phrase for negative input, so its estimator checks recognise it)
        kind = "Negative values in data: " if X[i, j] < 0 else ""
        raise DataError(
            f"{kind}{name}[{i}, {j}] = {float(X[i, j])!r}: {what} must be non-negative integers"
        )


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    return num / np.maximum(den, _TINY)


class _OneArrayFamily(Family):
    """A family whose parameters are one (k, n_features) array named ``key``."""

    params_cls: ClassVar[type[ComponentParams]]
    key: ClassVar[str]

    def n_free_parameters(self, params: ComponentParams) -> int:
        return int(np.size(getattr(params, self.key)))

    def params_from_dict(
        self, data: Mapping[str, Any], n_components: int, n_features: int, **context: Any
    ) -> ComponentParams:
        if self.key not in data:
            raise DataError(
                f"{self.name} parameters need key {self.key!r}; got keys {sorted(data)}"
            )
        params = self.params_cls(data[self.key])  # type: ignore[call-arg]
        check_shape(getattr(params, self.key), (n_components, n_features), self.key)
        return params


class _BetaSmoothed(_OneArrayFamily):
    """Probabilities ``p`` with an optional symmetric Beta(alpha, alpha) prior."""

    key = "p"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = _check_alpha(alpha)

    def options(self) -> dict[str, Any]:
        return {"alpha": self.alpha}

    def log_prior(self, params: ComponentParams) -> float:
        """Unnormalised log density of independent Beta(alpha, alpha) priors."""
        if self.alpha == 1.0:
            return 0.0
        p = params.p  # type: ignore[attr-defined]
        return float((self.alpha - 1.0) * (safe_log(p) + safe_log(1.0 - p)).sum())


class Bernoulli(_BetaSmoothed):
    """Independent bits: ``P(x | u) = prod_j p_uj^x_j (1 - p_uj)^(1 - x_j)``.

    Parameters
    ----------
    alpha : float, default 1.0
        Symmetric Beta(alpha, alpha) prior on every ``p``; 1 is the MLE.
    """

    name = "bernoulli"
    params_cls = BernoulliParams

    def check_data(self, X: FloatArray, **context: Any) -> None:
        bad = (X != 0) & (X != 1) & ~np.isnan(X)
        if np.any(bad):
            i, j = first_bad(bad)
            raise DataError(
                f"X[{i}, {j}] = {float(X[i, j])!r} but the bernoulli family needs 0/1 values; "
                "recode the column or use family='categorical'"
            )

    def prepare(self, values: FloatArray, **context: Any) -> FloatArray | Gapped:
        gaps = gapped(values)
        return values if gaps is None else gaps

    def features(self, prepared: FloatArray | Gapped) -> FloatArray:
        return prepared.filled() if isinstance(prepared, Gapped) else prepared

    def log_prob(self, prepared: FloatArray | Gapped, params: ComponentParams) -> FloatArray:
        p = params.p  # type: ignore[attr-defined]
        log_p, log_q = safe_log(p), safe_log(1.0 - p)
        if isinstance(prepared, Gapped):  # the observed coordinates only
            x, seen = prepared.values, prepared.observed
            out = x @ (log_p - log_q).T + seen @ log_q.T
            out = mark_impossible(out, x, p == 0.0)
            return mark_impossible(out, seen - x, p == 1.0)
        out = prepared @ (log_p - log_q).T + log_q.sum(axis=1)
        out = mark_impossible(out, prepared, p == 0.0)
        return mark_impossible(out, 1.0 - prepared, p == 1.0)

    def m_step(
        self,
        prepared: FloatArray | Gapped,
        resp_w: FloatArray,
        nk: FloatArray,
        current: ComponentParams | None = None,
    ) -> BernoulliParams:
        a = self.alpha - 1.0
        if isinstance(prepared, Gapped):  # each coordinate over the rows that observe it
            ones = weighted_sums(resp_w, prepared.values)
            p = _ratio(ones + a, weighted_sums(resp_w, prepared.observed) + 2.0 * a)
        else:
            p = _ratio(weighted_sums(resp_w, prepared) + a, nk[:, None] + 2.0 * a)
        return BernoulliParams(np.clip(p, 0.0, 1.0))

    def sample(
        self,
        params: ComponentParams,
        labels: NDArray[np.intp],
        rng: np.random.Generator,
        **context: Any,
    ) -> FloatArray:
        p = params.p[labels]  # type: ignore[attr-defined]
        return (rng.random(p.shape) < p).astype(np.float64)


class Binomial(_BetaSmoothed):
    """Independent binomial counts: ``x_j ~ Bin(n_j, p_uj)``, trials per row allowed.

    The encoded table is ``[x, n]`` (counts beside trials), so rows with the
    same counts out of the same trials are collapsed. A missing count (NaN)
    becomes 0 successes out of 0 trials, which leaves its cell out of the
    likelihood and out of the M-step's totals.

    Parameters
    ----------
    alpha : float, default 1.0
        Symmetric Beta(alpha, alpha) prior on every ``p``; 1 is the MLE.
    """

    name = "binomial"
    params_cls = BinomialParams

    @staticmethod
    def trials_array(n_trials: Any, shape: tuple[int, int]) -> FloatArray:
        """Broadcast ``n_trials`` (scalar, per row, or per cell) to ``shape``."""
        if n_trials is None:
            raise DataError(
                "the binomial family needs n_trials (an int, or one value per row); "
                "pass n_trials=..."
            )
        n = np.asarray(n_trials, dtype=np.float64)
        if n.ndim == 1 and n.shape[0] == shape[0]:
            n = n[:, None]
        try:
            n = np.broadcast_to(n, shape).astype(np.float64)
        except ValueError:
            raise DataError(
                f"n_trials of shape {np.shape(n_trials)} does not match X of shape {shape}; "
                "give an int, one value per row, or an array shaped like X"
            ) from None
        if not np.all(np.isfinite(n)):
            raise DataError("n_trials contains NaN or inf")
        _check_integer_counts(n, "n_trials", "trial counts")
        return n

    def check_data(self, X: FloatArray, **context: Any) -> None:
        n = self.trials_array(context.get("n_trials"), X.shape)
        _check_integer_counts(X, "X", "binomial counts")
        over = n < X
        if np.any(over):
            i, j = first_bad(over)
            raise DataError(
                f"X[{i}, {j}] = {float(X[i, j])!r} exceeds n_trials = {float(n[i, j])!r}; "
                "counts cannot exceed the number of trials"
            )

    def encode(self, X: FloatArray, **context: Any) -> FloatArray:
        n = self.trials_array(context.get("n_trials"), X.shape)
        return np.concatenate([X, n], axis=1)

    def prepare(self, values: FloatArray, **context: Any) -> tuple[FloatArray, ...]:
        d = values.shape[1] // 2
        x, n = values[:, :d], values[:, d:]
        missing = np.isnan(x)
        if missing.any():
            x, n = np.where(missing, 0.0, x), np.where(missing, 0.0, n)
        log_choose = (gammaln(n + 1) - gammaln(x + 1) - gammaln(n - x + 1)).sum(axis=1)
        return x, n, log_choose

    def features(self, prepared: tuple[FloatArray, ...]) -> FloatArray:
        x, n, _ = prepared
        return _ratio(x, n)

    def log_prob(self, prepared: tuple[FloatArray, ...], params: ComponentParams) -> FloatArray:
        x, n, log_choose = prepared
        p = params.p  # type: ignore[attr-defined]
        log_p, log_q = safe_log(p), safe_log(1.0 - p)
        out = x @ log_p.T + (n - x) @ log_q.T + log_choose[:, None]
        out = mark_impossible(out, x, p == 0.0)
        return mark_impossible(out, n - x, p == 1.0)

    def m_step(
        self,
        prepared: tuple[FloatArray, ...],
        resp_w: FloatArray,
        nk: FloatArray,
        current: ComponentParams | None = None,
    ) -> BinomialParams:
        x, n, _ = prepared
        a = self.alpha - 1.0
        p = _ratio(weighted_sums(resp_w, x) + a, weighted_sums(resp_w, n) + 2.0 * a)
        return BinomialParams(np.clip(p, 0.0, 1.0))

    def sample(
        self,
        params: ComponentParams,
        labels: NDArray[np.intp],
        rng: np.random.Generator,
        **context: Any,
    ) -> FloatArray:
        p = params.p[labels]  # type: ignore[attr-defined]
        n = self.trials_array(context.get("n_trials"), p.shape)
        return rng.binomial(n.astype(np.int64), p).astype(np.float64)


class Poisson(_OneArrayFamily):
    """Independent Poisson counts: ``x_j ~ Poisson(rate_uj)``.

    Parameters
    ----------
    rate_floor : float, default 1e-10
        Smallest rate the M-step returns, so that a component whose rows are
        all zero in a column keeps a finite log-likelihood for non-zero counts.
    """

    name = "poisson"
    params_cls = PoissonParams
    key = "rate"

    def __init__(self, rate_floor: float = 1e-10) -> None:
        if not np.isfinite(rate_floor) or rate_floor < 0:
            raise DataError(f"rate_floor must be a finite value >= 0; got {rate_floor!r}")
        self.rate_floor = float(rate_floor)

    def options(self) -> dict[str, Any]:
        return {"rate_floor": self.rate_floor}

    def check_data(self, X: FloatArray, **context: Any) -> None:
        _check_integer_counts(X, "X", "poisson counts")

    def prepare(self, values: FloatArray, **context: Any) -> tuple[Any, FloatArray]:
        """``(counts, sum_j log x_j!)``; with missing cells, ``(Gapped, sum over observed)``."""
        gaps = gapped(values)
        x = values if gaps is None else gaps.values  # (0! = 1: a missing cell adds nothing)
        return values if gaps is None else gaps, gammaln(x + 1).sum(axis=1)

    def features(self, prepared: tuple[Any, FloatArray]) -> FloatArray:
        x = prepared[0]
        return x.filled() if isinstance(x, Gapped) else x

    def log_prob(self, prepared: tuple[Any, FloatArray], params: ComponentParams) -> FloatArray:
        x, log_fact = prepared
        rate = params.rate  # type: ignore[attr-defined]
        if isinstance(x, Gapped):  # the observed coordinates only
            out = x.values @ safe_log(rate).T - x.observed @ rate.T - log_fact[:, None]
            return mark_impossible(out, x.values, rate == 0.0)
        out = x @ safe_log(rate).T - rate.sum(axis=1) - log_fact[:, None]
        return mark_impossible(out, x, rate == 0.0)

    def m_step(
        self,
        prepared: tuple[Any, FloatArray],
        resp_w: FloatArray,
        nk: FloatArray,
        current: ComponentParams | None = None,
    ) -> PoissonParams:
        x = prepared[0]
        if isinstance(x, Gapped):  # each coordinate over the rows that observe it
            rate = _ratio(weighted_sums(resp_w, x.values), weighted_sums(resp_w, x.observed))
        else:
            rate = _ratio(weighted_sums(resp_w, x), nk[:, None])
        return PoissonParams(np.maximum(rate, self.rate_floor))

    def sample(
        self,
        params: ComponentParams,
        labels: NDArray[np.intp],
        rng: np.random.Generator,
        **context: Any,
    ) -> FloatArray:
        return rng.poisson(params.rate[labels]).astype(np.float64)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _OneHot:
    design: sparse.csr_matrix  # (m, total_levels), one 1 per feature in each row
    offsets: NDArray[np.intp]  # start column of each feature
    n_levels: tuple[int, ...]


class Categorical(Family):
    """Independent categorical features: ``P(x | u) = prod_j theta_j[u, x_j]``.

    Data are integer codes ``0 .. n_levels_j - 1`` per column (the estimator
    encodes labels to codes), NaN for a missing cell: the one-hot design then
    holds no 1 in that column's block, so the cell adds nothing to
    ``log P(x | u)`` and each column's totals in the M-step come from the
    rows that observe it.

    Parameters
    ----------
    alpha : float, default 1.0
        Symmetric Dirichlet(alpha) prior on each ``theta_j[u]``; 1 is the MLE.
    """

    name = "categorical"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = _check_alpha(alpha)

    def options(self) -> dict[str, Any]:
        return {"alpha": self.alpha}

    @staticmethod
    def _levels(context: Mapping[str, Any], X: FloatArray) -> tuple[int, ...]:
        n_levels = context.get("n_levels")
        if n_levels is None:
            if not X.size:
                return ()
            top = np.where(np.isnan(X), -1.0, X).max(axis=0)  # (NaN: a missing cell)
            return tuple(int(v) + 1 for v in top)
        return tuple(int(v) for v in n_levels)

    def check_data(self, X: FloatArray, **context: Any) -> None:
        _check_integer_counts(X, "X", "categorical codes")
        levels = np.asarray(self._levels(context, X), dtype=np.float64)
        over = levels[None, :] <= X
        if np.any(over):
            i, j = first_bad(over)
            raise DataError(
                f"X[{i}, {j}] = {float(X[i, j])!r} is not a level seen in fit "
                f"(column {j} has codes 0..{int(levels[j]) - 1})"
            )

    def prepare(self, values: FloatArray, **context: Any) -> _OneHot:
        levels = self._levels(context, values)
        offsets = np.concatenate([[0], np.cumsum(levels)[:-1]]).astype(np.intp)
        m, d = values.shape
        width = int(sum(levels))
        seen = ~np.isnan(values)
        if not seen.all():  # a missing cell stores no 1 in its column's block
            rows, cols = np.nonzero(seen)
            design = sparse.csr_matrix(
                (np.ones(rows.size), (rows, values[rows, cols].astype(np.intp) + offsets[cols])),
                shape=(m, width),
            )
            return _OneHot(design, offsets, levels)
        cols = (values.astype(np.intp) + offsets[None, :]).reshape(-1)
        # sparse: m * d stored ones instead of m * sum(levels) dense cells
        design = sparse.csr_matrix(
            (np.ones(m * d), cols, np.arange(0, m * d + 1, d)), shape=(m, width)
        )
        return _OneHot(design, offsets, levels)

    def features(self, prepared: _OneHot) -> sparse.csr_matrix:
        return prepared.design

    def log_prob(self, prepared: _OneHot, params: ComponentParams) -> FloatArray:
        theta = np.concatenate(params.probs, axis=1)  # type: ignore[attr-defined]
        out = prepared.design @ safe_log(theta).T
        return mark_impossible(out, prepared.design, theta == 0.0)

    def m_step(
        self,
        prepared: _OneHot,
        resp_w: FloatArray,
        nk: FloatArray,
        current: ComponentParams | None = None,
    ) -> CategoricalParams:
        counts = weighted_sums(resp_w, prepared.design) + (self.alpha - 1.0)
        totals = np.add.reduceat(counts, prepared.offsets, axis=1)
        theta = _ratio(counts, np.repeat(totals, prepared.n_levels, axis=1))
        empty = totals <= _TINY
        if np.any(empty):
            # a component with no mass: keep it uniform so rows still sum to one
            uniform = np.repeat(1.0 / np.asarray(prepared.n_levels), prepared.n_levels)
            theta = np.where(np.repeat(empty, prepared.n_levels, axis=1), uniform, theta)
        blocks = np.split(theta, prepared.offsets[1:], axis=1)
        return CategoricalParams(tuple(b / b.sum(axis=1, keepdims=True) for b in blocks))

    def log_prior(self, params: ComponentParams) -> float:
        if self.alpha == 1.0:
            return 0.0
        probs: Sequence[FloatArray] = params.probs  # type: ignore[attr-defined]
        return float((self.alpha - 1.0) * sum(safe_log(a).sum() for a in probs))

    def n_free_parameters(self, params: ComponentParams) -> int:
        probs: Sequence[FloatArray] = params.probs  # type: ignore[attr-defined]
        return int(sum(a.shape[0] * (a.shape[1] - 1) for a in probs))

    def params_from_dict(
        self, data: Mapping[str, Any], n_components: int, n_features: int, **context: Any
    ) -> CategoricalParams:
        if "probs" not in data:
            raise DataError(f"categorical parameters need key 'probs'; got keys {sorted(data)}")
        params = CategoricalParams(tuple(data["probs"]))
        if len(params.probs) != n_features:
            raise DataError(
                f"probs has {len(params.probs)} features but the data have {n_features}"
            )
        levels = context.get("n_levels")
        for j, a in enumerate(params.probs):
            want = (n_components, a.shape[1] if levels is None else int(levels[j]))
            check_shape(a, want, f"probs[{j}]")
        return params

    def sample(
        self,
        params: ComponentParams,
        labels: NDArray[np.intp],
        rng: np.random.Generator,
        **context: Any,
    ) -> FloatArray:
        probs: Sequence[FloatArray] = params.probs  # type: ignore[attr-defined]
        out = np.empty((labels.shape[0], len(probs)))
        for j, a in enumerate(probs):  # loop over features, vectorised over rows
            cdf = np.cumsum(a[labels], axis=1)
            draw = rng.random((labels.shape[0], 1))
            out[:, j] = np.minimum((draw >= cdf).sum(axis=1), a.shape[1] - 1)
        return out

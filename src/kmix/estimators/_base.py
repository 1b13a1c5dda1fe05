"""The contract every kmix estimator keeps, in the manner of scikit-learn's ``BaseMixture``.

* ``fit(X, y=None, *, sample_weight=None, **data)`` returns the estimator;
  ``y`` is ignored (unsupervised), and a model's own data inputs are
  keyword-only (``n_trials=`` for counts out of a number of trials,
  ``columns=`` to name an array's columns);
* ``score_samples``, ``score``, ``predict_proba``, ``predict``, ``fit_predict``
  take the same data keywords; ``score``, ``bic`` and ``aic`` take
  ``sample_weight`` (frequency weights), and ``bic()``/``aic()`` without data
  score the training data with its weights;
* fitted: ``weights_`` (class shares), ``params_`` (a :mod:`kmix.params` value
  object), ``log_likelihood_`` (total, weighted), ``n_samples_`` (total
  weight), ``converged_``, ``n_iter_``, ``n_features_in_``;
* labels: classes are numbered by weight, largest first (ties keep the
  solver's order), except where the user names the components
  (``FiniteMixture``'s ``fixed_params``, ``fixed_weights``, ``params_init``,
  ``weights_init``), whose order is kept;
* ``n_init`` counts EM starts in all, the model's own start first (moment
  solution, reduction or ``params_init``), the rest random; ``alpha`` is the
  concentration of a symmetric Dirichlet prior on every probability vector
  (1: maximum likelihood; ``alpha = 1 + c`` adds ``c`` pseudo-counts per cell).
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, DensityMixin

from ..exceptions import DataError
from ._checks import check_fitted, check_sample_weight

if TYPE_CHECKING:
    from .fitstats import FitStatistics

__all__ = ["MixtureEstimator"]

FloatArray = NDArray[np.float64]


class MixtureEstimator(DensityMixin, BaseEstimator):  # type: ignore[misc]
    """Shared inference and model selection of kmix's estimators.

    Subclasses implement ``fit``, ``_log_parts(X, **data)`` (row
    log-likelihoods and log-posteriors) and ``n_parameters()``, and name
    their data keywords in ``_data_keywords``.
    """

    #: Model-specific data inputs that every method accepts as keywords.
    _data_keywords: ClassVar[tuple[str, ...]] = ()
    #: Estimator tags: discrete estimators read integer codes or labels.
    _categorical: ClassVar[bool] = True

    # ---------------------------------------------------------------- hooks
    def _log_parts(self, X: Any, **data: Any) -> tuple[FloatArray, FloatArray]:
        raise NotImplementedError

    def n_parameters(self) -> int:
        """Free parameters of the fitted model."""
        raise NotImplementedError

    def _check_data(self, method: str, data: dict[str, Any]) -> None:
        unknown = sorted(set(data) - set(self._data_keywords))
        if unknown:
            takes = ", ".join(f"{k}=" for k in self._data_keywords) or "no data keywords"
            raise TypeError(
                f"{type(self).__name__}.{method}() got unexpected keyword(s) {unknown}; "
                f"it takes {takes}"
            )

    def _check_y(self, y: Any) -> None:
        """A scalar ``y`` is a misplaced data argument (``fit(X, 5)``), never a target."""
        if isinstance(y, (numbers.Number, np.generic, str)):
            takes = " or ".join(f"{k}=" for k in self._data_keywords) or "nothing more"
            raise DataError(
                f"{type(self).__name__} is unsupervised and its second argument y is "
                f"ignored; got y={y!r}. Pass model inputs by keyword ({takes})"
            )

    def _log_posterior(self, X: Any, **data: Any) -> FloatArray:
        return self._log_parts(X, **data)[1]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = self._categorical
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------ inference
    def score_samples(self, X: Any, **data: Any) -> FloatArray:
        """Log-likelihood ``log P(x)`` of each row."""
        self._check_data("score_samples", data)
        return self._log_parts(X, **data)[0]

    def score(
        self, X: Any, y: Any = None, sample_weight: ArrayLike | None = None, **data: Any
    ) -> float:
        """Mean log-likelihood per row (weighted by ``sample_weight`` if given)."""
        self._check_data("score", data)
        lse = self._log_parts(X, **data)[0]
        w = check_sample_weight(sample_weight, lse.shape[0])
        return float(np.average(lse, weights=w))

    def predict_proba(self, X: Any, **data: Any) -> FloatArray:
        """Posterior class probabilities ``P(u | x)``, shape (n_samples, k)."""
        self._check_data("predict_proba", data)
        return np.exp(self._log_posterior(X, **data))

    def predict(self, X: Any, **data: Any) -> NDArray[np.intp]:
        """Most probable class of each row."""
        self._check_data("predict", data)
        return np.asarray(np.argmax(self._log_posterior(X, **data), axis=1), dtype=np.intp)

    def fit_predict(
        self, X: Any, y: Any = None, *, sample_weight: ArrayLike | None = None, **data: Any
    ) -> NDArray[np.intp]:
        """Fit, then return the most probable class of each training row."""
        self._check_data("fit_predict", data)
        return self.fit(X, y, sample_weight=sample_weight, **data).predict(X, **data)  # type: ignore[no-any-return]

    # ------------------------------------------------------ model selection
    def _total(
        self, X: Any, sample_weight: ArrayLike | None, data: dict[str, Any]
    ) -> tuple[float, float]:
        """``(log L, N)``: of ``X`` (weighted), or of the training data when ``X`` is None."""
        check_fitted(self, "weights_")
        if X is None:
            if sample_weight is not None or data:
                raise DataError("sample_weight and data keywords need X")
            ll = getattr(self, "log_likelihood_", None)
            if ll is None:
                raise DataError(
                    "fitted from moments only, without data rows: pass X to compute the likelihood"
                )
            return float(ll), float(self.n_samples_)
        lse = self._log_parts(X, **data)[0]
        w = check_sample_weight(sample_weight, lse.shape[0])
        if w is None:
            return float(lse.sum()), float(lse.shape[0])
        return float(w @ lse), float(w.sum())

    def bic(self, X: Any = None, sample_weight: ArrayLike | None = None, **data: Any) -> float:
        """Bayesian information criterion ``-2 log L + p log N`` (lower is better).

        On ``X`` with its frequency weights (``N`` their total), or on the
        training data when ``X`` is None (Schwarz, "Estimating the dimension
        of a model", Ann. Statist. 6, 1978).
        """
        self._check_data("bic", data)
        ll, n = self._total(X, sample_weight, data)
        return -2.0 * ll + self.n_parameters() * float(np.log(n))

    def aic(self, X: Any = None, sample_weight: ArrayLike | None = None, **data: Any) -> float:
        """Akaike information criterion ``-2 log L + 2 p`` (lower is better; Akaike 1974)."""
        self._check_data("aic", data)
        ll, _ = self._total(X, sample_weight, data)
        return -2.0 * ll + 2.0 * self.n_parameters()

    def fit_statistics(
        self, X: Any, *, sample_weight: ArrayLike | None = None, **data: Any
    ) -> FitStatistics:
        """AIC, BIC, SABIC, CAIC, G-squared and Pearson's X-squared with their df, entropy R^2.

        On ``X`` with its frequency weights; see
        :func:`kmix.estimators.fitstats.fit_statistics` for the definitions
        (poLCA's and StepMix's).
        """
        from .fitstats import fit_statistics

        self._check_data("fit_statistics", data)
        return fit_statistics(self, X, sample_weight=sample_weight, **data)

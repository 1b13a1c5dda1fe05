"""Gaussian components with full or diagonal covariance.

The E-step uses the Cholesky factor of each precision matrix,

.. math:: \\log \\mathcal N(x; \\mu, \\Sigma) = -\\tfrac12\\big(d \\log 2\\pi
   + \\lVert (x - \\mu)^\\top L^{-\\top} \\rVert^2\\big) - \\sum_i \\log L_{ii},
   \\qquad \\Sigma = L L^\\top,

and the M-step the weighted mean and covariance (Dempster, Laird & Rubin,
"Maximum likelihood from incomplete data via the EM algorithm", 1977). A
variance floor keeps every covariance positive definite: eigenvalues (full)
or variances (diag) below ``var_floor`` are raised to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import solve_triangular

from ..exceptions import DataError
from ..params import ComponentParams, GaussianParams
from .base import Family, check_shape, weighted_sums

__all__ = ["Gaussian"]

FloatArray = NDArray[np.float64]
_LOG_2PI = float(np.log(2.0 * np.pi))


class Gaussian(Family):
    """Multivariate normal components.

    Parameters
    ----------
    covariance_type : {"full", "diag"}, default "full"
        Full covariance matrices, or diagonal ones (independent features
        within a component).
    var_floor : float, default 1e-6
        Smallest eigenvalue (full) or variance (diag) the M-step returns.
    """

    name = "gaussian"
    discrete = False
    init_smoothing = 0.0

    def __init__(self, covariance_type: str = "full", var_floor: float = 1e-6) -> None:
        if covariance_type not in ("full", "diag"):
            raise DataError(f"covariance_type must be 'full' or 'diag'; got {covariance_type!r}")
        if not np.isfinite(var_floor) or var_floor < 0:
            raise DataError(f"var_floor must be a finite value >= 0; got {var_floor!r}")
        self.covariance_type = covariance_type
        self.var_floor = float(var_floor)

    def options(self) -> dict[str, Any]:
        return {"covariance_type": self.covariance_type, "var_floor": self.var_floor}

    def check_data(self, X: FloatArray, **context: Any) -> None:
        """Any finite real data are valid (finiteness is checked upstream)."""

    def prepare(self, values: FloatArray, **context: Any) -> FloatArray:
        return values

    def features(self, prepared: FloatArray) -> FloatArray:
        return prepared

    def _precision_cholesky(self, params: GaussianParams) -> tuple[FloatArray, FloatArray]:
        """Per component: ``P`` with ``P P^T = Sigma^{-1}``, and ``sum log diag P``."""
        k, d = params.means.shape
        if self.covariance_type == "diag":
            prec = 1.0 / np.sqrt(params.covariances)
            return prec, np.log(prec).sum(axis=1)
        out = np.empty((k, d, d))
        for u in range(k):
            chol = np.linalg.cholesky(params.covariances[u])
            out[u] = solve_triangular(chol, np.eye(d), lower=True).T
        log_det = np.log(np.diagonal(out, axis1=1, axis2=2)).sum(axis=1)
        return out, log_det

    def log_prob(self, prepared: FloatArray, params: ComponentParams) -> FloatArray:
        assert isinstance(params, GaussianParams)
        X = prepared
        n, d = X.shape
        prec, log_det = self._precision_cholesky(params)
        means = params.means
        maha = np.empty((n, means.shape[0]))
        for u in range(means.shape[0]):  # loop over components, rows vectorised
            # centre first: expanding |x - mu|^2 cancels catastrophically for data
            # far from the origin (e.g. timestamps)
            if self.covariance_type == "diag":
                y = (X - means[u]) * prec[u]
            else:
                y = (X - means[u]) @ prec[u]
            maha[:, u] = np.einsum("ij,ij->i", y, y)
        return -0.5 * (d * _LOG_2PI + maha) + log_det[None, :]

    def m_step(self, prepared: FloatArray, resp_w: FloatArray, nk: FloatArray) -> GaussianParams:
        X = prepared
        nk_safe = np.maximum(nk, 10.0 * np.finfo(np.float64).eps)
        means = weighted_sums(resp_w, X) / nk_safe[:, None]
        k, d = means.shape
        if self.covariance_type == "diag":
            var = np.empty((k, d))
            for u in range(k):  # centred sums: E[x^2] - mean^2 loses all precision far from 0
                diff = X - means[u]
                var[u] = resp_w[:, u] @ (diff * diff) / nk_safe[u]
            return GaussianParams(means, np.maximum(var, max(self.var_floor, 1e-300)), "diag")
        covs = np.empty((k, d, d))
        for u in range(k):
            diff = X - means[u]
            cov = (resp_w[:, u] * diff.T) @ diff / nk_safe[u]
            cov = 0.5 * (cov + cov.T)
            covs[u] = self._floor(cov)
        return GaussianParams(means, covs, "full")

    def _floor(self, cov: FloatArray) -> FloatArray:
        floor = self.var_floor
        if floor > 0 and np.min(np.diag(cov)) >= 10 * floor:
            try:
                np.linalg.cholesky(cov - floor * np.eye(cov.shape[0]))
                return cov  # every eigenvalue already exceeds the floor
            except np.linalg.LinAlgError:
                pass
        vals, vecs = np.linalg.eigh(cov)
        if vals.min() >= floor and vals.min() > 0:
            return cov
        vals = np.maximum(vals, max(floor, 1e-300))
        out: FloatArray = (vecs * vals) @ vecs.T
        return 0.5 * (out + out.T)

    def floor_binds(self, params: GaussianParams) -> NDArray[np.intp]:
        """Components whose smallest variance (diag) or eigenvalue (full) sits at ``var_floor``.

        The M-step raises such values to exactly ``var_floor``, but an
        eigenvalue recomputed from a floored full covariance is only known to
        about ``d * eps * lambda_max`` (``eps`` the machine epsilon): at a large
        data scale it lands visibly above or below the floor. The test is
        therefore ``lambda_min <= var_floor + 1e-9 var_floor + 8 d eps lambda_max``,
        relative to the component's own scale (seen: deviations up to
        ``0.3 d eps lambda_max`` on collinear data of scale 10 to 1e4).
        """
        if self.var_floor <= 0:
            return np.zeros(0, dtype=np.intp)
        if params.covariance_type == "diag":
            values = np.sort(params.covariances, axis=1)
        else:
            values = np.asarray(np.linalg.eigvalsh(params.covariances), dtype=np.float64)
        d = values.shape[1]
        eps = float(np.finfo(np.float64).eps)
        slack = 1e-9 * self.var_floor + 8.0 * d * eps * np.abs(values[:, -1])
        return np.flatnonzero(values[:, 0] <= self.var_floor + slack).astype(np.intp)

    def n_free_parameters(self, params: ComponentParams) -> int:
        assert isinstance(params, GaussianParams)
        k, d = params.means.shape
        cov = d * (d + 1) // 2 if self.covariance_type == "full" else d
        return int(k * (d + cov))

    def params_from_dict(
        self, data: Mapping[str, Any], n_components: int, n_features: int, **context: Any
    ) -> GaussianParams:
        missing = {"means", "covariances"} - set(data)
        if missing:
            raise DataError(
                "gaussian parameters need keys 'means' and 'covariances'; "
                f"missing {sorted(missing)}"
            )
        params = GaussianParams(
            data["means"], data["covariances"], data.get("covariance_type", self.covariance_type)
        )
        if params.covariance_type != self.covariance_type:
            raise DataError(
                f"parameters have covariance_type={params.covariance_type!r} but the "
                f"family uses {self.covariance_type!r}"
            )
        check_shape(params.means, (n_components, n_features), "means")
        return params

    def sample(
        self,
        params: ComponentParams,
        labels: NDArray[np.intp],
        rng: np.random.Generator,
        **context: Any,
    ) -> FloatArray:
        assert isinstance(params, GaussianParams)
        k, d = params.means.shape
        z = rng.standard_normal((labels.shape[0], d))
        out = np.empty_like(z)
        for u in range(k):  # loop over components, rows vectorised
            idx = labels == u
            if self.covariance_type == "diag":
                scale = np.diag(np.sqrt(params.covariances[u]))
            else:
                scale = np.linalg.cholesky(params.covariances[u])
            out[idx] = params.means[u] + z[idx] @ scale.T
        return out

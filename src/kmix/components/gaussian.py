"""Gaussian components with full or diagonal covariance.

The E-step uses the Cholesky factor of each precision matrix,

.. math:: \\log \\mathcal N(x; \\mu, \\Sigma) = -\\tfrac12\\big(d \\log 2\\pi
   + \\lVert (x - \\mu)^\\top L^{-\\top} \\rVert^2\\big) - \\sum_i \\log L_{ii},
   \\qquad \\Sigma = L L^\\top,

and the M-step the weighted mean and covariance (Dempster, Laird & Rubin,
"Maximum likelihood from incomplete data via the EM algorithm", 1977). A
variance floor keeps every covariance positive definite: eigenvalues (full)
or variances (diag) below ``var_floor`` are raised to it.

Missing cells (NaN) are integrated out. A row scores by the density of its
observed block, ``N(x_o; mu_o, Sigma_oo)``. With diagonal covariances the
coordinates are independent given the component, so the M-step averages each
coordinate over the rows that observe it. With full covariances the E-step
also fills in the missing block by its conditional distribution
(Ghahramani & Jordan, "Supervised learning from incomplete data via an EM
approach", NIPS 1994; Little & Rubin, *Statistical Analysis with Missing
Data*, 2nd ed., 2002, sec. 11.2),

.. math::
   \\hat x_{s,m} = \\mu_m + \\Sigma_{mo} \\Sigma_{oo}^{-1} (x_{s,o} - \\mu_o),
   \\qquad
   C_{mm} = \\Sigma_{mm} - \\Sigma_{mo} \\Sigma_{oo}^{-1} \\Sigma_{om},

and the M-step takes ``E[x] = x_hat`` and ``E[x x^T] = x_hat x_hat^T + C``
(``C`` zero outside the missing block), so that

.. math::
   \\Sigma_u' = \\frac{1}{N_u} \\sum_s r_{su} \\big((\\hat x_{su} - \\mu_u')
   (\\hat x_{su} - \\mu_u')^\\top + C_{su}\\big).

Rows are grouped by their pattern of missing cells, and the work is
vectorised over the rows and the components of each pattern.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import solve_triangular

from ..exceptions import DataError
from ..params import ComponentParams, GaussianParams
from .base import Family, Gapped, check_shape, gapped, weighted_sums

__all__ = ["Gaussian"]

FloatArray = NDArray[np.float64]
_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class Patterns(Gapped):
    """Gaussian rows with missing cells, grouped by which cells they observe.

    Attributes
    ----------
    masks : ndarray of bool, shape (g, d)
        The distinct patterns of observed cells.
    members : tuple of ndarray
        The rows of each pattern.
    """

    masks: NDArray[np.bool_]
    members: tuple[NDArray[np.intp], ...]

    @classmethod
    def of(cls, gaps: Gapped) -> Patterns:
        """Group the rows of ``gaps`` by their pattern (one sort, no loop over rows)."""
        seen = gaps.observed > 0
        masks, inverse = np.unique(seen, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        order = np.argsort(inverse, kind="stable")
        bounds = np.cumsum(np.bincount(inverse, minlength=masks.shape[0]))[:-1]
        members = tuple(np.split(order.astype(np.intp), bounds))
        return cls(gaps.values, gaps.observed, masks, members)


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

    def prepare(self, values: FloatArray, **context: Any) -> FloatArray | Patterns:
        gaps = gapped(values)
        return values if gaps is None else Patterns.of(gaps)

    def features(self, prepared: FloatArray | Patterns) -> FloatArray:
        return prepared.filled() if isinstance(prepared, Patterns) else prepared

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

    def log_prob(self, prepared: FloatArray | Patterns, params: ComponentParams) -> FloatArray:
        assert isinstance(params, GaussianParams)
        if isinstance(prepared, Patterns):
            return _observed_log_prob(prepared, params)
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

    def m_step(
        self,
        prepared: FloatArray | Patterns,
        resp_w: FloatArray,
        nk: FloatArray,
        current: ComponentParams | None = None,
    ) -> GaussianParams:
        if isinstance(prepared, Patterns):
            if self.covariance_type == "diag" or not isinstance(current, GaussianParams):
                diag = self._observed_diag_m_step(prepared, resp_w)
                if self.covariance_type == "diag":
                    return diag
                # a start without parameters: condition on the diagonal fit first
                current = GaussianParams(diag.means, _as_full(diag.covariances), "full")
            means, covs = _conditional_m_step(prepared, resp_w, nk, current)
            for u in range(covs.shape[0]):
                covs[u] = self._floor(covs[u])
            return GaussianParams(means, covs, "full")
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

    def pass_sums(
        self, prepared: FloatArray | Patterns, resp_w: FloatArray, current: ComponentParams
    ) -> tuple[FloatArray, FloatArray]:
        """Per component, sums about the E-step's means ``mu_u``: ``s1 = sum_s r_su (x_s -
        mu_u)`` (k, d) and ``s2 = sum_s r_su (x_s - mu_u)(x_s - mu_u)^T`` (k, d, d; the
        squares only, (k, d), for diagonal covariances). Complete rows only.
        """
        assert isinstance(current, GaussianParams)
        if isinstance(prepared, Patterns):
            raise DataError(
                "rows with missing cells cannot be fitted by passes over the rows; drop them "
                "(missing='drop') or fit the rows in memory"
            )
        X, means = prepared, current.means
        k, d = means.shape
        s1 = np.empty((k, d))
        s2 = np.empty((k, d)) if self.covariance_type == "diag" else np.empty((k, d, d))
        for u in range(k):  # centred at the E-step's mean: no cancellation far from 0
            diff = X - means[u]
            s1[u] = resp_w[:, u] @ diff
            s2[u] = resp_w[:, u] @ (diff * diff) if s2.ndim == 2 else (resp_w[:, u] * diff.T) @ diff
        return s1, s2

    def m_step_from_sums(
        self, sums: tuple[FloatArray, ...], nk: FloatArray, current: ComponentParams
    ) -> GaussianParams:
        """Means ``mu_u + s1 / n_u`` and covariances ``s2 / n_u - delta delta^T`` with
        ``delta = s1 / n_u``: the weighted mean and covariance of :meth:`m_step`, from sums
        centred at the E-step's means (Dempster, Laird & Rubin 1977)."""
        assert isinstance(current, GaussianParams)
        s1, s2 = sums
        nk_safe = np.maximum(nk, 10.0 * np.finfo(np.float64).eps)
        delta = s1 / nk_safe[:, None]
        means = current.means + delta
        if self.covariance_type == "diag":
            var = s2 / nk_safe[:, None] - delta * delta
            return GaussianParams(means, np.maximum(var, max(self.var_floor, 1e-300)), "diag")
        covs = s2 / nk_safe[:, None, None] - delta[:, :, None] * delta[:, None, :]
        for u in range(covs.shape[0]):
            covs[u] = self._floor(0.5 * (covs[u] + covs[u].T))
        return GaussianParams(means, covs, "full")

    def _observed_diag_m_step(self, prepared: Patterns, resp_w: FloatArray) -> GaussianParams:
        """Means and variances of each coordinate over the rows that observe it."""
        X, seen = prepared.values, prepared.observed
        tiny = 10.0 * np.finfo(np.float64).eps
        mass = np.maximum(weighted_sums(resp_w, seen), tiny)  # (k, d)
        means = weighted_sums(resp_w, X) / mass
        var = np.empty_like(means)
        for u in range(means.shape[0]):  # loop over components, rows vectorised
            diff = (X - means[u]) * seen
            var[u] = resp_w[:, u] @ (diff * diff) / mass[u]
        return GaussianParams(means, np.maximum(var, max(self.var_floor, 1e-300)), "diag")

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


def _as_full(variances: FloatArray) -> FloatArray:
    """Diagonal covariance matrices, shape (k, d, d), from variances of shape (k, d)."""
    k, d = variances.shape
    out = np.zeros((k, d, d))
    out[:, np.arange(d), np.arange(d)] = variances
    return out


def _covariances(params: GaussianParams) -> FloatArray:
    if params.covariance_type == "diag":
        return _as_full(params.covariances)
    return np.asarray(params.covariances, dtype=np.float64)


def _observed_log_prob(prepared: Patterns, params: GaussianParams) -> FloatArray:
    """``log N(x_o; mu_o, Sigma_oo)`` per row and component: one pass per pattern.

    A row with no observed cell has log-density 0 (it says nothing).
    """
    X, seen = prepared.values, prepared.observed
    means = params.means
    k = means.shape[0]
    if params.covariance_type == "diag":  # independent coordinates: no pattern needed
        prec = 1.0 / np.sqrt(params.covariances)
        maha = np.empty((X.shape[0], k))
        for u in range(k):  # loop over components, rows vectorised
            y = (X - means[u]) * prec[u] * seen
            maha[:, u] = np.einsum("ij,ij->i", y, y)
        n_seen = seen.sum(axis=1)
        return -0.5 * (n_seen[:, None] * _LOG_2PI + maha) + seen @ np.log(prec).T
    covs = _covariances(params)
    out = np.zeros((X.shape[0], k))
    for mask, rows in zip(prepared.masks, prepared.members, strict=True):
        o = np.flatnonzero(mask)
        if o.size == 0:
            continue
        chol = np.linalg.cholesky(covs[np.ix_(np.arange(k), o, o)])  # (k, q, q)
        diff = X[np.ix_(rows, o)][None, :, :] - means[:, None, o]  # (k, n_p, q)
        # (a general solve of the triangular factor: batched over the components)
        y = np.linalg.solve(chol, diff.transpose(0, 2, 1))  # (k, q, n_p)
        maha = np.einsum("uqn,uqn->nu", y, y)
        log_det = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        out[rows] = -0.5 * (o.size * _LOG_2PI + maha) - log_det[None, :]
    return out


def _conditional_m_step(
    prepared: Patterns, resp_w: FloatArray, nk: FloatArray, current: GaussianParams
) -> tuple[FloatArray, FloatArray]:
    """Means and (unfloored) full covariances from the conditional-Gaussian E-step.

    For each pattern with observed block ``o`` and missing block ``m``, and
    every component at once: ``x_hat_m = mu_m + Sigma_mo Sigma_oo^{-1} (x_o -
    mu_o)`` and the conditional covariance ``C = Sigma_mm - Sigma_mo
    Sigma_oo^{-1} Sigma_om``, which enters the covariance weighted by the
    pattern's responsibilities.
    """
    X = prepared.values
    means, covs = current.means, _covariances(current)
    k, d = means.shape
    comps = np.arange(k)
    x_hat = np.broadcast_to(X, (k, *X.shape)).copy()  # (k, m, d)
    extra = np.zeros((k, d, d))  # sum_s r_su C_su
    for mask, rows in zip(prepared.masks, prepared.members, strict=True):
        o, mis = np.flatnonzero(mask), np.flatnonzero(~mask)
        if mis.size == 0:
            continue
        cond = covs[np.ix_(comps, mis, mis)]
        if o.size == 0:
            x_hat[np.ix_(comps, rows, mis)] = means[:, None, mis]
        else:
            s_mo = covs[np.ix_(comps, mis, o)]
            gain = np.linalg.solve(covs[np.ix_(comps, o, o)], s_mo.transpose(0, 2, 1))
            gain = gain.transpose(0, 2, 1)  # (k, |m|, q) = Sigma_mo Sigma_oo^{-1}
            diff = X[np.ix_(rows, o)][None, :, :] - means[:, None, o]  # (k, n_p, q)
            x_hat[np.ix_(comps, rows, mis)] = means[:, None, mis] + diff @ gain.transpose(0, 2, 1)
            cond = cond - gain @ s_mo.transpose(0, 2, 1)
        extra[np.ix_(comps, mis, mis)] += resp_w[rows].sum(axis=0)[:, None, None] * cond
    nk_safe = np.maximum(nk, 10.0 * np.finfo(np.float64).eps)
    new_means = np.einsum("su,usd->ud", resp_w, x_hat) / nk_safe[:, None]
    new_covs = np.empty((k, d, d))
    for u in range(k):  # loop over components, rows vectorised
        diff = x_hat[u] - new_means[u]
        cov = ((resp_w[:, u] * diff.T) @ diff + extra[u]) / nk_safe[u]
        new_covs[u] = 0.5 * (cov + cov.T)
    return new_means, new_covs

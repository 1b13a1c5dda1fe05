"""EM with missing cells (full-information maximum likelihood) against an independent EM.

References:
* a plain EM of the observed-data likelihood written here: no unique-row
  compression, no grouping by missing pattern, and the rows without any
  observed cell kept in (they only slow the weights down). Bernoulli,
  binomial, categorical and poisson components go cell by cell (one column
  and one component at a time, over every row) and maximise
  ``sum_s r_su sum_{j observed} log f(x_sj)``; gaussian components go row by
  row and treat the missing coordinates as hidden (Little & Rubin,
  *Statistical Analysis with Missing Data*, 2nd ed., 2002, sec. 11.2:
  ``E[x_mis]`` and ``E[x_mis x_mis^T]`` given the observed block), the
  diagonal case with its own, slower EM whose fixed points are the same.
  From the same start, the log-likelihoods at convergence must agree to 1e-6
  relative;
* monotonicity of EM (Dempster, Laird & Rubin 1977) on data with gaps.

Data: two components, three coordinates, cells missing completely at random
(MCAR) or at random (MAR: column 0 always observed, and the other columns
missing twice as often in rows whose column 0 lies above its mean), 10% or
40% of the cells. (Gaussian components need more complete rows than
coordinates: with fewer, a full covariance can collapse onto them and the
likelihood has no maximum; three times as often left 2 such rows in one
component of 240.)
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import gammaln, logsumexp

from kmix import FiniteMixture
from kmix.datasets import make_mixture

K, D, N = 2, 3, 400
FAMILIES = {
    "bernoulli": ("bernoulli", {}),
    "binomial": ("binomial", {"n_trials": 6}),
    "categorical": ("categorical", {"n_levels": 3}),
    "poisson": ("poisson", {}),
    "gaussian diag": ("gaussian", {"covariance_type": "diag"}),
    "gaussian full": ("gaussian", {"covariance_type": "full"}),
}


def simulate(family, extra, seed, share, mechanism):
    """Data of ``family`` with about ``share`` of the cells missing by ``mechanism``."""
    X, truth = make_mixture(family, N, K, D, random_state=seed, **extra)
    X = X.astype(np.float64)
    rng = np.random.default_rng(seed + 1000)
    if mechanism == "mcar":
        gaps = rng.random(X.shape) < share
    else:  # MAR: the chance of a gap depends on the (always observed) column 0
        high = X[:, 0] > X[:, 0].mean()
        low_rate = share * D / (D - 1) / (1.0 + high.mean())
        rate = np.where(high, 2.0 * low_rate, low_rate)[:, None]
        gaps = rng.random(X.shape) < rate
        gaps[:, 0] = False
    X[gaps] = np.nan
    return X, truth


# ------------------------------------------------------------------ the reference
def cell_log_density(family, x, params, u, j):
    """``log f(x_sj; theta_uj)`` of column ``j`` for every row, 0 where the cell is missing."""
    seen = ~np.isnan(x)
    v = np.where(seen, x, 0.0)
    if family == "bernoulli":
        p = params["p"][u, j]
        out = np.where(v == 1, np.log(p), np.log1p(-p))
    elif family == "categorical":
        out = np.log(params["probs"][j][u, v.astype(int)])
    elif family == "binomial":
        p, t = params["p"][u, j], params["n_trials"]
        out = gammaln(t + 1) - gammaln(v + 1) - gammaln(t - v + 1)
        out = out + v * np.log(p) + (t - v) * np.log1p(-p)
    else:
        lam = params["rate"][u, j]
        out = v * np.log(lam) - lam - gammaln(v + 1)
    return np.where(seen, out, 0.0)


def gaussian_row_log_density(x, params, u):
    """``log N(x_o; mu_o, Sigma_oo)`` of one row (0 when nothing is observed)."""
    o = ~np.isnan(x)
    if not o.any():
        return 0.0
    mu, sigma = params["means"][u], params["covariances"][u]
    if sigma.ndim == 1:
        sigma = np.diag(sigma)
    block = sigma[np.ix_(o, o)]
    diff = x[o] - mu[o]
    _, log_det = np.linalg.slogdet(block)
    return float(
        -0.5 * (o.sum() * np.log(2 * np.pi) + log_det + diff @ np.linalg.solve(block, diff))
    )


def log_densities(family, X, params):
    """``log f(x_s,obs; theta_u)``, shape (n, K): cell by cell (discrete) or row by row."""
    n, d = X.shape
    out = np.zeros((n, K))
    for u in range(K):
        if family == "gaussian":
            out[:, u] = [gaussian_row_log_density(X[s], params, u) for s in range(n)]
        else:
            for j in range(d):
                out[:, u] += cell_log_density(family, X[:, j], params, u, j)
    return out


def reference_em(family, X, weights, params, *, tol=1e-11, max_iter=100_000):
    """Plain FIML EM; returns the final observed-data log-likelihood."""
    n = X.shape[0]
    params = {
        key: (list(v) if key == "probs" else np.array(v, dtype=float)) for key, v in params.items()
    }
    weights = np.array(weights, dtype=float)
    last = -np.inf
    for _ in range(max_iter):
        log_joint = log_densities(family, X, params) + np.log(weights)
        ll = float(logsumexp(log_joint, axis=1).sum())
        if ll - last <= tol * abs(ll):
            return ll
        last = ll
        resp = np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
        weights = resp.sum(axis=0) / n
        params = reference_m_step(family, X, resp, params)
    raise AssertionError("the reference EM did not converge")


def reference_m_step(family, X, resp, params):
    n, d = X.shape
    seen = ~np.isnan(X)
    if family == "categorical":  # level counts of each column over the rows observing it
        probs = []
        for j, old in enumerate(params["probs"]):
            counts = np.stack(
                [resp[seen[:, j] & (X[:, j] == v)].sum(axis=0) for v in range(old.shape[1])],
                axis=1,
            )
            probs.append(counts / counts.sum(axis=1, keepdims=True))
        return {"probs": probs}
    if family in ("bernoulli", "binomial", "poisson"):  # each coordinate over its rows
        num, den = np.zeros((K, d)), np.zeros((K, d))
        trials = params.get("n_trials", 1.0)
        for j in range(d):
            num[:, j] = resp[seen[:, j]].T @ X[seen[:, j], j]
            den[:, j] = resp[seen[:, j]].sum(axis=0) * (1.0 if family == "poisson" else trials)
        if family == "binomial":
            return {"p": num / den, "n_trials": trials}
        return {"p" if family == "bernoulli" else "rate": num / den}
    # gaussian, row by row: the missing block is hidden; E[x] and E[x x^T] given the observed one
    diag = params["covariances"].ndim == 2
    means, covs = np.zeros((K, d)), np.zeros((K, d, d))
    for u in range(K):
        mu = params["means"][u]
        sigma = np.diag(params["covariances"][u]) if diag else params["covariances"][u]
        first, second, mass = np.zeros(d), np.zeros((d, d)), 0.0
        for s in range(n):
            o, m = seen[s], ~seen[s]
            x_hat, cond = X[s].copy(), np.zeros((d, d))
            x_hat[m], cond[np.ix_(m, m)] = mu[m], sigma[np.ix_(m, m)]
            if m.any() and o.any():
                gain = sigma[np.ix_(m, o)] @ np.linalg.inv(sigma[np.ix_(o, o)])
                x_hat[m] += gain @ (X[s, o] - mu[o])
                cond[np.ix_(m, m)] -= gain @ sigma[np.ix_(o, m)]
            first += resp[s, u] * x_hat
            second += resp[s, u] * (np.outer(x_hat, x_hat) + cond)
            mass += resp[s, u]
        means[u] = first / mass
        covs[u] = second / mass - np.outer(means[u], means[u])
    if diag:
        return {"means": means, "covariances": np.diagonal(covs, axis1=1, axis2=2).copy()}
    return {"means": means, "covariances": covs}


def start_values(family, truth, rng):
    """A start near the truth but off it, the same for both implementations."""
    t = truth.params
    if family in ("bernoulli", "binomial"):
        return {"p": np.clip(t.p + rng.uniform(-0.1, 0.1, size=t.p.shape), 0.05, 0.95)}
    if family == "categorical":
        return {
            "probs": [0.7 * q + 0.3 * rng.dirichlet(np.ones(q.shape[1]), size=K) for q in t.probs]
        }
    if family == "poisson":
        return {"rate": t.rate * rng.uniform(0.8, 1.25, size=t.rate.shape)}
    return {
        "means": t.means + rng.normal(scale=0.3, size=t.means.shape),
        "covariances": t.covariances * 1.5,
    }


@pytest.mark.parametrize("mechanism", ["mcar", "mar"])
@pytest.mark.parametrize("share", [0.1, 0.4])
@pytest.mark.parametrize("case", sorted(FAMILIES))
def test_fiml_log_likelihood_equals_a_row_by_row_em(case, share, mechanism):
    family, extra = FAMILIES[case]
    seed = sorted(FAMILIES).index(case)
    X, truth = simulate(family, extra, seed, share, mechanism)
    missing_share = np.isnan(X).mean()
    assert 0.6 * share < missing_share < 1.4 * share  # the share asked for
    start = start_values(family, truth, np.random.default_rng(seed))
    weights = np.full(K, 1.0 / K)
    options = {k: v for k, v in extra.items() if k != "n_levels"}
    model = FiniteMixture(
        K,
        family=family,
        params_init=start,
        weights_init=weights,
        n_init=1,
        tol=1e-13,
        max_iter=100_000,
        var_floor=0.0 if family == "gaussian" else 1e-6,
        **options,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rows with every cell missing
        model.fit(X)
    trials = {"n_trials": float(extra["n_trials"])} if family == "binomial" else {}
    ref = reference_em(family, X, weights, {**start, **trials})
    if family == "gaussian":  # the premise: a maximum exists (no collapsing covariance)
        variances = model.params_.covariances
        smallest = variances.min() if variances.ndim == 2 else np.linalg.eigvalsh(variances).min()
        assert smallest > 1e-3
    assert model.log_likelihood_ == pytest.approx(ref, rel=1e-6)
    assert model.score_samples(X).sum() == pytest.approx(ref, rel=1e-6)


@given(
    case=st.sampled_from(
        sorted(FAMILIES),
    ),
    k=st.integers(1, 3),
    n=st.integers(12, 120),
    d=st.integers(1, 4),
    share=st.floats(0.05, 0.6),
    alpha=st.sampled_from([1.0, 1.5]),
    init=st.sampled_from(["auto", "kmeans++", "random"]),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_em_with_gaps_never_decreases_the_objective(case, k, n, d, share, alpha, init, seed):
    """Reference: monotonicity of EM (Dempster, Laird & Rubin 1977) for the observed-data
    likelihood, on arbitrary data of each family's support with random gaps."""
    family, extra = FAMILIES[case]
    rng = np.random.default_rng(seed)
    X, _ = make_mixture(family, n, min(k, 2), d, random_state=rng, **extra)
    X = X.astype(np.float64)
    if family == "gaussian":
        X += rng.normal(scale=0.5, size=X.shape)
    else:
        X = rng.permutation(X.ravel()).reshape(X.shape)  # not drawn from the model
    gaps = rng.random(X.shape) < share
    gaps[0] = False  # every column keeps an observed cell
    X[gaps] = np.nan
    options = {key: v for key, v in extra.items() if key != "n_levels"}
    if family in ("poisson", "gaussian"):
        alpha = 1.0  # smoothing applies to the discrete probability families only
    model = FiniteMixture(
        k,
        family=family,
        alpha=alpha,
        init=init,
        tol=0.0,
        max_iter=30,
        random_state=seed,
        allow_unidentified=True,
        **options,
    )
    from kmix.exceptions import DataError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter, re-seeding, rows without observed cells
        try:
            model.fit(X)
        except DataError as exc:  # more components than distinct rows: refused, not fitted
            assert "exceeds" in str(exc)
            return
    hist = model.history_
    steps = np.diff(hist)
    allowed = np.zeros(steps.shape, dtype=bool)
    allowed[list(model.reseed_iterations_)] = True  # a re-seed may drop the objective
    scale = 1e-9 * np.maximum(1.0, np.abs(hist[1:]))
    assert np.all((steps >= -scale) | allowed), (steps.min(), case, k)

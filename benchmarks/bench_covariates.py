"""Covariates and distal outcomes: latent class regression and bias-adjusted three-step estimates.

Parts:

1. Coefficient recovery (``ProductMixture.fit(X, covariates=Z)``): k = 3 classes, 8 binary
   items, two covariates (one normal, one 0/1), N = 1e5 rows, 100 seeds; the logit
   coefficients against their truth. Targets: every coefficient within 3 standard errors
   (observed information) of the truth on at least 95% of the seeds, and the mean standard
   error within 20% of the seeds' spread (the standard deviation of the estimates).
2. Against StepMix (``StepMix(measurement="binary", structural="covariate", n_steps=1)``,
   ``n_init=5``): the log-likelihood of each on the same data (5 seeds, N = 1e4), computed
   by one function written here from each tool's parameters. Target: kmix's equal
   (within 1e-6 nats per row) or higher.
3. Distal outcomes (``kmix.distal``): a continuous outcome with class means 0, 1 and 2 on
   overlapping classes (k = 3, 6 binary items, N = 2,000), 200 simulations; the bias of
   ``"bch"``, ``"ml"`` and ``"modal"``. Target: the largest class bias of each correction
   at most a third of the modal estimate's. On the first 5 simulations, StepMix's 3-step
   BCH and ML class means (``n_steps=3``, modal assignment, ``structural="continuous"``)
   against kmix's corrections applied to StepMix's own measurement fit (its posteriors by
   Bayes' rule from its parameters), so only the corrections differ; StepMix's ML holds the
   class shares at step 1's, so kmix's is given them too (``distal_ml(weights=...)``;
   ``kmix.distal`` estimates them, Vermunt 2010). Target: 1e-4.

``--quick``: 10 seeds in part 1 (N = 2e4), 2 in part 2, 30 simulations in part 3.
"""

from __future__ import annotations

import itertools
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from typing import Any

import numpy as np

from common import BenchResult, log, machine_info, markdown_table

NAME = "covariates"
SEED = 20261207
ITEMS = np.array(
    [
        [0.15, 0.2, 0.25, 0.2, 0.15, 0.3, 0.2, 0.25],
        [0.8, 0.75, 0.7, 0.2, 0.25, 0.3, 0.8, 0.7],
        [0.75, 0.8, 0.85, 0.8, 0.75, 0.7, 0.2, 0.3],
    ]
)
#: Logit coefficients (intercept, z1, z2) of classes 1 and 2 against class 0
BETA = np.array([[-0.5, 0.8, -0.6], [-0.8, -0.5, 1.0]])


def _lcr_data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([SEED, seed])
    Z = np.column_stack([rng.normal(size=n), (rng.random(n) < 0.5).astype(float)])
    eta = np.column_stack([np.zeros(n), np.column_stack([np.ones(n), Z]) @ BETA.T])
    pi = np.exp(eta - eta.max(axis=1, keepdims=True))
    pi /= pi.sum(axis=1, keepdims=True)
    u = (rng.random(n)[:, None] > np.cumsum(pi, axis=1)).sum(axis=1)
    X = (rng.random((n, ITEMS.shape[1])) < ITEMS[u]).astype(np.int64)
    return X, Z


def _aligned(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (2, 3) and standard errors against the true class 0, classes matched to
    the truth by their item profiles."""
    fitted = np.stack([p[:, 1] for p in model.params_.probs], axis=1)  # (k, items)
    best = min(
        itertools.permutations(range(3)),
        key=lambda perm: np.abs(fitted[list(perm)] - ITEMS).sum(),
    )
    p = model.coef_.shape[1]
    beta = np.zeros((3, p))
    beta[1:] = model.coef_
    cov = np.zeros((3 * p, 3 * p))
    cov[p:, p:] = model.coef_cov_
    # the truth's class u is fitted class best[u]; contrast with the truth's class 0
    C = np.zeros((2 * p, 3 * p))
    for u in (1, 2):
        for t in range(p):
            C[(u - 1) * p + t, best[u] * p + t] += 1.0
            C[(u - 1) * p + t, best[0] * p + t] -= 1.0
    coef = (C @ beta.reshape(-1)).reshape(2, p)
    se = np.sqrt(np.diag(C @ cov @ C.T)).reshape(2, p)
    return coef, se


def _lcr_job(args: tuple[int, int]) -> dict[str, Any]:
    from kmix import ProductMixture

    seed, n = args
    X, Z = _lcr_data(seed, n)
    t0 = time.perf_counter()
    model = ProductMixture(3, random_state=seed).fit(X, covariates=Z)
    coef, se = _aligned(model)
    return {
        "seed": seed,
        "coef": coef.tolist(),
        "se": se.tolist(),
        "seconds": time.perf_counter() - t0,
    }


def lcr_loglik(X: np.ndarray, Z: np.ndarray, probs: np.ndarray, beta: np.ndarray) -> float:
    """``sum_i log sum_u softmax(z_i beta)_u prod_j P(x_ij | u)``; ``probs`` (k, items) of
    P(X = 1), ``beta`` (k, 1 + q) with any reference."""
    eta = np.column_stack([np.ones(len(Z)), Z]) @ beta.T
    log_pi = eta - np.logaddexp.reduce(eta, axis=1, keepdims=True)
    p = np.clip(probs, 1e-300, 1.0)
    q = np.clip(1.0 - probs, 1e-300, 1.0)
    log_f = X @ np.log(p).T + (1 - X) @ np.log(q).T
    return float(np.logaddexp.reduce(log_pi + log_f, axis=1).sum())


def _peer_job(seed: int) -> dict[str, Any]:
    from stepmix.stepmix import StepMix

    from kmix import ProductMixture

    X, Z = _lcr_data(1000 + seed, 10_000)
    model = ProductMixture(3, random_state=seed).fit(X, covariates=Z)
    k_probs = np.stack([p[:, 1] for p in model.params_.probs], axis=1)
    k_beta = np.vstack([np.zeros(3), model.coef_])
    kmix_ll = lcr_loglik(X, Z, k_probs, k_beta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm = StepMix(
            n_components=3,
            measurement="binary",
            structural="covariate",
            n_steps=1,
            n_init=5,
            max_iter=2000,
            abs_tol=0.0,
            rel_tol=1e-10,
            random_state=seed,
            verbose=0,
            progress_bar=0,
            structural_params={"method": "newton-raphson", "max_iter": 1},
        ).fit(X, Z)
    params = sm.get_parameters()
    s_ll = lcr_loglik(
        X, Z, np.asarray(params["measurement"]["pis"]), np.asarray(params["structural"]["beta"])
    )
    return {"seed": seed, "kmix": kmix_ll, "stepmix": s_ll, "own_kmix": model.log_likelihood_}


MEANS = np.array([0.0, 1.0, 2.0])
DISTAL_ITEMS = np.array(
    [
        [0.2, 0.25, 0.3, 0.2, 0.3, 0.25],
        [0.7, 0.75, 0.25, 0.3, 0.7, 0.65],
        [0.75, 0.7, 0.75, 0.8, 0.3, 0.35],
    ]
)


def _distal_job(sim: int) -> dict[str, Any]:
    import kmix
    from kmix import ProductMixture

    rng = np.random.default_rng([SEED, 7, sim])
    n = 2000
    u = rng.choice(3, n, p=[0.4, 0.35, 0.25])
    X = (rng.random((n, 6)) < DISTAL_ITEMS[u]).astype(np.int64)
    y = MEANS[u] + rng.normal(size=n)
    model = ProductMixture(3, random_state=0).fit(X)
    fitted = np.stack([p[:, 1] for p in model.params_.probs], axis=1)
    best = min(
        itertools.permutations(range(3)),
        key=lambda perm: np.abs(fitted[list(perm)] - DISTAL_ITEMS).sum(),
    )
    out: dict[str, Any] = {"sim": sim}
    for method in ("modal", "bch", "ml"):
        est = kmix.distal(model, X, y, method=method).estimates
        out[method] = est[list(best)].tolist()
    if sim < 5:
        out["stepmix"] = _stepmix_distal(X, y)
    return out


def _stepmix_distal(X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """StepMix's 3-step BCH and ML class means, and kmix's step-3 corrections
    (:mod:`kmix.solvers.latent_class.distal`) applied to StepMix's own measurement fit, so
    that only the corrections are compared (classes in StepMix's order)."""
    from stepmix.stepmix import StepMix

    from kmix.solvers.latent_class.distal import (
        bch_weights,
        classification_matrix,
        distal_by_weights,
        distal_ml,
    )

    res: dict[str, Any] = {}
    for corr in ("BCH", "ML"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sm = StepMix(
                n_components=3,
                measurement="binary",
                structural="continuous",
                n_steps=3,
                correction=corr,
                assignment="modal",
                n_init=5,
                max_iter=2000,
                abs_tol=0.0,
                rel_tol=1e-12,
                random_state=0,
                verbose=0,
                progress_bar=0,
            ).fit(X, y[:, None])
        params = sm.get_parameters()
        pis = np.clip(np.asarray(params["measurement"]["pis"]), 1e-300, 1.0 - 1e-16)
        w = np.asarray(params["weights"])
        # StepMix's step 1 posteriors, by Bayes' rule from its parameters
        log_joint = np.log(w)[None, :] + X @ np.log(pis).T + (1 - X) @ np.log(1 - pis).T
        post = np.exp(log_joint - np.logaddexp.reduce(log_joint, axis=1, keepdims=True))
        modal = np.argmax(post, axis=1)
        hard = np.eye(3)[modal]
        ones = np.ones(len(y))
        D = classification_matrix(post, hard, ones)
        if corr == "BCH":
            ours = distal_by_weights(y[:, None], bch_weights(hard, D), ones, "bch").estimates
        else:
            # StepMix's ML correction holds the class shares at step 1's (its weights_)
            ours = distal_ml(
                y, modal, D, ones, categorical=False, weights=w, tol=1e-14, max_iter=20_000
            ).estimates
        theirs = np.asarray(params["structural"]["means"]).reshape(-1)
        res[corr] = float(np.abs(ours - theirs).max())
    return res


def run(quick: bool) -> BenchResult:
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    n_seeds, n_rows, n_peer, n_sims = (10, 20_000, 2, 30) if quick else (100, 100_000, 5, 200)
    with ProcessPoolExecutor(max_workers=2) as pool:
        lcr = list(pool.map(_lcr_job, [(s, n_rows) for s in range(n_seeds)]))
        log("part 1 done")
        peers = list(pool.map(_peer_job, range(n_peer)))
        log("part 2 done")
        distal = list(pool.map(_distal_job, range(n_sims)))
        log("part 3 done")
    coef = np.array([r["coef"] for r in lcr])  # (seeds, 2, 3)
    se = np.array([r["se"] for r in lcr])
    within = np.abs(coef - BETA[None]) <= 3 * se
    coverage = float(within.mean())
    spread = coef.std(axis=0, ddof=1)
    se_ratio = se.mean(axis=0) / spread
    terms = ["(Intercept)", "z1 (normal)", "z2 (0/1)"]
    rows1 = [
        [
            f"class {u + 1}",
            terms[t],
            f"{BETA[u, t]:+.2f}",
            f"{coef[:, u, t].mean():+.4f}",
            f"{spread[u, t]:.4f}",
            f"{se[:, u, t].mean():.4f}",
            f"{se_ratio[u, t]:.2f}",
            f"{within[:, u, t].mean():.2f}",
        ]
        for u in range(2)
        for t in range(3)
    ]
    ok1 = coverage >= 0.95 and bool(np.all(np.abs(se_ratio - 1.0) <= 0.2))
    gaps = [(p["kmix"] - p["stepmix"]) / 10_000 for p in peers]
    ok2 = all(g >= -1e-6 for g in gaps)
    rows2 = [
        [str(p["seed"]), f"{p['kmix']:.4f}", f"{p['stepmix']:.4f}", f"{g:+.2e}"]
        for p, g in zip(peers, gaps, strict=True)
    ]
    bias = {m: np.mean([d[m] for d in distal], axis=0) - MEANS for m in ("modal", "bch", "ml")}
    worst = {m: float(np.abs(b).max()) for m, b in bias.items()}
    ok3 = worst["bch"] <= worst["modal"] / 3 and worst["ml"] <= worst["modal"] / 3
    rows3 = [[m, *(f"{v:+.4f}" for v in bias[m]), f"{worst[m]:.4f}"] for m in bias]
    peer_rows, peer_diff = [], []
    for d in distal:
        if "stepmix" not in d:
            continue
        for corr in ("BCH", "ML"):
            peer_diff.append(d["stepmix"][corr])
            peer_rows.append([str(d["sim"]), corr, f"{d['stepmix'][corr]:.2e}"])
    ok4 = bool(peer_diff) and max(peer_diff) <= 1e-4
    ok = ok1 and ok2 and ok3 and ok4 and not quick
    md = [
        f"# Covariates and distal outcomes{' (quick)' if quick else ''}",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        f"## 1. Latent class regression, {n_seeds} seeds, N = {n_rows:,}",
        "",
        markdown_table(
            [
                "class",
                "term",
                "truth",
                "mean estimate",
                "spread (sd)",
                "mean SE",
                "SE / spread",
                "within 3 SE",
            ],
            rows1,
            "llrrrrrr",
        ),
        "",
        f"Coefficients within 3 SE of the truth: {coverage:.3f} of {within.size} (target "
        f">= 0.95); SE / spread within 20%: {'yes' if ok1 else 'no'}. Median fit "
        f"{np.median([r['seconds'] for r in lcr]):.1f} s.",
        "",
        "## 2. Against StepMix's one-step covariate model (N = 10,000)",
        "",
        markdown_table(
            ["seed", "kmix log-lik", "StepMix log-lik", "(kmix - StepMix) / N"], rows2, "rrrr"
        ),
        "",
        f"## 3. Distal outcome, {n_sims} simulations (class means 0, 1, 2)",
        "",
        markdown_table(
            ["method", "bias class 0", "bias class 1", "bias class 2", "largest"], rows3, "lrrrr"
        ),
        "",
        markdown_table(
            ["simulation", "correction", "largest difference from StepMix (class means)"],
            peer_rows,
            "llr",
        ),
        "",
        f"- part 1 (coverage, SE): {'PASS' if ok1 else 'FAIL'}",
        f"- part 2 (log-likelihood vs StepMix): {'PASS' if ok2 else 'FAIL'}",
        f"- part 3 (bias of BCH and ML <= a third of modal): {'PASS' if ok3 else 'FAIL'}",
        f"- part 3 (BCH and ML equal StepMix's to 1e-4): {'PASS' if ok4 else 'FAIL'}",
        "",
        f"{(time.perf_counter() - t0) / 60:.1f} min.",
    ]
    data = {
        "benchmark": NAME,
        "quick": quick,
        "started": started,
        "machine": machine_info(),
        "lcr": lcr,
        "peers": peers,
        "distal": distal,
        "coverage": coverage,
        "se_ratio": se_ratio.tolist(),
        "bias": {m: b.tolist() for m, b in bias.items()},
        "pass": ok,
    }
    return BenchResult(NAME, data, "\n".join(md))

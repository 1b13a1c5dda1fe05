"""``kmix demo``: worked examples on simulated data, one function per section.

Each section is a function ``run(out, seed) -> dict`` that prints its part of
the story and returns its key numbers; :data:`SECTIONS` lists them in order,
so a new section (k coins, latent classes, causal effects) is one function
and one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from ..datasets import coin_flips, marbles, stouffer_toby
from ..estimators import CoinMixture, FiniteMixture, ProductMixture, select_k_coins
from ..exceptions import DataError
from ..metrics import parameter_errors
from ..params import BernoulliParams, BinomialParams, Mixture
from ..stats import CoinCounts
from .demo_effect import causal_effects
from .display import format_table, section

__all__ = [
    "SECTIONS",
    "Section",
    "coins",
    "factories",
    "latent_classes",
    "n_factories",
    "run_demo",
]

#: P(red | F1), P(red | F2) and P(F1) of the two-factory example.
P_RED = (0.8, 0.3)
P_F1 = 0.6


@dataclass(frozen=True)
class Section:
    """One part of the demo.

    Attributes
    ----------
    name : str
        Short name for ``kmix demo --section NAME``.
    run : callable
        ``run(out, seed, keep)`` prints to ``out`` and returns the section's
        key numbers; it puts the models its figures need into the dict
        ``keep`` (:mod:`kmix.cli.demo_plots` draws them).
    """

    name: str
    run: Callable[[TextIO, int, dict[str, Any]], dict[str, float]]


def _say(out: TextIO, text: str = "") -> None:
    out.write(text + "\n")


class _EMTrace:
    """EM callback printing iteration, log-likelihood and P(F1) every few iterations."""

    def __init__(self, out: TextIO, *, every: int) -> None:
        self.out, self.every = out, every
        self.last_printed = -1

    def row(self, iteration: int, log_likelihood: float, weight: float) -> None:
        _say(self.out, f"  {iteration:>9d}  {log_likelihood:>16.6f}  {weight:>8.4f}")
        self.last_printed = iteration

    def __call__(self, progress: Any) -> None:
        if progress.iteration % self.every == 0:
            self.row(progress.iteration, progress.objective, float(progress.weights[0]))


def factories(out: TextIO, seed: int, keep: dict[str, Any] | None = None) -> dict[str, float]:
    """Two factories, one marble per bag: learn P(F1) with the colour mixes known.

    The log-likelihood ``n_red log(0.8 w + 0.3 (1 - w)) + n_blue log(0.2 w +
    0.7 (1 - w))`` is maximised where the model's P(red) equals the observed
    share, so the estimate has the closed form ``(p_red - 0.3) / 0.5``
    (inside [0, 1]); EM must reach it.
    """
    n = 10_000
    _say(out, section("1. Two factories, one marble per bag"))
    _say(
        out,
        f"Truth: P(red | F1) = {P_RED[0]:.2f}, P(red | F2) = {P_RED[1]:.2f}, "
        f"P(F1) = {P_F1:.2f}; the factory is hidden.",
    )
    X, _ = marbles(n, p_red=P_RED, weights=(P_F1, 1 - P_F1), random_state=seed)
    n_red = int(X.sum())
    p_red = n_red / n
    _say(
        out,
        f"Simulated N = {n:,} marbles: {n_red:,} red, {n - n_red:,} blue; "
        f"observed P(red) = {p_red:.4f}",
    )
    _say(out)
    _say(out, "EM on P(F1) with both colour mixes known (fixed_params):")
    _say(out, f"  {'iteration':>9}  {'log-likelihood':>16}  {'P(F1)':>8}")
    fixed_p = [[P_RED[0]], [P_RED[1]]]
    trace = _EMTrace(out, every=5)
    model = FiniteMixture(2, family="bernoulli", fixed_params={"p": fixed_p}, callback=trace).fit(X)
    if trace.last_printed != model.n_iter_:
        trace.row(model.n_iter_, model.log_likelihood_, float(model.weights_[0]))
    state = "converged" if model.converged_ else "stopped"
    _say(
        out,
        f"EM {state} after {model.n_iter_} iterations; with the colours fixed the "
        "log-likelihood is concave in P(F1),\nso Newton steps then finish the climb "
        "to the global maximum.",
    )
    _say(out)
    estimate = float(model.weights_[0])
    closed = (p_red - P_RED[1]) / (P_RED[0] - P_RED[1])
    rows = [
        ["EM estimate", f"{estimate:.4f}", ""],
        ["closed form", f"{closed:.4f}", f"(P(red) - {P_RED[1]}) / ({P_RED[0]} - {P_RED[1]})"],
        ["truth", f"{P_F1:.4f}", ""],
    ]
    _say(out, format_table(["", "P(F1)", ""], rows))
    _say(
        out,
        f"  |EM - closed form| = {abs(estimate - closed):.1e}, "
        f"|EM - truth| = {abs(estimate - P_F1):.4f} (standard error "
        f"{np.sqrt(p_red * (1 - p_red) / n) / (P_RED[0] - P_RED[1]):.4f})",
    )
    post = model.predict_proba(np.array([[1], [0]]))[:, 0]
    _say(out)
    _say(
        out,
        f"Posterior: P(F1 | red) = {post[0]:.4f}, P(F1 | blue) = {post[1]:.4f}; "
        "a blue marble points to factory 2.",
    )
    _say(out)
    return {"estimate": estimate, "closed_form": closed, "truth": P_F1, "p_red": p_red}


def n_factories(out: TextIO, seed: int, keep: dict[str, Any] | None = None) -> dict[str, float]:
    """Three factories, five marbles per bag: weights, then colours and weights.

    One marble per bag reveals only P(red), one number. ``t`` marbles from the
    same bag reveal the first ``t`` moments of the colour mix, enough for
    ``k`` factories when ``t >= 2k - 1``; here ``k = 3`` and ``t = 5``.
    """
    n, t = 20_000, 5
    p_true = np.array([0.9, 0.5, 0.1])
    w_true = np.array([0.5, 0.3, 0.2])
    k = p_true.shape[0]
    _say(out, section(f"2. {k} factories, {t} marbles per bag"))
    _say(
        out,
        f"One marble per bag shows only P(red). {t} marbles from the same bag show the\n"
        f"first {t} moments of the colour mix: enough for k factories when t >= 2k - 1.",
    )
    X, truth = marbles(n, p_red=p_true, weights=w_true, n_draws=t, random_state=seed)
    _say(out, f"Simulated {n:,} bags x {t} marbles.")
    known = FiniteMixture(k, family="bernoulli", fixed_params={"p": truth.params.p}).fit(X)
    _say(
        out,
        f"(a) colours known, weights learned (bernoulli on the {t} draws, fixed_params):\n"
        f"    {known.n_iter_} EM iterations.",
    )
    red = X.sum(axis=1, keepdims=True)
    n_init = 5
    learned = FiniteMixture(
        k, family="binomial", n_trials=t, n_init=n_init, max_iter=5000, random_state=seed
    ).fit(red)
    _say(
        out,
        f"(b) colours and weights learned (binomial on the red count out of {t}):\n"
        f"    {n_init} restarts, {learned.n_iter_} EM iterations in the best.",
    )
    # labels are arbitrary: sort factories by P(red), descending, in truth and estimate
    est = Mixture(learned.weights_, learned.params_).canonical().permute(np.arange(k)[::-1])
    p_est = np.asarray(est.params.to_dict()["p"], dtype=np.float64)[:, 0]
    order = np.argsort(-p_true)
    rows = [
        [
            f"F{i + 1}",
            f"{p_true[order[i]]:.3f}",
            f"{p_est[i]:.3f}",
            f"{w_true[order[i]]:.3f}",
            f"{known.weights_[order[i]]:.3f}",
            f"{est.weights[i]:.3f}",
        ]
        for i in range(k)
    ]
    _say(out)
    header = ["factory", "P(red) true", "P(red) (b)", "P(F) true", "P(F) (a)", "P(F) (b)"]
    _say(out, format_table(header, rows))
    err_a = float(np.abs(known.weights_ - w_true).max())
    err_w = float(np.abs(est.weights - w_true[order]).max())
    err_p = float(np.abs(p_est - p_true[order]).max())
    _say(
        out,
        f"  largest error: weights (a) {err_a:.3f}; (b) weights {err_w:.3f}, P(red) {err_p:.3f}",
    )
    _say(
        out,
        f"  Learning the colours too costs accuracy: with t = 2k - 1 = {t} draws the bags\n"
        f"  carry just enough moments to identify {k} factories.",
    )
    _say(out)
    return {"weights_known_error": err_a, "weights_error": err_w, "p_red_error": err_p}


def coins(out: TextIO, seed: int, keep: dict[str, Any] | None = None) -> dict[str, float]:
    """Four coins from a million trials of seven flips: moments, no local optima.

    With ``t = 2k - 1`` flips the Chebyshev Hankel pencil gives the biases and
    weights directly; when the moments are valid that is already the MLE (it
    reproduces the histogram of head counts exactly). EM from random starts is
    shown beside it: slower, and some starts stop at worse optima.
    """
    import time

    k, t, n = 4, 7, 1_000_000
    truth = Mixture(
        np.array([0.3, 0.25, 0.25, 0.2]), BinomialParams(np.array([[0.1], [0.35], [0.6], [0.9]]))
    )
    p_true = truth.params.p[:, 0]  # type: ignore[attr-defined]
    _say(out, section(f"3. {k} coins, {t} flips per trial (the k-coin problem)"))
    _say(
        out,
        f"Each trial picks a hidden coin and flips it {t} times; only the head count is\n"
        f"kept. {t} = 2k - 1 flips identify k = {k} coins from the moments of the counts.",
    )
    heads = coin_flips(truth, n, t, random_state=seed)
    _say(out, f"Simulated {n:,} trials.")
    start = time.perf_counter()
    model = CoinMixture(k).fit(heads, n_trials=t)
    took = time.perf_counter() - start
    assert model.log_likelihood_ is not None
    rows = [
        [
            f"coin {u}",
            f"{p_true[u]:.3f}",
            f"{model.moment_biases_[u]:.4f}",
            f"{model.biases_[u]:.4f}",
            f"{truth.weights[u]:.3f}",
            f"{model.weights_[u]:.4f}",
        ]
        for u in range(k)
    ]
    _say(out)
    header = ["", "bias true", "moments", "MLE", "weight true", "MLE"]
    _say(out, format_table(header, rows))
    err = float(
        max(np.abs(model.biases_ - p_true).max(), np.abs(model.weights_ - truth.weights).max())
    )
    _say(
        out,
        f"  kmix: {took:.2f} s in all (histogram, moments, Hankel pencil, refinement); "
        f"largest error {err:.4f}.\n  Hankel condition number: {model.condition_number_:.1f} "
        "in the Chebyshev basis.",
    )
    stats = CoinCounts.from_arrays(heads, t)
    n_random = 5
    start = time.perf_counter()
    runs = [
        CoinMixture(k, init="random", random_state=seed + r).fit(stats) for r in range(n_random)
    ]
    took_em = time.perf_counter() - start
    lls = np.array([m.log_likelihood_ for m in runs], dtype=np.float64)
    worse = int(np.sum(lls < model.log_likelihood_ - 1e-6 * abs(model.log_likelihood_)))
    _say(
        out,
        f"  EM from {n_random} random starts (on the same histogram): {took_em:.2f} s; "
        f"{worse} of {n_random} stopped\n  at a lower log-likelihood than the moment "
        f"solution (best gap {model.log_likelihood_ - lls.max():.2e} nats).",
    )
    sel = select_k_coins(stats)
    if keep is not None:
        keep["coins"] = {"model": model, "heads": heads, "selection": sel}
    _say(
        out,
        f"  Number of coins from the Hankel spectrum: {sel.hankel_k} "
        f"({'conclusive' if sel.hankel_conclusive else 'a lower bound'}); BIC: {sel.bic_k}.",
    )
    _say(out)
    return {
        "max_error": err,
        "seconds": took,
        "random_em_worse": float(worse),
        "hankel_k": float(sel.hankel_k),
    }


def latent_classes(out: TextIO, seed: int, keep: dict[str, Any] | None = None) -> dict[str, float]:
    """Latent class analysis: a published survey, then simulated data against random EM.

    Stouffer & Toby's four role-conflict items (216 respondents) with two
    classes: kmix's fit beside the published maximum-likelihood estimates.
    Then 15 binary items and 4 classes: the tensor method's start, refined by
    EM, beside single EM runs from random starts.
    """
    import time

    _say(out, section("4. Latent classes (k-MixProd)"))
    data = stouffer_toby()
    model = ProductMixture(2, random_state=seed).fit(data.patterns, sample_weight=data.counts)
    pub = data.published[2]
    pub_w = np.asarray(pub["weights"], dtype=np.float64)
    pub_p = np.asarray(pub["probs"], dtype=np.float64)
    # published classes in kmix's order (largest share first)
    order = np.argsort(-pub_w, kind="stable")
    rows = []
    for u in range(2):
        rows.append(
            [
                f"class {u} kmix",
                f"{model.weights_[u]:.4f}",
                *(f"{v:.4f}" for v in model.probs_[u]),
            ]
        )
        rows.append(
            [
                "  published",
                f"{pub_w[order[u]]:.4f}",
                *(f"{v:.4f}" for v in pub_p[order[u]]),
            ]
        )
    _say(
        out,
        f"{data.citation}: {int(data.counts.sum())} respondents, items "
        f"{', '.join(data.columns)} (1 = universalistic). Two classes:",
    )
    _say(out)
    _say(out, format_table(["", "share", *(f"P({c}=1)" for c in data.columns)], rows))
    gap = abs(model.log_likelihood_ - pub["log_likelihood"])
    _say(
        out,
        f"  log-likelihood: kmix {model.log_likelihood_:.4f}, published "
        f"{pub['log_likelihood']:.4f} (|diff| {gap:.1e}); {model.identifiability_}.",
    )
    _say(out)
    k, n, size = 4, 15, 100_000
    rng = np.random.default_rng(seed + 1)
    P = rng.uniform(0.05, 0.95, (k, n))
    w = rng.dirichlet(2 * np.ones(k))
    z = rng.choice(k, size=size, p=w)
    X = (rng.random((size, n)) < P[z]).astype(np.int64)
    start = time.perf_counter()
    fit = ProductMixture(k, random_state=seed).fit(X)
    took = time.perf_counter() - start
    if keep is not None:
        keep["latent-classes"] = {"survey": model, "items": data.columns, "simulated": fit}
    moments_err = _lc_error(w, P, fit.moment_weights_, fit.moment_probs_)
    err = _lc_error(w, P, fit.weights_, fit.probs_)
    n_random = 5
    lls, errs = [], []
    start = time.perf_counter()
    for r in range(n_random):
        em = FiniteMixture(k, family="bernoulli", init="random", random_state=seed + r).fit(X)
        lls.append(em.log_likelihood_)
        errs.append(_lc_error(w, P, em.weights_, em.params_.p))  # type: ignore[attr-defined]
    took_em = time.perf_counter() - start
    if keep is not None:
        keep["latent-classes"]["random_em"] = em  # a climb from a random start, for its figure
    worse = sum(ll < fit.log_likelihood_ - 1e-6 * abs(fit.log_likelihood_) for ll in lls)
    _say(
        out,
        f"Simulated: {size:,} rows, {n} binary items, {k} classes. kmix: {took:.2f} s; largest\n"
        f"  error {moments_err:.4f} after the moment step, {err:.4f} after EM. EM from "
        f"{n_random} random\n  starts: {took_em:.2f} s, {worse} of {n_random} ended at a lower "
        f"log-likelihood (errors {', '.join(f'{e:.3f}' for e in errs)}).",
    )
    _say(out)
    return {
        "published_loglik_gap": gap,
        "moment_error": moments_err,
        "error": err,
        "random_em_worse": float(worse),
    }


def _lc_error(w: Any, P: Any, w_hat: Any, P_hat: Any) -> float:
    """Largest weight or P(X_j = 1 | u) error after the best relabelling."""
    err = parameter_errors(
        Mixture(np.asarray(w), BernoulliParams(np.asarray(P))),
        Mixture(np.asarray(w_hat), BernoulliParams(np.asarray(P_hat))),
    )
    return max(err.weights, err.params)


SECTIONS: list[Section] = [
    Section("factories", factories),
    Section("n-factories", n_factories),
    Section("coins", coins),
    Section("latent-classes", latent_classes),
    Section("effects", causal_effects),
]


def run_demo(
    out: TextIO,
    *,
    seed: int = 0,
    sections: Sequence[str] | None = None,
    keep: dict[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Run the demo sections in order (all, or those named) and print to ``out``.

    ``keep``, a dict, receives the models behind the figures
    (:func:`kmix.cli.demo_plots.write_demo_figures`).

    Returns
    -------
    dict
        Section name -> that section's key numbers.
    """
    names = [s.name for s in SECTIONS]
    wanted = names if sections is None else list(sections)
    unknown = [s for s in wanted if s not in names]
    if unknown:
        raise DataError(f"unknown demo section(s) {unknown}; choose from {names}")
    results: dict[str, dict[str, float]] = {}
    for sec in SECTIONS:
        if sec.name in wanted:
            results[sec.name] = sec.run(out, seed, {} if keep is None else keep)
    return results

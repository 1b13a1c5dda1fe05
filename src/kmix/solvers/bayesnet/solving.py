"""Solving the runs of the k-MixBND reduction: the tensor method, EM, anchored refits.

Every run ``(I, COND, c)`` of :mod:`kmix.solvers.bayesnet.reduction` is a
latent class model of its members on the rows with ``COND = c``. It is solved
by the three-view tensor method
(:func:`kmix.solvers.latent_class.moments.fit_product_mixture`; Anandkumar,
Hsu & Kakade, "A method of moments for mixture models and hidden Markov
models", COLT 2012), tightened by latent class EM from the method's best
candidates, and, once the runs are aligned, re-fitted with the keys it shares
with other runs held at their pooled values. The runs are thousands of small
problems on a few dozen distinct rows each, so both EM steps take all runs
with the same members' levels at once
(:func:`kmix.solvers.latent_class.batched.em_latent_class_batched`).

Reference: S. L. Gordon, B. Mazaheri, Y. Rabani, L. J. Schulman, "Causal
inference despite limited global confounding via mixture models", CLeaR 2023.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...exceptions import IdentifiabilityError
from ...stats.rows import compress_rows
from ...stats.tables import mixed_radix_codes
from ..latent_class.batched import em_latent_class_batched
from ..latent_class.births import escape_local_maxima, fits_the_table
from ..latent_class.design import RowDesign
from ..latent_class.em import LatentClassFit, em_latent_class
from ..latent_class.fit import CHEAP_WORK
from ..latent_class.moments import fit_product_mixture
from .runs import Key, Run

__all__ = ["MOVE_RUNS", "anchored_refits", "run_rows", "solve_runs"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
#: Plans of at most this many runs try the latent class moves in each run
MOVE_RUNS = 250


def _ident(run: Run) -> tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]]:
    """What makes a run: its members, conditioning set and assignment."""
    return run.members, run.cond, run.assignment


def run_rows(
    runs: Sequence[Run],
    codes: IntArray,
    counts: FloatArray,
    col: Mapping[str, int],
    levels: Sequence[int],
) -> dict[tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]], tuple[IntArray, FloatArray]]:
    """Every run's members' unique rows (and counts) among the rows with ``COND = c``.

    Only rows observed on every member and on ``COND`` count (a missing value
    is a negative code, which never equals an assignment). Runs that share
    members and a conditioning set share one pass over the rows: the rows
    are sorted once by the mixed-radix code of ``COND`` and each assignment
    is a slice.
    """
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.members, run.cond), []).append(run)
    out = {}
    for (members, cond), group in groups.items():
        mem = [col[w] for w in members]
        cols = [col[x] for x in cond]
        ok = np.all(codes[:, mem + cols] >= 0, axis=1)
        key, _ = mixed_radix_codes(codes[ok], cols, levels)
        order = np.argsort(key, kind="stable")
        key_sorted = key[order]
        chosen = np.flatnonzero(ok)[order]
        for run in group:
            code = 0
            for x, a in zip(cond, run.assignment, strict=True):
                code = code * int(levels[col[x]]) + int(a)
            lo, hi = np.searchsorted(key_sorted, [code, code + 1])
            sel = chosen[lo:hi]
            vals, cnts, _ = compress_rows(codes[sel][:, mem], counts[sel])
            out[_ident(run)] = (vals.astype(np.int64), cnts)
    return out


def anchored_refits(
    runs: Sequence[Run],
    shared: Mapping[Key, Any],
    rows: Mapping[tuple[Any, ...], tuple[IntArray, FloatArray]],
    lv: Mapping[str, int],
    *,
    max_iter: int = 2000,
    tol: float = 1e-9,
) -> list[Run]:
    """Re-fit every aligned run by EM with its shared keys held at their pooled values.

    A run held where one source is rare (``P(u | c)`` near 0) estimates that
    source's parameters from few rows, and the three-view method is badly
    conditioned there. Its shared keys are known from the other runs, so
    only ``P(u | c)`` and the run's own keys are re-estimated, in the global
    labels, by the latent class EM with the shared members held fixed, all
    runs at once
    (:func:`~kmix.solvers.latent_class.batched.em_latent_class_batched`).
    Exact on population tables.
    """
    jobs: dict[bool, list[int]] = {}
    starts: list[tuple[FloatArray, list[FloatArray]]] = []
    held: list[list[int]] = []
    for i, run in enumerate(runs):
        start_w, start_p = run.answer()
        keys = run.keys
        probs = [
            np.asarray(shared[keys[w]].mean if keys[w] in shared else start_p[w], dtype=np.float64)
            for w in run.members
        ]
        held.append([j for j, w in enumerate(run.members) if keys[w] in shared])
        # EM never moves a weight of exactly 0: start every source with some mass
        weights = np.maximum(start_w, 1e-6)
        starts.append((weights / weights.sum(), probs))
        jobs.setdefault(len(held[i]) == len(probs), []).append(i)
    out = list(runs)
    for all_held, group in jobs.items():
        # plain EM (one map when every member is held, which only re-weights the sources):
        # SQUAREM reached other fixed points on thin strata, and the mixture EM that
        # follows then ended lower on one benchmark network (0.011 nats/row)
        fits = em_latent_class_batched(
            [rows[_ident(runs[i])] for i in group],
            [[lv[w] for w in runs[i].members] for i in group],
            [starts[i] for i in group],
            tol=tol,
            max_iter=1 if all_held else max_iter,
            accelerate=False,
            fixed=[held[i] for i in group],
        )
        for i, fit in zip(group, fits, strict=True):
            out[i] = dataclasses.replace(
                runs[i],
                weights=fit.weights,
                probs=dict(zip(runs[i].members, fit.probs, strict=True)),
                log_likelihood=fit.log_likelihood,
            )
    return out


Answer = tuple[FloatArray, list[FloatArray], float]


def solve_runs(
    runs: Sequence[Run],
    rows: Mapping[tuple[Any, ...], tuple[IntArray, FloatArray]],
    levels: Mapping[str, int],
    k: int,
    rng: np.random.Generator,
    refine: bool,
    moves: bool = True,
    light: bool = False,
) -> tuple[list[Run], list[tuple[Run, str]]]:
    """The latent class fit of every run's members on its rows (with ``COND = c``).

    The three-view method in each run; with ``refine``, EM from its best
    three candidates, all runs with the same members' levels at once
    (:func:`~kmix.solvers.latent_class.batched.em_latent_class_batched`),
    kept where it ends higher than the method's answer. ``moves``: then the
    latent class fit's birth, split and merge moves, where the run is cheap
    and its table does not vouch for the EM fit. ``light``: the moment step
    scores 2 view triples and keeps 1 (instead of 8 and 5), for the pilot
    pass. Returns the solved runs and the failed ones with the reason.
    """
    n_candidates, n_triples = (2, 1) if light else (8, 3)
    done: list[Run] = []
    answers: list[Answer] = []
    starts: list[list[tuple[FloatArray, list[FloatArray]]]] = []
    failed: list[tuple[Run, str]] = []
    for run in runs:
        vals, cnts = rows[_ident(run)]
        try:
            res = fit_product_mixture(
                vals.astype(np.float64),
                cnts,
                [levels[w] for w in run.members],
                k,
                rng=rng,
                n_candidates=n_candidates,
                n_triples=n_triples,
            )
        except IdentifiabilityError as exc:
            failed.append((run, str(exc)))
            continue
        ll = res.candidates[0][2] if res.candidates else float("nan")
        done.append(run)
        answers.append((res.weights, list(res.probs), ll))
        starts.append([(w, p) for w, p, _ in res.candidates[:3]] or [(res.weights, res.probs)])
    if refine:
        answers = _refine(done, answers, starts, rows, levels, rng, moves)
    solved = [
        dataclasses.replace(
            run,
            weights=np.asarray(w, dtype=np.float64),
            probs={
                m: np.asarray(p, dtype=np.float64) for m, p in zip(run.members, pr, strict=True)
            },
            log_likelihood=float(ll),
        )
        for run, (w, pr, ll) in zip(done, answers, strict=True)
    ]
    return solved, failed


def _refine(
    runs: Sequence[Run],
    answers: Sequence[Answer],
    starts: Sequence[Sequence[tuple[FloatArray, list[FloatArray]]]],
    rows: Mapping[tuple[Any, ...], tuple[IntArray, FloatArray]],
    levels: Mapping[str, int],
    rng: np.random.Generator,
    moves: bool,
) -> list[Answer]:
    """Every run's moment answer replaced by the best EM fit from its starts, if higher."""
    jobs = [(i, st) for i in range(len(runs)) for st in starts[i]]
    fits = em_latent_class_batched(
        [rows[_ident(runs[i])] for i, _ in jobs],
        [[levels[w] for w in runs[i].members] for i, _ in jobs],
        [st for _, st in jobs],
    )
    best: dict[int, LatentClassFit] = {}
    for (i, _), fit in zip(jobs, fits, strict=True):
        if i not in best or fit.log_likelihood > best[i].log_likelihood:
            best[i] = fit
    out = list(answers)
    for i, run in enumerate(runs):
        fit = best[i]
        vals, cnts = rows[_ident(run)]
        lv = [levels[w] for w in run.members]
        if moves and vals.shape[0] * sum(lv) * len(fit.weights) <= CHEAP_WORK:
            design = RowDesign(vals, lv, cnts)
            if not fits_the_table(design, cnts, fit):
                # a source rare in this stratum is the small class a single EM run loses: one
                # round of the latent class fit's birth, split and merge moves, where they are
                # cheap and the run's table does not already vouch for the fit
                def run_em(
                    group: list[Any],
                    cap: int,
                    data: tuple[IntArray, FloatArray, list[int], RowDesign] = (
                        vals,
                        cnts,
                        lv,
                        design,
                    ),
                ) -> list[LatentClassFit]:
                    v, c, d, des = data
                    return em_latent_class(v, c, d, group, max_iter=cap, design=des)

                fit, _ = escape_local_maxima(
                    design, cnts, fit, run_em, max_iter=1000, rng=rng, rounds=1
                )
        ll = answers[i][2]
        if not np.isfinite(ll) or fit.log_likelihood >= ll:
            out[i] = (fit.weights, list(fit.probs), fit.log_likelihood)
    return out

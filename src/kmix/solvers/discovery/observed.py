"""Hill climbing on the observed BIC of the mixture of networks, ``U`` refit for every move.

Structural EM (:mod:`~kmix.solvers.discovery.scoring`) scores a move with the
posteriors of ``U`` held fixed; a gain of that expected score is a gain of
the observed one (N. Friedman, "Learning belief networks in the presence of
missing values and hidden variables", ICML 1997, theorem 3.1), but not
conversely: a move that pays only once ``U`` moves (an edge that stood in for
``U`` leaving, an edge that lets ``U`` explain what it should) has a negative
expected gain and is never taken. With many rows such moves decide the
graph. :func:`observed_climb` scores every deletion and reversal and the most
promising additions (by the expected gain) by the observed BIC, EM refitting
``U`` from the current model, and takes the best while the score rises: the
costly evaluation that structural EM avoids, affordable from a good start.
Where no such move gains, deletions from the DAGs of the same equivalence
class one covered-edge reversal away are tried (:func:`_covered_deletions`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from .families import (
    FINAL_MAPS,
    MAX_CONFIGS,
    Families,
    FloatArray,
    Parents,
    apply_move,
    single_moves,
)

__all__ = ["ADD_CANDIDATES", "OBSERVED_MAPS", "SCREEN_KEEP", "SCREEN_MAPS", "observed_climb"]

#: EM maps that refit U for each candidate move (from the current model)
OBSERVED_MAPS = 100
#: Additions scored by the observed BIC per step: those of highest expected gain
ADD_CANDIDATES = 10
#: Every candidate is first refit by SCREEN_MAPS maps; the SCREEN_KEEP best go on to
#: OBSERVED_MAPS
SCREEN_MAPS = 20
SCREEN_KEEP = 3
#: Smallest gain of the observed BIC (nats) that makes a move
MIN_GAIN = 0.01
#: Moves at most
MAX_STEPS = 60

Fit = tuple[Parents, FloatArray, list[FloatArray], FloatArray, float]


def _moves(
    fam: Families,
    resp: FloatArray,
    parents: Parents,
    allowed: NDArray[np.bool_],
    required: frozenset[tuple[int, int]],
    cap: int,
) -> Iterator[Parents]:
    """Every deletion and reversal of an edge, and the :data:`ADD_CANDIDATES` additions of
    highest expected gain under ``resp``, each keeping the graph acyclic."""
    additions: list[tuple[float, int, int]] = []
    for kind, a, b in single_moves(parents, allowed, required, cap):
        if kind != "add":
            yield apply_move(parents, (kind, a, b))
        elif fam.n_configs((*parents[b], a)) <= MAX_CONFIGS:
            gain = fam.score(resp, b, (*parents[b], a)) - fam.score(resp, b, parents[b])
            additions.append((gain, a, b))
    additions.sort(reverse=True)
    for _, a, b in additions[:ADD_CANDIDATES]:
        yield apply_move(parents, ("add", a, b))


def _covered_deletions(parents: Parents, required: frozenset[tuple[int, int]]) -> Iterator[Parents]:
    """Deletions from the DAGs one covered-edge reversal away: the same class, other edges.

    An edge ``x -> y`` is covered when ``pa(y) = pa(x) + {x}``; reversing it
    gives a Markov-equivalent DAG (D. M. Chickering, "A transformational
    characterization of equivalent Bayesian network structures", UAI 1995),
    and with ``U`` a parent of every variable an equally scored one. A
    deletion from it can reach a graph no single move of the first reaches
    (a triangle ``a -> b -> c``, ``a -> c`` whose true graph is the chain
    ``a -> c -> b``).
    """
    for y, ps in enumerate(parents):
        for x in ps:
            if (x, y) in required or set(ps) != {*parents[x], x}:
                continue
            turned = apply_move(parents, ("reverse", x, y))
            for b, qs in enumerate(turned):
                for a in qs:
                    if (a, b) not in required and (a, b) != (y, x):
                        yield apply_move(turned, ("delete", a, b))


def observed_climb(
    fam: Families,
    parents: Parents,
    resp: FloatArray,
    allowed: NDArray[np.bool_],
    required: frozenset[tuple[int, int]],
    cap: int,
) -> Fit:
    """Greedy ascent of the observed BIC from the graph ``parents`` and posteriors ``resp``.

    Each step refits the current graph by :data:`OBSERVED_MAPS` EM maps, then
    each candidate move (:func:`_moves`) from the same posteriors, by
    :data:`SCREEN_MAPS` maps and the :data:`SCREEN_KEEP` best of them on to
    :data:`OBSERVED_MAPS`, and takes the best when it gains more than
    :data:`MIN_GAIN` (both sides refit alike, so a gain is the move's, not
    EM's). Returns the
    graph, weights, CPTs, posteriors (times counts) and log-likelihood, EM run
    to :data:`FINAL_MAPS` maps on the final graph.
    """
    for _ in range(MAX_STEPS):
        weights, cpts = fam.m_step(resp, parents)
        weights, cpts, resp, ll, _ = fam.em(weights, cpts, parents, OBSERVED_MAPS)
        bic = fam.bic(ll, parents)
        top: tuple[float, Parents, FloatArray] | None = None
        # single moves first; deletions from equivalent DAGs only when none gains
        for candidates in (
            _moves(fam, resp, parents, allowed, required, cap),
            _covered_deletions(parents, required),
        ):
            screened = []
            for graph in candidates:
                w, t = fam.m_step(resp, graph)
                w, t, _, ll2, _ = fam.em(w, t, graph, SCREEN_MAPS)
                screened.append((fam.bic(ll2, graph), graph, w, t))
            screened.sort(key=lambda c: c[0], reverse=True)
            for _, graph, w, t in screened[:SCREEN_KEEP]:
                _, _, r, ll2, _ = fam.em(w, t, graph, OBSERVED_MAPS - SCREEN_MAPS)
                gain = fam.bic(ll2, graph) - bic
                if gain > MIN_GAIN and (top is None or gain > top[0]):
                    top = (gain, graph, r)
            if top is not None:
                break
        if top is None:
            break
        _, parents, resp = top
    weights, cpts = fam.m_step(resp, parents)
    weights, cpts, resp, ll, _ = fam.em(weights, cpts, parents, FINAL_MAPS)
    return parents, weights, cpts, resp, ll

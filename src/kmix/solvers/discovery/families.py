"""The mixture of Bayesian networks over observed variables, ``U`` hidden and a parent of every
node, on unique rows with counts: expected family counts, family scores, EM.

``P(x) = sum_u P(u) prod_i P(x_i | pa_i(x), u)``; with posteriors ``P(u | x)``
held fixed, the expected BIC of a graph is a sum of family terms (N.
Friedman, "Learning belief networks in the presence of missing values and
hidden variables", ICML 1997), each from one ``bincount`` over the rows. The
building block of the structural EM search
(:mod:`~kmix.solvers.discovery.scoring`) and of its starts
(:mod:`~kmix.solvers.discovery.starts`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "EM_MAPS",
    "FINAL_MAPS",
    "MAX_CONFIGS",
    "Families",
    "FloatArray",
    "Move",
    "Parents",
    "apply_move",
    "best_of",
    "random_posteriors",
    "reaches",
    "single_moves",
]

FloatArray = NDArray[np.float64]
Parents = tuple[tuple[int, ...], ...]
#: ``(kind, a, b)``: ``"add"`` / ``"delete"`` / ``"reverse"`` the edge ``a -> b``
Move = tuple[str, int, int]
#: Pseudo-count added to every cell in the M-step (keeps log-probabilities finite)
SMOOTH = 1e-3
#: EM maps between two structure steps, and after the last one
EM_MAPS = 30
FINAL_MAPS = 300
#: Largest product of parent levels a family may have
MAX_CONFIGS = 4096
#: Families whose cell index is kept (the cache is emptied beyond)
CACHED_FAMILIES = 256


class Families:
    """Expected family counts and scores of unique rows ``values`` with ``counts``."""

    def __init__(
        self, values: NDArray[np.int64], counts: FloatArray, levels: Sequence[int], k: int
    ):
        self.values, self.counts, self.levels, self.k = values, counts, list(levels), k
        self.n = values.shape[1]
        self.total = float(counts.sum())
        self.penalty = 0.5 * np.log(max(self.total, 2.0))
        # each family's index of (U, parent configuration, value) per row and class,
        # kept while there are few (the rows never change)
        self._cells: dict[
            tuple[int, tuple[int, ...]], tuple[NDArray[np.int64], NDArray[np.int64], int]
        ] = {}

    def configs(self, parents: Iterable[int]) -> tuple[NDArray[np.int64], int]:
        idx = np.zeros(self.values.shape[0], dtype=np.int64)
        size = 1
        for p in parents:
            idx = idx * self.levels[p] + self.values[:, p]
            size *= self.levels[p]
        return idx, size

    def _flat(
        self, i: int, parents: Iterable[int]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], int]:
        """Family ``i``'s cells: flat in the ``(k, configs, d_i)`` table for every row and
        class ``(m * k,)``, in the ``(configs, d_i)`` table per row ``(m,)``, and the number
        of configurations."""
        key = (i, tuple(parents))
        hit = self._cells.get(key)
        if hit is None:
            idx, size = self.configs(key[1])
            d = self.levels[i]
            cell = idx * d + self.values[:, i]
            flat = (np.arange(self.k)[None, :] * (size * d) + cell[:, None]).reshape(-1)
            if len(self._cells) >= CACHED_FAMILIES:
                self._cells.clear()
            hit = self._cells[key] = (flat, cell, size)
        return hit

    def counts_of(self, resp: FloatArray, i: int, parents: Iterable[int]) -> FloatArray:
        """``(k, configs, d_i)`` expected counts from weighted posteriors ``resp`` (m, k)."""
        flat, _, size = self._flat(i, parents)
        d = self.levels[i]
        out = np.bincount(flat, weights=resp.reshape(-1), minlength=self.k * size * d)
        result: FloatArray = out.reshape(self.k, size, d).astype(np.float64, copy=False)
        return result

    def score(self, resp: FloatArray, i: int, parents: Iterable[int]) -> float:
        N = self.counts_of(resp, i, parents)
        rows = N.sum(axis=2, keepdims=True)
        seen = N > 0
        fit = float((N[seen] * np.log(N[seen] / np.broadcast_to(rows, N.shape)[seen])).sum())
        return fit - self.penalty * self.k * N.shape[1] * (self.levels[i] - 1)

    def n_configs(self, parents: Iterable[int]) -> int:
        """Configurations of the parents ``parents`` (the product of their levels)."""
        return int(np.prod([self.levels[p] for p in parents]))

    def n_params(self, parents: Parents) -> int:
        out = self.k - 1
        for i, ps in enumerate(parents):
            out += self.k * self.n_configs(ps) * (self.levels[i] - 1)
        return out

    def bic(self, log_likelihood: float, parents: Parents) -> float:
        """Observed BIC of the mixture on ``parents`` (Schwarz 1978): the log-likelihood
        less ``log(N) / 2`` per free parameter."""
        return log_likelihood - self.penalty * self.n_params(parents)

    def m_step(self, resp: FloatArray, parents: Parents) -> tuple[FloatArray, list[FloatArray]]:
        weights = resp.sum(axis=0) / self.total
        cpts = []
        for i, ps in enumerate(parents):
            N = self.counts_of(resp, i, ps) + SMOOTH
            cpts.append(N / N.sum(axis=2, keepdims=True))
        return weights, cpts

    def e_step(
        self,
        weights: FloatArray,
        cpts: list[FloatArray],
        parents: Parents,
        only: Sequence[int] | None = None,
    ) -> tuple[FloatArray, float]:
        """Posteriors times counts ``(m, k)`` and the observed log-likelihood (of the
        families of ``only``, default all: the model of a subset of the variables)."""
        with np.errstate(divide="ignore"):
            joint = np.tile(np.log(weights), (self.values.shape[0], 1))
        for i in range(len(parents)) if only is None else only:
            _, cell, _ = self._flat(i, parents[i])
            joint += np.log(cpts[i].reshape(self.k, -1))[:, cell].T
        top = joint.max(axis=1, keepdims=True)
        p = np.exp(joint - top)
        total = p.sum(axis=1, keepdims=True)
        ll = float((np.log(total[:, 0]) + top[:, 0]) @ self.counts)
        return p / total * self.counts[:, None], ll

    def em(
        self, weights: FloatArray, cpts: list[FloatArray], parents: Parents, maps: int
    ) -> tuple[FloatArray, list[FloatArray], FloatArray, float, bool]:
        """At most ``maps`` EM maps; whether EM settled (a map gained <= 1e-10 relative)."""
        resp, ll = self.e_step(weights, cpts, parents)
        for _ in range(maps):
            weights, cpts = self.m_step(resp, parents)
            new_resp, new_ll = self.e_step(weights, cpts, parents)
            done = new_ll - ll <= 1e-10 * abs(new_ll)
            resp, ll = new_resp, new_ll
            if done:
                return weights, cpts, resp, ll, True
        return weights, cpts, resp, ll, False


def reaches(parents: Sequence[Sequence[int]], start: int, goal: int) -> bool:
    """Whether ``goal`` is an ancestor of ``start`` (or ``start`` itself)."""
    stack, seen = [start], {start}
    while stack:
        v = stack.pop()
        if v == goal:
            return True
        for p in parents[v]:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return False


def single_moves(
    parents: Sequence[Sequence[int]],
    allowed: NDArray[np.bool_],
    required: frozenset[tuple[int, int]],
    cap: int,
) -> Iterator[Move]:
    """Every single-edge move of a DAG that keeps it acyclic and within the background.

    For each ordered pair ``(a, b)`` in turn: an edge ``a -> b`` is deleted
    (unless required) and then reversed (when ``b -> a`` is allowed, ``a`` has
    fewer than ``cap`` parents and the reversal closes no cycle); an absent
    pair gains ``a -> b`` when allowed, within ``cap`` and acyclic.
    """
    n = len(parents)
    for a in range(n):
        for b in range(n):
            if a == b:
                continue
            if a in parents[b]:
                if (a, b) in required:
                    continue
                yield "delete", a, b
                if allowed[b, a] and len(parents[a]) < cap:
                    dropped = [
                        [p for p in q if p != a] if i == b else q for i, q in enumerate(parents)
                    ]
                    if not reaches(dropped, b, a):  # b -> a closes no cycle
                        yield "reverse", a, b
            elif (
                b not in parents[a]
                and allowed[a, b]
                and len(parents[b]) < cap
                and not reaches(parents, a, b)
            ):
                yield "add", a, b


def apply_move(parents: Sequence[Sequence[int]], move: Move) -> Parents:
    """The DAG after ``move`` (parents sorted)."""
    kind, a, b = move
    out = [tuple(q) for q in parents]
    if kind == "add":
        out[b] = tuple(sorted((*out[b], a)))
    else:
        out[b] = tuple(p for p in out[b] if p != a)
        if kind == "reverse":
            out[a] = tuple(sorted((*out[a], b)))
    return tuple(out)


def best_of(
    fam: Families, parents: Parents, starts: Sequence[FloatArray]
) -> tuple[FloatArray, list[FloatArray], FloatArray, float, bool]:
    """EM on ``parents`` from each starting posteriors (times counts); the highest maximum."""
    top = None
    for r0 in starts:
        w, t = fam.m_step(r0, parents)
        fit = fam.em(w, t, parents, FINAL_MAPS)
        if top is None or fit[3] > top[3]:
            top = fit
    assert top is not None
    return top


def random_posteriors(fam: Families, rng: np.random.Generator, n: int) -> list[FloatArray]:
    """``n`` flat-Dirichlet posteriors of the rows, times their counts."""
    m = fam.values.shape[0]
    return [rng.dirichlet(np.ones(fam.k), size=m) * fam.counts[:, None] for _ in range(n)]

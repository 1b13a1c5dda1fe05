"""A numerical certificate of local identifiability for latent class models.

The model is ``P(x) = sum_u pi_u prod_j theta_{j,u,x_j}`` over items with
``d_j`` levels and ``k`` classes. Its free parameters, in this order, are

* the first ``k - 1`` weights ``pi_1 .. pi_{k-1}`` (``pi_k`` is implied);
* for every item ``j`` and class ``u`` (item-major, then class), the first
  ``d_j - 1`` probabilities ``theta_{j,u,0} .. theta_{j,u,d_j-2}`` (the last
  level is implied),

``(k - 1) + k sum_j (d_j - 1)`` in all. The model is locally identified at a
point exactly when the Jacobian of the cell probabilities with respect to
these parameters has full column rank (McHugh, "Efficient estimation and
local identification in latent class analysis", Psychometrika 21, 1956;
Goodman, "Exploratory latent structure analysis using both identifiable and
unidentifiable models", Biometrika 61, 1974), and generically so when that
holds at random parameters (:mod:`kmix.solvers.identification`). The map is a
sum of products, so the Jacobian is analytic:

.. math::
   \\frac{\\partial P(x)}{\\partial \\pi_u} = f_u(x) - f_k(x), \\qquad
   \\frac{\\partial P(x)}{\\partial \\theta_{j,u,l}} = \\pi_u
   \\prod_{i \\ne j} \\theta_{i,u,x_i} \\,([x_j = l] - [x_j = d_j - 1]),

with ``f_u(x) = prod_j theta_{j,u,x_j}``. The leave-one-out products come
from prefix and suffix products, so a probability of exactly zero is
handled without division.

Which observables
-----------------
A rank reached on some observables is reached on all of them, and on the
full table: margins are linear functions of the table, so their Jacobian is
a product with the table's. Hence a positive answer may use a subset, while
a refusal needs the whole table.

* **The full table**, when it has at most :data:`FULL_TABLE_CELLS` cells. A
  random subset of :data:`ROW_FACTOR` times as many cells as parameters is
  tried first; when deficient, every cell at up to
  :data:`~kmix.solvers.identification.N_POINTS` random points, and only a
  deficiency on the whole table at every point refuses.
* **The margins up to order three** otherwise: the three-way tables of
  triples of items (the one- and two-way tables are sums of these, so they
  add no rank), triples drawn so that every item is covered until their
  cells number :data:`MARGIN_ROW_FACTOR` times the parameters. Their rank is
  bounded by the number of distinct margin entries, so when they fall short a
  random subset of cells of the full table (computed cell by cell, the table
  is never formed) is tried. A deficiency on a table too large to form
  proves nothing, and the answer is ``"unknown"``.

A count settles some cases without any rank: the table has
``prod_j d_j - 1`` free cells, and more parameters than that cannot be
identified; with two items ``P(X_1, X_2) = A diag(pi) B^T`` is a matrix of
rank at most ``k``, a set of dimension ``k (d_1 + d_2 - k) - 1``, less than
the ``k - 1 + k (d_1 + d_2 - 2)`` parameters whenever ``k >= 2``.

Known deficient cases agree: four binary items with three classes have 14
parameters and 15 free cells, but rank 13 (Goodman 1974; Allman, Matias &
Rhodes, "Identifiability of parameters in latent structure models with many
observed variables", Ann. Statist. 37, 2009).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ...exceptions import DataError
from ..identification import (
    N_POINTS,
    RTOL_EXACT,
    LocalIdentifiability,
    local_identifiability,
    rank_of,
)

__all__ = [
    "FULL_TABLE_CELLS",
    "MAX_PARAMETERS",
    "ROW_FACTOR",
    "LatentClassCertificate",
    "cell_jacobian",
    "cell_probabilities",
    "certify_latent_class",
    "n_parameters",
    "pack",
    "unpack",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Largest full table whose cells are the observables (beyond it: margins up to order 3).
FULL_TABLE_CELLS = 20_000
#: Random cells tried first, as a multiple of the parameters.
ROW_FACTOR = 2
#: Cells of three-way margins tried, as a multiple of the parameters.
MARGIN_ROW_FACTOR = 3
#: Most parameters certified (an SVD costs rows x parameters^2 operations).
MAX_PARAMETERS = 600
#: Most ``cells x parameters^2`` spent proving a deficiency on the whole table, per point.
PROOF_WORK = 1.5e8
#: Least ratio of the last kept to the first dropped singular value for a proved deficiency.
MIN_GAP = 1e3
#: Dirichlet concentration of the random points (2: interior, away from the faces).
CONCENTRATION = 2.0


@dataclass(frozen=True, eq=False)
class LatentClassCertificate:
    """Local identifiability of a latent class model, generic and at given parameters.

    Attributes
    ----------
    kind : str
        ``"locally identified"`` (full rank at random parameters),
        ``"not identified"`` (proved: by the count, or a deficiency on the
        whole table at every random point) or ``"unknown"`` (deficient only on
        the margins, or too large to check).
    n_parameters : int
    n_free_cells : int
        ``prod_j d_j - 1``.
    observables : str
        What the Jacobian was taken of, e.g. ``"full table of 36 cells"``.
    generic : LocalIdentifiability or None
        The rank at random parameters (None when a count decided).
    at_fit : LocalIdentifiability or None
        The rank at the given ``weights``/``probs``: lower than ``generic`` on
        the boundary (a weight or probability of 0 or 1) or where classes
        coincide, even in a generically identified model.
    reason : str
        One line with the numbers.
    """

    kind: str
    n_parameters: int
    n_free_cells: int
    observables: str
    generic: LocalIdentifiability | None
    at_fit: LocalIdentifiability | None
    reason: str

    @property
    def identified(self) -> bool:
        """Generically locally identified (full rank at random parameters)."""
        return self.kind == "locally identified"

    @property
    def rank(self) -> int | None:
        """Generic numerical rank, when one was computed."""
        return None if self.generic is None else self.generic.rank


def _levels(n_levels: Sequence[int], k: int) -> tuple[list[int], int]:
    levels = [int(d) for d in n_levels]
    if not levels or any(d < 1 for d in levels):
        raise DataError(f"n_levels must list at least one item, each with >= 1 level; got {levels}")
    if int(k) < 1:
        raise DataError(f"the number of classes must be >= 1; got {k}")
    return levels, int(k)


def n_parameters(n_levels: Sequence[int], k: int) -> int:
    """Free parameters ``(k - 1) + k sum_j (d_j - 1)`` of a latent class model."""
    levels, k = _levels(n_levels, k)
    return k - 1 + k * sum(d - 1 for d in levels)


def _offsets(levels: list[int], k: int) -> list[int]:
    """First column of every item's block in the parameter vector."""
    out, at = [], k - 1
    for d in levels:
        out.append(at)
        at += k * (d - 1)
    return out


def pack(weights: FloatArray, probs: Sequence[FloatArray]) -> FloatArray:
    """Free-parameter vector of ``weights`` (k,) and ``probs[j]`` (k, d_j), last entries dropped."""
    w = np.asarray(weights, dtype=np.float64)
    parts = [w[:-1]] + [np.asarray(p, dtype=np.float64)[:, :-1].ravel() for p in probs]
    return np.concatenate(parts)


def unpack(
    theta: FloatArray, n_levels: Sequence[int], k: int
) -> tuple[FloatArray, list[FloatArray]]:
    """Inverse of :func:`pack`: the implied last entries are one minus the others."""
    levels, k = _levels(n_levels, k)
    theta = np.asarray(theta)
    if theta.shape != (n_parameters(levels, k),):
        raise DataError(
            f"theta must have {n_parameters(levels, k)} entries for items with levels "
            f"{levels} and k = {k}; got shape {theta.shape}"
        )
    w = np.append(theta[: k - 1], 1.0 - theta[: k - 1].sum())
    probs = []
    for j, at in enumerate(_offsets(levels, k)):
        free = theta[at : at + k * (levels[j] - 1)].reshape(k, levels[j] - 1)
        probs.append(np.concatenate([free, 1.0 - free.sum(axis=1, keepdims=True)], axis=1))
    return w, probs


def _cells(levels: Sequence[int]) -> IntArray:
    """Codes of every cell of the table over ``levels``, C order, shape (cells, items)."""
    grids = np.indices(tuple(levels)).reshape(len(levels), -1)
    return np.ascontiguousarray(grids.T).astype(np.intp)


def cell_probabilities(
    weights: FloatArray,
    probs: Sequence[FloatArray],
    items: Sequence[int] | None = None,
    codes: IntArray | None = None,
) -> FloatArray:
    """``P(X_items = x)`` at the rows of ``codes`` (every cell, C order, by default)."""
    items = list(range(len(probs))) if items is None else list(items)
    if codes is None:
        codes = _cells([probs[j].shape[1] for j in items])
    f = np.ones((codes.shape[0], len(weights)), dtype=np.result_type(weights, *probs))
    for pos, j in enumerate(items):
        f = f * probs[j][:, codes[:, pos]].T
    return f @ weights


def _block(
    weights: FloatArray,
    probs: Sequence[FloatArray],
    subsets: IntArray,
    codes: IntArray,
    offsets: list[int],
    n_cols: int,
) -> FloatArray:
    """Jacobian rows of the tables over ``subsets`` (T, s) at ``codes`` (R, s), all alike in levels.

    Row ``t * R + r`` is the derivative of ``P(X_{subsets[t]} = codes[r])``.
    """
    n_sub, width = subsets.shape
    n_rows, k = codes.shape[0], weights.shape[0]
    # vals[pos][t, r, u] = theta_{subsets[t, pos], u, codes[r, pos]}
    vals = []
    for pos in range(width):
        stacked = np.stack([probs[j] for j in subsets[:, pos]])  # (T, k, d)
        vals.append(np.moveaxis(stacked[:, :, codes[:, pos]], 1, 2))  # (T, R, k)
    prefix = [np.ones((n_sub, n_rows, k))]
    for pos in range(width - 1):
        prefix.append(prefix[-1] * vals[pos])
    jac = np.zeros((n_sub, n_rows, n_cols))
    suffix = np.ones((n_sub, n_rows, k))
    for pos in reversed(range(width)):
        loo = prefix[pos] * suffix  # product over the other positions
        d = probs[int(subsets[0, pos])].shape[1]
        if d > 1:
            level = codes[:, pos]
            sign = (level[:, None] == np.arange(d - 1)).astype(np.float64)
            sign -= (level == d - 1)[:, None]
            # (T, R, k, d - 1) -> columns offset_j + u (d - 1) + l
            vals_pos = (weights * loo)[:, :, :, None] * sign[None, :, None, :]
            start = np.asarray([offsets[j] for j in subsets[:, pos]])
            cols = start[:, None] + np.arange(k * (d - 1))[None, :]
            t_idx = np.arange(n_sub)[:, None, None]
            r_idx = np.arange(n_rows)[None, :, None]
            jac[t_idx, r_idx, cols[:, None, :]] = vals_pos.reshape(n_sub, n_rows, -1)
        if pos == 0:
            full = loo * vals[0]  # f_u for every row
            jac[:, :, : k - 1] = full[:, :, : k - 1] - full[:, :, k - 1 :]
        suffix = suffix * vals[pos]
    return jac.reshape(n_sub * n_rows, n_cols)


def cell_jacobian(
    weights: FloatArray,
    probs: Sequence[FloatArray],
    tables: Sequence[tuple[Sequence[int], IntArray | None]] | None = None,
) -> FloatArray:
    """Analytic Jacobian of table cells with respect to the free parameters (see :func:`pack`).

    Parameters
    ----------
    weights : ndarray of shape (k,)
    probs : list of ndarray
        ``probs[j][u, v] = P(X_j = v | u)``.
    tables : list of (items, codes), optional
        The rows: for each entry, the cells ``codes`` (shape ``(R, len(items))``,
        None for every cell in C order) of the margin over ``items``. Default:
        the full table.

    Returns
    -------
    ndarray of shape (rows, n_parameters)
    """
    w = np.asarray(weights, dtype=np.float64)
    probs = [np.asarray(p, dtype=np.float64) for p in probs]
    levels = [p.shape[1] for p in probs]
    k = w.shape[0]
    offsets = _offsets(levels, k)
    n_cols = n_parameters(levels, k)
    if tables is None:
        tables = [(list(range(len(probs))), None)]
    blocks = []
    for items, codes in tables:
        sub = np.asarray([list(items)], dtype=np.intp)
        rows = _cells([levels[j] for j in items]) if codes is None else codes
        blocks.append(_block(w, probs, sub, rows, offsets, n_cols))
    return np.concatenate(blocks, axis=0) if blocks else np.zeros((0, n_cols))


def _triple_groups(
    levels: list[int], triples: list[tuple[int, ...]]
) -> list[tuple[IntArray, IntArray]]:
    """Triples grouped by their level pattern, with the shared cell codes of each group."""
    groups: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
    for t in triples:
        groups.setdefault(tuple(levels[j] for j in t), []).append(t)
    return [(np.asarray(ts, dtype=np.intp), _cells(pat)) for pat, ts in groups.items()]


def _choose_triples(
    levels: list[int], n_rows: int, rng: np.random.Generator
) -> tuple[list[tuple[int, ...]], bool]:
    """Triples of items whose three-way tables have about ``n_rows`` cells; all, when fewer.

    Random permutations of the items are cut into consecutive triples (every
    pass covers every item) until the cells reach ``n_rows``. Returns the
    triples and whether they are all of them.
    """
    n = len(levels)
    if n <= 3:
        return [tuple(range(n))], True
    e = [1, 0, 0, 0]  # elementary symmetric polynomials: e[3] = cells of all triples
    for d in levels:
        e = [1, e[1] + d, e[2] + d * e[1], e[3] + d * e[2]]
    total = e[3]
    if total <= n_rows:
        return list(itertools.combinations(range(n), 3)), True
    chosen: dict[tuple[int, ...], None] = {}
    cells = 0
    for _ in range(64 * n):
        perm = rng.permutation(n)
        perm = np.concatenate([perm, perm[: (-n) % 3]])  # pad so the last triple is full
        for a in range(0, perm.shape[0], 3):
            t = tuple(sorted(int(v) for v in perm[a : a + 3]))
            if len(set(t)) == 3 and t not in chosen:
                chosen[t] = None
                cells += math.prod(levels[j] for j in t)
        if cells >= n_rows:
            break
    return list(chosen), False


def _describe(levels: list[int], k: int) -> str:
    if all(d == 2 for d in levels):
        return f"{len(levels)} binary items, k = {k}"
    return f"items with levels {levels}, k = {k}"


class _Map:
    """The rows (observables) of one certificate and their Jacobian at any point."""

    def __init__(self, levels: list[int], k: int, groups: list[tuple[IntArray, IntArray]]):
        self.levels, self.k, self.groups = levels, k, groups
        self.offsets = _offsets(levels, k)
        self.n_cols = n_parameters(levels, k)
        self.n_rows = sum(s.shape[0] * c.shape[0] for s, c in groups)

    def sample(self, rng: np.random.Generator) -> FloatArray:
        w = rng.dirichlet(np.full(self.k, CONCENTRATION))
        probs = [rng.dirichlet(np.full(d, CONCENTRATION), size=self.k) for d in self.levels]
        return pack(w, probs)

    def jacobian(self, theta: FloatArray) -> FloatArray:
        w, probs = unpack(theta, self.levels, self.k)
        return self.at(w, probs)

    def at(self, weights: FloatArray, probs: Sequence[FloatArray]) -> FloatArray:
        return np.concatenate(
            [
                _block(weights, probs, subsets, codes, self.offsets, self.n_cols)
                for subsets, codes in self.groups
            ],
            axis=0,
        )


def _check_fit(
    weights: FloatArray | None, probs: Sequence[FloatArray] | None, levels: list[int], k: int
) -> tuple[FloatArray, list[FloatArray]] | None:
    if weights is None and probs is None:
        return None
    if weights is None or probs is None:
        raise DataError("give both weights and probs (the fitted parameters), or neither")
    w = np.asarray(weights, dtype=np.float64)
    ps = [np.asarray(p, dtype=np.float64) for p in probs]
    shapes = [p.shape for p in ps]
    if w.shape != (k,) or shapes != [(k, d) for d in levels]:
        raise DataError(
            f"fitted parameters must be weights of shape ({k},) and probs of shapes "
            f"{[(k, d) for d in levels]}; got {w.shape} and {shapes}"
        )
    return w, ps


def _all_items(levels: list[int]) -> IntArray:
    return np.arange(len(levels), dtype=np.intp)[None, :]


def _random_cells(levels: list[int], k: int, n_rows: int, rng: np.random.Generator) -> _Map:
    """Up to ``n_rows`` distinct random cells of the full table (never formed whole)."""
    n_cells = math.prod(levels)
    if n_cells <= 50 * n_rows:  # draw without replacement
        pick = rng.choice(n_cells, size=min(n_rows, n_cells), replace=False)
        codes = np.stack(np.unravel_index(np.sort(pick), tuple(levels)), axis=1)
    else:  # collisions are rare: draw every item's level and drop repeats
        codes = np.stack([rng.integers(0, d, size=n_rows) for d in levels], axis=1)
    return _Map(levels, k, [(_all_items(levels), np.unique(codes, axis=0).astype(np.intp))])


def _margins(levels: list[int], k: int, n_rows: int, rng: np.random.Generator) -> _Map | None:
    """Three-way margins with about ``n_rows`` cells (None when they would be far more)."""
    if len(levels) < 4:
        return None  # the three-way margins are the table itself
    triples, _ = _choose_triples(levels, n_rows, rng)
    rows = _Map(levels, k, _triple_groups(levels, triples))
    return rows if rows.n_rows <= 4 * n_rows else None


def _first(rows: _Map, rng: np.random.Generator, rtol: float) -> LocalIdentifiability:
    """Rank at one random point (full rank there already proves generic identifiability)."""
    return local_identifiability(
        None, rows.sample, rng=rng, jacobian=rows.jacobian, n_points=1, rtol=rtol
    )


def certify_latent_class(
    n_levels: Sequence[int],
    k: int,
    *,
    rng: np.random.Generator,
    weights: FloatArray | None = None,
    probs: Sequence[FloatArray] | None = None,
    rtol: float = RTOL_EXACT,
) -> LatentClassCertificate:
    """Generic local identifiability of ``k`` latent classes over these items, by Jacobian rank.

    The steps, each ending the search when it decides:

    1. counts: more parameters than free cells, or two items with ``k >= 2``,
       are not identified (see the module docstring); more than
       :data:`MAX_PARAMETERS` parameters are not checked (``"unknown"``);
    2. the rank at one random point on a random subset of the observables
       (:data:`ROW_FACTOR` times the parameters in cells of the table, or
       :data:`MARGIN_ROW_FACTOR` times in cells of three-way margins first
       when the table has more than :data:`FULL_TABLE_CELLS` cells): full
       rank proves generic local identifiability;
    3. on a table of at most :data:`FULL_TABLE_CELLS` cells (and
       ``cells x parameters^2 <=`` :data:`PROOF_WORK`), the rank on every
       cell at up to :data:`~kmix.solvers.identification.N_POINTS` random
       points: full rank at one proves identifiability, a deficiency at every
       one, clear by a factor :data:`MIN_GAP` in the singular values, proves
       the model is not identified; anything else is ``"unknown"``.

    Parameters
    ----------
    n_levels : sequence of int
        Levels ``d_j`` of every item.
    k : int
        Classes.
    rng : numpy.random.Generator
        Draws the random parameters, cells and triples.
    weights, probs : optional
        Fitted parameters (``probs[j][u, v] = P(X_j = v | u)``): the rank at
        that point is reported as ``at_fit`` (on every cell when the proof
        budget allows, else on the observables of the decision, a lower
        bound), never used to refuse.
    rtol : float
        Relative tolerance of the numerical rank
        (:mod:`kmix.solvers.identification`).

    Returns
    -------
    LatentClassCertificate

    Examples
    --------
    Four binary items cannot carry three classes (Goodman 1974):

    >>> cert = certify_latent_class([2, 2, 2, 2], 3, rng=np.random.default_rng(0))
    >>> cert.kind, cert.rank, cert.n_parameters
    ('not identified', 13, 14)
    """
    levels, k = _levels(n_levels, k)
    fit = _check_fit(weights, probs, levels, k)
    n_par = n_parameters(levels, k)
    n_cells = math.prod(levels)
    what = _describe(levels, k)
    small = n_cells <= FULL_TABLE_CELLS
    provable = small and n_cells * n_par**2 <= PROOF_WORK
    full = _Map(levels, k, [(_all_items(levels), _cells(levels))]) if provable else None
    table = f"the full table of {n_cells:,} cells"

    def result(
        kind: str, obs: str, generic: LocalIdentifiability | None, why: str, rows: _Map | None
    ) -> LatentClassCertificate:
        on = full or rows
        at_fit = None if fit is None or on is None else rank_of(on.at(*fit), rtol=rtol)
        return LatentClassCertificate(kind, n_par, n_cells - 1, obs, generic, at_fit, why)

    if n_par > n_cells - 1:
        why = f"{n_par} parameters exceed the {n_cells - 1} free cells of the table"
        return result("not identified", table, None, f"not identified: {why} ({what})", None)
    if len(levels) == 2 and k >= 2:
        dim = k * (levels[0] + levels[1] - k) - 1
        why = (
            f"two-way tables of rank at most k = {k} form a set of dimension {dim} < "
            f"{n_par} parameters"
        )
        return result("not identified", table, None, f"not identified: {why} ({what})", None)
    if n_par > MAX_PARAMETERS:
        why = f"{n_par} parameters, more than the {MAX_PARAMETERS} the certificate checks"
        return result("unknown", "none", None, f"unknown: {why} ({what})", None)

    tried: list[tuple[str, LocalIdentifiability, _Map]] = []
    margins = None if small else _margins(levels, k, MARGIN_ROW_FACTOR * n_par, rng)
    if margins is not None:
        obs = f"{margins.n_rows:,} cells of three-way margins (of {table})"
        tried.append((obs, _first(margins, rng, rtol), margins))
    want = ROW_FACTOR * n_par
    if (not tried or not tried[-1][1].identified) and (want < n_cells or full is None):
        if want < n_cells:
            cells = _random_cells(levels, k, want, rng)
            obs = f"{cells.n_rows:,} random cells of {table}"
        else:
            cells, obs = _Map(levels, k, [(_all_items(levels), _cells(levels))]), table
        tried.append((obs, _first(cells, rng, rtol), cells))
    if full is not None and not (tried and tried[-1][1].identified):
        tried.append(
            (
                table,
                local_identifiability(
                    None, full.sample, rng=rng, jacobian=full.jacobian, rtol=rtol
                ),
                full,
            )
        )
    obs, res, rows = tried[-1]
    if res.identified:
        why = f"numerical rank {res.rank} of {n_par} at random parameters, on {obs}"
        return result("locally identified", obs, res, f"locally identified ({why})", rows)
    if rows is full and len(res.ranks) >= N_POINTS and res.min_gap >= MIN_GAP:
        why = (
            f"the Jacobian has rank {res.rank} of {n_par} parameters at every one of "
            f"{len(res.ranks)} random points, on {table}"
        )
        return result("not identified", obs, res, f"not identified: {why} ({what})", rows)
    if rows is full:
        why = f"the rank of the Jacobian ({res.rank} of {n_par}) is not clear-cut on {table}"
    else:
        why = (
            f"the Jacobian on {obs} has rank {res.rank} of {n_par} at a random point, and the "
            "table is too large to prove a deficiency"
        )
    return result("unknown", obs, res, f"unknown: {why} ({what})", rows)

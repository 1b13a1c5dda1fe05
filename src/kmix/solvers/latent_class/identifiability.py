"""When do discrete variables identify a latent class model with ``k`` classes.

Two levels of answer:

* :func:`check_identifiability`, cheap sufficient conditions. Binary
  variables: ``n >= 2k - 1`` suffices under separation (Gordon, Jahn,
  Mazaheri, Rabani & Schulman 2024). Larger alphabets: split the variables
  into three views with ``kappa_g`` joint states each; Kruskal's condition on
  the three-way array, ``sum_g min(kappa_g, k) >= 2k + 2``, holds generically
  (Kruskal 1977; Allman, Matias & Rhodes 2009, Theorem 4). Neither is
  necessary: four items with 3, 3, 2 and 2 levels fail Kruskal's condition
  for ``k = 4`` (9 < 10) yet are generically identified.
* :func:`identify_latent_class`, the answer the estimators act on: the
  sufficient condition when it holds, else the numerical certificate of
  generic local identifiability by the rank of the Jacobian
  (:func:`~kmix.solvers.latent_class.certificate.certify_latent_class`;
  Goodman, "Exploratory latent structure analysis using both identifiable
  and unidentifiable models", Biometrika 61, 1974). Only a proved
  deficiency refuses.

References
----------
J. B. Kruskal, "Three-way arrays: rank and uniqueness of trilinear
decompositions", Linear Algebra Appl. 18, 1977. E. S. Allman, C. Matias,
J. A. Rhodes, "Identifiability of parameters in latent structure models with
many observed variables", Ann. Statist. 37(6A), 2009. S. L. Gordon, E. Jahn,
B. Mazaheri, Y. Rabani, L. J. Schulman, "Identification of mixtures of
discrete product distributions in near-optimal sample and time complexity",
COLT 2024.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .certificate import certify_latent_class, n_parameters

__all__ = [
    "KINDS",
    "SEARCH_MAX_PARAMETERS",
    "SEARCH_STEPS",
    "Identifiability",
    "check_identifiability",
    "identify_latent_class",
]

#: The answers, from the cheapest proof to none.
KINDS = ("sufficient condition", "locally identified", "not identified", "unknown")
#: Most classes beyond the known bound that ``max_components`` is searched over.
SEARCH_STEPS = 4
#: No certificate is run for ``max_components`` beyond this many parameters.
SEARCH_MAX_PARAMETERS = 300


@dataclass(frozen=True)
class Identifiability:
    """Which identifiability condition the variables meet for ``k`` classes.

    Attributes
    ----------
    ok : bool
        From :func:`check_identifiability`: the sufficient condition holds.
        From :func:`identify_latent_class`: no deficiency was proved
        (``kind`` is not ``"not identified"``), so a fit may go on; with
        ``kind == "unknown"`` it goes on with a warning.
    condition : str
        The condition checked, with its numbers.
    max_components : int
        Largest ``k`` the same condition allows (for
        :func:`identify_latent_class`: the largest ``k`` the sufficient
        condition or the certificate was seen to hold for, by a bounded
        search; a lower bound on the largest identified ``k``).
    kind : str
        One of :data:`KINDS`: ``"sufficient condition"`` (it holds),
        ``"locally identified"`` (full Jacobian rank at random parameters),
        ``"not identified"`` (proved by a count or a structural rank
        deficiency) or ``"unknown"``.
    rank : int or None
        Numerical rank of the Jacobian at random parameters, when computed.
    n_parameters : int or None
        Free parameters ``(k - 1) + k sum_j (d_j - 1)``.
    """

    ok: bool
    condition: str
    max_components: int
    kind: str = "sufficient condition"
    rank: int | None = None
    n_parameters: int | None = None

    @property
    def identified(self) -> bool:
        """Proved identified: by the sufficient condition or by full Jacobian rank."""
        return self.kind in KINDS[:2]


def _kruskal_sum(n_levels: Sequence[int], k: int) -> tuple[int, list[int]]:
    """Best ``sum_g min(kappa_g, k)`` over three views (greedy), and the kappas."""
    kappas = [1, 1, 1]
    for d in sorted((int(v) for v in n_levels), reverse=True):
        # give the variable to the view that gains most (the one furthest below k)
        gains = [min(kap * d, k) - min(kap, k) for kap in kappas]
        g = int(np.argmax(gains))
        kappas[g] *= d
    return sum(min(kap, k) for kap in kappas), kappas


def check_identifiability(n_levels: Sequence[int], n_components: int) -> Identifiability:
    """The condition that makes ``k`` classes identifiable from these variables.

    Binary variables: ``n >= 2k - 1`` (necessary and sufficient under
    separation; Gordon et al. 2024). Otherwise the Kruskal-type condition on
    three views, ``sum_g min(kappa_g, k) >= 2k + 2`` with ``kappa_g`` the joint
    states of view ``g`` (Kruskal 1977; Allman, Matias & Rhodes 2009).

    Cheap (no linear algebra; remembered per multiset of levels), for loops
    over candidate sets of variables. ``ok`` means the sufficient condition
    holds; when it does not, ``kind`` is ``"unknown"`` (see
    :func:`identify_latent_class` for an answer).
    """
    return _check(tuple(sorted(int(d) for d in n_levels)), int(n_components))


@functools.lru_cache(maxsize=4096)
def _check(n_levels: tuple[int, ...], k: int) -> Identifiability:
    """:func:`check_identifiability` of sorted levels (the answer depends on the multiset)."""
    n = len(n_levels)
    n_par = k - 1 + k * sum(int(d) - 1 for d in n_levels)  # no validation: called in loops
    if all(int(d) == 2 for d in n_levels):
        ok = n >= 2 * k - 1
        return Identifiability(
            ok,
            f"binary variables: n = {n} {'>=' if ok else '<'} 2k - 1 = {2 * k - 1}",
            max(1, (n + 1) // 2),
            KINDS[0] if ok else KINDS[3],
            None,
            n_par,
        )
    best, kappas = _kruskal_sum(n_levels, k)
    largest = 1
    for cand in range(1, 64):
        if _kruskal_sum(n_levels, cand)[0] >= 2 * cand + 2:
            largest = cand
    ok = best >= 2 * k + 2 or k == 1
    return Identifiability(
        ok,
        f"three views with {kappas} joint states: sum min(kappa, k) = {best} "
        f"{'>=' if ok else '<'} 2k + 2 = {2 * k + 2}",
        largest,
        KINDS[0] if ok else KINDS[3],
        None,
        n_par,
    )


def _search(levels: list[int], lo: int, hi: int, rng: np.random.Generator) -> int:
    """Largest ``m`` in ``lo, lo + 1, .., hi`` reached upward while the certificate holds."""
    cells = math.prod(levels)
    best = lo
    for m in range(lo + 1, hi + 1):
        n_par = n_parameters(levels, m)
        if n_par > min(cells - 1, SEARCH_MAX_PARAMETERS):
            break
        if not certify_latent_class(levels, m, rng=rng).identified:
            break
        best = m
    return best


def identify_latent_class(
    n_levels: Sequence[int], n_components: int, *, rng: np.random.Generator
) -> Identifiability:
    """Whether ``k`` latent classes are identified from items with these levels.

    The sufficient condition of :func:`check_identifiability` first (no linear
    algebra); when it fails, the certificate of generic local
    identifiability by the rank of the Jacobian of the cell probabilities
    (:func:`~kmix.solvers.latent_class.certificate.certify_latent_class`;
    Goodman, "Exploratory latent structure analysis using both identifiable
    and unidentifiable models", Biometrika 61, 1974; Rothenberg,
    "Identification in parametric models", Econometrica 39, 1971).

    ``max_components`` starts from the sufficient condition's bound (or
    ``k``, when ``k`` is identified and larger) and goes up one class at a
    time while the certificate holds: at most :data:`SEARCH_STEPS` classes
    beyond its start, only while the parameters number at most the free
    cells and :data:`SEARCH_MAX_PARAMETERS`, and up to ``k - 1`` when ``k``
    is not identified. Bounded work, so a lower bound on the largest
    identified ``k``.

    Parameters
    ----------
    n_levels : sequence of int
        Levels of every item.
    n_components : int
        Classes ``k``.
    rng : numpy.random.Generator
        Draws the random parameters of the certificate (unused when the
        sufficient condition holds and no search is needed).

    Returns
    -------
    Identifiability
        ``ok`` is False only for ``kind == "not identified"`` (a proof: more
        parameters than free cells, two items, or a rank deficiency at every
        random point on the whole table); estimators refuse then, and fit
        with a warning for ``"unknown"``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ident = identify_latent_class([3, 3, 2, 2], 4, rng=rng)
    >>> ident.kind, ident.rank, ident.n_parameters, ident.ok
    ('locally identified', 27, 27, True)
    >>> identify_latent_class([2, 2, 2, 2], 3, rng=rng).kind
    'not identified'
    """
    levels = [int(d) for d in n_levels]
    k = int(n_components)
    n_parameters(levels, k)  # DataError naming an empty item list, a level or k below 1
    suff = check_identifiability(levels, k)
    bound = suff.max_components  # does not depend on k
    if suff.ok:
        most = _search(levels, max(bound, k), max(bound, k) + SEARCH_STEPS, rng)
        return Identifiability(True, suff.condition, most, KINDS[0], None, suff.n_parameters)
    cert = certify_latent_class(levels, k, rng=rng)
    if cert.identified:
        most = _search(levels, k, k + SEARCH_STEPS, rng)
        condition = f"{cert.reason}, although the sufficient condition fails ({suff.condition})"
    else:
        most = _search(levels, min(bound, k - 1), k - 1, rng)
        condition = cert.reason
        if cert.kind == "unknown":
            condition += f"; the sufficient condition fails ({suff.condition})"
    return Identifiability(
        cert.kind != "not identified", condition, most, cert.kind, cert.rank, cert.n_parameters
    )

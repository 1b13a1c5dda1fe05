"""Settings of the EM benchmark: shared constants, the data cases and the run sizes.

Every other ``em_*`` module and ``bench_em`` read their constants from here, so one
change (a tolerance, a size) reaches the fits, the scoring and the report alike.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CASES",
    "COVARIANCE_FLOOR",
    "DISCRETE",
    "FAMILIES",
    "FULL",
    "LL_TOL_PER_ROW",
    "MAX_ITER",
    "NAME",
    "N_COMPONENTS",
    "N_FEATURES",
    "PER_ITER_TARGET",
    "QUICK",
    "REL_TOL",
    "SEED",
    "SPEEDUP_TARGET",
    "Case",
    "Config",
]

NAME = "em"

SEED = 0
N_COMPONENTS = 4
N_FEATURES = 15
#: Stop when the total log-likelihood rises by less than ``REL_TOL * |log-likelihood|``.
REL_TOL = 1e-8
MAX_ITER = 1000
#: scikit-learn's ``reg_covar`` and kmix's ``var_floor`` (both at their default).
COVARIANCE_FLOOR = 1e-6
#: Two log-likelihoods are "equal" when their means per row differ by less than this (nats).
LL_TOL_PER_ROW = 1e-6
SPEEDUP_TARGET = 20.0
PER_ITER_TARGET = 1.5

DISCRETE = ("bernoulli", "categorical")
FAMILIES = (*DISCRETE, "gaussian")


@dataclass(frozen=True)
class Case:
    """One data set family of the benchmark (simulated at every size).

    Attributes
    ----------
    key : str
        Identifier in em.json (``fits[].case``, ``targets[].case``).
    family : {"bernoulli", "categorical", "gaussian"}
    n_levels : int or None
        Levels per feature (categorical only).
    label : str
        Name in the markdown tables.
    target : bool
        True when an acceptance target is evaluated on this case; False for a
        supplementary case, whose speed-up is reported without a verdict.
    """

    key: str
    family: str
    n_levels: int | None
    label: str
    target: bool

    @property
    def description(self) -> str:
        """Features of the case in words (for the target lines)."""
        if self.family == "bernoulli" or self.n_levels == 2:
            return f"{N_FEATURES} binary features"
        if self.family == "categorical":
            return f"{N_FEATURES} features of {self.n_levels} levels"
        return f"{N_FEATURES} real features"


#: The issue's acceptance case is "1e6 rows x 15 binary features, k = 4" for both discrete
#: families, so the categorical target has 2 levels; 3 levels is kept as a supplement.
CASES = (
    Case("bernoulli", "bernoulli", None, "bernoulli", True),
    Case("categorical-2", "categorical", 2, "categorical, 2 levels", True),
    Case("categorical-3", "categorical", 3, "categorical, 3 levels (suppl.)", False),
    Case("gaussian", "gaussian", None, "gaussian", True),
)


@dataclass(frozen=True)
class Config:
    """Sizes, restarts and budgets of one benchmark run.

    Attributes
    ----------
    sizes : tuple of int
        Numbers of rows ``N``.
    n_init : dict
        Restarts (the same for every tool) per size.
    per_iter_sizes : tuple of int
        Sizes of the gaussian per-iteration comparison.
    per_iter_steps : int
        Iterations of each per-iteration fit.
    per_iter_repeats : dict
        Repetitions (fastest kept) per size of the per-iteration fits.
    restart_budget_s : float
        Pomegranate's restart loop starts no restart expected to end past this.
    skip : frozenset of (case key, tool label, N)
        Fits left out to bound the run time (listed as skipped in the tables).
    quick : bool
    """

    sizes: tuple[int, ...]
    n_init: dict[int, int]
    per_iter_sizes: tuple[int, ...]
    per_iter_steps: int
    per_iter_repeats: dict[int, int]
    restart_budget_s: float
    skip: frozenset[tuple[str, str, int]]
    quick: bool


FULL = Config(
    sizes=(10_000, 100_000, 1_000_000),
    n_init={10_000: 2, 100_000: 2, 1_000_000: 1},
    per_iter_sizes=(10_000, 100_000, 1_000_000),
    per_iter_steps=20,
    per_iter_repeats={10_000: 3, 100_000: 3, 1_000_000: 1},
    restart_budget_s=300.0,
    skip=frozenset(),
    quick=False,
)
QUICK = Config(
    sizes=(2_000, 10_000),
    n_init={2_000: 1, 10_000: 1},
    per_iter_sizes=(10_000,),
    per_iter_steps=5,
    per_iter_repeats={10_000: 1},
    restart_budget_s=30.0,
    skip=frozenset(),
    quick=True,
)

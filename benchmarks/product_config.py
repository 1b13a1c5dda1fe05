"""Settings of the latent class benchmark (:mod:`bench_product`): targets, sizes, instances."""

from __future__ import annotations

from dataclasses import dataclass

NAME = "product"
SEED = 20261124
#: kmix's ``ProductMixture`` / ``FiniteMixture`` default tolerance (parts 1 and 2).
KMIX_TOL = 1e-10
RATIO_TARGET = 1.2
FAR = 0.05
STEPMIX_TARGET, POMEGRANATE_TARGET, PGMPY_TARGET = 20.0, 100.0, 100.0
SPEED_K, SPEED_N = 4, 15


def groups() -> list[tuple[int, int]]:
    """The ``(k, n)`` groups of parts 1 and 2."""
    return [(k, n) for k in (2, 3, 4) for n in (2 * k - 1, 3 * k, 15)]


@dataclass(frozen=True)
class Config:
    """Sizes of one run.

    Attributes
    ----------
    n_instances, n_restarts, n_samples : int
        Part 1: instances (cycling through :func:`groups`), random EM starts, rows.
    agree_per_group, stepmix_n_init : int
        Part 2: instances per group (the first ones of part 1), StepMix restarts.
    speed_n : int
        Part 3: rows.
    kmix_repeats : int
        Part 3: timed kmix fits (median kept).
    pgmpy_sub_n, pgmpy_budget_s : int, float
        Part 3: rows of pgmpy's complete fit, and the time budget of that fit.
    pomegranate_budget_s : float
    quick : bool
    """

    n_instances: int
    n_restarts: int
    n_samples: int
    agree_per_group: int
    stepmix_n_init: int
    speed_n: int
    kmix_repeats: int
    pgmpy_sub_n: int
    pgmpy_budget_s: float
    pomegranate_budget_s: float
    quick: bool


FULL = Config(200, 20, 100_000, 3, 10, 1_000_000, 3, 500, 600.0, 300.0, False)
QUICK = Config(12, 5, 20_000, 1, 3, 3_000, 2, 60, 20.0, 30.0, True)


def instance_seed(i: int) -> int:
    """Seed of instance ``i`` of parts 1 and 2."""
    return SEED + 1000 * i


def instance_group(i: int) -> tuple[int, int]:
    """``(k, n)`` of instance ``i``."""
    return groups()[i % len(groups())]

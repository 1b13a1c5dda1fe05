"""Pure numerical solvers: numpy/scipy only, no I/O, no estimator state."""

from .em import EMResult, run_em

__all__ = ["EMResult", "run_em"]

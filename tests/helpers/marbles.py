"""The seed's two-factory example: known components and the closed-form MLE of P(F1)."""

from __future__ import annotations

import numpy as np

MARBLES_P = {"p": [[0.8], [0.3]]}


def marbles_closed_form(X: np.ndarray) -> float:
    """The seed's MLE of P(F1): p(red) = 0.3 + 0.5 pi, clipped to [0, 1]."""
    return float(np.clip((X.mean() - 0.3) / 0.5, 0.0, 1.0))

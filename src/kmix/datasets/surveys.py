"""Classic surveys with published latent class estimates, bundled with their sources."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["SurveyData", "carcinoma", "stouffer_toby"]


@dataclass(frozen=True)
class SurveyData:
    """A bundled survey: response patterns with counts, and published estimates.

    Attributes
    ----------
    patterns : ndarray of shape (m, n_items)
        Observed response patterns, 0/1 coded.
    counts : ndarray of shape (m,)
        Respondents with each pattern (pass as ``sample_weight``).
    columns : list of str
        Item names.
    published : dict
        ``k -> {"log_likelihood", "weights", "probs"}``: the published
        maximum-likelihood latent class estimates (``probs[u][j]`` is
        ``P(item j = 1 | class u)``), classes in the published order.
    citation : str
    """

    patterns: NDArray[np.int64]
    counts: NDArray[np.float64]
    columns: list[str]
    published: dict[int, dict[str, Any]]
    citation: str

    def expand(self) -> NDArray[np.int64]:
        """One row per respondent."""
        return np.repeat(self.patterns, self.counts.astype(np.int64), axis=0)


def _bundled(name: str) -> tuple[NDArray[np.int64], NDArray[np.float64], list[str]]:
    text = (resources.files("kmix.datasets") / "data" / name).read_text(encoding="utf-8")
    lines = [line.split(",") for line in text.strip().splitlines()]
    table = np.array(lines[1:], dtype=np.int64)
    return table[:, :-1], table[:, -1].astype(np.float64), lines[0][:-1]


def stouffer_toby() -> SurveyData:
    """Stouffer & Toby's role-conflict items: 216 respondents, 4 binary items.

    1 = universalistic answer. Published two-class estimates (poLCA's
    replication of Goodman 2002, Table 5b; printed output of R's poLCA)
    and the maximised log-likelihoods of Goodman's models.

    References: S. A. Stouffer and J. Toby, "Role conflict and personality",
    American Journal of Sociology 56, 1951; L. A. Goodman, "Exploratory latent
    structure analysis using both identifiable and unidentifiable models",
    Biometrika 61(2), 1974; D. A. Linzer and J. B. Lewis, "poLCA: an R package
    for polytomous variable latent class analysis", J. Stat. Softw. 42(10), 2011.
    Sources of every number: ``kmix/_bundled/SOURCES.md``.
    """
    patterns, counts, columns = _bundled("stouffer_toby.csv")
    published: dict[int, dict[str, Any]] = {
        1: {"log_likelihood": -543.6498},
        2: {
            "log_likelihood": -504.4677,
            "weights": [0.2792, 0.7208],
            "probs": [[0.9932, 0.9398, 0.9265, 0.7691], [0.7136, 0.3296, 0.3540, 0.1324]],
        },
    }
    return SurveyData(patterns, counts, columns, published, "Stouffer & Toby (1951)")


def carcinoma() -> SurveyData:
    """Seven pathologists rating 118 slides for carcinoma (1 = carcinoma).

    Published two- and three-class estimates (Agresti, *Categorical Data
    Analysis*, 2002, section 13.2; printed output of R's poLCA).

    References: J. R. Landis and G. G. Koch, "An application of hierarchical
    kappa-type statistics in the assessment of majority agreement among
    multiple observers", Biometrics 33, 1977; A. Agresti, *Categorical Data
    Analysis*, 2nd ed., Wiley, 2002. Sources: ``kmix/_bundled/SOURCES.md``.
    """
    patterns, counts, columns = _bundled("carcinoma.csv")
    published: dict[int, dict[str, Any]] = {
        2: {
            "log_likelihood": -317.2568,
            "weights": [0.5012, 0.4988],
            "probs": [
                [1.0000, 0.9831, 0.7609, 0.5411, 0.9786, 0.4227, 1.0000],
                [0.1165, 0.3544, 0.0000, 0.0000, 0.2229, 0.0000, 0.1165],
            ],
        },
        3: {
            "log_likelihood": -293.705,
            "weights": [0.4447, 0.3736, 0.1817],
            "probs": [
                [1.0000, 0.9809, 0.8575, 0.5862, 1.0000, 0.4764, 1.0000],
                [0.0573, 0.1379, 0.0000, 0.0000, 0.0551, 0.0000, 0.0000],
                [0.5128, 1.0000, 0.0000, 0.0576, 0.7506, 0.0000, 0.6307],
            ],
        },
    }
    return SurveyData(patterns, counts, columns, published, "Landis & Koch (1977); Agresti (2002)")


#: Severity A drives treatment X and recovery Y; C, D, E are routine readings. The hidden
#: hospital U (not in the file) points at every node.

"""Classic surveys with published latent class estimates, bundled with their sources.

Tables of distinct response patterns with counts (:class:`SurveyData`:
:func:`stouffer_toby`, :func:`carcinoma`, :func:`gss82`) and one survey kept
as one row per respondent, with unanswered items and covariates
(:class:`SurveyRows`: :func:`election`). Every number quoted here, and where
it comes from, is listed in ``kmix/datasets/data/SOURCES.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..exceptions import DataError

__all__ = ["SurveyData", "SurveyRows", "carcinoma", "election", "gss82", "stouffer_toby"]


@dataclass(frozen=True)
class SurveyData:
    """A bundled survey: response patterns with counts, and published estimates.

    Attributes
    ----------
    patterns : ndarray of shape (m, n_items)
        Observed response patterns, coded ``0 .. L_j - 1`` (0/1 for binary
        items; code ``c`` is R poLCA's code ``c + 1``).
    counts : ndarray of shape (m,)
        Respondents with each pattern (pass as ``sample_weight``).
    columns : list of str
        Item names.
    published : dict
        ``k -> {"log_likelihood", "weights", "probs"}``: the published
        maximum-likelihood latent class estimates (``probs[u][j]`` is
        ``P(item j = 1 | class u)``), classes in the published order; a
        survey whose parameters were not found published holds
        ``{"log_likelihood"}`` alone.
    citation : str
    levels : list of list of str or None
        ``levels[j][c]``: the answer that code ``c`` of item ``j`` stands for
        (None for the 0/1 surveys, whose coding each loader states).
    """

    patterns: NDArray[np.int64]
    counts: NDArray[np.float64]
    columns: list[str]
    published: dict[int, dict[str, Any]]
    citation: str
    levels: list[list[str]] | None = None

    def expand(self) -> NDArray[np.int64]:
        """One row per respondent."""
        return np.repeat(self.patterns, self.counts.astype(np.int64), axis=0)


@dataclass(frozen=True)
class SurveyRows:
    r"""A bundled survey kept as one row per respondent, with gaps and covariates.

    Attributes
    ----------
    items : ndarray of shape (n, n_items)
        Answers coded ``0 .. L_j - 1`` (code ``c`` is R poLCA's code
        ``c + 1`` and means ``levels[j][c]``); NaN where the respondent gave
        no answer. Pass to ``ProductMixture(..., missing="drop")`` to fit
        the complete rows.
    item_names : list of str
    levels : list of list of str
        ``levels[j][c]``: the answer that code ``c`` of item ``j`` stands for.
    covariates : ndarray of shape (n, n_covariates)
        As recorded (integer codes or years); NaN where missing.
    covariate_names : list of str
    published : dict
        ``k -> {"log_likelihood"}``: published maximum log-likelihoods of the
        ``k``-class model without covariates, fitted on :meth:`complete` rows.
    published_covariate_models : dict
        Right-hand side of the class-membership regression (``"PARTY"``,
        ``"PARTY*AGE"``) ``-> {"n_components", "log_likelihood", "terms",
        "coefficients", "std_errors"}`` (coefficients and standard errors of
        classes 2 and 3 against class 1, one row each, classes ordered by
        decreasing share, as R's poLCA prints them; its standard errors come
        from the empirical information): latent
        class regressions (Bandeen-Roche, Miglioretti, Zeger and Rathouz,
        "Latent variable regression for multiple discrete outcomes", 1997)
        fitted on the complete rows whose covariates are recorded,

        .. math::

            P(x_i \mid z_i) = \sum_u \frac{e^{z_i^\top \beta_u}}
            {\sum_v e^{z_i^\top \beta_v}} \prod_j P(X_j = x_{ij} \mid u),
            \qquad \beta_1 = 0,

        with :math:`z_i = (1, \mathrm{PARTY}_i)` or
        :math:`(1, \mathrm{PARTY}_i, \mathrm{AGE}_i, \mathrm{PARTY}_i \mathrm{AGE}_i)`.
    citation : str
    """

    items: NDArray[np.float64]
    item_names: list[str]
    levels: list[list[str]]
    covariates: NDArray[np.float64]
    covariate_names: list[str]
    published: dict[int, dict[str, Any]]
    published_covariate_models: dict[str, dict[str, Any]]
    citation: str

    def complete(self) -> NDArray[np.bool_]:
        """Rows with every item answered (the rows R poLCA fits by default, ``na.rm=TRUE``)."""
        answered: NDArray[np.bool_] = np.asarray(~np.isnan(self.items), dtype=bool)
        return np.asarray(answered.all(axis=1), dtype=bool)

    def covariate(self, name: str) -> NDArray[np.float64]:
        """One covariate column by name (NaN where missing)."""
        if name not in self.covariate_names:
            raise DataError(
                f"no covariate named {name!r}; the covariates are {self.covariate_names}"
            )
        column: NDArray[np.float64] = self.covariates[:, self.covariate_names.index(name)]
        return column


def _table(name: str) -> tuple[list[str], NDArray[np.str_]]:
    """Header and cells (as text, ``""`` where empty) of a bundled comma-separated file."""
    text = (resources.files("kmix.datasets") / "data" / name).read_text(encoding="utf-8")
    lines = text.strip().splitlines()
    return lines[0].split(","), np.array([line.split(",") for line in lines[1:]], dtype=np.str_)


def _bundled(name: str) -> tuple[NDArray[np.int64], NDArray[np.float64], list[str]]:
    header, cells = _table(name)
    table = cells.astype(np.int64)
    return table[:, :-1], table[:, -1].astype(np.float64), header[:-1]


def _codes(
    cells: NDArray[np.str_], levels: list[list[str]], columns: list[str], name: str
) -> NDArray[np.int64]:
    """Text answers -> codes ``0 .. L_j - 1`` in the order of ``levels[j]``."""
    codes = np.empty(cells.shape, dtype=np.int64)
    for j, (column, known) in enumerate(zip(columns, levels, strict=True)):
        seen, inverse = np.unique(cells[:, j], return_inverse=True)
        unknown = [str(v) for v in seen if v not in known]
        if unknown:
            raise DataError(
                f"{name}: column {column!r} holds {unknown[0]!r}, which is none of its "
                f"levels {known}; the bundled file does not match its loader"
            )
        codes[:, j] = np.array([known.index(str(v)) for v in seen], dtype=np.int64)[inverse]
    return codes


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
    Sources of every number: ``kmix/datasets/data/SOURCES.md``.
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
    Analysis*, 2nd ed., Wiley, 2002. Sources: ``kmix/datasets/data/SOURCES.md``.
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


#: Answers of the 1982 GSS survey-attitude items in R poLCA's code order (code 0 = poLCA 1).
GSS82_LEVELS: dict[str, tuple[str, ...]] = {
    "PURPOSE": ("Good", "Depends", "Waste of time"),
    "ACCURACY": ("Mostly true", "Not true"),
    "UNDERSTA": ("Good", "Fair/Poor"),
    "COOPERAT": ("Interested", "Cooperative", "Impatient"),
}


def gss82() -> SurveyData:
    """Attitudes towards surveys: 1,202 white respondents to the 1982 General Social Survey.

    Four items, stored as the 33 observed patterns of the 36 possible ones,
    with counts (``levels`` names every code; code 0 is R poLCA's code 1):

    * ``PURPOSE`` of surveys: Good / Depends / Waste of time (and money);
    * ``ACCURACY`` of surveys: Mostly true / Not true;
    * ``UNDERSTA``, the respondent's understanding of the questions:
      Good / Fair/Poor (two levels: "fair" and "poor" are merged);
    * ``COOPERAT``, cooperation with the interviewer: Interested /
      Cooperative / Impatient (impatient or hostile).

    Published maximum log-likelihoods of the ``k``-class model
    (``published[k]["log_likelihood"]``):

    * ``k = 1`` (independence): -2872.230 (UCLA statistical consulting's
      Mplus replication of McCutcheon 1987, Table 3.2);
    * ``k = 2``: -2783.268 (R poLCA's ``gss82`` help page; the same in the
      UCLA Mplus replication);
    * ``k = 3``: -2754.545, class shares 0.621 / 0.172 / 0.207 with the
      classes ordered by decreasing ``P(UNDERSTA = Good)`` (poLCA's help
      page; poLCA user's manual, section 5.7, Table 1, which also lists the
      local maxima -2755.617, -2755.739, -2762.005 and -2762.231);
    * ``k = 4``: -2746.621 (poLCA's help page). Four classes are not
      identified by four items with 3, 2, 2 and 3 levels; fit them with
      ``allow_unidentified=True``.

    Examples
    --------
    >>> from kmix import ProductMixture
    >>> from kmix.datasets import gss82
    >>> data = gss82()
    >>> int(data.counts.sum()), data.patterns.shape
    (1202, (33, 4))
    >>> model = ProductMixture(2, random_state=0).fit(data.patterns, sample_weight=data.counts)
    >>> round(model.log_likelihood_, 3) == data.published[2]["log_likelihood"]
    True

    References: A. L. McCutcheon, *Latent Class Analysis*, Sage, 1987
    (Table 3.1, p. 30); D. A. Linzer and J. B. Lewis, "poLCA: an R package
    for polytomous variable latent class analysis", J. Stat. Softw. 42(10),
    2011. Sources: ``kmix/datasets/data/SOURCES.md``.
    """
    header, cells = _table("gss82.csv")
    columns = header[:-1]
    levels = [list(GSS82_LEVELS[c]) for c in columns]
    patterns = _codes(cells[:, :-1], levels, columns, "gss82.csv")
    counts = cells[:, -1].astype(np.float64)
    published: dict[int, dict[str, Any]] = {
        1: {"log_likelihood": -2872.230},
        2: {"log_likelihood": -2783.268},
        3: {"log_likelihood": -2754.545, "weights": [0.621, 0.172, 0.207]},
        4: {"log_likelihood": -2746.621},
    }
    citation = "1982 General Social Survey; McCutcheon (1987), Table 3.1"
    return SurveyData(patterns, counts, columns, published, citation, levels)


#: How well a trait describes the candidate (the twelve ``election`` items), code 0 first.
ELECTION_LEVELS: tuple[str, ...] = (
    "Extremely well",
    "Quite well",
    "Not too well",
    "Not well at all",
)

#: The twelve trait items of ``election``: moral, caring, knowledgeable, good leader,
#: dishonest, intelligent; ``G`` for Al Gore, ``B`` for George W. Bush.
ELECTION_ITEMS: tuple[str, ...] = tuple(
    trait + who
    for who in ("G", "B")
    for trait in ("MORAL", "CARES", "KNOW", "LEAD", "DISHON", "INTEL")
)


def election() -> SurveyRows:
    """The 2000 American National Election Study as shipped with R's poLCA: 1,785 respondents.

    Twelve items ask how well a trait (moral, caring, knowledgeable, good
    leader, dishonest, intelligent) describes Al Gore (``MORALG`` ..
    ``INTELG``) and George W. Bush (``MORALB`` .. ``INTELB``); answers are
    coded 0 = Extremely well, 1 = Quite well, 2 = Not too well, 3 = Not
    well at all (poLCA's codes 1 .. 4), NaN where not answered. 1,311
    respondents answered all twelve; 474 skipped at least one.

    Covariates, as recorded (NaN where missing): ``VOTE3`` (1 Gore, 2 Bush,
    3 other; when asked), ``AGE`` (years), ``EDUC`` (1 = 8 grades or
    less .. 7 = advanced degree), ``GENDER`` (1 male, 2 female), ``PARTY``
    (1 = strong Democrat .. 7 = strong Republican).

    Published maximum log-likelihoods (R poLCA's ``election`` and ``poLCA``
    help pages, and the script of the poLCA user's manual, section 6.2):

    * without covariates, on the 1,311 complete rows (poLCA's default
      ``na.rm=TRUE`` drops the others): -18647.31 (``k = 1``), -17344.92
      (``k = 2``), -16714.66 (``k = 3``);
    * three classes whose shares follow a multinomial logit in ``PARTY``:
      -16222.32; in ``PARTY``, ``AGE`` and their product: -16135.39. poLCA
      always drops rows with a missing covariate, so these use the complete
      rows with ``PARTY`` recorded (1,300 rows), and with ``PARTY`` and
      ``AGE`` recorded (1,294 rows).

    Examples
    --------
    >>> import numpy as np
    >>> from kmix.datasets import election
    >>> data = election()
    >>> data.items.shape, int(data.complete().sum())
    ((1785, 12), 1311)
    >>> float(np.nanmax(data.items)), data.levels[0][3]
    (3.0, 'Not well at all')

    References: The National Election Studies, *The 2000 National Election
    Study* [dataset], University of Michigan, Center for Political Studies;
    D. A. Linzer and J. B. Lewis, "poLCA: an R package for polytomous variable
    latent class analysis", J. Stat. Softw. 42(10), 2011; K. Bandeen-Roche,
    D. L. Miglioretti, S. L. Zeger and P. J. Rathouz, "Latent variable
    regression for multiple discrete outcomes", JASA 92(440), 1997. Sources:
    ``kmix/datasets/data/SOURCES.md``.
    """
    header, cells = _table("election.csv")
    n_items = len(ELECTION_ITEMS)
    if tuple(header[:n_items]) != ELECTION_ITEMS:
        raise DataError(
            f"election.csv: the first {n_items} columns are {header[:n_items]}, not "
            f"{list(ELECTION_ITEMS)}; the bundled file does not match its loader"
        )
    values = np.where(cells == "", "nan", cells).astype(np.float64)
    items = values[:, :n_items] - 1.0  # poLCA codes 1..4 -> 0..3
    bad = ~np.isnan(items) & ~np.isin(items, np.arange(len(ELECTION_LEVELS)))
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise DataError(
            f"election.csv: row {i + 1}, column {header[j]!r} holds code "
            f"{cells[i, j]!r}; the items take codes 1 .. {len(ELECTION_LEVELS)} or an empty cell"
        )
    published: dict[int, dict[str, Any]] = {
        1: {"log_likelihood": -18647.31},
        2: {"log_likelihood": -17344.92},
        3: {"log_likelihood": -16714.66},
    }
    # coefficients and standard errors as printed in the poLCA user's manual v1.4 (classes by
    # decreasing share: 1 neutral, the reference; 2 favours Bush; 3 favours Gore)
    covariate_models: dict[str, dict[str, Any]] = {
        "PARTY": {
            "n_components": 3,
            "log_likelihood": -16222.32,
            "terms": ["(Intercept)", "PARTY"],
            "coefficients": [[-3.81813, 0.79327], [1.16155, -0.57436]],
            "std_errors": [[0.31109, 0.06232], [0.17989, 0.06401]],
        },
        "PARTY*AGE": {
            "n_components": 3,
            "log_likelihood": -16135.39,
            "terms": ["(Intercept)", "PARTY", "AGE", "PARTY:AGE"],
            "coefficients": [
                [-4.39452, 0.80682, 0.01314, -0.00020],
                [-0.31445, -0.39923, 0.02967, -0.00310],
            ],
            "std_errors": [
                [0.85423, 0.17614, 0.01772, 0.00363],
                [0.56324, 0.19990, 0.01121, 0.00398],
            ],
        },
    }
    return SurveyRows(
        items=items,
        item_names=list(ELECTION_ITEMS),
        levels=[list(ELECTION_LEVELS) for _ in ELECTION_ITEMS],
        covariates=values[:, n_items:],
        covariate_names=header[n_items:],
        published=published,
        published_covariate_models=covariate_models,
        citation="2000 American National Election Study (R poLCA's election)",
    )

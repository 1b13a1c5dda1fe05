"""Fit statistics of a fitted mixture, and the bootstrap likelihood-ratio test of k - 1 vs k.

Information criteria, goodness of fit and entropy R-squared as poLCA and StepMix
define them (:func:`fit_statistics`); McLachlan's parametric bootstrap test of the
number of classes (:func:`blrt`). Both use an estimator's public methods and fitted
attributes only (``score_samples``, ``predict_proba``, ``sample``, ``categories_``, ...).
"""

from __future__ import annotations

import copy
import logging
import math
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import xlogy
from sklearn.base import clone

from ..exceptions import DataError, KmixError
from ..stats import compress_rows
from ._checks import (
    check_fitted,
    check_int,
    check_sample_weight,
    encode_categories,
    missing_cells,
    rng_from,
)

__all__ = ["BLRTResult", "FitStatistics", "blrt", "fit_statistics"]

FloatArray = NDArray[np.float64]
logger = logging.getLogger("kmix")


@dataclass(frozen=True)
class FitStatistics:
    r"""Fit statistics of a fitted mixture on a data set.

    ``N`` is the total frequency weight of the rows scored, ``p`` the number
    of free parameters and ``log L`` the log-likelihood.

    Attributes
    ----------
    log_likelihood : float
        :math:`\log L = \sum_i w_i \log P(x_i)` over every row the model
        scores (rows with missing values included when the model scores them).
    n_parameters : int
        ``p``, the model's free parameters (``model.n_parameters()``); for a
        latent class model :math:`(k - 1) + k \sum_j (d_j - 1)`, poLCA's ``npar``.
    n_samples : float
        ``N``: total weight of the rows in ``log_likelihood``.
    aic : float
        :math:`-2 \log L + 2 p` (Akaike 1974).
    bic : float
        :math:`-2 \log L + p \log N` (Schwarz 1978).
    sabic : float
        :math:`-2 \log L + p \log((N + 2) / 24)`: Sclove's (1987) sample-size
        adjusted BIC, as Mplus prints it. (StepMix's ``sabic`` puts an extra
        factor ``N`` inside the logarithm, :math:`\log(N (N + 2) / 24)`.)
    caic : float
        :math:`-2 \log L + p (\log N + 1)`: consistent AIC (Bozdogan 1987).
    g_squared : float
        Likelihood-ratio (deviance) statistic against the saturated table,
        :math:`G^2 = 2 \sum_s n_s \log(n_s / \hat e_s)` over the observed
        patterns ``s`` of the complete rows, :math:`\hat e_s = N_c P(s)`
        (poLCA's ``Gsq``). NaN when the data do not form a finite table
        (poisson and gaussian components).
    chi_squared : float
        Pearson's statistic over every cell of the table,
        :math:`X^2 = \sum_s (n_s - \hat e_s)^2 / \hat e_s + (N_c - \sum_s \hat e_s)`:
        the last term is the sum of :math:`\hat e_c` over the cells never
        observed (poLCA's ``Chisq``). NaN without a finite table.
    df : float
        Residual degrees of freedom :math:`\min(N_c, C - 1) - p` (poLCA's
        ``resid.df``); NaN without a finite table.
    n_cells : int or None
        ``C``, the cells of the table: :math:`\prod_j d_j` levels
        (``categories_``), :math:`2^d` for bernoulli, :math:`(t + 1)^d` for
        ``t`` binomial trials; None without a finite table.
    entropy_r2 : float
        Entropy R-squared (relative entropy) of the posterior classification,
        :math:`1 - E / (N \log k)` with
        :math:`E = -\sum_i w_i \sum_u \tau_{iu} \log \tau_{iu}` (Ramaswamy,
        DeSarbo, Reibstein & Robinson 1993; StepMix's ``relative_entropy``):
        1 when every row is assigned with certainty, 0 when every posterior
        equals ``1/k``. NaN for one class.
    n_components : int
        ``k``, the fitted classes.
    entropy : float
        ``E`` above (nats).
    n_patterns : int
        Distinct patterns among the complete rows (poLCA's ``predcell`` rows).
    n_samples_table : float
        :math:`N_c`: total weight of the complete rows, the table's sample size.
    n_rows_scored : int
        Rows (of positive weight) in ``log_likelihood`` and ``entropy_r2``.
    n_rows_excluded : int
        Rows with a missing value (NaN, None), left out of ``g_squared``,
        ``chi_squared`` and ``df``.

    Notes
    -----
    When rows are grouped by a number of binomial trials that varies from row
    to row (``n_trials=`` per row, or a ``(heads, trials)`` table), each group
    is its own multinomial table: :math:`\hat e_s = N_g P(s)`, ``C`` sums the
    groups' cells and ``df`` is :math:`\sum_g \min(N_g, C_g - 1) - p`.
    """

    log_likelihood: float
    n_parameters: int
    n_samples: float
    aic: float
    bic: float
    sabic: float
    caic: float
    g_squared: float
    chi_squared: float
    df: float
    n_cells: int | None
    entropy_r2: float
    n_components: int
    entropy: float
    n_patterns: int
    n_samples_table: float
    n_rows_scored: int
    n_rows_excluded: int

    def as_dict(self) -> dict[str, Any]:
        """Every field by name (plain Python numbers)."""
        return asdict(self)


@dataclass(frozen=True, eq=False)
class BLRTResult:
    r"""Bootstrap likelihood-ratio test of ``k - 1`` against ``k`` classes.

    Attributes
    ----------
    statistic : float
        :math:`LR = 2 (\log L_k - \log L_{k-1})` on the data.
    p_value : float
        :math:`(1 + \#\{b : LR_b \ge LR\}) / (B + 1)` (Davison & Hinkley
        1997, eq. 4.11): the share of data sets drawn from the fitted
        ``(k - 1)``-class model whose statistic is at least the observed one.
    n_boot : int
        ``B``, the bootstrap data sets.
    statistics : ndarray of shape (n_boot,)
        :math:`LR_b` of every data set, in the order drawn.
    n_components : int
        ``k`` (the alternative); the null has ``k - 1`` classes.
    log_likelihood_null, log_likelihood_alt : float
        :math:`\log L_{k-1}` and :math:`\log L_k` on the data.
    null_model : estimator
        The ``(k - 1)``-class model fitted to the data, the sampler of the
        bootstrap.
    n_warned : int
        Data sets whose fits raised a warning (convergence, near-duplicate
        classes); the messages go to the ``kmix`` logger at DEBUG level.
    n_failed : int
        Data sets drawn again because a fit refused them (a kmix error, such
        as a level the draw missed), logged at WARNING level; ``B`` such
        failures end the test with an error.
    """

    statistic: float
    p_value: float
    n_boot: int
    statistics: FloatArray
    n_components: int
    log_likelihood_null: float
    log_likelihood_alt: float
    null_model: Any
    n_warned: int
    n_failed: int


# ------------------------------------------------------------------- the data
def _as_table(X: Any) -> NDArray[Any]:
    """A 2-d array of ``X``'s cells (DataFrame, mapping of columns, array; 1-d -> one column)."""
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):
        arr = np.asarray(X.to_numpy())
    elif isinstance(X, Mapping):
        cols = [np.asarray(v) for v in X.values()]
        if len({c.dtype for c in cols}) > 1:  # np.stack would turn numbers into text
            cols = [c.astype(object) for c in cols]
        arr = np.stack(cols, axis=1)
    else:
        arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataError(f"X must be a 2-d table (or 1-d counts); got shape {arr.shape}")
    return arr


def _take(X: Any, data: dict[str, Any], rows: NDArray[np.intp]) -> tuple[Any, dict[str, Any]]:
    """The rows ``rows`` of ``X`` in its own form, and of a per-row ``n_trials``."""
    t, out = data.get("n_trials"), dict(data)
    if t is not None and np.ndim(t) >= 1:
        out["n_trials"] = np.asarray(t)[rows]
    if hasattr(X, "iloc"):
        return X.iloc[rows], out
    if isinstance(X, Mapping):
        return {k: np.asarray(v)[rows] for k, v in X.items()}, out
    return np.asarray(X)[rows], out


def _table_kind(model: Any) -> str | None:
    """Which finite table the model's data live in (None: not a finite table)."""
    family = getattr(model, "family_", None)
    if family is not None:  # FiniteMixture
        name = str(family.name)
        return name if name in ("bernoulli", "categorical", "binomial") else None
    if hasattr(model, "biases_"):  # CoinMixture: head counts of a number of flips
        return "coins"
    if hasattr(model, "categories_"):  # ProductMixture, BayesNetMixture
        return "categorical"
    return None


def _trials(model: Any, arr: NDArray[Any], data: dict[str, Any]) -> FloatArray:
    """Binomial trials of every row: ``n_trials=``, the model's option, or the table's column."""
    given = data.get("n_trials")
    if given is None:
        given = model.get_params().get("n_trials")
    if given is None:
        if arr.shape[1] != 2:
            raise DataError(
                "the number of trials of each row is unknown: pass n_trials=, or X as a "
                "(heads, trials) table"
            )
        given = arr[:, 1]
    return np.broadcast_to(np.asarray(given, dtype=np.float64), (arr.shape[0],))


def _n_cells(model: Any, kind: str, trials: float) -> int:
    """Cells of the table (of one stratum of ``trials`` binomial trials)."""
    if kind == "bernoulli":
        return int(2 ** int(model.n_features_in_))
    if kind == "categorical":
        cats = model.categories_
        levels = cats.values() if isinstance(cats, Mapping) else cats
        return math.prod(len(c) for c in levels)
    d = 1 if kind == "coins" else int(model.n_features_in_)
    return int((round(trials) + 1) ** d)


@dataclass(frozen=True)
class _Scored:
    """Rows of positive weight scored by the model, and which of them are complete."""

    rows: NDArray[np.intp]  # positions in X of the rows scored
    log_prob: FloatArray  # log P(x) of each
    weights: FloatArray  # their frequency weights
    complete: NDArray[np.bool_]  # which of them have no missing value
    n_incomplete: int  # rows of positive weight with a missing value (scored or not)


def _score(
    model: Any, X: Any, arr: NDArray[Any], w: FloatArray | None, data: dict[str, Any]
) -> tuple[_Scored, Any, dict[str, Any]]:
    """Score every row of positive weight; rows with missing values if the model can.

    Returns the scored rows, and ``X`` and ``data`` restricted to them.
    """
    n = arr.shape[0]
    weights = np.ones(n) if w is None else w
    incomplete: NDArray[np.bool_] = np.asarray(missing_cells(arr, infinite=False).any(axis=1))
    rows = np.flatnonzero(weights > 0)
    n_incomplete = int(incomplete[rows].sum())
    X_use, data_use = X, data
    if rows.shape[0] < n:
        X_use, data_use = _take(X, data, rows)
    try:
        log_prob = np.asarray(model.score_samples(X_use, **data_use), dtype=np.float64)
    except DataError:
        if not n_incomplete:
            raise
        log_prob = np.empty(0)
    if log_prob.shape[0] != rows.shape[0]:
        # the model refuses (or leaves out) rows with missing values: so does the likelihood
        if not n_incomplete:
            raise DataError(
                f"score_samples gave {log_prob.shape[0]} values for {rows.shape[0]} rows"
            )
        rows = rows[~incomplete[rows]]
        X_use, data_use = _take(X, data, rows)
        log_prob = np.asarray(model.score_samples(X_use, **data_use), dtype=np.float64)
        warnings.warn(
            f"{type(model).__name__} does not score rows with missing values: the "
            f"log-likelihood and the information criteria leave out those {n_incomplete} "
            "row(s), as the table statistics do",
            UserWarning,
            stacklevel=3,
        )
    scored = _Scored(rows, log_prob, weights[rows], ~incomplete[rows], n_incomplete)
    return scored, X_use, data_use


def _codes(arr: NDArray[Any]) -> FloatArray:
    """Integer codes of every column (numbers as they are; labels by their sorted order)."""
    if arr.dtype.kind in "biuf":
        return np.asarray(arr, dtype=np.float64)
    return encode_categories(arr, None)[0]


def _table_statistics(
    model: Any, kind: str, arr: NDArray[Any], scored: _Scored, data: dict[str, Any]
) -> tuple[float, float, float, int, int, float]:
    """``(G^2, X^2, saturated df, cells, patterns, N_c)`` over the complete scored rows."""
    keep = scored.complete
    rows = scored.rows[keep]
    key = _codes(arr[rows])
    trials = None
    if kind in ("binomial", "coins"):
        trials = _trials(model, arr, data)[rows]
        key = np.column_stack([key, trials])
    values, counts, inverse = compress_rows(key, scored.weights[keep])
    log_p = np.empty(values.shape[0])
    log_p[inverse] = scored.log_prob[keep]  # every row of a pattern has its probability
    strata = np.zeros(values.shape[0], dtype=np.intp)
    levels = [0.0]  # one table, or one per number of trials
    if trials is not None:
        t_pattern = np.empty(values.shape[0])
        t_pattern[inverse] = trials
        distinct, strata = np.unique(t_pattern, return_inverse=True)
        levels = [float(t) for t in distinct]
    n_stratum = np.bincount(strata, weights=counts, minlength=len(levels))
    cells = [_n_cells(model, kind, t) for t in levels]
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_expected = np.log(n_stratum[strata]) + log_p
        expected = np.exp(log_expected)
        g2 = 2.0 * float(np.sum(counts * (np.log(counts) - log_expected)))
        total = float(counts.sum())
        x2 = float(np.sum((counts - expected) ** 2 / expected)) + (total - float(expected.sum()))
    saturated = sum(min(float(ng), c - 1) for ng, c in zip(n_stratum.tolist(), cells, strict=True))
    return g2, x2, float(saturated), sum(cells), int(values.shape[0]), total


# -------------------------------------------------------------- fit statistics
def fit_statistics(
    model: Any, X: Any, *, sample_weight: ArrayLike | None = None, **data: Any
) -> FitStatistics:
    r"""Information criteria, goodness of fit against the saturated table, entropy R-squared.

    Every statistic is defined as poLCA (Linzer & Lewis, "poLCA: an R
    package for polytomous variable latent class analysis", J. Stat. Softw.
    42(10), 2011) and StepMix (Morin, Legault, Bakk, Giguère, de la
    Sablonnière & Lacourse, "StepMix: a Python package for pseudo-likelihood
    estimation of generalized mixture models with external variables",
    J. Stat. Softw., 2025; arXiv:2304.03853) define it (each field of
    :class:`FitStatistics` gives its formula):

    .. math::

        G^2 = 2 \sum_s n_s \log\frac{n_s}{N_c P(s)}, \quad
        \mathrm{BIC} = -2 \log L + p \log N, \quad
        R^2_{\mathrm{entropy}} = 1 - \frac{E}{N \log k}.

    References: H. Akaike, "A new look at the statistical model
    identification", IEEE Trans. Automatic Control 19(6), 1974; G. Schwarz,
    "Estimating the dimension of a model", Ann. Statist. 6(2), 1978; S. L.
    Sclove, "Application of model-selection criteria to some problems in
    multivariate analysis", Psychometrika 52(3), 1987; H. Bozdogan, "Model
    selection and Akaike's information criterion (AIC): the general theory
    and its analytical extensions", Psychometrika 52(3), 1987; V. Ramaswamy,
    W. S. DeSarbo, D. J. Reibstein and W. T. Robinson, "An empirical pooling
    approach for estimating marketing mix elasticities with PIMS data",
    Marketing Science 12(1), 1993.

    Parameters
    ----------
    model : fitted kmix estimator
        Any estimator with ``score_samples``, ``predict_proba``,
        ``n_parameters()`` and ``weights_``.
    X : array-like, DataFrame or mapping of columns
        The data, in the form the model's ``score_samples`` takes.
    sample_weight : array-like of shape (n_samples,), optional
        Frequency weights (counts of identical rows); rows of weight 0 are
        left out.
    **data
        The model's data keywords (``n_trials=``, ``columns=``).

    Returns
    -------
    FitStatistics

    Notes
    -----
    Rows with a missing value (NaN, None) enter the log-likelihood, the
    criteria and the entropy if the model scores them (full-information
    maximum likelihood); else they are left out of those too, with a warning.
    The table statistics always use the complete rows only, as poLCA does
    (its ``Nobs``); ``n_rows_excluded`` counts the others. Poisson and
    gaussian data form no finite table: ``g_squared``, ``chi_squared`` and
    ``df`` are NaN and ``n_cells`` is None.

    Examples
    --------
    The three-class model of the carcinoma ratings: poLCA prints G^2 =
    15.26171, X^2 = 20.50336 and 95 residual degrees of freedom.

    >>> from kmix import ProductMixture, fit_statistics
    >>> from kmix.datasets import carcinoma
    >>> data = carcinoma()
    >>> model = ProductMixture(3, random_state=0).fit(data.patterns, sample_weight=data.counts)
    >>> stats = fit_statistics(model, data.patterns, sample_weight=data.counts)
    >>> round(stats.g_squared, 5), round(stats.chi_squared, 5), stats.df, stats.n_parameters
    (15.26171, 20.50336, 95.0, 23)
    """
    check_fitted(model, "weights_")
    arr = _as_table(X)
    w = check_sample_weight(sample_weight, arr.shape[0])
    scored, X_used, data_used = _score(model, X, arr, w, data)
    p = int(model.n_parameters())
    k = int(np.asarray(model.weights_).shape[0])
    n = float(scored.weights.sum())
    ll = float(scored.weights @ scored.log_prob)
    tau = np.asarray(model.predict_proba(X_used, **data_used), dtype=np.float64)
    entropy = -float(scored.weights @ xlogy(tau, tau).sum(axis=1))
    r2 = 1.0 - entropy / (n * math.log(k)) if k > 1 else math.nan
    kind = _table_kind(model)
    g2 = x2 = saturated = n_table = math.nan
    cells: int | None = None
    n_patterns = 0
    if kind is not None and scored.complete.any():
        g2, x2, saturated, cells, n_patterns, n_table = _table_statistics(
            model, kind, arr, scored, data
        )
    return FitStatistics(
        log_likelihood=ll,
        n_parameters=p,
        n_samples=n,
        aic=-2.0 * ll + 2.0 * p,
        bic=-2.0 * ll + p * math.log(n),
        sabic=-2.0 * ll + p * math.log((n + 2.0) / 24.0),
        caic=-2.0 * ll + p * (math.log(n) + 1.0),
        g_squared=g2,
        chi_squared=x2,
        df=saturated - p,
        n_cells=cells,
        entropy_r2=r2,
        n_components=k,
        entropy=entropy,
        n_patterns=n_patterns,
        n_samples_table=n_table,
        n_rows_scored=int(scored.rows.shape[0]),
        n_rows_excluded=scored.n_incomplete,
    )


# ------------------------------------------------------------------------ BLRT
def _replicate_inputs(
    model: Any, arr: NDArray[Any], rows: NDArray[np.intp], weighted: bool, data: dict[str, Any]
) -> dict[str, Any]:
    """Data keywords of ``sample`` and ``fit`` on a bootstrap data set: its rows' trials."""
    kind = _table_kind(model)
    if kind != "coins" and data.get("n_trials") is None:
        return {}
    t = _trials(model, arr, data)[rows]
    if np.all(t == t[0]):
        return {"n_trials": int(t[0])}  # one number of trials for every row
    if weighted:
        raise DataError(
            "blrt redraws the data with each row's number of trials, which needs one row per "
            "observation: repeat the rows instead of passing sample_weight with per-row "
            "n_trials"
        )
    return {"n_trials": t.astype(np.int64)}


def blrt(
    model: Any,
    X: Any,
    *,
    n_boot: int = 99,
    sample_weight: ArrayLike | None = None,
    random_state: Any = None,
    **data: Any,
) -> BLRTResult:
    r"""Parametric bootstrap likelihood-ratio test of ``k - 1`` against ``k`` classes.

    :math:`LR = 2 (\log L_k - \log L_{k-1})` of nested mixtures has no
    chi-squared limit (the null lies on the boundary of the parameter space),
    so its null distribution is bootstrapped (McLachlan 1987): the
    ``(k - 1)``-class fit draws ``B`` data sets of the data's size, both
    models are refitted to each, and
    :math:`p = (1 + \#\{b : LR_b \ge LR\}) / (B + 1)`. Nylund, Asparouhov &
    Muthén (2007) found it the most reliable indicator of the number of
    latent classes in their simulations.

    References: G. J. McLachlan, "On bootstrapping the likelihood ratio test
    statistic for the number of components in a normal mixture", Applied
    Statistics 36(3), 1987; K. L. Nylund, T. Asparouhov and B. O. Muthén,
    "Deciding on the number of classes in latent class analysis and growth
    mixture modeling: a Monte Carlo simulation study", Structural Equation
    Modeling 14(4), 2007; A. C. Davison and D. V. Hinkley, *Bootstrap
    Methods and their Application*, 1997, section 4.2 (the Monte Carlo
    p-value).

    Parameters
    ----------
    model : fitted kmix estimator with ``n_components = k >= 2``
        The alternative; the null is ``clone(model)`` with
        ``n_components = k - 1`` and the same settings. It needs ``sample``
        (every kmix estimator has it).
    X : array-like, DataFrame or mapping of columns
        The data ``model`` was fitted to.
    n_boot : int, default 99
        ``B``, bootstrap data sets (the p-value lies on the grid ``1 / (B + 1)``).
    sample_weight : array-like, optional
        Frequency weights (counts of identical rows): the bootstrap data
        sets have :math:`\sum_i w_i` rows, which must be a whole number.
    random_state : None, int or numpy Generator
        Seeds every fit and draw (one Generator draws them all); default
        the model's ``random_state``.
    **data
        The model's data keywords (``n_trials=``, ``columns=``).

    Returns
    -------
    BLRTResult

    Notes
    -----
    Each data set costs two fits and logs one INFO line (logger ``kmix``);
    warnings of these fits (near-duplicate classes are common) are counted,
    not shown. The data sets drawn are complete: rows with missing values in
    ``X`` count towards their size, their missingness is not redrawn.
    """
    if not callable(getattr(model, "sample", None)):
        raise DataError(
            f"{type(model).__name__} has no sample method: the bootstrap likelihood-ratio "
            "test draws its data sets from the fitted (k - 1)-class model"
        )
    check_fitted(model, "weights_")
    n_boot = check_int(n_boot, "n_boot", low=1)
    params = model.get_params()
    k = check_int(params["n_components"], "n_components", low=1)
    if k < 2:
        raise DataError(
            f"blrt tests k - 1 against k = n_components classes, so it needs "
            f"n_components >= 2; got {k}. Fit the model with more classes"
        )
    rng = rng_from(params.get("random_state") if random_state is None else random_state)
    arr = _as_table(X)
    w = check_sample_weight(sample_weight, arr.shape[0])
    scored, X_used, data_used = _score(model, X, arr, w, data)
    n_total = float(scored.weights.sum())
    n_draw = round(n_total)
    if n_draw < 2 or abs(n_total - n_draw) > 1e-6 * n_total:
        raise DataError(
            f"blrt draws data sets of the data's size, the total of sample_weight, which is "
            f"{n_total:g}: pass frequency weights (whole counts of identical rows)"
        )
    ll_alt = float(scored.weights @ scored.log_prob)
    null = clone(model).set_params(n_components=k - 1, random_state=int(rng.integers(2**31)))
    null.fit(X, sample_weight=sample_weight, **data)
    ll_null = float(scored.weights @ null.score_samples(X_used, **data_used))
    observed = 2.0 * (ll_alt - ll_null)
    kw = _replicate_inputs(model, arr, scored.rows, w is not None, data)
    draw_from = copy.deepcopy(null)  # the null's parameters, with a seed of its own per draw
    stats: list[float] = []
    n_warned = n_failed = 0
    tag = f"BLRT {k - 1} vs {k} classes (observed LR = {observed:.4f})"
    while len(stats) < n_boot:
        s_draw, s_null, s_alt = rng.integers(2**31, size=3).tolist()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Xb = draw_from.set_params(random_state=s_draw).sample(n_draw, **kw)[0]
            try:
                fit0 = clone(null).set_params(random_state=s_null).fit(Xb, **kw)
                fit1 = clone(model).set_params(random_state=s_alt).fit(Xb, **kw)
            except KmixError as exc:  # e.g. a level that the draw missed: draw again
                n_failed += 1
                logger.warning("%s: a fit failed on a data set, drawn again: %s", tag, exc)
                if n_failed > n_boot:
                    raise DataError(f"blrt: fits failed on {n_failed} data sets: {exc}") from exc
                continue
            lr = float(np.sum(fit1.score_samples(Xb, **kw) - fit0.score_samples(Xb, **kw)))
        stats.append(2.0 * lr)
        if caught:
            n_warned += 1
            for msg in {str(c.message) for c in caught}:
                logger.debug("%s, data set %d: %s", tag, len(stats), msg)
        logger.info("%s, data set %d/%d: LR = %.4f", tag, len(stats), n_boot, stats[-1])
    boot = np.asarray(stats)
    p_value = (1.0 + float(np.sum(boot >= observed))) / (n_boot + 1.0)
    return BLRTResult(observed, p_value, n_boot, boot, k, ll_null, ll_alt, null, n_warned, n_failed)

"""``BayesNetMixture``: a mixture of Bayesian networks on a known DAG, and its causal queries."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..causal import effects
from ..causal.dag_input import as_dag, check_dag_columns
from ..exceptions import ConvergenceWarning, DataError
from ..options import choose
from ..params.bayesnet import BayesNetMixtureParams
from ..solvers.bayesnet import inference
from ..solvers.bayesnet.design import compress_coded, log_prob_observed
from ..solvers.bayesnet.fit import fit_bayesnet_mixture
from ..solvers.em.loop import log_mixture
from ._base import MixtureEstimator
from ._bayesnet_input import code_nodes, read_table
from ._bootstrap import BayesNetBootstrap, bootstrap_bayesnet
from ._checks import check_fitted, check_int, check_real, check_sample_weight, rng_from
from ._pgmpy import source_network
from ._sources import source_rows

__all__ = ["BayesNetMixture"]

FloatArray = NDArray[np.float64]


class BayesNetMixture(MixtureEstimator):
    """Mixture of discrete Bayesian networks on a known DAG, with a hidden source ``U``.

    ``P(v) = sum_u pi_u prod_V P_u(v_V | pa(V))``: inside each source the
    variables follow the DAG; the source label is hidden and points at every
    node, so it confounds every causal relation. ``fit`` starts from the
    reduction to latent class models (runs of k-MixProd on conditioned
    strata, source alignment, Bayesian unzipping;
    :func:`kmix.solvers.bayesnet.reduction.fit_bayesnet_reduction`) and climbs to the
    maximum-likelihood estimate by accelerated EM over the whole mixture
    (:func:`kmix.solvers.bayesnet.em.em_bayesnet_mixture`). With ``P(U)`` and every
    source's CPTs known, interventional queries are computed by the
    truncated factorisation summed over ``U`` (Pearl, *Causality*, 2009).

    Parameters
    ----------
    dag : DAG, networkx DiGraph, pgmpy model, edge-list text, pairs or path
        The known graph over the observed variables (see
        :func:`kmix.causal.as_dag`); ``U`` is implicit.
    n_components : int, default 2
        Number of sources ``k``.
    init : {"reduction", "random"}, default "reduction"
        EM start: the reduction, or random CPTs only. Where the DAG is too
        dense for the reduction's runs, EM starts from random CPTs (at least
        ten starts) once the Jacobian rank has certified that the sources are
        identified.
    n_init : int, default 1
        EM starts in all: the reduction's first (with ``init="reduction"``),
        then random CPTs; the highest likelihood wins.
    tol, max_iter : float, int
        EM stopping rule (relative gain of one EM map) and cap.
    alpha : float, default 1
        Concentration of a symmetric Dirichlet prior on every CPT row in EM
        (1: maximum likelihood; ``1 + c`` adds ``c`` pseudo-counts per cell).
    min_run_size : float, optional
        Leave out runs (conditioned strata) with fewer rows than this; by
        default only empty ones.
    refine_runs : bool, default True
        Refine each run's moment solution by EM before the runs are aligned.
    missing : {"fiml", "drop", "error"}, default "fiml"
        Rows with missing values (NaN, None, ``pd.NA``, empty strings).
        ``"fiml"``: full-information maximum likelihood, every row counts
        with ``log P(x_obs)``, its missing values summed out; ``"drop"``:
        listwise deletion; ``"error"``: refuse them. Complete data take the
        same path under all three. See Notes.
    ignore_extra_columns : bool, default False
        Data columns that are not DAG nodes: an error, or (True) left out with a warning.
    latent_name : str, default "U"
        Name reserved for the hidden source; no node may carry it.
    random_state : None, int or numpy Generator

    Attributes
    ----------
    dag_ : kmix.params.DAG
    columns_ : list of str
        Node names in ``dag_.nodes`` order (the order of every array below).
    columns_in_ : list of str
        The columns of the data given to ``fit``, in its order (``x0, x1,
        ...`` for an array without ``columns``); a later array without
        names is read in this order, as scikit-learn reads arrays.
    n_features_in_ : int
    categories_ : dict of str to ndarray
        Levels of each node, in code order.
    params_ : BayesNetMixtureParams
        Sources ordered by weight, largest first.
    weights_ : ndarray of shape (k,)
    cpds_ : dict of str to ndarray
        ``cpds_[v][u, pa..., x] = P_u(v = x | PA(v) = pa)`` (parents in
        ``dag_.parents[v]`` order, levels in ``categories_`` order).
    reduction_ : BayesNetReduction or None
        The reduction's runs, CPT support and alignment diagnostics.
    identifiability_ : str
        How the sources are identified: by the reduction's runs (a sufficient
        condition), or, where the DAG leaves some node without a run (or with
        ``init="random"``), the verdict of the Jacobian rank certificate with
        its numerical rank (:func:`kmix.solvers.bayesnet.certificate.identify_bayesnet`).
        A mixture proved not identified is refused.
    cpt_identifiability_ : dict of str to str
        Per node, how its CPT is identified (``"runs"``, runs with some parent
        rows left to EM, ``"generic (Jacobian rank)"`` or ``"not certified"``).
    log_likelihood_, converged_, n_iter_ : of the winning EM run.
    log_likelihood_history_ : ndarray
        Total log-likelihood at the start of every SQUAREM cycle of the EM run
        kept (a split move's, when one climbed higher), then at its end:
        ``n_iter_ // 3 + 1`` entries, the last ``log_likelihood_``. EM never
        lowers it with ``alpha=1``; with ``alpha > 1`` EM ascends the
        log-posterior (this plus the Dirichlet log-prior), and it may dip.
    n_samples_ : float
        Total weight of the rows.
    n_rows_ : int
        Rows fitted (positive weight); the bootstrap redraws this many.
    n_missing_ : dict of str to int
        Rows (of positive weight) missing each node, before any was dropped.
    n_rows_dropped_ : int
        Rows left out: with a missing value (``"drop"``), or with every node
        missing (``"fiml"``; they carry no information, and one warning says so).

    Notes
    -----
    With ``missing="fiml"`` the fit maximises the likelihood of what each
    row shows, ``sum_s log sum_u pi_u P_u(x_obs,s)`` (Little & Rubin,
    *Statistical Analysis with Missing Data*, 2nd ed., 2002). That is the
    maximum-likelihood estimate when values are missing at random (MAR):
    whether a value is missing may depend on the observed values of the
    row, not on the missing value itself nor on ``U`` beyond what the
    observed values tell. The reduction's runs each use the rows observed
    on their stratum and members, which is consistent when values are
    missing completely at random (MCAR) and is otherwise only EM's start;
    EM then works on every row's observed part (Lauritzen, "The EM
    algorithm for graphical association models with missing data",
    Comput. Stat. Data Anal. 19, 1995): a missing node without an observed
    descendant drops out, the other missing nodes of a row are enumerated
    when they have at most ``MAX_COMPLETIONS`` (256) joint configurations
    and summed out by variable elimination beyond
    (:mod:`kmix.solvers.bayesnet.design`). Listwise deletion (``"drop"``) is
    unbiased only under MCAR and wastes the observed values of incomplete
    rows. Scoring (``predict_proba``, ``score_samples``) sums a row's
    missing values out unless ``missing="error"``; interventional queries
    use the fitted CPTs and need no data.

    Examples
    --------
    Two hospitals pooled without their label: severity ``Z`` drives
    treatment ``X`` and outcome ``Y``, and the hospital drives all three.

    >>> from kmix import BayesNetMixture
    >>> from kmix.causal import ate
    >>> from kmix.datasets import HOSPITALS_DAG, two_hospitals
    >>> X, truth = two_hospitals(50_000, random_state=0)
    >>> model = BayesNetMixture(HOSPITALS_DAG, 2, random_state=0)
    >>> model = model.fit(X, columns=list(truth.columns))
    >>> round(model.ate("X", "Y"), 2), round(ate(truth, "X", "Y"), 2)  # fitted, true
    (0.18, 0.18)
    >>> round(model.naive_ate("X", "Y"), 2)  # the confounded contrast
    -0.17

    Rows with missing values count with what they show (``missing="fiml"``):

    >>> import numpy as np
    >>> gaps = X.astype(float)
    >>> gaps[::5, 2] = np.nan  # the outcome of every fifth patient unknown
    >>> model = BayesNetMixture(HOSPITALS_DAG, 2, random_state=0)
    >>> model = model.fit(gaps, columns=list(truth.columns))
    >>> model.n_missing_["Y"], round(model.ate("X", "Y"), 2)
    (10000, 0.18)
    """

    def __init__(
        self,
        dag: Any = None,
        n_components: int = 2,
        *,
        init: str = "reduction",
        n_init: int = 1,
        tol: float = 1e-10,
        max_iter: int = 1000,
        alpha: float = 1.0,
        min_run_size: float | None = None,
        refine_runs: bool = True,
        missing: str = "fiml",
        ignore_extra_columns: bool = False,
        latent_name: str = "U",
        random_state: Any = None,
    ) -> None:
        self.dag = dag
        self.n_components = n_components
        self.init = init
        self.n_init = n_init
        self.tol = tol
        self.max_iter = max_iter
        self.alpha = alpha
        self.min_run_size = min_run_size
        self.refine_runs = refine_runs
        self.missing = missing
        self.ignore_extra_columns = ignore_extra_columns
        self.latent_name = latent_name
        self.random_state = random_state

    categories_: dict[str, NDArray[Any]]
    columns_: list[str]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        try:  # missing values are read unless the option refuses them
            tags.input_tags.allow_nan = choose(self.missing, "BayesNetMixture.missing") != "error"
        except DataError:  # a bad option is refused by fit, with its message
            tags.input_tags.allow_nan = False
        return tags

    # ---------------------------------------------------------------- input
    def _nodes(self, X: Any, columns: Sequence[str] | None, *, reset: bool) -> NDArray[Any]:
        """The DAG's node columns of ``X``, in ``columns_`` order (``fit`` learns the DAG)."""
        arr, names = read_table(X, columns)
        if reset:
            if self.dag is None:
                raise DataError(
                    "BayesNetMixture needs the DAG: pass dag= as 'A -> B' lines, a file, a "
                    "networkx DiGraph, a pgmpy model or (parent, child) pairs"
                )
            if arr.shape[0] < 2:
                raise DataError(
                    f"X has {arr.shape[0]} sample (n_samples={arr.shape[0]}); a mixture needs "
                    "at least 2 rows"
                )
            # scikit-learn's names for unnamed features: a DAG over x0, x1, ... reads arrays
            named = names is not None
            names = names if names is not None else [f"x{j}" for j in range(arr.shape[1])]
            # a DAG given as a function of the column names is built from X's names
            columns = names if callable(self.dag) else None
            dag = as_dag(self.dag, latent_name=self.latent_name, columns=columns)
            if not named and not callable(self.dag) and not set(dag.nodes) <= set(names):
                raise DataError(
                    "X has no column names: pass a DataFrame, a mapping {name: column}, or "
                    "columns=[...] naming its columns as the DAG's nodes"
                )
            self.n_features_in_ = int(arr.shape[1])
            pos = check_dag_columns(
                dag, names, ignore_extra=self.ignore_extra_columns, latent_name=self.latent_name
            )
            self.dag_ = dag
            self.columns_ = list(dag.nodes)
            self.columns_in_ = list(names)
        else:
            if names is None:
                # an array without names is read like the data of fit, column by column
                if arr.shape[1] != self.n_features_in_:
                    raise DataError(
                        f"X has {arr.shape[1]} features, but BayesNetMixture is expecting "
                        f"{self.n_features_in_} features as input (the columns of fit: "
                        f"{self.columns_in_}); pass columns=[...] to name them"
                    )
                names = self.columns_in_
            missing = [v for v in self.columns_ if v not in names]
            if missing:
                raise DataError(f"X lacks the DAG node(s) {missing}")
            pos = tuple(names.index(v) for v in self.columns_)
        return arr[:, list(pos)]

    # ------------------------------------------------------------------ fit
    _data_keywords = ("columns",)

    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        sample_weight: ArrayLike | None = None,
        columns: Sequence[str] | None = None,
    ) -> BayesNetMixture:
        """Fit the mixture to discrete data whose columns are the DAG's nodes.

        Parameters
        ----------
        X : DataFrame, mapping {name: column}, 2-d array, path or source
            One column per DAG node (codes or labels; files and Dask frames are streamed,
            :func:`kmix.data.as_source`); an array's columns are ``columns`` or ``x0, x1, ...``.
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Frequency weights (in-memory data only).
        columns : sequence of str, optional
            Column names of an array ``X``.
        """
        self._check_y(y)
        init = choose(self.init, "BayesNetMixture.init")
        k = check_int(self.n_components, "n_components", low=1)
        n_init = check_int(self.n_init, "n_init", low=1)
        tol = check_real(self.tol, "tol", low=0.0)
        max_iter = check_int(self.max_iter, "max_iter", low=1)
        alpha = check_real(self.alpha, "alpha", low=1.0)
        if self.min_run_size is not None:
            check_real(self.min_run_size, "min_run_size", low=0.0)
        missing = str(choose(self.missing, "BayesNetMixture.missing"))
        rng = rng_from(self.random_state)
        if (streamed := source_rows(X, sample_weight, missing=missing)) is not None:
            X, sample_weight, columns = streamed.values, streamed.counts, streamed.columns
        arr = self._nodes(X, columns, reset=True)
        w = check_sample_weight(sample_weight, arr.shape[0])
        coded = code_nodes(arr, self.columns_, None, missing=missing, weights=w)
        self.categories_ = dict(zip(self.columns_, coded.categories, strict=True))
        dropped = coded.n_dropped if streamed is None else streamed.n_dropped  # rows read
        self.n_missing_, self.n_rows_dropped_ = coded.n_missing, dropped
        w = None if w is None else w[coded.keep]
        values, counts = compress_coded(coded.codes, w)
        if not np.all(keep := counts > 0):
            values, counts = values[keep], counts[keep]
        self._values, self._counts = values, counts
        self.n_rows_ = int(coded.codes.shape[0] if w is None else np.count_nonzero(w > 0))
        self.n_rows_ = self.n_rows_ if streamed is None else int(streamed.counts.sum())
        fit = fit_bayesnet_mixture(
            self._values,
            self._counts,
            self.dag_,
            [len(self.categories_[v]) for v in self.columns_],
            k,
            rng=rng,
            init=str(init),
            n_init=n_init,
            tol=tol,
            max_iter=max_iter,
            pseudo_count=alpha - 1.0,
            min_run_size=self.min_run_size,
            refine_runs=bool(self.refine_runs),
        )
        if not fit.converged:
            warnings.warn(
                f"EM stopped at max_iter={max_iter} before the log-likelihood settled to "
                f"tol={tol:g}; raise max_iter",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.reduction_ = fit.reduction
        self.identifiability_ = fit.identification
        self.cpt_identifiability_ = fit.cpt_identification
        self.params_ = fit.params
        self.weights_ = self.params_.weights
        self.cpds_ = dict(zip(self.columns_, self.params_.cpts, strict=True))
        self.log_likelihood_ = fit.log_likelihood
        self.restart_log_likelihoods_ = fit.restart_log_likelihoods
        self.converged_, self.n_iter_ = fit.converged, fit.n_iter
        self.log_likelihood_history_ = np.asarray(fit.log_likelihood_history, dtype=np.float64)
        self.n_samples_ = float(self._counts.sum())
        return self

    # ------------------------------------------------------------ inference
    def _log_parts(self, X: Any, **data: Any) -> tuple[FloatArray, FloatArray]:
        check_fitted(self, "params_")
        arr = self._nodes(X, data.get("columns"), reset=False)
        cats = [self.categories_[v] for v in self.columns_]
        missing = str(choose(self.missing, "BayesNetMixture.missing"))
        codes = code_nodes(arr, self.columns_, cats, missing=missing).codes
        with np.errstate(divide="ignore"):
            return log_mixture(log_prob_observed(self.params_, codes), np.log(self.weights_))

    def sample(self, n_samples: int = 1) -> tuple[dict[str, NDArray[Any]], NDArray[np.intp]]:
        """``n`` rows (a mapping node -> labels) and their sources, by ancestral sampling."""
        check_fitted(self, "params_")
        n = check_int(n_samples, "n_samples", low=1)
        codes, labels = inference.sample(self.params_, n, rng=rng_from(self.random_state))
        out = {v: self.categories_[v][codes[:, j]] for j, v in enumerate(self.columns_)}
        return out, labels

    def n_parameters(self) -> int:
        """Free parameters: ``k - 1`` plus ``k (d_V - 1)`` per parent assignment of every node."""
        check_fitted(self, "params_")
        return int(self.params_.n_parameters)

    def cpd_table(self, node: str) -> dict[str, NDArray[Any]]:
        """Tidy columns (source, each parent, value, probability) of one node's CPTs."""
        check_fitted(self, "params_")
        if node not in self.cpds_:
            raise DataError(f"{node!r} is not a node of the DAG; nodes: {self.columns_}")
        cpt = self.cpds_[node]
        parents = list(self.dag_.parents[node])
        grid = np.indices(cpt.shape).reshape(cpt.ndim, -1)
        out: dict[str, NDArray[Any]] = {"source": grid[0]}
        for i, p in enumerate(parents):
            out[p] = self.categories_[p][grid[1 + i]]
        out[node] = self.categories_[node][grid[-1]]
        out["probability"] = cpt.reshape(-1)
        return out

    # --------------------------------------------------------------- causal
    def _code(self, node: str, value: Any) -> int:
        if node not in self.categories_:
            raise DataError(f"{node!r} is not a node of the DAG; nodes: {self.columns_}")
        levels = self.categories_[node]
        hits = np.flatnonzero(levels == value)
        if hits.size == 0:
            raise DataError(f"{value!r} is not a level of {node!r}; levels: {levels.tolist()}")
        return int(hits[0])

    def _codes(self, values: Mapping[str, Any] | None) -> dict[str, int]:
        return {v: self._code(v, x) for v, x in (values or {}).items()}

    def interventional(
        self,
        outcome: str,
        do: Mapping[str, Any],
        given: Mapping[str, Any] | None = None,
        *,
        per_source: bool = False,
        params: BayesNetMixtureParams | None = None,
    ) -> FloatArray:
        """``P(outcome | do(X = x), Z = z)`` over the outcome's levels (``categories_`` order).

        The truncated factorisation summed over the sources (Pearl, *Causality*,
        2009, eq. 3.10, with ``U`` summed out):
        ``P(y | do(x)) = sum_u pi_u P_u(y | do(x))``. ``per_source=True``
        gives the (k, levels) array of ``P_u(y | do(x))``. ``params``
        evaluates the query on other parameters of the same DAG and levels
        (a bootstrap replicate, say) instead of ``params_``.
        """
        check_fitted(self, "params_")
        return effects.interventional(
            self.params_ if params is None else params,
            outcome,
            self._codes(do),
            self._codes(given),
            per_source=per_source,
        )

    def numeric_levels(self, node: str) -> bool:
        """Whether every level of ``node`` is a number (its mean then exists)."""
        check_fitted(self, "params_")
        levels = self.categories_[node]
        if levels.dtype.kind in "biuf":
            return True
        return all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            for v in levels.tolist()
        )

    def _values_of(self, node: str) -> FloatArray:
        levels = self.categories_[node]
        if self.numeric_levels(node):  # (an object column of numbers too, e.g. with gaps)
            return np.asarray(levels.tolist(), dtype=np.float64)
        return np.arange(len(levels), dtype=np.float64)  # labels: their codes 0, 1, ...

    def treatment_levels(
        self, treatment: str, treated: Any = None, control: Any = None
    ) -> tuple[Any, Any]:
        """``(control, treated)``: given, or the two levels of a binary treatment in order."""
        check_fitted(self, "params_")
        if treatment not in self.categories_:
            raise DataError(f"{treatment!r} is not a node of the DAG; nodes: {self.columns_}")
        levels = self.categories_[treatment]
        if treated is None or control is None:
            if len(levels) != 2:
                raise DataError(
                    f"{treatment!r} has {len(levels)} levels {levels.tolist()}: name the two "
                    "to compare with treated=... and control=..."
                )
            control = levels[0] if control is None else control
            treated = levels[1] if treated is None else treated
        for arm in (control, treated):
            self._code(treatment, arm)  # each must be a level: the error names the levels
        return control, treated

    def ate(
        self,
        treatment: str,
        outcome: str,
        *,
        treated: Any = None,
        control: Any = None,
        per_source: bool = False,
        params: BayesNetMixtureParams | None = None,
    ) -> Any:
        """``E[Y | do(T = treated)] - E[Y | do(T = control)]``.

        By default ``control`` and ``treated`` are a binary treatment's first
        and second level (``categories_`` order, e.g. 0 and 1). ``Y``'s numeric
        levels are its values (text levels count as their codes 0, 1, ...);
        :func:`kmix.causal.ate` on ``params_`` always uses the codes.
        ``per_source=True``: the (k,) effects within each source. ``params``:
        as in :meth:`interventional`.
        """
        t0, t1 = self.treatment_levels(treatment, treated, control)
        y = self._values_of(outcome)
        hi = self.interventional(outcome, {treatment: t1}, per_source=per_source, params=params)
        lo = self.interventional(outcome, {treatment: t0}, per_source=per_source, params=params)
        diff = (hi - lo) @ y
        return diff if per_source else float(diff)

    def naive(self, outcome: str, given: Mapping[str, Any]) -> FloatArray:
        """The confounded ``P(outcome | given)`` of the training data, for contrast.

        Conditioning is not intervening: the hidden source shifts both. Rows
        missing the outcome or a ``given`` node do not count (available cases).
        """
        check_fitted(self, "params_")
        if outcome not in self.categories_:
            raise DataError(f"{outcome!r} is not a node of the DAG; nodes: {self.columns_}")
        j = self.columns_.index(outcome)
        mask = self._values[:, j] >= 0  # rows that show the outcome (-1: missing)
        for v, code in self._codes(given).items():
            mask &= self._values[:, self.columns_.index(v)] == code
        if not np.any(mask):
            raise DataError(f"no training rows have {dict(given)} and show {outcome!r}")
        d = len(self.categories_[outcome])
        tally = np.bincount(self._values[mask, j], weights=self._counts[mask], minlength=d)
        return tally / tally.sum()

    def naive_ate(
        self, treatment: str, outcome: str, *, treated: Any = None, control: Any = None
    ) -> float:
        """``E[Y | T = treated] - E[Y | T = control]`` in the training data (confounded)."""
        t0, t1 = self.treatment_levels(treatment, treated, control)
        y = self._values_of(outcome)
        return float(
            (self.naive(outcome, {treatment: t1}) - self.naive(outcome, {treatment: t0})) @ y
        )

    def to_pgmpy(self, source: int) -> Any:
        """One source's network as a pgmpy ``DiscreteBayesianNetwork``.

        Needs the optional extra: ``pip install 'kmix[pgmpy]'``.
        """
        check_fitted(self, "params_")
        k = self.weights_.shape[0]
        return source_network(self, check_int(source, "source", low=0, high=k - 1))

    def bootstrap(
        self,
        n_boot: int = 100,
        *,
        random_state: Any = None,
        callback: Callable[[int, int], None] | None = None,
    ) -> BayesNetBootstrap:
        """Refit the whole pipeline on ``n_boot`` resamples of the training data.

        Each replicate redraws ``n_rows_`` rows with replacement, runs
        :func:`~kmix.solvers.bayesnet.fit.fit_bayesnet_mixture` with this
        model's settings, and has its sources matched to this fit's
        (:func:`kmix.estimators.bootstrap_bayesnet`); the returned object gives
        percentile intervals of ATEs, interventional distributions and shares.

        Parameters
        ----------
        n_boot : int
            Replicates (at least 2).
        random_state : optional
            Seed of the resampling (default: the model's ``random_state``).
        callback : callable, optional
            ``callback(done, n_boot)`` after every replicate (progress).
        """
        check_fitted(self, "params_")
        n_boot = check_int(n_boot, "n_boot", low=2)
        rng = rng_from(self.random_state if random_state is None else random_state)
        settings = {
            "init": str(choose(self.init, "BayesNetMixture.init")),
            "n_init": int(self.n_init),
            "tol": float(self.tol),
            "max_iter": int(self.max_iter),
            "pseudo_count": float(self.alpha) - 1.0,
            "min_run_size": self.min_run_size,
            "refine_runs": bool(self.refine_runs),
        }
        replicates = bootstrap_bayesnet(
            self._values,
            self._counts,
            self.dag_,
            self.params_,
            settings,
            n_boot=n_boot,
            n_draw=self.n_rows_,
            rng=rng,
            callback=callback,
        )
        return BayesNetBootstrap(self, replicates)

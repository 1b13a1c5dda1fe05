"""Argument parsing and error handling of the ``kmix`` command.

Every failure the user can cause (a missing file, a bad value, data that do
not fit the family) ends as one line ``kmix: error: ...`` on standard error
and a non-zero exit status: 2 for command-line usage, 1 for everything else.
Warnings from kmix (for example EM stopping at ``--max-iter``) become one
``kmix: warning: ...`` line each.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from typing import Any, NoReturn, Protocol, TextIO

from ..exceptions import KmixError
from .applicable import given_options
from .columns import add_columns_option
from .streamed import add_engine_options

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace, TextIO, TextIO], int]


class _UsageError(Exception):
    """A command-line usage mistake (reported as one line, exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise instead of printing usage and exiting.

    Options must be spelled out (no abbreviations), so that the options a user
    typed are known exactly (:func:`kmix.cli.applicable.given_options`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message}")


class _Subcommands(Protocol):
    """What the sub-command builders need of ``add_subparsers()``'s result."""

    def add_parser(self, name: str, **kwargs: Any) -> _Parser: ...


def _version() -> str:
    try:
        return metadata.version("kmix")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _int_at_least(low: int, what: str) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low`` (``what`` names it in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_non_negative_int = _int_at_least(0, "an integer >= 0")
_seed = _int_at_least(0, "a non-negative integer")


def _header_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--header",
        dest="header",
        action="store_true",
        default=None,
        help="the first row holds column names (default: guessed)",
    )
    group.add_argument(
        "--no-header", dest="header", action="store_false", help="the first row is data"
    )


def _product_options(parser: argparse.ArgumentParser, *, fit: bool = True) -> None:
    parser.add_argument(
        "--missing",
        choices=("fiml", "drop", "error"),
        default=None,
        help="product: empty cells are fitted by full-information maximum likelihood (fiml, "
        "the default: every observed answer counts; valid when values are missing at random), "
        "or their rows dropped, or refused",
    )
    if fit:
        parser.add_argument(
            "--covariates",
            metavar="COLUMNS",
            default=None,
            help="product, and mixtures of gaussian, bernoulli, binomial or poisson components: "
            "class shares (weights) a multinomial logit in these columns (names, 1-based "
            "positions or FIRST:LAST ranges); the items are --columns, default every other column",
        )
        parser.add_argument(
            "--covariate-missing",
            choices=("error", "drop"),
            default="error",
            help="product with --covariates: a row with an empty covariate is refused (default) "
            "or dropped and counted",
        )
        parser.add_argument(
            "--covariate-se",
            choices=("observed", "empirical"),
            default="observed",
            help="product with --covariates: standard errors from the observed information "
            "(default) or the empirical one (R poLCA's)",
        )
        parser.add_argument(
            "--allow-unidentified",
            action="store_true",
            help="product, and mixtures of bernoulli, categorical or binomial components: fit "
            "even where no identifiability condition holds (one of many maximum-likelihood "
            "solutions)",
        )


def _add_demo(sub: _Subcommands) -> None:
    from .commands import demo

    p = sub.add_parser("demo", help="worked examples on simulated data (the factories)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the simulations (default 0)")
    p.add_argument(
        "--section", action="append", metavar="NAME", help="run only this section (repeatable)"
    )
    p.add_argument(
        "--plots",
        metavar="DIR",
        default=None,
        help="also write the demo's figures (PNG) to this directory (needs kmix[plot])",
    )
    p.set_defaults(handler=demo)


def _add_fit(sub: _Subcommands) -> None:
    from .commands import fit

    p = sub.add_parser(
        "fit", help="fit a finite mixture, k coins or a latent class model to a CSV file"
    )
    p.add_argument("data", help="CSV file, one row per sample")
    add_columns_option(p)
    p.add_argument(
        "--model",
        default="mixture",
        choices=("mixture", "coins", "product"),
        help="mixture (default: FiniteMixture of --family), coins (k-coin problem: "
        "columns heads,trials; or heads with --n-trials; or 0/1 flips with --flips) or "
        "product (latent class model: one column per item, any labels)",
    )
    p.add_argument(
        "--flips",
        action="store_true",
        help="coins: the columns are individual 0/1 flips (empty cell = not flipped)",
    )
    p.add_argument(
        "--family",
        default="gaussian",
        help="bernoulli, categorical, binomial, poisson or gaussian (default gaussian)",
    )
    p.add_argument("-k", "--n-components", type=_positive_int, default=2, help="default 2")
    p.add_argument("--out", help="save the fitted model to this JSON file")
    from ..estimators import FiniteMixture

    defaults = FiniteMixture().get_params()
    p.add_argument(
        "--n-init",
        type=_positive_int,
        default=None,
        help="EM starts in all, the model's own start first (default auto: mixtures of "
        "bernoulli or categorical components and product: the latent class fit's starts; "
        "other families 4 starts, the hopeless ones stopped early; coins: 1)",
    )
    p.add_argument(
        "--max-iter",
        type=_positive_int,
        default=defaults["max_iter"],
        help=f"EM iterations per restart (default {defaults['max_iter']})",
    )
    p.add_argument(
        "--tol",
        type=float,
        default=defaults["tol"],
        help=f"relative tolerance on the log-likelihood (default {defaults['tol']:g})",
    )
    p.add_argument("--seed", type=_seed, default=None, help="seed of the initialisation")
    p.add_argument(
        "--init",
        default="auto",
        help="auto (default: random for discrete families, kmeans++ for gaussian, moments "
        "for product), kmeans++, random or (product) moments",
    )
    _product_options(p)
    p.add_argument(
        "--n-trials", type=int, default=None, help="binomial and coins: trials per count"
    )
    p.add_argument("--covariance-type", default="full", help="gaussian: full (default) or diag")
    p.add_argument("--alpha", type=float, default=1.0, help="Dirichlet smoothing, >= 1")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    _header_options(p)
    add_engine_options(p)
    p.set_defaults(handler=fit)


def _add_select_k(sub: _Subcommands) -> None:
    from .commands import select_k

    p = sub.add_parser("select-k", help="evidence for the number of components")
    p.add_argument(
        "data",
        help="CSV file (coins: heads,trials, or heads with --n-trials; product: one column "
        "per item)",
    )
    add_columns_option(p)
    p.add_argument(
        "--model",
        default=None,
        choices=("coins", "product"),
        help="coins (Hankel evidence and BIC per number of coins) or product (rank test, BIC "
        "and the other fit statistics per number of latent classes); default: chosen from the "
        "data (two whole-number columns heads,trials: coins; three or more columns of discrete "
        "items: product), named in the last line of the output",
    )
    p.add_argument("--n-trials", type=int, default=None, help="coins: flips per trial")
    p.add_argument("--flips", action="store_true", help="coins: columns are 0/1 flips")
    p.add_argument(
        "--max-k",
        type=_positive_int,
        default=None,
        help="largest candidate (product: default 6, or fewer if the items identify fewer; "
        "the search also stops once BIC has risen twice in a row)",
    )
    p.add_argument(
        "--blrt",
        type=_positive_int,
        default=None,
        metavar="N",
        help="product: also the bootstrap likelihood-ratio test of k - 1 against k classes, "
        "from N bootstrap data sets (2N more fits per k)",
    )
    p.add_argument("--seed", type=_seed, default=None)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    _product_options(p, fit=False)
    _header_options(p)
    p.set_defaults(handler=select_k)


def _add_simulate(sub: _Subcommands) -> None:
    from .commands import simulate

    p = sub.add_parser("simulate", help="sample a random mixture (or the marbles) to CSV")
    p.add_argument("--family", help="bernoulli, categorical, binomial, poisson or gaussian")
    p.add_argument("-k", "--n-components", type=_positive_int, default=2, help="default 2")
    p.add_argument("-n", "--n-samples", type=_positive_int, default=1000, help="default 1000")
    p.add_argument("--features", type=_positive_int, default=2, help="columns (default 2)")
    p.add_argument("--seed", type=_seed, default=None)
    p.add_argument("--out", help="CSV file to write (default: standard output)")
    p.add_argument("--labels-out", help="also write the true component of each row here")
    p.add_argument("--n-trials", type=_positive_int, default=10, help="binomial (default 10)")
    p.add_argument("--n-levels", type=_positive_int, default=3, help="categorical (default 3)")
    p.add_argument("--covariance-type", default="full", help="gaussian: full or diag")
    p.add_argument(
        "--marbles", action="store_true", help="the factories example instead of --family"
    )
    p.add_argument("--draws", type=_positive_int, default=1, help="marbles per bag (default 1)")
    p.add_argument("--p-red", type=float, nargs="+", default=[0.8, 0.3], help="P(red | factory)")
    p.add_argument("--weights", type=float, nargs="+", default=None, help="P(factory)")
    p.set_defaults(handler=simulate)


def _add_predict(sub: _Subcommands) -> None:
    from .commands import predict

    p = sub.add_parser("predict", help="most probable component of each row")
    p.add_argument("model", help="model file written by kmix fit --out")
    p.add_argument("data", help="CSV file with the model's columns")
    add_columns_option(p)
    p.add_argument("--out", help="CSV file to write (default: standard output)")
    p.add_argument("--proba", action="store_true", help="also write posterior probabilities")
    p.add_argument("--n-trials", type=int, default=None, help="binomial: trials per count")
    _header_options(p)
    p.set_defaults(handler=predict)


def _add_effect(sub: _Subcommands) -> None:
    from .effect import effect

    p = sub.add_parser(
        "effect",
        help="causal effect of a treatment on an outcome despite hidden populations",
    )
    p.add_argument("data", help="CSV file, one column per DAG node (codes or labels)")
    add_columns_option(p)
    graph = p.add_mutually_exclusive_group(required=True)
    graph.add_argument("--dag", help="DAG file: 'A -> B' lines or a two-column CSV")
    graph.add_argument(
        "--discover",
        action="store_true",
        help="learn the DAG's equivalence class from the data (kmix.causal.discover) and fit "
        "one model per parent set of the treatment in it",
    )
    p.add_argument(
        "--alpha",
        type=float,
        default=None,
        help="with --discover: level of each rank test (default that of kmix.causal.discover)",
    )
    p.add_argument("-k", "--n-components", type=_positive_int, default=2, help="default 2")
    p.add_argument("--treatment", required=True, help="treatment node")
    p.add_argument("--outcome", required=True, help="outcome node")
    p.add_argument(
        "--treated",
        default=None,
        help="treatment level of the treated arm (default: the second of a binary treatment)",
    )
    p.add_argument(
        "--control",
        default=None,
        help="treatment level of the control arm (default: the first of a binary treatment)",
    )
    p.add_argument(
        "--init",
        choices=("reduction", "random"),
        default="reduction",
        help="EM start: the reduction to latent class runs (default), or random CPTs only",
    )
    p.add_argument(
        "--n-init",
        type=_positive_int,
        default=None,
        help="EM starts in all (default 1 with --init reduction, 10 with --init random)",
    )
    p.add_argument(
        "--n-boot", type=_non_negative_int, default=50, help="bootstrap resamples (default 50)"
    )
    p.add_argument("--seed", type=_seed, default=None)
    p.add_argument(
        "--ignore-extra-columns",
        action="store_true",
        help="leave out (with a warning) data columns that are not DAG nodes",
    )
    p.add_argument("--latent-name", default="U", help="name of the hidden population (default U)")
    p.add_argument(
        "--out",
        default=None,
        help="save the fitted model (with its bootstrap) to this JSON file, for kmix report; "
        "with --discover and several parent sets of the treatment, one numbered file each",
    )
    p.add_argument(
        "--graph-out",
        default=None,
        help="with --discover: save the learned graph (its evidence too) to this JSON file",
    )
    p.add_argument(
        "--missing",
        choices=("fiml", "drop", "error"),
        default="fiml",
        help="empty cells: fitted by full-information maximum likelihood (fiml, the default; "
        "valid when values are missing at random), or their rows dropped, or refused",
    )
    _header_options(p)
    p.set_defaults(handler=effect)


def _add_report(sub: _Subcommands) -> None:
    from .report import report

    p = sub.add_parser(
        "report", help="one self-contained HTML page of a saved model (figures and tables)"
    )
    p.add_argument("model", help="model file saved by kmix fit --out or kmix effect --out")
    p.add_argument("--out", required=True, help="HTML file to write")
    p.add_argument(
        "--data",
        default=None,
        help="the training data (CSV): fit statistics of a latent class model, the head counts "
        "of a coin model",
    )
    p.add_argument(
        "--distal",
        action="append",
        metavar="COLUMN",
        help="with --data: a distal outcome column to show per class (repeatable)",
    )
    p.add_argument(
        "--distal-method",
        choices=("bch", "ml", "modal", "one-step"),
        default="bch",
        help="three-step correction of the distal outcomes (default bch)",
    )
    p.add_argument("--treatment", default=None, help="a network's treatment node")
    p.add_argument("--outcome", default=None, help="a network's outcome node")
    _header_options(p)
    p.set_defaults(handler=report)


def build_parser() -> argparse.ArgumentParser:
    """The ``kmix`` argument parser with its subcommands."""
    parser = _Parser(
        prog="kmix",
        description="Finite mixture models and k coins: fit, select k, predict, simulate, "
        "and a worked demo.",
    )
    parser.add_argument("--version", action="version", version=f"kmix {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in (
        _add_demo,
        _add_fit,
        _add_select_k,
        _add_simulate,
        _add_predict,
        _add_effect,
        _add_report,
    ):
        add(sub)
    return parser


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _error(err: TextIO, message: str) -> None:
    err.write(f"kmix: error: {_one_line(message)}\n")


def _os_message(exc: OSError) -> str:
    if exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc) or type(exc).__name__


class _Terminated(BaseException):
    """SIGTERM, raised so that every ``finally`` runs (temporary files are removed)."""


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """Turn SIGTERM into :class:`_Terminated` while a command runs (main thread only)."""

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kmix`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 on success, 1 on a data or file error, 2 on a usage
        error.
    """
    out, err = sys.stdout, sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        given = list(sys.argv[1:] if argv is None else argv)
        args.given_options = given_options(given)
        args.command_line = shlex.join(["kmix", *given])
    except _UsageError as exc:
        _error(err, str(exc))
        return 2
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        _error(
            err,
            "choose a command: demo, fit, select-k, simulate, predict, effect or report "
            "(see kmix --help)",
        )
        return 2
    with warnings.catch_warnings(record=True) as caught, _terminate_cleanly():
        warnings.simplefilter("always", UserWarning)
        try:
            status = handler(args, out, err)
        except (KmixError, ValueError) as exc:
            _error(err, str(exc))
            status = 1
        except BrokenPipeError:
            return 141  # the reader of our output went away (e.g. `| head`)
        except OSError as exc:
            _error(err, _os_message(exc))
            status = 1
        except _Terminated:
            _error(err, "terminated")
            return 143
        except KeyboardInterrupt:
            _error(err, "interrupted")
            return 130
        finally:
            seen: set[str] = set()
            for w in caught:
                text = _one_line(str(w.message))
                if issubclass(w.category, UserWarning) and text not in seen:
                    seen.add(text)
                    err.write(f"kmix: warning: {text}\n")
    return status

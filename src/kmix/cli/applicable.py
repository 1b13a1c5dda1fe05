"""Options that do not apply to the chosen model are refused, never ignored.

``kmix fit`` and ``kmix select-k`` share one parser for several models; an
option given for a model that does not read it (``--alpha`` with ``--model
product``, ``--flips`` with a mixture) would otherwise change nothing without a
word. :func:`given_options` reads which options the user typed;
:func:`check_applicable` refuses the ones that do not apply, naming them and
the models they belong to.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..exceptions import DataError
from ..options import choose

__all__ = ["FIT", "SELECT_K", "check_applicable", "given_options"]

DISCRETE = ("bernoulli", "categorical", "binomial", "poisson")
#: option -> the (model, family) pairs that read it; family None: any family
FIT: dict[str, set[tuple[str, str | None]]] = {
    "--flips": {("coins", None)},
    "--family": {("mixture", None)},
    "--covariance-type": {("mixture", "gaussian")},
    "--alpha": {("mixture", f) for f in DISCRETE},
    "--n-trials": {("coins", None), ("mixture", "binomial")},
    "--missing": {("product", None)},
    "--covariates": {("product", None)}
    | {("mixture", f) for f in ("gaussian", "bernoulli", "binomial", "poisson")},
    "--covariate-missing": {("product", None)},
    "--covariate-se": {("product", None)},
    "--engine": {("product", None), ("mixture", "gaussian")},
    "--scheduler": {("product", None), ("mixture", "gaussian")},
    "--allow-unidentified": {("product", None)}
    | {("mixture", f) for f in ("bernoulli", "categorical", "binomial")},
}
SELECT_K: dict[str, set[tuple[str, str | None]]] = {
    "--n-trials": {("coins", None)},
    "--flips": {("coins", None)},
    "--missing": {("product", None)},
    "--blrt": {("product", None)},
}


def given_options(argv: Sequence[str]) -> set[str]:
    """The option names typed in ``argv`` (``--name`` and ``--name=value`` alike)."""
    out: set[str] = set()
    for token in argv:
        if token == "--":
            break
        if token.startswith("--"):
            out.add(token.split("=", 1)[0])
        elif token.startswith("-") and len(token) > 1 and not token[1].isdigit():
            out.add(token[:2])
    return out


def _describe(readers: set[tuple[str, str | None]]) -> str:
    models: dict[str, list[str]] = {}
    for model, family in sorted(readers, key=lambda r: (r[0], r[1] or "")):
        models.setdefault(model, [])
        if family is not None:
            models[model].append(family)
    parts = []
    for model, families in models.items():
        if model == "mixture" and families:
            parts.append(f"--family {'/'.join(families)}")
        else:
            parts.append(f"--model {model}")
    return " or ".join(parts)


def check_applicable(
    args: argparse.Namespace, table: dict[str, set[tuple[str, str | None]]]
) -> None:
    """Refuse every typed option of ``table`` that the chosen model and family do not read.

    Raises
    ------
    DataError
        Naming each such option and what it applies to.
    """
    given: set[str] = getattr(args, "given_options", set())
    family = None
    if args.model == "mixture":
        family = str(choose(args.family, "FiniteMixture.family"))
    bad = []
    for option, readers in table.items():
        if (
            option in given
            and (args.model, None) not in readers
            and (
                args.model,
                family,
            )
            not in readers
        ):
            bad.append(f"{option} applies only to {_describe(readers)}")
    if bad:
        what = f"--model {args.model}" + (f" --family {family}" if family else "")
        raise DataError(f"{'; '.join(bad)} (not to {what}); remove it")

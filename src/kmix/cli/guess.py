"""Which model ``kmix select-k`` reads a file with, when ``--model`` is not given.

Options that only one model reads decide first (``--n-trials`` and
``--flips``: coins; ``--missing`` and ``--blrt``: product). Otherwise the
cells do: two columns of whole numbers with ``0 <= heads <= trials`` are
coin data; discrete items (text labels, or whole numbers, in three or more
columns) are a latent class survey. Anything else is refused with the
reason and the ``--model`` to pass.
"""

from __future__ import annotations

import argparse

import numpy as np

from ..data import Table
from ..exceptions import DataError

__all__ = ["guess_select_model"]

#: option -> the model it implies
IMPLIED = {"--n-trials": "coins", "--flips": "coins", "--missing": "product", "--blrt": "product"}


def guess_select_model(args: argparse.Namespace, table: Table) -> tuple[str, str]:
    """The model for ``kmix select-k`` without ``--model``, and why.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments (``given_options`` and ``data`` are read).
    table : Table
        The data as :func:`kmix.data.read_table` reads numbers (``--columns``
        applied): float64, or object with text where a column holds labels.

    Returns
    -------
    (str, str)
        ``"coins"`` or ``"product"``, and the reason in a few words.

    Raises
    ------
    DataError
        When neither model reads the data, naming the column that shows
        it and the ``--model`` to choose.
    """
    given: set[str] = getattr(args, "given_options", set())
    implied = sorted({IMPLIED[o] for o in given if o in IMPLIED})
    if len(implied) == 1:
        options = ", ".join(sorted(o for o in given if IMPLIED.get(o) == implied[0]))
        return implied[0], f"{options} applies to it"
    if len(implied) > 1:
        raise DataError(
            f"{', '.join(sorted(o for o in given if o in IMPLIED))} belong to different models "
            "(--n-trials and --flips to coins, --missing and --blrt to product); pass --model"
        )
    values, columns = table.values, table.columns
    text = table.text_columns()
    n_cols = values.shape[1]
    if text:
        if n_cols >= 3:
            return "product", f"{n_cols} columns of discrete items, text labels"
        raise DataError(
            f"{args.data} has text labels (column {columns[text[0]]!r}) in only {n_cols} "
            "column(s): a latent class model (--model product) needs three or more items"
        )
    numbers = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(numbers)
    fractional = np.argwhere(finite & (numbers != np.round(numbers)))
    if fractional.size:
        i, j = (int(v) for v in fractional[0])
        raise DataError(
            f"column {columns[j]!r} of {args.data} holds {float(numbers[i, j])!r} (data row "
            f"{i + 1}), not a whole number: select-k compares numbers of coins (--model coins: "
            "two whole-number columns heads,trials) or of latent classes (--model product: "
            "discrete items); for measured values fit gaussian mixtures (kmix fit --family "
            "gaussian -k K) and compare their BIC"
        )
    if n_cols == 2:
        heads, trials = numbers[:, 0], numbers[:, 1]
        if finite.all() and (heads >= 0).all() and (heads <= trials).all() and (trials >= 1).all():
            return "coins", f"two whole-number columns with 0 <= {columns[0]} <= {columns[1]}"
    if n_cols >= 3:
        return "product", f"{n_cols} columns of discrete items, whole numbers"
    if n_cols == 1:
        raise DataError(
            f"{args.data} has one column of whole numbers: for head counts out of T flips "
            "pass --n-trials T (coins); a latent class model (--model product) needs three "
            "or more items"
        )
    raise DataError(
        f"{args.data} has two whole-number columns, but not heads <= trials in every row "
        f"({columns[0]!r} exceeds {columns[1]!r} or is negative somewhere): pass --model "
        "coins with columns heads,trials, or add items for --model product (three or more)"
    )

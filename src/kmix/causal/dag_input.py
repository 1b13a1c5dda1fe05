"""Reading a user's DAG, and checking it against the data's columns.

The causal layer works on :class:`kmix.params.DAG`. :func:`as_dag`
builds one from whatever the user has: a networkx ``DiGraph`` or a pgmpy
model (duck typed, never imported), an edge-list text, a list of
``(parent, child)`` pairs, or a text/CSV file. The hidden class ``U`` is
added implicitly as a parent of every node, so no node may carry its name.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Iterable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from ..exceptions import DataError
from ..params.dag import DAG

__all__ = ["IsolatedNodes", "as_dag", "check_dag_columns", "isolated_nodes", "parse_edge_list"]

#: First rows read as a header of a two-column edge list (compared in lower case).
HEADERS = frozenset(
    {
        ("parent", "child"),
        ("source", "target"),
        ("from", "to"),
        ("cause", "effect"),
        ("tail", "head"),
    }
)


def _split(line: str) -> list[str]:
    """The tokens of one non-comment line (empty list for a blank line)."""
    if "->" in line:
        return [part.strip() for part in line.split("->")]
    if "," in line:
        cells = [c.strip() for c in next(csv.reader([line], skipinitialspace=True))]
        while len(cells) > 1 and not cells[-1]:
            cells.pop()  # trailing empty cells: "A," is a lone node
        return cells
    return line.split()


def parse_edge_list(
    text: str, *, source: str = "edge list"
) -> tuple[list[str], list[tuple[str, str]]]:
    """Parse an edge list into nodes (first-appearance order) and edges.

    One item per line: ``A -> B`` (chains ``A -> B -> C`` too), ``A B`` or
    ``A,B`` for an edge, a lone ``A`` for an isolated node. ``#`` starts a
    comment; blank lines are skipped. A first row such as ``parent,child``,
    ``source,target`` or ``from,to`` is a header and is skipped.

    Raises
    ------
    DataError
        Naming the line number (and ``source``) of a line that is none of the above.
    """
    nodes: dict[str, None] = {}
    edges: list[tuple[str, str]] = []
    first = True
    text = text.removeprefix("\ufeff")
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        tokens = _split(line)
        arrow = "->" in line
        header = not arrow and tuple(t.lower() for t in tokens) in HEADERS
        if first and header:
            first = False
            continue
        first = False
        if any(not t for t in tokens) or (not arrow and len(tokens) > 2):
            raise DataError(
                f"{source}, line {number}: cannot parse {raw.strip()!r}; expected "
                "'A -> B', 'A B', 'A,B' or a lone node name"
            )
        nodes.update(dict.fromkeys(tokens))
        edges.extend(pairwise(tokens))
    return list(nodes), edges


def _from_graph(obj: Any) -> DAG:
    latents = getattr(obj, "latents", None)
    if latents:
        raise DataError(
            f"the model declares latent nodes {sorted(map(str, latents))}; kmix adds the one "
            "hidden class U itself and needs every other node observed. Remove them from the "
            "model (and their edges) before passing it"
        )
    raw_nodes = list(obj.nodes())
    names = [str(v) for v in raw_nodes]
    if len(set(names)) != len(raw_nodes):
        raise DataError(f"node names collide once converted to strings: {names}")
    edges = [(str(a), str(b)) for a, b, *_ in obj.edges()]
    return DAG.from_edges(names, edges)


def _read_file(path: Path) -> DAG:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is no node name
    except OSError as exc:
        raise DataError(f"cannot read the DAG file {str(path)!r}: {exc}") from None
    nodes, edges = parse_edge_list(text, source=str(path))
    return DAG.from_edges(nodes, edges)


def as_dag(
    obj: Any,
    *,
    columns: Sequence[str] | None = None,
    latent_name: str = "U",
    ignore_extra: bool = False,
) -> DAG:
    """Convert a user's graph to a :class:`~kmix.params.DAG`.

    Parameters
    ----------
    obj : DAG, graph object, str, Path or list of pairs
        - a :class:`DAG`: returned unchanged (after the checks below);
        - anything with ``.nodes()`` and ``.edges()`` (a networkx ``DiGraph``,
          a pgmpy ``BayesianNetwork``/``DAG``); node names are converted with
          ``str``. A pgmpy model with a non-empty ``.latents`` is refused;
        - a ``str`` containing ``->`` or a newline: edge-list text (see
          :func:`parse_edge_list`);
        - a ``pathlib.Path``, or a ``str`` naming an existing file: a text
          file in the same format, including a two-column CSV with an
          optional header such as ``parent,child``;
        - an iterable of ``(parent, child)`` pairs;
        - a callable taking the data's column names and returning any of the
          above (e.g. :func:`isolated_nodes`); it needs ``columns``.
    columns : sequence of str, optional
        The data's column names; checked with :func:`check_dag_columns`.
    latent_name : str
        Name reserved for the hidden class; no node may carry it.
    ignore_extra : bool
        Passed to :func:`check_dag_columns`.

    Returns
    -------
    DAG

    Raises
    ------
    DataError
        A cycle (the message spells it out), a self loop, an unparseable line
        (with its number), a node named ``latent_name``, or a mismatch with
        ``columns``.

    Examples
    --------
    >>> g = as_dag("Z -> X\\nX -> Y\\nZ -> Y")
    >>> g.nodes, g.parents["Y"]
    (('Z', 'X', 'Y'), ('X', 'Z'))
    """
    dag: DAG
    if isinstance(obj, DAG):
        dag = obj
    elif isinstance(obj, Path):
        if not obj.is_file():
            raise DataError(f"DAG file {str(obj)!r} does not exist")
        dag = _read_file(obj)
    elif isinstance(obj, str):
        if "->" in obj or "\n" in obj:
            nodes, edges = parse_edge_list(obj)
            dag = DAG.from_edges(nodes, edges)
        elif Path(obj).is_file():
            dag = _read_file(Path(obj))
        else:
            raise DataError(
                f"{obj!r} is neither edge-list text (which contains '->' or a newline) nor an "
                "existing file; pass 'A -> B' lines or the path of a DAG file"
            )
    elif callable(getattr(obj, "nodes", None)) and callable(getattr(obj, "edges", None)):
        dag = _from_graph(obj)
    elif callable(obj):
        if columns is None:
            raise DataError(
                "a DAG given as a function of the column names needs the columns: pass "
                "columns=[...] (BayesNetMixture passes the data's)"
            )
        made = obj([str(c) for c in columns])
        if callable(made) and not isinstance(made, DAG):
            raise DataError("the DAG function returned another function, not a DAG")
        dag = as_dag(made, latent_name=latent_name)
    elif isinstance(obj, Iterable):
        dag = DAG.from_edges(None, list(obj))
    else:
        raise DataError(
            f"cannot read a DAG from {type(obj).__name__}; pass a kmix DAG, a networkx or "
            "pgmpy graph, edge-list text, a file path or a list of (parent, child) pairs"
        )
    _check_latent(dag, latent_name)
    if columns is not None:
        check_dag_columns(dag, columns, ignore_extra=ignore_extra, latent_name=latent_name)
    return dag


class IsolatedNodes:
    """The DAG without edges over the data's columns: every variable depends on ``U`` alone.

    A mixture of Bayesian networks on this DAG is a latent class model (the
    variables are independent given the hidden class). Pass the instance
    :data:`isolated_nodes` as a DAG, ``BayesNetMixture(isolated_nodes)``, to
    take the nodes from the data's columns; called with column names it
    returns the DAG.

    Examples
    --------
    >>> g = isolated_nodes(["a", "b"])
    >>> g.nodes, g.edges
    (('a', 'b'), ())
    """

    def __call__(self, columns: Sequence[str]) -> DAG:
        return DAG.from_edges([str(c) for c in columns], [])

    def __repr__(self) -> str:
        return "isolated_nodes"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IsolatedNodes)

    def __hash__(self) -> int:
        return hash(IsolatedNodes)


#: A DAG as a function of the column names: no edges (see :class:`IsolatedNodes`).
isolated_nodes = IsolatedNodes()


def _check_latent(dag: DAG, latent_name: str) -> None:
    if latent_name in dag.nodes:
        raise DataError(
            f"the DAG has a node named {latent_name!r}, the name of kmix's hidden class (added "
            "as a parent of every node). Rename that node, or pass "
            "latent_name='<another name>' to keep it"
        )


def check_dag_columns(
    dag: DAG,
    columns: Sequence[str],
    *,
    ignore_extra: bool = False,
    latent_name: str = "U",
) -> tuple[int, ...]:
    """Check that the data's columns and the DAG's nodes match.

    Parameters
    ----------
    dag : DAG
    columns : sequence of str
        The data's column names.
    ignore_extra : bool
        Columns that are not DAG nodes raise unless this is ``True``, in which
        case they only warn (``UserWarning``) and are left out.
    latent_name : str
        Name reserved for the hidden class; no node may carry it.

    Returns
    -------
    tuple of int
        For each node in ``dag.nodes`` order, its position in ``columns``
        (``data[:, positions]`` puts the data in the DAG's order).

    Raises
    ------
    DataError
        DAG nodes missing from the data, extra columns (unless
        ``ignore_extra``), repeated column names, or a node named ``latent_name``.
    """
    _check_latent(dag, latent_name)
    cols = [str(c) for c in columns]
    repeated = sorted({c for c in cols if cols.count(c) > 1})
    if repeated:
        raise DataError(f"the data has repeated column names {repeated}; make them unique")
    missing = [v for v in dag.nodes if v not in cols]
    if missing:
        raise DataError(
            f"the DAG's nodes {missing} are not columns of the data (columns: {cols}); "
            "rename the columns or the nodes so that they match"
        )
    extra = [c for c in cols if c not in dag.parents]
    if extra:
        message = f"data columns {extra} are not nodes of the DAG"
        if not ignore_extra:
            raise DataError(
                message + "; add them to the DAG (a lone name is an isolated node), drop them "
                "from the data, or pass ignore_extra=True (BayesNetMixture: "
                "ignore_extra_columns=True)"
            )
        warnings.warn(message + "; they are ignored", UserWarning, stacklevel=2)
    return tuple(cols.index(v) for v in dag.nodes)

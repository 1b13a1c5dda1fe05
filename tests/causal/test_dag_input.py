"""Reading DAGs from user inputs and checking them against data columns (kmix.causal.dag_input).

networkx and pgmpy are not dependencies: their graphs are duck typed, so small
stand-ins with ``nodes()``/``edges()`` (and pgmpy's ``latents``) are used here.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from kmix.causal import DAG, as_dag, check_dag_columns, parse_edge_list
from kmix.exceptions import DataError

EXPECTED = DAG.from_edges(["Z", "X", "Y", "W"], [("Z", "X"), ("X", "Y"), ("Z", "Y")])


class FakeDiGraph:
    """The part of networkx.DiGraph that as_dag uses."""

    def __init__(self, nodes, edges, latents=None):
        self._nodes, self._edges = list(nodes), list(edges)
        if latents is not None:
            self.latents = set(latents)

    def nodes(self):
        return iter(self._nodes)

    def edges(self):
        return iter(self._edges)


def test_a_dag_is_returned_as_is():
    assert as_dag(EXPECTED) is EXPECTED


@pytest.mark.parametrize(
    "text",
    [
        "Z -> X\nX -> Y\nZ -> Y\nW",
        "# confounded treatment\nZ -> X   # Z causes X\n\nX -> Y\nZ->Y\nW\n",
        "Z X\nX Y\nZ Y\nW",
        "Z,X\nX,Y\nZ,Y\nW",
        "parent,child\nZ,X\nX,Y\nZ,Y\nW,",
        "Z -> X -> Y\nZ -> Y\nW",
    ],
)
def test_edge_list_text_in_every_accepted_form(text):
    assert as_dag(text) == EXPECTED


def test_list_of_pairs_and_graph_objects():
    pairs = [("Z", "X"), ("X", "Y"), ("Z", "Y")]
    assert as_dag(pairs) == DAG.from_edges(None, pairs)
    assert as_dag(pairs).nodes == ("Z", "X", "Y")
    g = FakeDiGraph(["Z", "X", "Y", "W"], [("Z", "X"), ("X", "Y"), ("Z", "Y")])
    assert as_dag(g) == EXPECTED
    assert as_dag(FakeDiGraph(["Z", "X", "Y", "W"], [("Z", "X")], latents=set())).nodes[0] == "Z"
    ints = as_dag(FakeDiGraph([0, 1], [(0, 1)]))
    assert ints.nodes == ("0", "1") and ints.parents["1"] == ("0",)


def test_pgmpy_latents_are_refused_not_dropped():
    g = FakeDiGraph(["L", "X", "Y"], [("L", "X"), ("L", "Y")], latents={"L"})
    with pytest.raises(DataError, match=r"latent nodes \['L'\]"):
        as_dag(g)


def test_files_arrow_text_and_csv(tmp_path: Path):
    arrows = tmp_path / "dag.txt"
    arrows.write_text("Z -> X\nX -> Y\nZ -> Y\nW\n", encoding="utf-8")
    assert as_dag(arrows) == EXPECTED
    assert as_dag(str(arrows)) == EXPECTED
    with_header = tmp_path / "edges.csv"
    with_header.write_text("source,target\nZ,X\nX,Y\nZ,Y\nW,\n", encoding="utf-8")
    assert as_dag(with_header) == EXPECTED
    no_header = tmp_path / "plain.csv"
    no_header.write_text('Z,X\n"X",Y\nZ, Y\nW\n', encoding="utf-8")
    assert as_dag(str(no_header)) == EXPECTED
    with pytest.raises(DataError, match="does not exist"):
        as_dag(tmp_path / "missing.csv")


def test_a_string_that_is_neither_text_nor_a_file():
    with pytest.raises(DataError, match=r"neither edge-list text .* nor an existing file"):
        as_dag("no_such_file.csv")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("A -> B\nB ->\n", 2),
        ("A -> B\n\n# note\nA B C\n", 4),
        ("A,B\nA,,C\n", 2),
        ("-> B", 1),
    ],
)
def test_unparseable_line_is_named_by_number(text, line):
    with pytest.raises(DataError, match=f"line {line}: cannot parse"):
        as_dag(text)


def test_unparseable_file_line_names_the_file(tmp_path: Path):
    path = tmp_path / "bad.txt"
    path.write_text("A -> B\nA B C\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.txt, line 2"):
        as_dag(path)


def test_cycle_is_named():
    with pytest.raises(DataError, match="A -> B -> C -> A"):
        as_dag("A -> B\nB -> C\nC -> A\n")


def test_node_named_like_the_latent():
    with pytest.raises(DataError, match=r"node named 'U'.*latent_name"):
        as_dag("U -> Y\nX -> Y")
    g = as_dag("U -> Y\nX -> Y", latent_name="H")
    assert g.nodes == ("U", "X", "Y")
    with pytest.raises(DataError, match="node named 'H'"):
        as_dag(FakeDiGraph(["H", "X"], [("H", "X")]), latent_name="H")
    with pytest.raises(DataError, match="node named 'U'"):
        check_dag_columns(g, ["U", "X", "Y"])


def test_columns_missing_nodes():
    with pytest.raises(DataError, match=r"nodes \['W'\] are not columns"):
        as_dag(EXPECTED, columns=["X", "Y", "Z"])


def test_extra_columns_raise_or_warn():
    with pytest.raises(DataError, match=r"columns \['age'\] are not nodes.*ignore_extra=True"):
        check_dag_columns(EXPECTED, ["X", "Y", "Z", "W", "age"])
    with pytest.warns(UserWarning, match=r"\['age'\] are not nodes of the DAG; they are ignored"):
        pos = check_dag_columns(EXPECTED, ["age", "Y", "X", "W", "Z"], ignore_extra=True)
    assert pos == (4, 2, 1, 3)  # Z, X, Y, W
    with pytest.warns(UserWarning, match="age"):
        as_dag("Z -> X", columns=["X", "Z", "age"], ignore_extra=True)


def test_matching_columns_give_positions_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_dag_columns(EXPECTED, ["W", "Y", "X", "Z"]) == (3, 2, 1, 0)
    with pytest.raises(DataError, match="repeated column"):
        check_dag_columns(EXPECTED, ["W", "Y", "X", "Z", "Z"])


def test_other_inputs_are_refused_with_the_accepted_forms():
    with pytest.raises(DataError, match="cannot read a DAG from int"):
        as_dag(3)
    with pytest.raises(DataError, match="pair"):
        as_dag([("A", "B", "C")])


def test_parse_edge_list_reports_nodes_in_order_of_appearance():
    nodes, edges = parse_edge_list("B -> A\nC\nfrom,to\n")
    assert nodes == ["B", "A", "C", "from", "to"]  # a header only counts on the first row
    assert edges == [("B", "A"), ("from", "to")]


def test_a_byte_order_mark_is_no_part_of_a_node_name(tmp_path: Path):
    """Reference: the same edges without the mark (a file saved by a Windows editor)."""
    path = tmp_path / "dag.txt"
    path.write_bytes("\ufeffA -> B\nB -> C\n".encode())
    assert as_dag(path).nodes == ("A", "B", "C")
    assert as_dag("\ufeffA -> B").nodes == ("A", "B")

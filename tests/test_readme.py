"""The README's Design section against the code it describes.

References: the package tree on disk (``src/kmix``), the layering rules the
layering test enforces (``tests/test_layering.py``), and the modules the
moved-imports table names, imported for real.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from tests.test_layering import ALLOWED_INTERNAL

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "kmix"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end >= 0 else None]


DESIGN = _section("Design")


def _tree() -> str:
    block = re.search(r"```\nkmix/\n(.*?)```", DESIGN, flags=re.S)
    assert block is not None, "the Design section has no kmix/ tree"
    return block.group(1)


#: Folders whose modules the tree lists by folder only (command line, file formats, data)
BY_FOLDER = {"cli", "io", "data", "datasets"}


def test_the_tree_names_every_folder_and_module():
    names = set(re.findall(r"[A-Za-z_]+(?:\.py|/)", _tree()))
    missing = []
    for path in sorted(SRC.rglob("*")):
        rel = path.relative_to(SRC)
        if "__pycache__" in rel.parts or path.name == "__init__.py":
            continue
        if path.is_dir() and rel.parts[0] == "datasets" and len(rel.parts) > 1:
            continue  # the bundled data files
        if path.is_dir():
            want = f"{path.name}/"
        elif path.suffix == ".py" and not (len(rel.parts) > 1 and rel.parts[0] in BY_FOLDER):
            want = path.name
        else:
            continue
        if want not in names:
            missing.append(str(rel))
    assert not missing, f"not in the README's Design tree: {missing}"


def test_every_module_the_tree_names_exists():
    tree = _tree()
    files = {p.name for p in SRC.rglob("*.py")}
    folders = {p.name for p in SRC.rglob("*") if p.is_dir()}
    absent = [m for m in re.findall(r"\b([a-z_]+\.py)\b", tree) if m not in files]
    named = re.findall(r"^\s*([a-z_]+)/", tree, flags=re.M)
    absent += [f for f in named if f not in folders]
    assert not absent, f"the Design tree names modules that do not exist: {absent}"


def _allowed_in_readme() -> dict[str, set[str]]:
    text = DESIGN[DESIGN.index("Allowed imports") :]
    text = text[text.index(":") + 1 : text.index("Every layer may import exceptions")]
    text = re.sub(r"\([^)]*\)", "", text.replace("\n", " "))
    out: dict[str, set[str]] = {}
    for clause in text.split(";"):
        if "->" not in clause:
            continue
        lhs, rhs = clause.split("->")
        targets = {t.strip(" .") for t in rhs.split(",")} - {"", "exceptions"}
        for layer in (s.strip() for s in lhs.split(",")):
            out[layer] = targets
    return out


def test_the_allowed_imports_are_the_layering_tests():
    documented = _allowed_in_readme()
    enforced = {
        layer: allowed - {"exceptions"}
        for layer, allowed in ALLOWED_INTERNAL.items()
        if layer not in {"exceptions", "plotting"}
    }
    assert documented == enforced


def _moved_rows() -> list[tuple[list[str], list[str]]]:
    table = DESIGN[DESIGN.index("Moved public imports") :]
    rows = []
    for line in table.splitlines()[1:]:
        if not line.startswith("| `"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        names = re.findall(r"`([A-Za-z_]+)`", cells[0])
        paths = re.findall(r"`(kmix(?:\.[a-z_]+)*)`", cells[2])
        rows.append((names, paths))
    return rows


ROWS = _moved_rows()


def test_the_moved_imports_table_is_there():
    assert len(ROWS) >= 15


@pytest.mark.parametrize(("names", "paths"), ROWS, ids=[" ".join(r[0]) for r in ROWS])
def test_every_moved_name_imports_from_its_new_path(names, paths):
    """Each name is found in one of the listed modules, and each module holds one of the names."""
    modules = [importlib.import_module(p) for p in paths]
    if not names:  # rows such as "simulators and surveys" name a module only
        return
    for name in names:
        assert any(hasattr(m, name) for m in modules), (name, paths)
    for module in modules:
        assert any(hasattr(module, n) for n in names), (module.__name__, names)

"""Dependencies point one way: data -> statistics -> solvers -> parameters -> queries.

Walks every module of ``src/kmix`` with :mod:`ast` and fails on an import
that the layering in the README's Design section does not allow, both between
kmix's own layers and towards third-party packages.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "kmix"

# layer -> kmix layers it may import (besides itself)
ALLOWED_INTERNAL: dict[str, set[str]] = {
    "exceptions": set(),
    "params": {"exceptions"},
    "stats": {"exceptions", "params"},
    # solvers read sufficient statistics (a lower layer): tables from unique rows
    "solvers": {"exceptions", "params", "stats"},
    "components": {"exceptions", "params"},
    # the fitted BayesNetMixture answers causal queries and reads DAGs through kmix.causal
    "estimators": {"exceptions", "params", "stats", "solvers", "components", "causal"},
    "causal": {"exceptions", "params", "solvers"},
    "data": {"exceptions", "stats"},
    "datasets": {"exceptions", "params", "components", "solvers"},
    "metrics": {"exceptions", "params", "solvers"},
    "io": {"exceptions", "params", "stats", "components", "estimators"},
    "plotting": {"exceptions", "params", "estimators", "metrics"},
    "cli": {
        "exceptions",
        "stats",
        "params",
        "estimators",
        "causal",
        "data",
        "io",
        "datasets",
        "metrics",
    },
}
# third-party packages each layer may import; the numerical core is numpy/scipy only
ALLOWED_EXTERNAL: dict[str, set[str]] = {layer: {"numpy", "scipy"} for layer in ALLOWED_INTERNAL}
# threadpoolctl (a scikit-learn dependency) keeps BLAS single-threaded on tiny problems
# pgmpy: BayesNetMixture.to_pgmpy only, imported inside it (an optional extra)
ALLOWED_EXTERNAL["estimators"] |= {"sklearn", "threadpoolctl", "pgmpy"}
ALLOWED_EXTERNAL["data"] |= {"pandas"}
ALLOWED_EXTERNAL["plotting"] |= {"matplotlib"}
ALLOWED_EXTERNAL["causal"] |= {"networkx"}


def _layer(path: Path) -> str | None:
    rel = path.relative_to(SRC)
    if rel.parts == ("__init__.py",):
        return None  # the package root re-exports public names lazily
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute dotted module) for every import in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    rel = path.relative_to(SRC.parent)
    package = list(rel.with_suffix("").parts)[:-1]  # the package holding this file
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
                if not node.module:
                    out.extend((node.lineno, f"{mod}.{a.name}") for a in node.names)
                    continue
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
    return out


FILES = sorted(p for p in SRC.rglob("*.py") if _layer(p) is not None)


def test_every_module_belongs_to_a_known_layer() -> None:
    unknown = {_layer(p) for p in FILES} - set(ALLOWED_INTERNAL)
    assert not unknown, f"modules outside the documented layers: {unknown}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layering(path: Path) -> None:
    layer = _layer(path)
    assert layer is not None
    bad = []
    for line, mod in _imports(path):
        top = mod.split(".")[0]
        if top == "kmix":
            parts = mod.split(".")
            target = parts[1] if len(parts) > 1 else "kmix"
            if target != layer and target not in ALLOWED_INTERNAL[layer]:
                bad.append(f"line {line}: {layer} -> {mod}")
        elif top in sys.stdlib_module_names or top == "__future__":
            continue
        elif top not in ALLOWED_EXTERNAL[layer]:
            bad.append(f"line {line}: {layer} -> third-party {mod}")
    assert not bad, "\n".join(bad)


def test_the_walker_sees_relative_imports() -> None:
    """The check would be vacuous if relative imports were missed."""
    mods = [m for _, m in _imports(SRC / "estimators" / "finite.py")]
    assert "kmix.solvers.em" in mods
    assert "kmix.components" in mods

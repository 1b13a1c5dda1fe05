"""The house by rungs: dependencies point one way, no cycles, no private reach-ins, small files.

Walks every module of ``src/kmix`` with :mod:`ast` and fails on

* an import that the layering of the README's Design section does not allow,
  between kmix's own layers and towards third-party packages;
* an import cycle between kmix modules (imports inside functions and under
  ``TYPE_CHECKING`` count: a lazy import hides a cycle, it does not remove it);
* a private name used across modules: ``from m import _name`` of another
  module, or ``obj._name`` on anything but ``self``/``cls`` where ``_name`` is
  not defined in the module itself;
* a module over :data:`MAX_LINES` lines.
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "kmix"
#: Longest module allowed (lines).
MAX_LINES = 600

# layer -> kmix layers it may import (besides itself)
ALLOWED_INTERNAL: dict[str, set[str]] = {
    "exceptions": set(),
    "options": {"exceptions"},
    "params": {"exceptions"},
    "stats": {"exceptions", "params"},
    "components": {"exceptions", "options", "params"},
    # solvers read sufficient statistics and run EM over the component families below them
    "solvers": {"exceptions", "options", "params", "stats", "components"},
    "causal": {"exceptions", "params", "solvers"},
    "estimators": {
        "exceptions",
        "options",
        "params",
        "stats",
        "solvers",
        "components",
        "causal",
        # files, Arrow tables and Dask frames are read by data's streamed tally
        "data",
    },
    "data": {"exceptions", "stats"},
    "datasets": {"exceptions", "params", "components", "solvers"},
    "metrics": {"exceptions", "params", "solvers"},
    # io writes model files through data's atomic writer; it rebuilds the results that live
    # below the estimators (a BayesNetMixture's reduction, a discovered class) from their types
    "io": {
        "exceptions",
        "params",
        "stats",
        "components",
        "solvers",
        "causal",
        "estimators",
        "data",
    },
    "plotting": {"exceptions", "params", "estimators", "metrics"},
    # the HTML report: a fitted model's (or a learned graph's) figures and tables
    "report": {"exceptions", "params", "estimators", "causal", "plotting"},
    "cli": {
        "exceptions",
        "options",
        "stats",
        "params",
        "estimators",
        "causal",
        "data",
        "io",
        "datasets",
        "metrics",
        "plotting",
        "report",
    },
}
# third-party packages each layer may import; the numerical core is numpy/scipy only
ALLOWED_EXTERNAL: dict[str, set[str]] = {layer: {"numpy", "scipy"} for layer in ALLOWED_INTERNAL}
# kmix's ConvergenceWarning subclasses scikit-learn's, so one filter silences both
ALLOWED_EXTERNAL["exceptions"] |= {"sklearn"}
# threadpoolctl (a scikit-learn dependency) keeps BLAS single-threaded on tiny problems
ALLOWED_EXTERNAL["solvers"] |= {"threadpoolctl"}
# (and the statistics' blocked counting pass, whose matrix-vector products are tiny)
ALLOWED_EXTERNAL["stats"] |= {"threadpoolctl"}
# pgmpy: BayesNetMixture.to_pgmpy only (estimators/_pgmpy.py), imported inside it (kmix[pgmpy])
ALLOWED_EXTERNAL["estimators"] |= {"sklearn", "threadpoolctl", "pgmpy"}
# pyarrow reads every table; pandas, polars and Dask only when such an object is passed
ALLOWED_EXTERNAL["data"] |= {"pandas", "pyarrow", "polars", "dask"}
ALLOWED_EXTERNAL["plotting"] |= {"matplotlib"}
# networkx: graphs in and out; pgmpy: DiscoveryResult.to_pgmpy only, imported inside it
ALLOWED_EXTERNAL["causal"] |= {"networkx", "pgmpy"}
#: Underscore attributes that are public API of the standard library (namedtuple methods).
PUBLIC_UNDERSCORED = {"_replace", "_asdict", "_fields", "_make"}


def _layer(path: Path) -> str | None:
    rel = path.relative_to(SRC)
    if rel.parts == ("__init__.py",):
        return None  # the package root re-exports public names lazily
    return rel.parts[0].removesuffix(".py")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    base = SRC.parent.joinpath(*dotted.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _package(path: Path) -> list[str]:
    """The dotted parts of the package holding this file."""
    return list(path.relative_to(SRC.parent).with_suffix("").parts)[:-1]


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, absolute dotted module, imported names) for every import in the file."""
    return _imports_in(_tree(path), _package(path))


def _imports_in(tree: ast.Module, package: list[str]) -> list[tuple[int, str, list[str]]]:
    out: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names]
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            out.append((node.lineno, mod, names))
    return out


FILES = sorted(p for p in SRC.rglob("*.py") if _layer(p) is not None)
ALL_FILES = sorted(SRC.rglob("*.py"))


def test_every_module_belongs_to_a_known_layer() -> None:
    unknown = {_layer(p) for p in FILES} - set(ALLOWED_INTERNAL)
    assert not unknown, f"modules outside the documented layers: {unknown}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layering(path: Path) -> None:
    layer = _layer(path)
    assert layer is not None
    bad = []
    for line, mod, names in _imports(path):
        top = mod.split(".")[0]
        if top == "kmix":
            parts = mod.split(".")
            # ``from kmix import causal`` imports the layer it names
            targets = [parts[1]] if len(parts) > 1 else names
            for target in targets:
                if target != layer and target not in ALLOWED_INTERNAL[layer]:
                    bad.append(f"line {line}: {layer} -> kmix.{target}")
        elif top in sys.stdlib_module_names or top == "__future__":
            continue
        elif top not in ALLOWED_EXTERNAL[layer]:
            bad.append(f"line {line}: {layer} -> third-party {mod}")
    assert not bad, "\n".join(bad)


def _edges(imports: list[tuple[int, str, list[str]]]) -> set[str]:
    """kmix modules imported (a name that is a submodule counts as that module)."""
    out = set()
    for _, mod, names in imports:
        if not mod.startswith("kmix"):
            continue
        subs = [f"{mod}.{n}" for n in names if _is_module(f"{mod}.{n}")]
        out.update(subs or [mod])
    return out


def _graph() -> dict[str, set[str]]:
    graph = {_module_name(p): _edges(_imports(p)) for p in ALL_FILES}
    graph["kmix"] = set()  # the root re-exports lazily, through importlib
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                found.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles between kmix modules:\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )


def _defined_names(tree: ast.Module) -> set[str]:
    """Every name the module defines: functions, classes, assignments, attributes of self."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            out.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
    return out


def _private_uses(path: Path) -> list[str]:
    return _private_uses_in(_tree(path), _package(path), _module_name(path))


def _private_uses_in(tree: ast.Module, package: list[str], module: str) -> list[str]:
    own = _defined_names(tree)
    bad = []
    for line, mod, names in _imports_in(tree, package):
        if not mod.startswith("kmix") or mod == module:
            continue
        for n in names:
            if n.startswith("_") and not n.startswith("__") and not _is_module(f"{mod}.{n}"):
                bad.append(f"line {line}: imports private {mod}.{n}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        attr = node.attr
        if not attr.startswith("_") or attr.startswith("__") or attr in PUBLIC_UNDERSCORED:
            continue
        base = node.value
        if isinstance(base, ast.Name) and base.id in ("self", "cls"):
            continue
        if attr in own:
            continue  # the module's own private (another instance of its own class)
        bad.append(f"line {node.lineno}: reaches into {ast.unparse(base)}.{attr}")
    return bad


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_private_names_across_modules(path: Path) -> None:
    bad = _private_uses(path)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_modules_are_short(path: Path) -> None:
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(SRC)} has {n} lines (at most {MAX_LINES})"


def test_the_walker_sees_relative_imports() -> None:
    """The checks would be vacuous if relative imports were missed."""
    mods = [m for _, m, _ in _imports(SRC / "estimators" / "finite.py")]
    assert "kmix.solvers.em.loop" in mods
    assert "kmix.components" in mods


def test_the_checks_can_fail() -> None:
    """Each rule flags a planted offender (the reference: code written to break it)."""
    planted = ast.parse(
        "from ..solvers.em.loop import _single_run\n"
        "def f(model):\n    return model._probs, model._replace()\n"
    )
    bad = _private_uses_in(planted, ["kmix", "estimators"], "kmix.estimators.planted")
    assert any("kmix.solvers.em.loop._single_run" in b for b in bad)
    assert any("model._probs" in b for b in bad)
    assert not any("_replace" in b for b in bad)
    graph = _graph()
    graph["kmix.stats.rows"] = {*graph["kmix.stats.rows"], "kmix.estimators.product"}
    assert any("kmix.stats.rows" in c for c in _cycles(graph))

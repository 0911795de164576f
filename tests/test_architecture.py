"""The package's layering, as docs/architecture.md states it (import-linter checks the layers).

These tests keep what import-linter does not see: imports hidden inside functions (which is how
cycles used to be dodged) and private names reached across subpackages.
"""
from __future__ import annotations

import ast
from pathlib import Path

import grimp

PACKAGE = Path(__file__).resolve().parent.parent / "matcalc"


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def _imports_matcalc(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return bool(node.module) and (node.module == "matcalc" or node.module.startswith("matcalc.")) \
            or node.level > 0
    if isinstance(node, ast.Import):
        return any(a.name == "matcalc" or a.name.startswith("matcalc.") for a in node.names)
    return False


def test_no_function_local_imports_of_matcalc_modules():
    found = []
    for path, tree in _modules():
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found += [f"{path.relative_to(PACKAGE)}:{n.lineno}" for n in ast.walk(fn) if _imports_matcalc(n)]
    assert found == []


def test_no_relative_imports():
    found = [f"{path.relative_to(PACKAGE)}:{n.lineno}" for path, tree in _modules() for n in ast.walk(tree)
             if isinstance(n, ast.ImportFrom) and n.level > 0]
    assert found == []


def test_no_private_names_imported_across_subpackages():
    found = []
    for path, tree in _modules():
        here = path.relative_to(PACKAGE).parts[0]
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("matcalc."):
                there = n.module.split(".")[1]
                found += [f"{path.relative_to(PACKAGE)}: {n.module}.{a.name}" for a in n.names
                          if a.name.startswith("_") and there != here]
    assert found == []


def test_no_import_cycles():
    graph = grimp.build_graph("matcalc")
    cycles = [(m, i) for m in sorted(graph.modules) for i in sorted(graph.find_modules_directly_imported_by(m))
              if graph.chain_exists(importer=i, imported=m)]
    assert cycles == []


def test_every_subpackage_is_a_layer_of_the_contract():
    import tomllib
    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = config["tool"]["importlinter"]["contracts"]
    layers = {layer.removeprefix("matcalc.") for layer in contract["layers"]}
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert subpackages | modules == layers


def test_lazy_third_party_imports_go_through_core_optional():
    """An import inside a function is only allowed in ``core/optional.py``, the one lazy loader."""
    found = []
    for path, tree in _modules():
        if path.relative_to(PACKAGE).as_posix() == "core/optional.py":
            continue
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found += [f"{path.relative_to(PACKAGE)}:{n.lineno}" for n in ast.walk(fn)
                          if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert found == []

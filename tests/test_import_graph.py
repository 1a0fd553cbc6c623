"""The import graph: the core never reaches the shell, training and evaluation never reach each
other, and the model layer sits below both (DESIGN: rooms and one direction)."""

import ast
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "ser_pipeline"
MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")  # a dotted module path, not a URI scheme
SHELL = ("dagster", "dagster_", "mlflow", "ser_pipeline.defs", "ser_pipeline.definitions")


def _core_files() -> list[Path]:
    return [p for p in PKG.rglob("*.py")
            if p.relative_to(PKG).parts[0] != "defs" and p.name != "definitions.py"]


def _docstring_nodes(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def imported_modules(path: Path) -> list[str]:
    """Every module a file imports, statically or by a string constant (``importlib.import_module
    ("x")``, ``__import__("x")``, entry-point strings): docstrings excepted."""
    tree = ast.parse(path.read_text())
    docs = _docstring_nodes(tree)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module or "")
        elif isinstance(node, ast.ImportFrom):  # relative: resolve against the file's package
            pkg = path.relative_to(PKG.parent).with_suffix("").parts[: -node.level]
            names.append(".".join([*pkg, node.module or ""]).rstrip("."))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            text = node.value.split(":")[0].strip()
            if text.startswith(SHELL) and MODULE_NAME.fullmatch(text):
                names.append(text)
    return names


def _offenders(files, forbidden) -> list[str]:
    out = []
    for path in files:
        for name in imported_modules(path):
            if name.startswith(forbidden):
                out.append(f"{path.relative_to(PKG.parent)}: {name}")
    return out


def test_science_core_never_reaches_dagster_mlflow_or_the_shell():
    assert not _offenders(_core_files(), SHELL)


@pytest.mark.parametrize("room, forbidden", [
    ("training", ("ser_pipeline.evaluation",)),
    ("evaluation", ("ser_pipeline.training",)),
    ("model", ("ser_pipeline.training", "ser_pipeline.evaluation", "ser_pipeline.inference")),
    ("audio", ("ser_pipeline.training", "ser_pipeline.evaluation", "ser_pipeline.model")),
])
def test_rooms_import_in_one_direction(room, forbidden):
    assert not _offenders(sorted((PKG / room).rglob("*.py")), forbidden)


def test_the_checker_sees_every_kind_of_reach(tmp_path):
    """The checker itself must catch a static import, an importlib string and a relative import."""
    probe = PKG / "training" / "_probe_for_test.py"
    probe.write_text('import importlib\nfrom ..evaluation import metrics\n'
                     'importlib.import_module("ser_pipeline.defs.mlflow_model")\n'
                     'from mlflow import pyfunc\n')
    try:
        names = imported_modules(probe)
    finally:
        probe.unlink()
    assert "ser_pipeline.evaluation" in names
    assert "ser_pipeline.defs.mlflow_model" in names and "mlflow" in names

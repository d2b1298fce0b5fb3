"""The layout stays readable: folders by kind, each opening with what lives there, and no
function long enough to hold two things (STYLE.md, lesson 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("stacks", "blocks", "parts", "lib", "config")
LONGEST = 100
"""Lines a function of components/, offline/ or validate/ may take (issue 13)."""


def functions(folder: str):
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield path.relative_to(ROOT), node.name, node.end_lineno - node.lineno + 1


@pytest.mark.parametrize("folder", ["components", "offline", "validate"])
def test_no_function_is_over_a_hundred_lines(folder):
    long = [f"{path}:{name} ({lines} lines)" for path, name, lines in functions(folder)
            if lines > LONGEST]  # fmt: skip
    assert long == []


def test_components_holds_only_the_folders_of_each_kind():
    modules = sorted(p.name for p in (ROOT / "components").glob("*.py"))
    folders = sorted(p.name for p in (ROOT / "components").iterdir()
                     if p.is_dir() and p.name != "__pycache__")  # fmt: skip
    assert modules == ["__init__.py"]
    assert folders == sorted(KINDS)


@pytest.mark.parametrize("package", ["components", *(f"components/{k}" for k in KINDS)])
def test_each_folder_opens_with_what_lives_there_and_who_may_import_it(package):
    doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text()))
    assert doc and "import" in doc


def test_lib_imports_nothing_above_it():
    upward = []
    for path in sorted((ROOT / "components" / "lib").rglob("*.py")):
        tree = ast.parse(path.read_text())
        checking = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
        ]
        guarded = {id(n) for block in checking for n in ast.walk(block)}  # fmt: skip
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and id(node) not in guarded:
                module = node.module or ""
                if module.startswith("components.") and not module.startswith("components.lib"):
                    upward.append(f"{path.relative_to(ROOT)}: {module}")
    assert upward == []

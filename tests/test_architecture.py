"""The shape of the code: imports point one way, the content model knows nothing of templates,
and only the command line prints. Checked on the source with `ast`, not by importing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import csblog

PACKAGE = Path(csblog.__file__).resolve().parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))
NO_TEMPLATES = ("posts", "site_model", "urls", "discovery", "config", "markdown_rendering")
NO_FILE_IO = ("posts", "site_model", "urls", "markdown_rendering")


def tree(module: str) -> ast.Module:
    path = PACKAGE / f"{module}.py"
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported(module: str) -> set[str]:
    """Every module name imported anywhere in the file (also inside functions)."""
    names: set[str] = set()
    for node in ast.walk(tree(module)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:  # relative: from .x import y
                names.add(f"csblog.{node.module}")
            else:
                names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def calls(module: str) -> list[tuple[str, int]]:
    """(called name, line) of every call of a plain name or attribute."""
    found = []
    for node in ast.walk(tree(module)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                found.append((func.id, node.lineno))
            elif isinstance(func, ast.Attribute):
                found.append((func.attr, node.lineno))
    return found


def test_the_modules_are_where_the_tests_expect() -> None:
    for module in (*NO_TEMPLATES, "cli", "build", "themes", "page_rendering"):
        assert module in MODULES, module


@pytest.mark.parametrize("module", NO_TEMPLATES)
def test_content_model_never_imports_jinja(module: str) -> None:
    jinja = {name for name in imported(module) if name.split(".")[0] == "jinja2"}
    assert jinja == set()


@pytest.mark.parametrize("module", NO_TEMPLATES)
def test_content_model_never_imports_template_modules(module: str) -> None:
    upward = {"csblog.themes", "csblog.page_rendering", "csblog.feeds", "csblog.build",
              "csblog.cli", "csblog.output_writing"}
    assert imported(module) & upward == set()


def test_only_the_command_line_prints() -> None:
    printing = {m: [line for name, line in calls(m) if name == "print"] for m in MODULES}
    assert printing.pop("cli"), "cli.py is where messages are printed"
    assert {m: lines for m, lines in printing.items() if lines} == {}


def test_nothing_writes_to_stdout_or_stderr_directly() -> None:
    for module in MODULES:
        if module == "cli":
            continue
        names = imported(module)
        assert "sys.stdout" not in names and "sys.stderr" not in names, module
        for node in ast.walk(tree(module)):
            if (isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr")
                    and isinstance(node.value, ast.Name) and node.value.id == "sys"):
                pytest.fail(f"{module}.py line {node.lineno} uses sys.{node.attr}")


def test_only_cli_and_main_import_the_command_line() -> None:
    importers = {m for m in MODULES if "csblog.cli" in imported(m)}
    assert importers <= {"__main__"}


@pytest.mark.parametrize("module", NO_FILE_IO)
def test_pure_stages_do_not_touch_files(module: str) -> None:
    io_calls = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "mkdir",
                "unlink", "iterdir", "glob", "rglob", "walk"}
    assert [(name, line) for name, line in calls(module) if name in io_calls] == []


def test_the_package_init_holds_no_application() -> None:
    body = [node for node in tree("__init__").body
            if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
    assert all(isinstance(node, (ast.Assign, ast.ImportFrom)) for node in body)

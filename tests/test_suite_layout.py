"""The test suite's own layout rule: test modules import helpers from `tests.support` only.

A test module that imports another test module (or conftest) drags that module's tests,
fixtures and tier into every run that loads it, and cannot be moved or deleted on its own;
shared helpers belong in `tests/support/`, shared fixtures in `tests/conftest.py`.
Processes the tests start count too: a module path given to a child (`uvicorn --factory`,
`python -m`) must not name a test module either.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

pytestmark = pytest.mark.unit

TESTS_DIR = REPO_ROOT / "tests"
TEST_MODULE = re.compile(r"^tests\.(test_\w+|conftest)\b")


def imported_modules(path: Path) -> set[str]:
    """Every module an import statement in `path` names, and every dotted `tests.` name in a
    string (a module handed to a child process)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.update(re.findall(r"\btests\.[\w.]+", node.value))
    return names


def test_no_test_module_or_helper_imports_a_test_module_or_conftest() -> None:
    sources = sorted(TESTS_DIR.glob("test_*.py")) + sorted((TESTS_DIR / "support").glob("*.py"))
    sources.remove(Path(__file__).resolve())  # its own example strings name test modules
    offending = {
        str(path.relative_to(REPO_ROOT)): sorted(
            name for name in imported_modules(path) if TEST_MODULE.match(name)
        )
        for path in sources
    }
    assert {path: names for path, names in offending.items() if names} == {}


def test_the_rule_sees_an_import_of_a_test_module(tmp_path: Path) -> None:
    module = tmp_path / "test_example.py"
    module.write_text(
        "from tests.test_pipeline_local import write_segments\n"
        "import tests.conftest\n"
        'COMMAND = ["uvicorn", "--factory", "tests.test_api_protection:app"]\n'
    )
    assert {name for name in imported_modules(module) if TEST_MODULE.match(name)} == {
        "tests.test_pipeline_local",
        "tests.test_pipeline_local.write_segments",
        "tests.conftest",
        "tests.test_api_protection",
    }

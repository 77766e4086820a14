"""Where moto may be used. The unit tests (``make test-fast``) never import it: a test that needs an
AWS stand-in belongs in tests/integration or tests/tools. And no test beside the session's stack
enters ``mock_aws``: leaving it resets moto's in-process backends, the stack's tables with them, so
every later test that asks for the stack fails; only tests/tools, which never use the stack, may."""

from __future__ import annotations

import ast
from pathlib import Path

UNIT_TESTS = Path(__file__).resolve().parent
TESTS = UNIT_TESTS.parent
BESIDE_THE_STACK = ("integration", "contract", "preview")


def moto_imports(source: str) -> list[int]:
    """The lines of ``source`` that import moto (or a module of it)."""
    if "moto" not in source:
        return []  # most files: no need to parse them
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        if any(name == "moto" or name.startswith("moto.") for name in names):
            lines.append(node.lineno)
    return lines


def test_no_unit_test_imports_moto() -> None:
    found = {
        path.name: moto_imports(path.read_text(encoding="utf-8")) for path in sorted(UNIT_TESTS.glob("*.py"))
    }
    assert {name: lines for name, lines in found.items() if lines} == {}


def test_a_moto_import_anywhere_in_a_module_is_found() -> None:
    assert moto_imports("import os\n\ndef f():\n    from moto import mock_aws\n") == [4]
    assert moto_imports("import moto.server\n") == [1]
    assert moto_imports("from motor import x\n") == []


def test_no_test_beside_the_stack_enters_mock_aws() -> None:
    found = sorted(
        str(path.relative_to(TESTS))
        for folder in BESIDE_THE_STACK
        for path in (TESTS / folder).rglob("*.py")
        if "mock_aws" in path.read_text(encoding="utf-8")
    )
    assert found == []

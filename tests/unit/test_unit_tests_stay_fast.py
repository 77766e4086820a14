"""The unit tests (``make test-fast``) never import moto: a test that needs an AWS stand-in belongs in
tests/integration or tests/tools, where moto's server is started once a session."""

from __future__ import annotations

import ast
from pathlib import Path

UNIT_TESTS = Path(__file__).resolve().parent


def moto_imports(source: str) -> list[int]:
    """The lines of ``source`` that import moto (or a module of it)."""
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

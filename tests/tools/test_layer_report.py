"""The built layer's bytecode check (`make build` fails on what it names): every .py has its .pyc for
the runtime's Python, unchecked-hash, and no other Python's. Shown here with this interpreter's
cache tag and magic number standing in for python3.12's."""

from __future__ import annotations

import importlib.util
import py_compile
import sys
from pathlib import Path

import pytest

from local_stack.bench.layer_report import RUNTIME_CACHE_TAG, RUNTIME_MAGIC, bytecode_problems

TAG = sys.implementation.cache_tag
MAGIC = importlib.util.MAGIC_NUMBER
UNCHECKED = py_compile.PycInvalidationMode.UNCHECKED_HASH


def _layer(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("VALUE = 1\n")
    return root


def _compile(root: Path, name: str, mode: py_compile.PycInvalidationMode = UNCHECKED) -> Path:
    compiled = importlib.util.cache_from_source(str(root / name))
    py_compile.compile(str(root / name), cfile=compiled, doraise=True, invalidation_mode=mode)
    return Path(compiled)


def test_the_runtime_is_python_3_12() -> None:
    assert RUNTIME_CACHE_TAG == "cpython-312"
    assert RUNTIME_MAGIC == b"\xcb\r\r\n"


def test_a_layer_with_every_module_compiled_unchecked_passes(tmp_path: Path) -> None:
    layer = _layer(tmp_path, "package/__init__.py", "package/module.py", "single.py")
    for name in ("package/__init__.py", "package/module.py", "single.py"):
        _compile(layer, name)
    assert bytecode_problems(layer, TAG, MAGIC) == []


def test_missing_checked_foreign_and_other_pythons_bytecode_are_named(tmp_path: Path) -> None:
    # Given a module without .pyc, one compiled against its mtime, one whose .pyc another Python
    # wrote under this one's name, and a .pyc for another Python
    layer = _layer(tmp_path, "package/__init__.py", "package/stale.py", "package/foreign.py", "ok.py")
    _compile(layer, "ok.py")
    _compile(layer, "package/stale.py", py_compile.PycInvalidationMode.TIMESTAMP)
    foreign = _compile(layer, "package/foreign.py")
    foreign.write_bytes(b"\x00\x00\r\n" + foreign.read_bytes()[4:])
    (layer / "package" / "__pycache__" / "__init__.cpython-36.pyc").write_bytes(b"")
    # When checked, then each is named, with how many of the layer's modules it concerns
    assert bytecode_problems(layer, TAG, MAGIC) == [
        f"1 of 4 .py without its {TAG} .pyc, e.g. package/__init__.py",
        "1 of 4 .py whose .pyc another Python wrote (magic number), e.g. package/foreign.py",
        "1 of 4 .py whose .pyc is not unchecked-hash (it checks its source), e.g. package/stale.py",
        "1 .pyc for another Python, e.g. package/__pycache__/__init__.cpython-36.pyc",
    ]


@pytest.mark.skipif(TAG == RUNTIME_CACHE_TAG, reason="this Python is the runtime's")
def test_a_layer_compiled_for_this_python_fails_the_runtimes_check(tmp_path: Path) -> None:
    layer = _layer(tmp_path, "module.py")
    _compile(layer, "module.py")
    assert bytecode_problems(layer) == [
        f"1 of 1 .py without its {RUNTIME_CACHE_TAG} .pyc, e.g. module.py",
        f"1 .pyc for another Python, e.g. __pycache__/module.{TAG}.pyc",
    ]

"""After `make build`: the built code layer's size, and that it ships what Lambda needs and no more.

Fails if the layer carries the SDK the runtime provides (boto3, botocore and their dependencies,
which would shadow the runtime's copy), if the templates layer ships any Python (it is data only and
nothing compiles it), or if any .py of the layer or of a function lacks its python3.12 bytecode:
``__pycache__/<name>.cpython-312.pyc``, an unchecked-hash .pyc (used without looking at the source).
On Lambda the code is read-only, so a module without it is compiled again on every cold start
(layers/bytecode.mk). Bytecode for any other Python fails too. Prints the unzipped size and the
largest packages.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from local_stack.emulator.stack import REPO_ROOT

BUILD_DIR = REPO_ROOT / ".aws-sam" / "build"
BUILT_LAYER = BUILD_DIR / "NudgeLayer" / "python"
TEMPLATES_LAYER = BUILD_DIR / "TemplatesLayer"
LAYER = Path(sys.argv[1]) if len(sys.argv) > 1 and __name__ == "__main__" else BUILT_LAYER
RUNTIME_PROVIDES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3")

# The functions' runtime: its cache tag names the .pyc files it reads, and its magic number opens
# them (fixed for a Python version from its release candidates on: 3531 for every 3.12.x).
RUNTIME_CACHE_TAG = "cpython-312"
RUNTIME_MAGIC = (3531).to_bytes(2, "little") + b"\r\n"
# The header's flags (PEP 552), bytes 4 to 8, little-endian: bit 0 set is hash-based, bit 1 set is
# "check the source"; so 1 is unchecked-hash (0 would be the source's mtime, 3 checked-hash).
UNCHECKED_HASH = 1


def size_of(path: Path) -> int:
    return (
        sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        if path.is_dir()
        else path.stat().st_size
    )


def _sources(root: Path) -> Iterator[Path]:
    return (path for path in root.rglob("*.py") if "__pycache__" not in path.parts)


def bytecode_problems(
    root: Path, cache_tag: str = RUNTIME_CACHE_TAG, magic: bytes = RUNTIME_MAGIC
) -> list[str]:
    """What keeps ``root`` from being imported without compiling anything, read-only: each .py whose
    ``__pycache__/<name>.<cache_tag>.pyc`` is missing, was written by another Python (``magic``), or
    is not unchecked-hash; and .pyc files for another Python. Empty when every module has its own."""
    missing, foreign_magic, checked, sources = [], [], [], 0
    for source in _sources(root):
        sources += 1
        compiled = source.parent / "__pycache__" / f"{source.stem}.{cache_tag}.pyc"
        name = str(source.relative_to(root))
        if not compiled.is_file():
            missing.append(name)
            continue
        with compiled.open("rb") as file:
            header = file.read(8)
        if header[:4] != magic:
            foreign_magic.append(name)
        elif int.from_bytes(header[4:8], "little") != UNCHECKED_HASH:
            checked.append(name)
    other = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.pyc")
        if not path.name.endswith(f".{cache_tag}.pyc")
    )
    problems = []
    for names, what in (
        (missing, f"without its {cache_tag} .pyc"),
        (foreign_magic, "whose .pyc another Python wrote (magic number)"),
        (checked, "whose .pyc is not unchecked-hash (it checks its source)"),
    ):
        if names:
            problems.append(f"{len(names)} of {sources} .py {what}, e.g. {', '.join(sorted(names)[:3])}")
    if other:
        problems.append(f"{len(other)} .pyc for another Python, e.g. {', '.join(other[:3])}")
    return problems


def built_functions(build_dir: Path = BUILD_DIR) -> list[Path]:
    """Each built function's code directory (its handler is app.py)."""
    return sorted(path for path in build_dir.glob("*Function") if (path / "app.py").is_file())


def main() -> int:
    if not LAYER.is_dir():
        print(f"no built layer at {LAYER}: run `sam build` first")
        return 1
    shadowing = [name for name in RUNTIME_PROVIDES if (LAYER / name).exists()]
    largest = sorted(
        ((size_of(p), p.name) for p in LAYER.iterdir() if not p.name.endswith(".dist-info")), reverse=True
    )
    total = size_of(LAYER)
    compiled = sum(1 for _ in LAYER.rglob(f"*.{RUNTIME_CACHE_TAG}.pyc"))
    print(
        f"NudgeLayer: {total / 2**20:.1f} MiB unzipped, {sum(1 for _ in _sources(LAYER))} .py, "
        f"{compiled} {RUNTIME_CACHE_TAG} .pyc; largest: "
        + ", ".join(f"{name} {size / 2**20:.1f}" for size, name in largest[:5])
    )
    problems = []
    if shadowing:
        problems.append(f"the layer ships what the Lambda runtime provides: {', '.join(shadowing)}")
    problems += [f"the layer has {problem}" for problem in bytecode_problems(LAYER)]
    functions = built_functions()
    for function in functions:
        problems += [f"{function.name} has {problem}" for problem in bytecode_problems(function)]
    if not functions:
        problems.append(f"no built function in {BUILD_DIR}")
    python_in_templates = sorted(str(path.relative_to(BUILD_DIR)) for path in _sources(TEMPLATES_LAYER))
    if python_in_templates:
        problems.append(f"the templates layer (data only) ships Python: {', '.join(python_in_templates[:3])}")
    for problem in problems:
        print(f"X {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""The code layer and the functions as `sam build` ships them, for this machine's Python, read-only:
what `make bench` imports to measure a cold start "as shipped".

The built layer is for python3.12 on arm64 and cannot be imported here, so the same steps as
layers/nudge/Makefile and functions/Makefile run for the local interpreter and platform: pip installs
layers/nudge/requirements.txt with --no-compile into a target directory, the SDK packages the Makefile
removes are removed (the interpreter's own boto3 is used, as the runtime's is on Lambda), nudge/ and
each function's .py are copied in, and, for the layer as shipped now, compileall writes unchecked-hash
bytecode with this interpreter (as layers/bytecode.mk does with python3.12). The pip install, and its
bytecode, are kept under out/bench-layer/ by a hash of the requirements, the SDK list and the
interpreter, so only the first run (and one after a requirements change) installs anything (needing
the package index); each run then makes its two copies of it in a second (hard links) and compiles
only nudge/ and the handlers.

Both copies are made read-only, as /opt and /var/task are on Lambda, so Python can cache nothing it
compiles: the files and directories lose their write bits, and an interpreter run as root (which
ignores them) is run without the capability that lets it (``setpriv``; CAP_DAC_OVERRIDE).
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from local_stack.emulator.stack import REPO_ROOT

LAYER_SOURCE = REPO_ROOT / "layers" / "nudge"
REQUIREMENTS = LAYER_SOURCE / "requirements.txt"
CACHE = REPO_ROOT / "out" / "bench-layer"
# The read-only copies, beside the cache: on the same file system, so they can be hard links.
SCRATCH = REPO_ROOT / "out" / "bench-shipped-"
# compileall as layers/bytecode.mk runs it (less -s/-p: the paths compiled in do not change the time).
COMPILE = ("-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash")


def sdk_packages() -> list[str]:
    """The packages layers/nudge/Makefile removes from the layer (the runtime provides them)."""
    makefile = (LAYER_SOURCE / "Makefile").read_text()
    found = re.search(r"^SDK_PACKAGES\s*:=(.*)$", makefile, re.MULTILINE)
    if found is None:
        raise RuntimeError("no SDK_PACKAGES in layers/nudge/Makefile")
    return found.group(1).split()


class LayerUnavailableError(RuntimeError):
    """The layer's requirements could not be installed (the first run needs the package index)."""


def _cache_key() -> str:
    identity = [REQUIREMENTS.read_text(), *sdk_packages(), sys.version, platform.machine()]
    return hashlib.sha256("\n".join(identity).encode()).hexdigest()[:16]


def dependencies() -> Path:
    """The layer's third-party packages for this interpreter, with their unchecked-hash bytecode:
    pip-installed into out/bench-layer/<key>/python and compiled the first time, then reused."""
    key = _cache_key()
    installed = CACHE / key / "python"
    if installed.is_dir():
        return installed
    staging = CACHE / f"{key}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    done = subprocess.run(  # noqa: S603 - pip of our own interpreter, our own requirements file
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check",
         "--target", str(staging / "python"), "-r", str(REQUIREMENTS)],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise LayerUnavailableError(f"pip could not install the layer's requirements:\n{done.stderr[-3000:]}")
    target = staging / "python"
    for name in sdk_packages():
        for path in [target / name, target / f"{name}.py", *target.glob(f"{name}-*.dist-info")]:
            _remove(path)
    _remove(target / "bin")
    _compile(target)
    for stale in CACHE.iterdir():
        if stale != staging:
            shutil.rmtree(stale, ignore_errors=True)
    staging.rename(CACHE / key)
    return installed


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


@dataclass(frozen=True)
class ShippedCode:
    """One copy of the layer and the functions, as Lambda mounts them."""

    layer: Path
    """The layer's python/ directory (/opt/python)."""
    functions: Path
    """A directory per function, by its folder name (each /var/task)."""

    def path_of(self, function: str) -> list[str]:
        """sys.path's head for a function, as Lambda orders it: its code, then the layer."""
        return [str(self.functions / function), str(self.layer)]


@contextmanager
def shipped_code(function_dirs: dict[str, Path]) -> Iterator[dict[str, ShippedCode]]:
    """Two read-only copies of the layer and these functions' code: "source", as shipped before
    (no bytecode at all), and "bytecode", as shipped now (every .py with its unchecked-hash .pyc).
    Deleted on leaving."""
    packages = dependencies()
    for left in SCRATCH.parent.glob(f"{SCRATCH.name}*"):  # by a run that was killed
        _make_writable(left)
        shutil.rmtree(left)
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH.name, dir=SCRATCH.parent))
    try:
        copies = {}
        for variant in ("source", "bytecode"):
            copy = ShippedCode(scratch / variant / "python", scratch / variant / "functions")
            compiled = variant == "bytecode"
            # Hard links: 2,400 files in a fraction of a second. They share the cached files' inodes, so
            # those turn read-only too, which nothing minds.
            shutil.copytree(
                packages, copy.layer, ignore=None if compiled else _BYTECODE, copy_function=os.link
            )
            shutil.copytree(LAYER_SOURCE / "nudge", copy.layer / "nudge", ignore=_BYTECODE)
            for name, code_dir in function_dirs.items():
                (copy.functions / name).mkdir(parents=True)
                for source in code_dir.glob("*.py"):
                    shutil.copy2(source, copy.functions / name)
            if compiled:
                _compile(copy.layer / "nudge", copy.functions)
            _make_read_only(scratch / variant)
            copies[variant] = copy
        yield copies
    finally:
        _make_writable(scratch)
        shutil.rmtree(scratch)


_BYTECODE = shutil.ignore_patterns("__pycache__", "*.pyc")


def _compile(*directories: Path) -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter's compileall
        [sys.executable, *COMPILE, *map(str, directories)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"compileall failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def _make_read_only(root: Path) -> None:
    for directory, _, files in os.walk(root):
        for name in files:
            _drop_write(Path(directory) / name)
        _drop_write(Path(directory))


def _drop_write(path: Path) -> None:
    path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _make_writable(root: Path) -> None:
    for directory, _, _ in os.walk(root):
        Path(directory).chmod(Path(directory).stat().st_mode | stat.S_IWUSR)


def without_write_override(command: list[str]) -> list[str]:
    """``command`` run so that write bits hold for it: as root, without CAP_DAC_OVERRIDE (and
    CAP_FOWNER), which would let it write into a read-only directory all the same."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise RuntimeError(
            "running as root, and setpriv (util-linux) is not there to drop CAP_DAC_OVERRIDE: "
            "the read-only layer would not be read-only for the measured interpreters"
        )
    return [setpriv, "--bounding-set=-dac_override,-fowner", "--", *command]


def bytecode_files(root: Path) -> int:
    """How many .pyc files are under ``root`` (none may appear while the code is imported)."""
    return sum(1 for _ in root.rglob("*.pyc"))

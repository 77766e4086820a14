"""What `make bench`'s "import as shipped" relies on: the SDK it leaves out is the one the layer build
leaves out, and the code it imports is read-only for the measured interpreters, even as root."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from local_stack.bench.layer import sdk_packages, without_write_override
from local_stack.bench.layer_report import RUNTIME_PROVIDES


def test_the_sdk_left_out_is_the_layer_builds() -> None:
    assert {"boto3", "botocore"} <= set(sdk_packages())
    assert set(RUNTIME_PROVIDES) <= set(sdk_packages())


def test_a_read_only_directory_cannot_be_written_by_the_measured_interpreter(tmp_path: Path) -> None:
    # Given a directory without write bits (root ignores them unless it gives up the capability)
    code = tmp_path / "code"
    code.mkdir()
    code.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        # When an interpreter run as the bench runs it tries to cache bytecode there
        script = f"import os; os.mkdir({str(code / '__pycache__')!r})"
        done = subprocess.run(  # noqa: S603 - our own interpreter
            without_write_override([sys.executable, "-c", script]),
            capture_output=True,
            text=True,
            check=False,
        )
        # Then it is refused
        assert done.returncode != 0
        assert "PermissionError" in done.stderr
        assert not (code / "__pycache__").exists()
    finally:
        code.chmod(stat.S_IRWXU)

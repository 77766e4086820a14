"""After `make build`: the built code layer's size, and that it ships what Lambda needs and no more.

Fails if the layer carries the SDK the runtime provides (boto3, botocore and their dependencies,
which would shadow the runtime's copy) or any compiled bytecode (built for the building machine's
Python, not the runtime's). Prints the unzipped size and the largest packages.
"""

from __future__ import annotations

import sys
from pathlib import Path

from local_stack.stack import REPO_ROOT

BUILT_LAYER = REPO_ROOT / ".aws-sam" / "build" / "NudgeLayer" / "python"
LAYER = Path(sys.argv[1]) if len(sys.argv) > 1 and __name__ == "__main__" else BUILT_LAYER
RUNTIME_PROVIDES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3")


def size_of(path: Path) -> int:
    return (
        sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        if path.is_dir()
        else path.stat().st_size
    )


def main() -> int:
    if not LAYER.is_dir():
        print(f"no built layer at {LAYER}: run `sam build` first")
        return 1
    shadowing = [name for name in RUNTIME_PROVIDES if (LAYER / name).exists()]
    bytecode = sum(1 for _ in LAYER.rglob("*.pyc"))
    largest = sorted(
        ((size_of(p), p.name) for p in LAYER.iterdir() if not p.name.endswith(".dist-info")), reverse=True
    )
    total = size_of(LAYER)
    print(
        f"NudgeLayer: {total / 2**20:.1f} MiB unzipped; largest: "
        + ", ".join(f"{name} {size / 2**20:.1f}" for size, name in largest[:5])
    )
    problems = []
    if shadowing:
        problems.append(f"ships what the Lambda runtime provides: {', '.join(shadowing)}")
    if bytecode:
        problems.append(f"ships {bytecode} .pyc files compiled for another Python")
    for problem in problems:
        print(f"X the layer {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

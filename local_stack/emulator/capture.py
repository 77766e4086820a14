"""Keeps the handlers' JSON logs and metrics (stdout, as in Lambda) out of a CLI's own output."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path


@contextmanager
def stdout_to(path: Path, *, append: bool = False) -> Iterator[None]:
    """Send the handlers' JSON logs and metrics (written to stdout, as in Lambda) to a file.

    Both file descriptor 1 and ``sys.stdout``: Powertools' metrics are printed to whatever
    ``sys.stdout`` is at the time, which is not descriptor 1 when a CLI's ``main`` runs in-process
    under pytest's capsys. Line-buffered, so the two writers share the file a whole line at a time.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    saved = os.dup(1)
    with path.open("a" if append else "w", encoding="utf-8", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        try:
            with redirect_stdout(log):
                yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)

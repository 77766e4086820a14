"""Compiles the templates' translation catalogs (.po -> .mo), as `sam build` does for the layer.

The .mo files are build output (not in git): the local stack, the tests and the demo compile them
next to their .po before rendering, so they render exactly what the deployed layer renders.
"""

from __future__ import annotations

import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po


def compile_catalogs(templates_dir: Path) -> list[Path]:
    """Every ``locale/<lang>/LC_MESSAGES/messages.po`` to its ``.mo`` when the .mo is missing or
    older; returns the catalogs compiled. Fuzzy entries are left out, as pybabel compile does."""
    compiled = []
    for source in sorted(templates_dir.glob("locale/*/LC_MESSAGES/messages.po")):
        target = source.with_suffix(".mo")
        if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
            continue
        with source.open("rb") as po:
            catalog = read_po(po)
        # A name of this process's own: two processes (the tests and the demo) may compile a catalog at once.
        partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
        with partial.open("wb") as mo:
            write_mo(mo, catalog, use_fuzzy=False)
        partial.replace(target)
        compiled.append(target)
    return compiled

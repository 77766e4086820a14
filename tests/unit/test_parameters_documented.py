"""Every template parameter has a row in the table of docs/operations.md's "Parameters" section: an
operator reading the guided deploy's prompts finds each one explained there."""

from __future__ import annotations

import re

from local_stack.emulator.cfn import load_template
from local_stack.emulator.stack import REPO_ROOT, TEMPLATE_PATH

OPERATIONS = REPO_ROOT / "docs" / "operations.md"


def documented_parameters(markdown: str, heading: str = "## Parameters") -> set[str]:
    """The names in backticks in the first column of the first table under ``heading``."""
    lines = markdown.splitlines()
    start = lines.index(heading)
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break  # the table ended
    names: set[str] = set()
    for row in rows[2:]:  # past the header and its --- line
        first_cell = row.strip("|").split("|")[0]
        names |= set(re.findall(r"`([A-Za-z0-9]+)`", first_cell))
    return names


def test_the_table_is_read_from_its_first_column_only() -> None:
    markdown = "\n".join(
        [
            "## Parameters",
            "",
            "| parameter | default | meaning |",
            "| --- | --- | --- |",
            "| `A`, `B` | `1` | like `C` |",
            "| `D` | none | |",
            "",
            "| `E` | | |",
            "## Next",
        ]
    )
    assert documented_parameters(markdown) == {"A", "B", "D"}


def test_every_template_parameter_is_in_the_operations_table() -> None:
    declared = set(load_template(TEMPLATE_PATH)["Parameters"])
    missing = sorted(declared - documented_parameters(OPERATIONS.read_text(encoding="utf-8")))
    assert missing == []

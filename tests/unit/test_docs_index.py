"""docs/README.md is the index of the documentation: every page is listed there, and every link in it
leads to a page that exists."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
_LINK = re.compile(r"\]\(([^)#]+\.md)")


def test_every_docs_page_is_in_the_index_and_every_entry_exists() -> None:
    listed = set(_LINK.findall((DOCS / "README.md").read_text(encoding="utf-8"))) - {"../README.md"}
    pages = {page.name for page in DOCS.glob("*.md")} - {"README.md"}
    assert sorted(pages - listed) == [], "pages missing from docs/README.md"
    assert sorted(listed - pages) == [], "docs/README.md links to pages that do not exist"

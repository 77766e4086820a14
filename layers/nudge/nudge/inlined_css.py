"""The layout's CSS inlined into the HTML templates once, when they load, instead of into every email.

Gmail's apps and many clients drop ``<style>``, so every ordinary rule of the layout is written into
``style`` attributes; only the ``@media`` rules stay in ``<style>``. Inlining the rendered email cost
about half a millisecond per send, for CSS that never changes: the loader inlines each ``*.html.j2``
source before Jinja compiles it. Its Jinja tags are set aside behind placeholders (a comment between
elements, where a comment is kept in place even inside a ``<table>``; a private-use character
inside a start tag or a comment), the skeleton is inlined, and the tags are put back.

What a template cannot show at load is the markup inside a ``{% trans %}`` block, which comes from
the catalog at render time: each translated message holding markup is inlined once, on first use.

What this relies on, and tests/unit/test_inlined_css.py checks for every family, language and sample
event against inlining each rendered email: a rule's selector matches within one template file (a
partial's ``.items td``, the layout's ``.footer p``), never across an ``{% extends %}``, an import or
a message; and the parser's own additions to a table (``<tbody>``) are left to the mail client.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import css_inline
from jinja2 import BaseLoader, Environment, TemplateNotFound

# Whole {% trans %} blocks first: their body is the catalog's message id and must stay as written.
_JINJA = re.compile(
    r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}|\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}",
    re.DOTALL,
)
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)
_PLACEHOLDER = re.compile(r"<!--jinja:(\d+)-->|&lt;!--jinja:(\d+)--&gt;|\ue000(\d+)\ue001")
# Where the source is at a given point: inside a comment, inside a start or end tag, or in text.
_COMMENT_OPEN, _COMMENT_CLOSE = "<!--", "-->"
_TAG_OPEN = re.compile(r"<[A-Za-z/!]")


@lru_cache(maxsize=1)
def inliner() -> Any:
    # Media queries (dark mode, small screens) cannot be inlined: they stay in <style>.
    return css_inline.CSSInliner(keep_style_tags=False, keep_at_rules=True, load_remote_stylesheets=False)


class InlinedCssLoader(BaseLoader):
    """``loader``'s templates, each ``*.html.j2`` with ``layout``'s CSS inlined into its source."""

    def __init__(self, loader: BaseLoader, layout: str) -> None:
        self.loader = loader
        self.layout = layout

    def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, Any]:
        source, filename, uptodate = self.loader.get_source(environment, template)
        if template.endswith(".html.j2"):
            source = inlined_source(source, self.stylesheet(environment))
        return source, filename, uptodate

    def list_templates(self) -> list[str]:
        return self.loader.list_templates()

    def stylesheet(self, environment: Environment) -> str:
        try:
            layout, _, _ = self.loader.get_source(environment, self.layout)
        except TemplateNotFound:
            return ""  # templates without the layout (a test's own) have no CSS to inline
        return "\n".join(_STYLE.findall(layout))


def inlined_source(source: str, css: str) -> str:
    """The template source with ``css`` inlined: the layout (a whole document) with its own
    ``<style>``, any other template as a fragment."""
    tags: list[str] = []
    # The markup alone, for telling where each tag is (a ">" in "{% if a > b %}" closes nothing).
    markup = _JINJA.sub(lambda found: " " * len(found.group(0)), source)

    def set_aside(found: re.Match[str]) -> str:
        tags.append(found.group(0))
        number = len(tags) - 1
        if _in_markup(markup, found.start()):
            return f"\ue000{number}\ue001"
        return f"<!--jinja:{number}-->"

    skeleton = _JINJA.sub(set_aside, source)
    whole_document = "<html" in skeleton
    inlined = inliner().inline(skeleton) if whole_document else inliner().inline_fragment(skeleton, css)
    if "<tbody" not in source:
        # The parser adds a <tbody> before a table's first row, which is inside a {% for %} here.
        inlined = inlined.replace("<tbody>", "").replace("</tbody>", "")
    restored = _PLACEHOLDER.sub(lambda found: tags[int(next(g for g in found.groups() if g))], inlined)
    return str(restored)


def _in_markup(markup: str, position: int) -> bool:
    """Whether ``position`` is inside an HTML comment or tag, where a comment cannot stand."""
    before = markup[:position]
    if before.rfind(_COMMENT_OPEN) > before.rfind(_COMMENT_CLOSE):
        return True
    last_open = max((m.start() for m in _TAG_OPEN.finditer(before)), default=-1)
    return last_open > before.rfind(">")


def styled_messages(gettext: Callable[..., object], css: str) -> Callable[..., object]:
    """``gettext`` (or ``ngettext``...) whose messages holding markup come back with ``css`` inlined."""

    if not css:
        return gettext

    @lru_cache(maxsize=1024)
    def styled(message: str) -> str:
        return str(inliner().inline_fragment(message, css))

    def translated(*args: Any) -> object:
        message = gettext(*args)
        if not isinstance(message, str):
            return message
        return styled(message) if "<" in message else message

    return translated

"""Renders a template family (subject, HTML and text) into a finished email body.

One sandboxed Jinja environment per templates folder, built once and never changed, so compiled
templates are cached. Autoescape is on for HTML and undefined variables raise instead of rendering
as empty strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

import css_inline
from jinja2 import FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from nudge import formatting
from nudge.text import one_line


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


@pass_context
def _money_filter(context: Context, amount: Decimal) -> str:
    return formatting.money(amount, context["currency"], context["locale"])


@pass_context
def _date_filter(context: Context, moment: datetime) -> str:
    return formatting.long_date(moment, context["locale"], context["timezone"])


@cache
def environment(templates_dir: str) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = _money_filter
    env.filters["date"] = _date_filter
    return env


@cache
def _inliner() -> Any:
    # Media queries (dark mode, small screens) cannot be inlined: they stay in <style>.
    return css_inline.CSSInliner(keep_style_tags=False, keep_at_rules=True, load_remote_stylesheets=False)


def render_email(templates_dir: str, family: str, context: Mapping[str, Any]) -> RenderedEmail:
    """Render ``<family>/subject.txt.j2``, ``body.html.j2`` and ``body.txt.j2`` with one context."""
    env = environment(templates_dir)
    subject = env.get_template(f"{family}/subject.txt.j2").render(context)
    html = env.get_template(f"{family}/body.html.j2").render(context)
    text = env.get_template(f"{family}/body.txt.j2").render(context)
    return RenderedEmail(
        # A subject is one line: template whitespace and any CR/LF from data collapse to single spaces.
        subject=one_line(subject),
        html=str(_inliner().inline(html)),
        text=text,
    )

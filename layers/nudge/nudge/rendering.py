"""Renders a template family (subject, HTML and text) into a finished email body.

One sandboxed Jinja environment per templates folder and language, built once and never changed, so
compiled templates are cached. Autoescape is on for HTML and undefined variables raise instead of
rendering as empty strings. Wording goes through gettext (Jinja's i18n extension) with the Babel
catalogs under ``<templates>/locale/<language>/LC_MESSAGES/messages.mo``; a language without a
catalog renders in English. Every store link is tagged for analytics after rendering, in one pass
(``nudge.link_tracking``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from babel import Locale
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, pass_context, select_autoescape
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from nudge import formatting, sandbox
from nudge.inlined_css import InlinedCssLoader, styled_messages
from nudge.link_tracking import LinkTracking, track_email, without_markers
from nudge.sandbox import Budget, MeteredSandbox, Sandbox
from nudge.text import one_line

SOURCE_LANGUAGE = "en"
"""The language the templates are written in: what a locale without a catalog gets."""
CATALOG_DOMAIN = "messages"
LAYOUT = "_layouts/base.html.j2"
"""The layout whose ``<style>`` every HTML template is inlined with (nudge.inlined_css)."""
SUBJECT_BUDGET = Budget(output=1_000, value=10_000, range=1_000, steps=50_000, depth=20, seconds=0.05)
"""What an experiment variant's subject may use on each render (nudge.sandbox): a subject past it is
refused, and its experiment ignored. A subject that greets by name takes about 100 steps."""


class RenderedEmail(NamedTuple):
    subject: str
    html: str
    text: str
    language: str = SOURCE_LANGUAGE


@pass_context
def _money_filter(context: Context, amount: Decimal, currency: str | None = None) -> str:
    """``{{ price | money }}`` in the email's currency; ``money(product.currency)`` in another."""
    return formatting.money(amount, currency or context["currency"], context["locale"])


@pass_context
def _date_filter(context: Context, moment: datetime) -> str:
    return formatting.long_date(moment, context["locale"], context["timezone"])


@cache
def shipped_languages(templates_dir: str) -> frozenset[str]:
    """The languages with a compiled catalog, and the source language."""
    return frozenset({SOURCE_LANGUAGE, *_compiled(templates_dir)})


def language_for(templates_dir: str, locale: Locale) -> str:
    """The catalog an email in this locale is written with: its language if shipped, else English."""
    language = str(locale.language)
    return language if language in shipped_languages(templates_dir) else SOURCE_LANGUAGE


@cache
def environment(templates_dir: str, language: str = SOURCE_LANGUAGE) -> ImmutableSandboxedEnvironment:
    """The sandboxed environment of every send: built once per warm function and language, so each
    template is compiled (and its CSS inlined) once."""
    env = build_environment(templates_dir, language)
    assert isinstance(env, ImmutableSandboxedEnvironment)
    return env


@cache
def metered_environment(templates_dir: str, language: str = SOURCE_LANGUAGE) -> MeteredSandbox:
    """The environment of the templates a marketer edits without a deploy (experiment subjects),
    rendered only within a budget (``nudge.sandbox.render``); built once per warm function and
    language, so each source is compiled once."""
    env = build_environment(templates_dir, language, inline_css_at_load=False, metered=True)
    assert isinstance(env, MeteredSandbox)
    return env


def build_environment(
    templates_dir: str,
    language: str = SOURCE_LANGUAGE,
    *,
    inline_css_at_load: bool = True,
    sandboxed: bool = True,
    metered: bool = False,
) -> Environment:
    """A new environment; ``environment`` is the one every send uses. Without ``inline_css_at_load``
    the HTML keeps its ``<style>`` (what the equivalence test and the benchmark inline per email);
    ``sandboxed=False`` is for the benchmark's plain-Jinja floor only: marketers edit the templates'
    wording and experiment subjects, so every send renders in the sandbox. ``metered`` builds the
    metered sandbox of ``metered_environment``."""
    files = FileSystemLoader(templates_dir)
    loader = InlinedCssLoader(files, LAYOUT) if inline_css_at_load else files
    kind: type[Environment] = MeteredSandbox if metered else Sandbox if sandboxed else Environment
    env = kind(
        loader=loader,
        # HTML is escaped by file name; a metered template given as a string is a subject: text.
        autoescape=select_autoescape(
            enabled_extensions=("html.j2",), default_for_string=not metered, default=False
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
        # The templates ship with the function and never change under it (a fix is a deploy, and a
        # new container): without this, every include, import and extends of every email would
        # stat its file to see whether it changed.
        auto_reload=False,
    )
    # A {% trans %} block's whitespace and line breaks collapse, as pybabel extracts it (babel.cfg).
    env.policies["ext.i18n.trimmed"] = True
    translations = _translations(templates_dir, language)
    css = loader.stylesheet(env) if isinstance(loader, InlinedCssLoader) else ""
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=styled_messages(translations.gettext, css),
        ngettext=styled_messages(translations.ngettext, css),
        pgettext=styled_messages(translations.pgettext, css),
        npgettext=styled_messages(translations.npgettext, css),
        newstyle=True,
    )
    env.filters["money"] = _money_filter
    env.filters["date"] = _date_filter
    return env


def _translations(templates_dir: str, language: str) -> NullTranslations:
    if language not in _compiled(templates_dir):
        if language == SOURCE_LANGUAGE:
            return NullTranslations()  # the templates' own words
        raise FileNotFoundError(f"no compiled {CATALOG_DOMAIN}.mo catalog for {language!r}")
    return Translations.load(str(Path(templates_dir) / "locale"), [language], CATALOG_DOMAIN)


@cache
def _compiled(templates_dir: str) -> frozenset[str]:
    locale_dir = Path(templates_dir) / "locale"
    return frozenset(path.parts[-3] for path in locale_dir.glob(f"*/LC_MESSAGES/{CATALOG_DOMAIN}.mo"))


@cache
def _subject_template(templates_dir: str, language: str, source: str) -> Template:
    return metered_environment(templates_dir, language).from_string(source)


def render_subject(templates_dir: str, language: str, source: str, context: Mapping[str, Any]) -> str:
    """A subject given as Jinja source (an experiment variant's), with the context of
    ``subject.txt.j2``, within ``SUBJECT_BUDGET``. Raises jinja2's TemplateError if it does not
    compile, uses an undefined name, or goes past the budget (``nudge.sandbox.BudgetExceeded``)."""
    template = _subject_template(templates_dir, language, source)
    return one_line(sandbox.render(template, {**context, "language": language}, SUBJECT_BUDGET))


def render_email(
    templates_dir: str,
    family: str,
    context: Mapping[str, Any],
    *,
    language: str = SOURCE_LANGUAGE,
    links: LinkTracking | None = None,
    subject: str | None = None,
) -> RenderedEmail:
    """Render ``<family>/subject.txt.j2``, ``body.html.j2`` and ``body.txt.j2`` with one context, in
    ``language``; with ``links``, every store link of both bodies is tagged; ``subject``, already
    rendered (an experiment variant's, ``render_subject``), replaces the family's subject."""
    env = environment(templates_dir, language)
    context = {**context, "language": language}
    if subject is None:
        subject = env.get_template(f"{family}/subject.txt.j2").render(context)
    html = env.get_template(f"{family}/body.html.j2").render(context)
    text = env.get_template(f"{family}/body.txt.j2").render(context)
    html, text = track_email(html, text, links) if links is not None else (without_markers(html), text)
    return RenderedEmail(
        # A subject is one line: template whitespace and any CR/LF from data collapse to single spaces.
        subject=one_line(subject),
        html=html,
        text=text,
        language=language,
    )

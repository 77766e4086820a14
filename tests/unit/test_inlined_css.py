"""The CSS inlined into the templates at load gives the email that inlining each rendered email gave."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import css_inline
import pytest

from local_stack.emulator.scenario import SampleEvent
from nudge.catalog_rows import Product
from nudge.events import CartAbandoned
from nudge.inlined_css import inliner
from nudge.rendering import build_environment, environment
from nudge.sending.case import EmailCase, Recipient
from nudge.sending.compose import template_context
from nudge.settings import Settings
from nudge.triggers import TRIGGERS, Trigger
from tests.unit.test_rendering import SEGMENTS, SHIPPED_LANGUAGES, TEMPLATES_DIR, UNSUBSCRIBE_URL, a_customer

# Parses and writes HTML back without inlining anything: both sides are compared as the same DOM
# written the same way (the parser's <tbody>, one spelling of each entity), not as template text.
_SERIALIZER = css_inline.CSSInliner(inline_style_tags=False, keep_style_tags=True, keep_at_rules=True)
_ORDINARY_RULE = re.compile(r"<style>[^@]*\{")

RECOMMENDED = [
    Product(
        sku="SKU-R1",
        name='Mug "Stoneware" & <co>',
        product_url="https://shop.example/p/SKU-R1?ref=a&b='c'",
        image_url="https://shop.example/img/SKU-R1.jpg",
        price=Decimal("12.50"),
        currency="EUR",
        in_stock=True,
        updated_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
]


def details(samples: dict[str, SampleEvent], trigger: Trigger[Any], settings: Settings) -> list[Any]:
    """Every valid sample event of the trigger, and a cart at each step of its series."""
    found = [
        trigger.parse(sample.event)
        for sample in samples.values()
        if sample.detail_type == trigger.detail_type and not sample.is_invalid
    ]
    steps = range(1, len(settings.cart_reminder_hours) + 1)
    return [
        detail.model_copy(update={"step": step}) if isinstance(detail, CartAbandoned) else detail
        for detail in found
        for step in (steps if isinstance(detail, CartAbandoned) else [None])
    ]


@pytest.mark.slow
@pytest.mark.parametrize("language", SHIPPED_LANGUAGES)
@pytest.mark.parametrize("trigger", TRIGGERS, ids=lambda t: t.name)
def test_every_email_is_the_one_inlining_it_after_rendering_gave(
    trigger: Trigger[Any], language: str, samples: dict[str, SampleEvent], settings: Settings
) -> None:
    per_email = build_environment(TEMPLATES_DIR, language, inline_css_at_load=False)
    at_load = environment(TEMPLATES_DIR, language)
    compared = 0
    for detail in details(samples, trigger, settings):
        for segment in SEGMENTS.values():
            for recommendations in ([], RECOMMENDED):
                customer = a_customer(segment_id=segment.segment_id, first_name='Ada "<b>" & Co')
                context = {
                    **template_context(
                        EmailCase(trigger, detail, settings),
                        Recipient(customer, segment, UNSUBSCRIBE_URL),
                        recommendations,
                    ),
                    "language": language,
                }
                name = f"{trigger.name}/body.html.j2"
                before = inliner().inline(per_email.get_template(name).render(context))
                now = at_load.get_template(name).render(context)
                assert not _ORDINARY_RULE.search(now), "only @media rules may stay in <style>"
                assert _SERIALIZER.inline(now) == _SERIALIZER.inline(before)
                compared += 1
    assert compared >= 2 * len(SEGMENTS)


def test_the_comparison_fails_when_the_css_is_not_inlined(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    trigger = TRIGGERS[0]
    (detail, *_) = details(samples, trigger, settings)
    segment = SEGMENTS["vip"]
    context = {
        **template_context(
            EmailCase(trigger, detail, settings), Recipient(a_customer(), segment, UNSUBSCRIBE_URL)
        ),
        "language": "en",
    }
    name = f"{trigger.name}/body.html.j2"
    uninlined = build_environment(TEMPLATES_DIR, inline_css_at_load=False).get_template(name).render(context)
    assert _ORDINARY_RULE.search(uninlined)
    assert _SERIALIZER.inline(uninlined) != _SERIALIZER.inline(inliner().inline(uninlined))

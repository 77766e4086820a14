"""Markup that survives real mail clients: offers, language, footer, layout, preheader, size."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from typing import Any

import pytest

from local_stack.emulator.scenario import SampleEvent
from nudge.events import CartAbandoned, OrderPlaced
from nudge.profiles import Segment
from nudge.rendering import RenderedEmail
from nudge.settings import Settings
from nudge.triggers import CART_ABANDONED, ORDER_PLACED, TRIGGERS, Trigger
from tests.exhaustive import first_fast
from tests.unit.test_rendering import SEGMENTS, Elements, a_customer, first_valid_detail, render

GMAIL_CLIPS_AT = 102 * 1024
HTML_BUDGET = 90 * 1024
ZERO_PERCENT = re.compile(r"(?<![\d.,])0\s?%")
# How the text part heads an offer (the HTML part puts it in a box of its own).
TEXT_OFFER_HEADINGS = (
    "YOUR VIP PERKS",
    "IT HAS BEEN A WHILE",
    "WE HAVE MISSED YOU",
    "A WELCOME GIFT",
    "THANKS FOR BEING A REGULAR",
)


def styles_of(attrs: dict[str, str]) -> dict[str, str]:
    """An inline style attribute as property -> value."""
    pairs = (part.split(":", 1) for part in attrs.get("style", "").split(";") if ":" in part)
    return {name.strip(): value.strip() for name, value in pairs}


def luminance(hex_colour: str) -> float:
    """WCAG 2 relative luminance of #rrggbb."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def every_email(samples: dict[str, SampleEvent], settings: Settings, **customer: Any) -> list[RenderedEmail]:
    return [
        render(trigger, first_valid_detail(samples, trigger), a_customer(**customer), segment, settings)
        for trigger in TRIGGERS
        for segment in SEGMENTS.values()
    ]


@pytest.mark.parametrize("segment_id", first_fast(sorted(SEGMENTS)))
@pytest.mark.parametrize("trigger", TRIGGERS, ids=lambda t: t.name)
def test_a_segment_without_a_discount_never_says_zero_percent_off(
    trigger: Trigger[Any], segment_id: str, samples: dict[str, SampleEvent], settings: Settings
) -> None:
    # Given the segment's row with its discount set to 0 (a coupon code left behind, perks kept)
    segment = SEGMENTS[segment_id].model_copy(update={"discount_percent": 0, "coupon_code": "LEFTOVER"})
    email = render(trigger, first_valid_detail(samples, trigger), a_customer(), segment, settings)
    # Then neither the subject nor either part offers a discount
    for part in (email.subject, " ".join(Elements.of(email.html).text), email.text):
        assert not ZERO_PERCENT.search(part)
        assert "% off" not in part
        assert "LEFTOVER" not in part


@pytest.mark.parametrize("segment_id", first_fast(sorted(SEGMENTS)))
@pytest.mark.parametrize("trigger", TRIGGERS, ids=lambda t: t.name)
def test_a_segment_with_no_offer_at_all_shows_no_offer_box(
    trigger: Trigger[Any], segment_id: str, samples: dict[str, SampleEvent], settings: Settings
) -> None:
    segment = SEGMENTS[segment_id].model_copy(
        update={"discount_percent": 0, "free_shipping": False, "perks": ()}
    )
    email = render(trigger, first_valid_detail(samples, trigger), a_customer(), segment, settings)
    assert 'class="offer"' not in email.html
    assert not any(heading in email.text for heading in TEXT_OFFER_HEADINGS)
    for part in (email.html, email.text):
        assert "Shipping is on us" not in part


def test_free_shipping_alone_is_an_offer_without_a_percentage(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    segment = SEGMENTS["at_risk"].model_copy(update={"discount_percent": 0, "free_shipping": True})
    trigger = next(t for t in TRIGGERS if t.name == "customer_lapsed")
    email = render(trigger, first_valid_detail(samples, trigger), a_customer(), segment, settings)
    for part in (email.html, email.text):
        assert "We have missed you".lower() in part.lower()
        assert "Shipping is on us." in part
        assert "%" not in part.split("Shipping is on us.")[0].rsplit("missed you", 1)[-1]


@pytest.mark.parametrize(
    ("locale", "language"),
    first_fast(
        [
            ("de-AT", "de"),
            ("ja-JP", "en"),
            ("de-DE", "de"),
            ("fr-FR", "fr"),
            ("es-MX", "es"),
            ("en-GB", "en"),
            (None, "en"),
        ],
        several_names=True,
    ),
)
def test_html_lang_names_the_language_of_the_copy_not_the_customers_locale(
    locale: str | None, language: str, samples: dict[str, SampleEvent], settings: Settings
) -> None:
    for email in every_email(samples, settings, locale=locale):
        (html_tag,) = [attrs for tag, attrs in Elements.of(email.html).tags if tag == "html"]
        assert html_tag["lang"] == language


def test_the_footer_keeps_small_type_with_aa_contrast(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    for email in every_email(samples, settings):
        tags = Elements.of(email.html).tags
        background = styles_of(next(attrs for tag, attrs in tags if "wrapper" in attrs.get("class", "")))
        footer_start = next(i for i, (_, attrs) in enumerate(tags) if attrs.get("class") == "footer-body")
        footer = [(tag, styles_of(attrs)) for tag, attrs in tags[footer_start:] if tag in ("p", "a")]
        assert footer, "the footer has paragraphs and links"
        for tag, style in footer:
            if tag == "p":
                # The inliner once let `p { font-size: 16px }` win over `.footer { font-size: 12px }`.
                assert style["font-size"] == "12px"
            # WCAG AA for normal text: 4.5:1 against the page background the footer sits on.
            assert contrast(style["color"], background["background"]) >= 4.5, (tag, style["color"])


def test_body_text_and_the_button_have_aa_contrast(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    for email in every_email(samples, settings):
        tags = Elements.of(email.html).tags
        card = styles_of(next(attrs for tag, attrs in tags if attrs.get("class") == "card"))
        for tag, attrs in tags:
            style = styles_of(attrs)
            if tag in ("p", "h1") and "offer" not in attrs.get("class", ""):
                assert contrast(style["color"], card["background"]) >= 4.5
        button_cell = styles_of(next(attrs for tag, attrs in tags if attrs.get("class") == "button-cell"))
        button = styles_of(next(attrs for tag, attrs in tags if attrs.get("class") == "button"))
        assert contrast(button["color"], button_cell["background"]) >= 4.5


def test_layout_is_presentational_tables_with_dark_mode_and_color_scheme(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    for email in every_email(samples, settings):
        elements = Elements.of(email.html)
        tables = [attrs for tag, attrs in elements.tags if tag == "table"]
        assert tables and all(attrs.get("role") == "presentation" for attrs in tables)
        metas = {attrs.get("name"): attrs.get("content") for tag, attrs in elements.tags if tag == "meta"}
        assert metas["color-scheme"] == metas["supported-color-schemes"] == "light dark"
        assert any("prefers-color-scheme: dark" in block for block in elements.style_blocks)


@pytest.mark.parametrize("trigger", TRIGGERS, ids=lambda t: t.name)
def test_the_button_is_bulletproof_in_outlook_too(
    trigger: Trigger[Any], samples: dict[str, SampleEvent], settings: Settings
) -> None:
    email = render(trigger, first_valid_detail(samples, trigger), a_customer(), SEGMENTS["vip"], settings)
    (link,) = [attrs for tag, attrs in Elements.of(email.html).tags if attrs.get("class") == "button"]
    # Outlook for Windows (Word) reads only what is inside [if mso]: a VML shape linked to the same page.
    (mso,) = re.findall(r"<!--\[if mso\]>\s*<v:roundrect[^>]*>.*?<!\[endif\]-->", email.html, re.S)
    assert f'href="{html.escape(link["href"])}"' in mso
    # Every other client sees the padded link, hidden from Outlook.
    assert re.search(r'<!--\[if !mso\]><!-->\s*<a class="button"', email.html)


def test_each_email_has_its_own_hidden_preheader(samples: dict[str, SampleEvent], settings: Settings) -> None:
    previews = {}
    for trigger in TRIGGERS:
        email = render(trigger, first_valid_detail(samples, trigger), a_customer(), SEGMENTS["vip"], settings)
        match = re.search(r'<div class="preheader" style="([^"]*)">([^<]*)</div>', email.html)
        assert match is not None
        assert "display: none" in match.group(1) and "mso-hide: all" in match.group(1)
        previews[trigger.name] = match.group(2).strip()
        assert previews[trigger.name], trigger.name
        # The preview is not a copy of the subject, and it is the first text in the body.
        assert previews[trigger.name] != email.subject
        assert email.html.index("preheader") < email.html.index("Ada")
    assert len(set(previews.values())) == len(TRIGGERS)


def test_product_images_are_described_and_linked(samples: dict[str, SampleEvent], settings: Settings) -> None:
    detail = CART_ABANDONED.parse(samples["cart_abandoned/vip_ada.json"].event)
    email = render(CART_ABANDONED, detail, a_customer(), SEGMENTS["vip"], settings)
    tags = Elements.of(email.html).tags
    images = [(i, attrs) for i, (tag, attrs) in enumerate(tags) if tag == "img"]
    assert len(images) == len(detail.items)
    for (index, attrs), item in zip(images, detail.items, strict=True):
        assert attrs["alt"] == item.name
        parent_tag, parent = tags[index - 1]
        assert parent_tag == "a" and parent["href"].startswith(f"{item.product_url}?utm_source=")
        assert "utm_content=item" in parent["href"]


def largest(detail: Any, items: int) -> Any:
    """The same event with the most items the schema allows, each as long as it allows."""
    template = detail.items[0].model_dump(mode="json")
    long_items = [
        {
            **template,
            "sku": f"SKU-{n:04d}-" + "X" * 240,
            "name": f"Item {n} " + "très longue description " * 20,
            "image_url": f"https://cdn.shop.example/images/products/{n:04d}/" + "i" * 150 + ".jpg",
            "product_url": f"https://shop.example/products/{n:04d}/" + "p" * 150,
        }
        for n in range(items)
    ]
    return type(detail).model_validate({**detail.model_dump(mode="json"), "items": long_items})


@pytest.mark.parametrize("trigger", [CART_ABANDONED, ORDER_PLACED], ids=lambda t: t.name)
def test_the_largest_cart_or_order_stays_far_below_gmails_clipping_limit(
    trigger: Trigger[Any], samples: dict[str, SampleEvent], settings: Settings
) -> None:
    detail: CartAbandoned | OrderPlaced = largest(first_valid_detail(samples, trigger), 100)
    email = render(trigger, detail, a_customer(), SEGMENTS["vip"], settings)
    size = len(email.html.encode("utf-8"))
    assert size < HTML_BUDGET < GMAIL_CLIPS_AT, size
    # The first items are shown; the rest are counted, and a cart links to where they all are.
    assert "Item 0 " in email.html and "Item 9 " in email.html and "Item 10 " not in email.html
    assert "and 90 more items" in email.html and "and 90 more items" in email.text
    if isinstance(detail, CartAbandoned):
        assert re.search(
            f'<a href="{re.escape(str(detail.cart_url))}[?][^"]*" [^>]*>and 90 more items</a>', email.html
        )
    # The total is still the total of everything, not of what is shown.
    total = detail.subtotal if isinstance(detail, CartAbandoned) else detail.total
    assert total > Decimal(0)


def test_a_cart_of_exactly_ten_shows_every_item_and_no_more_line(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    detail = largest(first_valid_detail(samples, CART_ABANDONED), 10)
    email = render(CART_ABANDONED, detail, a_customer(), SEGMENTS["vip"], settings)
    assert "Item 9 " in email.html and "more item" not in email.html and "more item" not in email.text


def test_segments_in_the_sample_data_still_render_their_offer(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    """The fix for "0% off" must not hide real offers."""
    segment: Segment = SEGMENTS["lapsed"]
    trigger = next(t for t in TRIGGERS if t.name == "customer_lapsed")
    email = render(trigger, first_valid_detail(samples, trigger), a_customer(), segment, settings)
    offer = f"{segment.discount_percent}% off"
    assert offer in email.html and offer in email.text

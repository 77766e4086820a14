"""The recommendations block as a shopper sees it: only what the email's currency can buy, at that
price and under the name of the email's language, in every trigger; large thumbnails whose blocked
state is a styled box; a heading like the others; and the store's logo when it has one."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from local_stack.emulator.scenario import SampleEvent
from nudge.catalog_rows import Product
from nudge.rendering import RenderedEmail
from nudge.sending.case import EmailCase, Recipient
from nudge.sending.compose import render_for
from nudge.settings import Settings
from nudge.triggers import CUSTOMER_LAPSED, TRIGGERS, Trigger
from tests.unit.environment import TRIGGER_ENVIRONMENT
from tests.unit.test_email_markup import styles_of
from tests.unit.test_rendering import (
    SEGMENTS,
    TEMPLATES_DIR,
    UNSUBSCRIBE_URL,
    Elements,
    a_customer,
    first_valid_detail,
)


def product(sku: str, currency: str, *, image: bool = True, **fields: Any) -> Product:
    return Product(
        sku=sku,
        name=f"Product {sku}",
        product_url=f"https://shop.example/p/{sku}",
        image_url=f"https://shop.example/img/{sku}.jpg" if image else None,
        price=Decimal("10.00"),
        currency=currency,
        in_stock=True,
        updated_at=datetime(2026, 11, 1, tzinfo=UTC),
        **fields,
    )


CATALOG = [
    product("EUR-ONLY", "EUR"),
    product("GBP-AND-USD", "GBP", prices={"USD": Decimal("12.00")}, names={"de": "Schal"}),
    product("USD", "USD", image=False),
]


def render(
    trigger: Trigger[Any], samples: dict[str, SampleEvent], settings: Settings, **customer: Any
) -> RenderedEmail:
    detail = first_valid_detail(samples, trigger)
    if hasattr(detail, "currency"):
        detail = detail.model_copy(update={"currency": "USD"})
    return render_for(
        EmailCase(trigger, detail, settings),
        Recipient(a_customer(**customer), SEGMENTS["vip"], UNSUBSCRIBE_URL),
        CATALOG,
    )


def shown(email: RenderedEmail) -> list[str]:
    return [line for line in email.text.splitlines() if "utm_content=recommendation" in line]


@pytest.mark.parametrize("trigger", TRIGGERS, ids=lambda t: t.name)
def test_whatever_the_recommender_returns_a_usd_email_shows_only_usd_prices(
    trigger: Trigger[Any], samples: dict[str, SampleEvent], settings: Settings
) -> None:
    # A win-back to a customer whose last order was in USD; a cart or an order in USD
    email = render(trigger, samples, settings, last_order_currency="USD")
    lines = shown(email)
    assert [line.split(":")[0] for line in lines] == [
        "- Product GBP-AND-USD, $12.00",
        "- Product USD, $10.00",
    ]
    assert "EUR-ONLY" not in email.html and "€" not in email.html


def test_a_win_back_without_an_order_currency_is_in_the_stores(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    gbp_store = Settings.from_environment(
        {**TRIGGER_ENVIRONMENT, "TEMPLATES_DIR": TEMPLATES_DIR, "STORE_CURRENCY": "GBP"}
    )
    assert [line.split(":")[0] for line in shown(render(CUSTOMER_LAPSED, samples, gbp_store))] == [
        "- Product GBP-AND-USD, £10.00"
    ]
    assert [line.split(":")[0] for line in shown(render(CUSTOMER_LAPSED, samples, settings))] == [
        "- Product GBP-AND-USD, $12.00",
        "- Product USD, $10.00",
    ]


def test_names_follow_the_copys_language(samples: dict[str, SampleEvent], settings: Settings) -> None:
    german = shown(render(CUSTOMER_LAPSED, samples, settings, locale="de-DE", last_order_currency="USD"))
    assert [line.split(",")[0] for line in german] == ["- Schal", "- Product USD"]


def test_thumbnails_are_96_px_and_a_blocked_or_missing_image_is_a_styled_box(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    email = render(CUSTOMER_LAPSED, samples, settings, last_order_currency="USD")
    tags = Elements.of(email.html).tags
    (image,) = [attrs for tag, attrs in tags if "thumb-image" in attrs.get("class", "")]
    assert (image["width"], image["height"], image["alt"]) == ("96", "96", "Product GBP-AND-USD")
    style = styles_of(image)
    # Where images are blocked, the alt text shows in a grey box of the image's size
    assert style["width"] == style["height"] == "96px"
    assert style["background"] == "#f4f4f5" and style["color"] == "#52525b"
    assert style["font-size"] == "12px" and style["text-align"] == "center"
    # A product without an image gets the same box, with its name
    (empty,) = [attrs for tag, attrs in tags if "thumb-empty-cell" in attrs.get("class", "")]
    assert (empty["width"], empty["height"]) == ("96", "96")
    assert styles_of(empty)["background"] == "#f4f4f5"


def test_the_heading_is_styled_like_the_other_headings(
    samples: dict[str, SampleEvent], settings: Settings
) -> None:
    email = render(CUSTOMER_LAPSED, samples, settings, last_order_currency="USD")
    tags = Elements.of(email.html).tags
    (heading,) = [attrs for tag, attrs in tags if "recommendations-heading" in attrs.get("class", "")]
    (title,) = [attrs for tag, attrs in tags if tag == "h1"]
    assert styles_of(heading)["font-family"] == styles_of(title)["font-family"]
    assert styles_of(heading)["font-size"] == "18px" and styles_of(heading)["color"] == "#18181b"


@pytest.mark.parametrize("trigger", TRIGGERS, ids=lambda t: t.name)
def test_the_header_is_the_stores_logo_when_it_has_one(
    trigger: Trigger[Any], samples: dict[str, SampleEvent], settings: Settings
) -> None:
    with_logo = Settings.from_environment(
        {
            **TRIGGER_ENVIRONMENT,
            "TEMPLATES_DIR": TEMPLATES_DIR,
            "LOGO_URL": "https://cdn.shop.example/logo.png",
        }
    )
    tags = Elements.of(render(trigger, samples, with_logo).html).tags
    (logo,) = [attrs for tag, attrs in tags if "logo" in attrs.get("class", "").split()]
    assert (logo["src"], logo["alt"], logo["height"]) == ("https://cdn.shop.example/logo.png", "Shop", "40")
    # Blocked, its alt text reads as the text header does
    assert styles_of(logo)["font-size"] == "20px" and styles_of(logo)["font-weight"] == "bold"
    # Without one (the default), the store's name is the header, as before
    plain = Elements.of(render(trigger, samples, settings).html)
    assert not [attrs for tag, attrs in plain.tags if "logo" in attrs.get("class", "").split()]
    assert "Example Shop" in plain.text

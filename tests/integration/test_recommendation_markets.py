"""Recommendations a shopper can buy: only products with a price in the email's currency, shown at
that price, named in the email's language; the fallbacks when there is no such price or name."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from local_stack.emulator import clients
from local_stack.emulator.lambda_runtime import EventSourceMappings
from local_stack.emulator.moto_endpoint import MotoEndpoint
from local_stack.emulator.run import put_events
from local_stack.emulator.scenario import SampleEvent
from local_stack.emulator.stack import LocalStack
from nudge.dal.items import to_item
from nudge.timeutil import to_stored, utc_now
from tests.conftest import sent_emails
from tests.integration.test_recommendations import RECOMMENDED, bought_together

SEED = "SKU-SEED-01"
EUR_ONLY = [f"SKU-EUR-{n:02d}" for n in range(1, 5)]
USD = "SKU-USD-01"
GBP_WITH_USD = "SKU-GBP-01"


def product(
    samples: dict[str, SampleEvent],
    sku: str,
    price: str,
    currency: str,
    *,
    name: str | None = None,
    **more: Any,
) -> SampleEvent:
    event = samples["product_updated/cotton_tee.json"].varied(
        sku,
        sku=sku,
        product_url=f"https://shop.example/p/{sku}",
        image_url=f"https://shop.example/img/{sku}.jpg",
        price=price,
        currency=currency,
        **more,
    )
    event.event["detail"]["name"] = name or f"Product {sku}"
    for optional in ("prices", "names"):  # only what the test gives
        if optional not in more:
            event.event["detail"].pop(optional, None)
    return event


def a_store_selling_mostly_in_euros(
    stack: LocalStack, mappings: EventSourceMappings, samples: dict[str, SampleEvent]
) -> None:
    """Four products sold only in EUR, bought with the seed and with each other (the co-purchases
    and the best-sellers); one sold in USD; one priced in GBP that also has a USD price."""
    put_events(
        stack,
        [
            *(product(samples, sku, "10.00", "EUR") for sku in EUR_ONLY),
            product(samples, USD, "24.00", "USD"),
            product(samples, GBP_WITH_USD, "25.00", "GBP", prices={"USD": "31.00", "EUR": "29.00"}),
        ],
    )
    mappings.drain()
    put_events(
        stack,
        [bought_together(samples, f"ord_eur_{n}", SEED, *EUR_ONLY) for n in range(3)],
    )
    mappings.drain()


def cart_in(samples: dict[str, SampleEvent], name: str, currency: str, *skus: str) -> SampleEvent:
    items = [{"sku": sku, "name": sku, "quantity": 1, "unit_price": "5.00"} for sku in skus]
    return samples[name].varied(f"{name} in {currency}", currency=currency, items=items)


def order_in(samples: dict[str, SampleEvent], currency: str, *skus: str) -> SampleEvent:
    items = [{"sku": sku, "name": sku, "quantity": 1, "unit_price": "5.00"} for sku in skus]
    return samples["order_placed/repeat_order_maria.json"].varied(
        f"an order in {currency}", currency=currency, items=items, total="5.00"
    )


def recommended(moto: MotoEndpoint, subject_part: str = "") -> list[tuple[str, str, str]]:
    """(SKU, name, price) of each recommendation of the one sent email (whose subject holds
    ``subject_part``), from its text part."""
    (email,) = [e for e in sent_emails(moto) if subject_part in str(e["Subject"])]
    html = email.get_body(("html",))
    text = email.get_body(("plain",))
    assert html is not None and text is not None
    skus = list(dict.fromkeys(RECOMMENDED.findall(str(html.get_content()))))
    found = []
    for line in str(text.get_content()).splitlines():
        for sku in skus:
            if line.startswith("- ") and f"/p/{sku}?" in line:
                name, price = line[2:].split(": http", 1)[0].rsplit(", ", 1)
                found.append((sku, name, price))
    assert [sku for sku, _, _ in found] == skus
    return found


EVERY_TRIGGER: dict[str, Callable[[dict[str, SampleEvent]], SampleEvent]] = {
    "cart_abandoned": lambda samples: cart_in(samples, "cart_abandoned/vip_ada.json", "USD", SEED),
    "order_placed": lambda samples: order_in(samples, "USD", SEED),
    # No order is known in any currency: the store's currency (StoreCurrency, USD here).
    "customer_lapsed": lambda samples: samples["customer_lapsed/at_risk_sam.json"],
}


@pytest.mark.parametrize("trigger", sorted(EVERY_TRIGGER))
def test_a_usd_email_never_shows_a_product_priced_only_in_euros(
    trigger: str,
    stack: LocalStack,
    mappings: EventSourceMappings,
    moto: MotoEndpoint,
    samples: dict[str, SampleEvent],
) -> None:
    # Given a store whose co-purchases and best-sellers are products sold only in EUR
    a_store_selling_mostly_in_euros(stack, mappings, samples)
    # When an email in USD goes out
    put_events(stack, [EVERY_TRIGGER[trigger](samples)])
    mappings.drain()
    shown = recommended(moto)
    # Then it recommends only the products with a USD price, at that price (in the customer's
    # locale: "$24.00", "US$24.00", "24,00 US$")
    assert {sku for sku, _, _ in shown} == {USD, GBP_WITH_USD}
    prices = [price for _, _, price in shown]
    assert all("$" in price and "€" not in price and "£" not in price for price in prices)
    assert sorted(re.sub(r"\D", "", price) for price in prices) == ["2400", "3100"]


def test_the_price_shown_is_the_one_in_the_emails_currency(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    a_store_selling_mostly_in_euros(stack, mappings, samples)
    # Jonas (de-DE) leaves a cart in EUR with the EUR products in it: the GBP product shows at its
    # EUR price, in German format
    cart = cart_in(samples, "cart_abandoned/new_customer_jonas.json", "EUR", SEED, *EUR_ONLY)
    put_events(stack, [cart])
    mappings.drain()
    prices = {sku: price for sku, _, price in recommended(moto)}
    assert prices[GBP_WITH_USD] == "29,00\xa0€"
    assert USD not in prices


def test_a_win_back_is_in_the_currency_of_the_customers_last_order(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    a_store_selling_mostly_in_euros(stack, mappings, samples)
    # Given Sam's last order was in GBP
    placed_at = "2026-08-01T10:00:00Z"
    order = samples["order_placed/repeat_order_maria.json"].varied(
        "Sam's last order",
        customer_id="cus_atrisk_sam",
        order_id="ord_sam_gbp",
        currency="GBP",
        placed_at=placed_at,
        items=[{"sku": "SKU-HAT-12", "name": "Knit hat", "quantity": 1, "unit_price": "35.00"}],
        total="35.00",
    )
    put_events(stack, [order])
    mappings.drain()
    # When his win-back goes out
    lapse = samples["customer_lapsed/at_risk_sam.json"].varied(
        "Sam lapsed", last_order_at=placed_at, days_since_last_order=114
    )
    put_events(stack, [lapse])
    mappings.drain()
    # Then it recommends what has a GBP price, at that price
    shown = recommended(moto, subject_part="miss you")
    assert [(sku, price) for sku, _, price in shown] == [(GBP_WITH_USD, "£25.00")]


def test_best_sellers_are_kept_per_currency(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given more best-selling EUR products than the best-seller list holds, and one USD product
    # that has never sold (its SKU sorts after them all)
    many = [f"SKU-EUR-{n:02d}" for n in range(1, 26)]
    put_events(
        stack,
        [
            *(product(samples, sku, "10.00", "EUR") for sku in many),
            product(samples, "SKU-Z-USD", "9.00", "USD"),
        ],
    )
    mappings.drain()
    put_events(stack, [bought_together(samples, f"ord_many_{n}", *many[n : n + 2]) for n in range(0, 24, 2)])
    mappings.drain()
    # When a cart in USD is abandoned
    put_events(stack, [cart_in(samples, "cart_abandoned/vip_ada.json", "USD", SEED)])
    mappings.drain()
    # Then the USD product is recommended, and nothing priced only in EUR
    assert [sku for sku, _, _ in recommended(moto)] == ["SKU-Z-USD"]


def test_a_row_stored_before_prices_and_names_still_recommends_in_its_own_currency_only(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given two catalog rows as stored before products had prices and names: one in GBP, one in EUR
    for sku, currency in (("SKU-OLD-GBP", "GBP"), ("SKU-OLD-EUR", "EUR")):
        row = {
            "sku": sku,
            "name": f"Old {sku}",
            "product_url": f"https://shop.example/p/{sku}",
            "price": Decimal("15.00"),
            "currency": currency,
            "in_stock": True,
            "updated_at": to_stored(datetime(2026, 1, 1, tzinfo=UTC)),
            "origin": "catalog",
        }
        clients.dynamodb(stack.region).put_item(TableName=stack.names["ProductsTable"], Item=to_item(row))
    # and a product event that makes the best-sellers read the catalog
    put_events(stack, [product(samples, "SKU-NEW-JPY", "1500", "JPY", updated_at=to_stored(utc_now()))])
    mappings.drain()
    # When Ada (GBP) abandons a cart
    put_events(stack, [samples["cart_abandoned/vip_ada.json"]])
    mappings.drain()
    # Then the GBP row is shown under its stored name, the EUR one is not
    assert [(sku, name, price) for sku, name, price in recommended(moto)] == [
        ("SKU-OLD-GBP", "Old SKU-OLD-GBP", "£15.00")
    ]


def test_product_names_follow_the_emails_language_with_the_stored_name_as_fallback(
    stack: LocalStack, mappings: EventSourceMappings, moto: MotoEndpoint, samples: dict[str, SampleEvent]
) -> None:
    # Given a bulb whose stored name is Spanish, with a German and an English name
    bulb = product(
        samples,
        "SKU-BULB-77",
        "7.10",
        "EUR",
        name="Bombilla LED",
        prices={"GBP": "6.20", "USD": "7.90"},
        names={"de": "LED-Glühbirne", "en-GB": "LED light bulb"},
    )
    put_events(stack, [bulb])
    mappings.drain()
    # When Jonas (de-DE, EUR), Ada (en-GB, GBP) and Léa (fr-FR, a win-back in USD) get emails
    put_events(
        stack,
        [
            samples["cart_abandoned/new_customer_jonas.json"],
            samples["cart_abandoned/vip_ada.json"],
            samples["customer_lapsed/unknown_segment_lea.json"],
        ],
    )
    mappings.drain()
    # Then each names it in its language (a regional entry serves its language); French has no
    # entry, so the stored name
    names = {
        subject_part: [name for sku, name, _ in recommended(moto, subject_part) if sku == "SKU-BULB-77"]
        for subject_part in ("Jonas", "Ada", "Léa")
    }
    assert names == {"Jonas": ["LED-Glühbirne"], "Ada": ["LED light bulb"], "Léa": ["Bombilla LED"]}

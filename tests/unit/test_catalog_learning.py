"""What an order teaches: its first 20 distinct SKUs, their pairs, top lists and best-sellers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from nudge.catalog.events import CatalogRecord, ProductUpdated
from nudge.catalog.learning import (
    MAX_ORDER_SKUS,
    bestsellers_by_currency,
    bestsellers_due,
    distinct_items,
    padded,
    pairs,
    partners,
    product_from_line_item,
    rank_bestsellers,
    sales_day,
    top_partners,
    window,
)
from nudge.catalog_rows import BESTSELLERS, TOP_PARTNERS, Bestsellers, Partner, Product
from nudge.events import OrderPlaced

NOW = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)


def order(*skus: str, placed_at: str = "2026-11-23T10:02:00+01:00") -> OrderPlaced:
    return OrderPlaced.model_validate(
        {
            "customer_id": "cus_1",
            "order_id": "ord_1",
            "placed_at": placed_at,
            "currency": "EUR",
            "total": "10.00",
            "items": [
                {
                    "sku": sku,
                    "name": f"Product {sku}",
                    "quantity": 1,
                    "unit_price": "1.00",
                    "product_url": f"https://shop.example/p/{sku}",
                }
                for sku in skus
            ],
        }
    )


def test_an_order_contributes_its_first_20_distinct_skus_in_line_item_order() -> None:
    # Given an order of 60 lines: 30 SKUs, each twice, the repeats interleaved
    skus = [f"SKU-{n:02d}" for n in range(30)]
    lines = [sku for pair in zip(skus, skus, strict=True) for sku in pair]
    taken = [item.sku for item in distinct_items(order(*lines))]
    assert taken == skus[:MAX_ORDER_SKUS] == skus[:20]


def test_pairs_are_unordered_distinct_and_at_most_190() -> None:
    skus = [f"SKU-{n:02d}" for n in range(20)]
    found = pairs(skus)
    assert len(found) == len(set(found)) == 190
    assert all(a != b for a, b in found)
    assert pairs(["A"]) == []
    assert pairs(["A", "B", "A"]) == [("A", "B")]


def test_each_sku_adds_one_to_every_other_sku_of_the_order() -> None:
    assert partners(["A", "B", "C"]) == {"A": ["B", "C"], "B": ["A", "C"], "C": ["A", "B"]}
    assert partners(["A"]) == {"A": []}
    # 20 SKUs: 380 counter additions (each pair on both rows), 19 per row
    big = partners([f"S{n}" for n in range(20)])
    assert sum(len(others) for others in big.values()) == 380


def test_a_top_list_is_the_highest_counts_most_first_ties_by_sku() -> None:
    counts = {f"P{n:02d}": n % 4 + 1 for n in range(TOP_PARTNERS + 5)} | {"SELF": 99, "ZERO": 0}
    top = top_partners("SELF", counts)
    assert len(top) == TOP_PARTNERS
    assert [(p.sku, p.count) for p in top[:5]] == [
        ("P03", 4),
        ("P07", 4),
        ("P11", 4),
        ("P15", 4),
        ("P19", 4),
    ]
    assert all(p.sku not in {"SELF", "ZERO"} for p in top)
    assert top_partners("A", {}) == ()


def test_best_sellers_sum_the_day_buckets_and_pad_with_in_stock_catalog_products() -> None:
    best = rank_bestsellers([{"A": 2, "B": 1}, {"B": 2, "C": 1}])
    assert best == ["B", "A", "C"]

    def product(sku: str, *, in_stock: bool = True, origin: Any = "catalog") -> Product:
        return Product(
            sku=sku,
            name=sku,
            product_url=f"https://shop.example/p/{sku}",
            price=Decimal(1),
            currency="GBP",
            in_stock=in_stock,
            updated_at=NOW,
            origin=origin,
        )

    catalog = [product("Z"), product("A"), product("OUT", in_stock=False), product("M", origin="order")]
    assert padded(best, catalog) == ["B", "A", "C", "Z", "M"]
    many = [product(f"P{n:02d}") for n in range(40)]
    assert len(padded([], many)) == BESTSELLERS


def test_best_sellers_are_recomputed_when_missing_short_or_stale() -> None:
    full = Bestsellers(skus=tuple(f"S{n}" for n in range(BESTSELLERS)), computed_at=NOW)
    hour = timedelta(hours=1)
    assert bestsellers_due(None, NOW, hour)
    assert bestsellers_due(full.model_copy(update={"skus": full.skus[:5]}), NOW, hour)
    assert not bestsellers_due(full, NOW + timedelta(minutes=59), hour)
    assert bestsellers_due(full, NOW + timedelta(minutes=61), hour)


def test_a_currency_without_a_full_list_makes_the_best_sellers_due_at_once() -> None:
    full = Bestsellers(
        skus=tuple(f"S{n}" for n in range(BESTSELLERS)),
        computed_at=NOW,
        currencies=("EUR", "GBP"),
        short_currencies=("GBP",),
    )
    hour = timedelta(hours=1)
    assert not bestsellers_due(full, NOW, hour, ["EUR"])
    assert bestsellers_due(full, NOW, hour, ["EUR", "USD"])  # no USD list yet
    assert bestsellers_due(full, NOW, hour, ["GBP"])  # a small market


def test_each_currency_has_its_best_sellers_among_products_priced_in_it() -> None:
    def product(sku: str, currency: str, **prices: str) -> Product:
        return Product(
            sku=sku,
            name=sku,
            product_url=f"https://shop.example/p/{sku}",
            price=Decimal(1),
            currency=currency,
            prices={code: Decimal(amount) for code, amount in prices.items()},
            in_stock=True,
            updated_at=NOW,
        )

    catalog = {
        "A": product("A", "EUR"),
        "B": product("B", "GBP", EUR="2.00"),
        "C": product("C", "USD"),
    }
    sold = ["A", "UNKNOWN", "B", "C"]
    assert bestsellers_by_currency(sold, catalog, ()) == {"EUR": ["A", "B"], "GBP": ["B"], "USD": ["C"]}
    # Padding adds in-stock products priced in the currency, after the sold ones
    padding = [product("D", "JPY", USD="3.00"), product("E", "EUR")]
    assert bestsellers_by_currency(sold, catalog, padding) == {
        "EUR": ["A", "B", "E"],
        "GBP": ["B"],
        "JPY": ["D"],
        "USD": ["C", "D"],
    }


def test_the_day_bucket_is_the_utc_date_and_the_window_ends_today() -> None:
    assert sales_day(order("A", placed_at="2026-11-24T00:30:00+01:00")) == date(2026, 11, 23)
    days = window(date(2026, 11, 23), 30)
    assert (days[0], days[-1], len(days)) == (date(2026, 11, 23), date(2026, 10, 25), 30)


def test_a_line_item_without_a_product_url_teaches_no_catalog_row() -> None:
    placed = order("A")
    item = placed.items[0]
    learned = product_from_line_item(item, placed)
    assert learned is not None and (learned.origin, learned.in_stock, learned.currency) == (
        "order",
        True,
        "EUR",
    )
    assert product_from_line_item(item.model_copy(update={"product_url": None}), placed) is None


def test_a_product_update_is_bounded_and_strict() -> None:
    valid = {
        "sku": "SKU-1",
        "name": "Hat",
        "product_url": "https://shop.example/p/SKU-1",
        "price": "12.50",
        "currency": "GBP",
        "in_stock": True,
        "updated_at": "2026-11-22T08:00:00Z",
    }
    assert ProductUpdated.model_validate(valid).image_url is None
    for field, value, error in [
        ("in_stock", "true", "bool_type"),
        ("price", "1E+28", "less_than_equal"),
        ("currency", "XXY", "value_error"),
        ("updated_at", "9999-01-01T00:00:00Z", "timestamp_out_of_range"),
        ("product_url", "not a url", "url_parsing"),
    ]:
        with pytest.raises(ValidationError) as raised:
            ProductUpdated.model_validate({**valid, field: value})
        assert [(e["loc"], e["type"]) for e in raised.value.errors()] == [((field,), error)]


def test_the_catalog_record_refuses_an_event_it_does_not_route() -> None:
    with pytest.raises(ValidationError):
        CatalogRecord.model_validate(
            {
                "messageId": "m",
                "receiptHandle": "r",
                "body": '{"detail-type": "Cart Abandoned", "detail": {}}',
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1",
                    "SenderId": "A",
                    "ApproximateFirstReceiveTimestamp": "1",
                },
                "messageAttributes": {},
                "md5OfBody": "0",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:catalog",
                "awsRegion": "us-east-1",
            }
        )


def test_partner_counts_are_positive() -> None:
    with pytest.raises(ValidationError):
        Partner(sku="A", count=0)

"""The event contracts: what a store may send, and what is rejected with a named field."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from nudge.events import CartAbandoned, CustomerLapsed, OrderPlaced


def cart(**overrides: Any) -> dict[str, Any]:
    detail = {
        "customer_id": "c1",
        "cart_id": "cart1",
        "abandoned_at": "2026-11-23T09:15:00Z",
        "currency": "EUR",
        "cart_url": "https://shop.example/cart/1",
        "items": [{"sku": "A", "name": "Mug", "quantity": 2, "unit_price": "12.90"}],
    }
    detail.update(overrides)
    return detail


def errors_of(model: type[Any], data: dict[str, Any]) -> set[tuple[str, str]]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(data)
    return {(".".join(str(p) for p in e["loc"]), e["type"]) for e in raised.value.errors()}


def test_money_stays_exact_decimal_from_json_numbers_and_strings() -> None:
    # Given prices sent as a JSON number and as a string
    payload = json.dumps(
        cart(
            items=[
                {"sku": "A", "name": "x", "quantity": 3, "unit_price": 0.1},
                {"sku": "B", "name": "y", "quantity": 1, "unit_price": "19.99"},
            ]
        )
    )
    # When the event is parsed
    parsed = CartAbandoned.model_validate_json(payload)
    # Then every amount is an exact Decimal and totals have no float error
    assert parsed.items[0].unit_price == Decimal("0.1")
    assert parsed.items[0].line_total == Decimal("0.3")
    assert parsed.subtotal == Decimal("20.29")


def test_unknown_extra_fields_are_allowed() -> None:
    parsed = CartAbandoned.model_validate(cart(channel="app", loyalty={"tier": 2}))
    assert parsed.cart_id == "cart1"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"cart_id": None}, ("cart_id", "string_type")),
        ({"currency": "EURO"}, ("currency", "string_pattern_mismatch")),
        ({"currency": "XYZ"}, ("currency", "value_error")),
        ({"abandoned_at": "2026-11-23T09:15:00"}, ("abandoned_at", "timezone_aware")),
        ({"cart_url": "not a url"}, ("cart_url", "url_parsing")),
        ({"items": []}, ("items", "too_short")),
        (
            {"items": [{"sku": "A", "name": "x", "quantity": 1, "unit_price": "1"}] * 101},
            ("items", "too_long"),
        ),
        (
            {"items": [{"sku": "A", "name": "x", "quantity": 0, "unit_price": "1"}]},
            ("items.0.quantity", "greater_than_equal"),
        ),
        (
            {"items": [{"sku": "A", "name": "x", "quantity": 1.5, "unit_price": "1"}]},
            ("items.0.quantity", "int_type"),
        ),
        (
            {"items": [{"sku": "A", "name": "x", "quantity": 1, "unit_price": "-1"}]},
            ("items.0.unit_price", "greater_than_equal"),
        ),
        (
            {"items": [{"sku": "A", "name": "x", "quantity": 1, "unit_price": "NaN"}]},
            ("items.0.unit_price", "finite_number"),
        ),
    ],
)
def test_malformed_cart_is_rejected_naming_the_field(
    overrides: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert expected in errors_of(CartAbandoned, cart(**overrides))


def test_missing_required_field_is_named() -> None:
    detail = cart()
    del detail["customer_id"]
    assert ("customer_id", "missing") in errors_of(CartAbandoned, detail)


def test_order_total_must_be_a_decimal_amount() -> None:
    order = {
        "customer_id": "c1",
        "order_id": "o1",
        "placed_at": "2026-11-23T09:15:00+01:00",
        "currency": "JPY",
        "total": "twelve",
        "items": [{"sku": "A", "name": "x", "quantity": 1, "unit_price": "1200"}],
    }
    assert ("total", "decimal_parsing") in errors_of(OrderPlaced, order)
    order["total"] = "1200"
    assert OrderPlaced.model_validate(order).cart_id is None


def test_lapse_needs_a_non_negative_day_count() -> None:
    lapse = {"customer_id": "c1", "last_order_at": "2026-05-01T00:00:00Z", "days_since_last_order": -1}
    assert ("days_since_last_order", "greater_than_equal") in errors_of(CustomerLapsed, lapse)

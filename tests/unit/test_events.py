"""The event contracts: what a store may send, and what is rejected with a named field."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from pydantic import TypeAdapter, ValidationError

from nudge.event_times import validation_context
from nudge.events import CartAbandoned, CustomerLapsed, Money, OrderPlaced


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


# Bounds: an event that validates but can never be stored or sent is refused up front (poison).


def order(**overrides: Any) -> dict[str, Any]:
    detail = {
        "customer_id": "c1",
        "order_id": "o1",
        "placed_at": "2026-11-23T09:15:00Z",
        "currency": "EUR",
        "total": "25.80",
        "items": [{"sku": "A", "name": "Mug", "quantity": 2, "unit_price": "12.90"}],
    }
    detail.update(overrides)
    return detail


def lapse(**overrides: Any) -> dict[str, Any]:
    detail = {"customer_id": "c1", "last_order_at": "2026-05-01T00:00:00Z", "days_since_last_order": 206}
    detail.update(overrides)
    return detail


def item(**overrides: Any) -> dict[str, Any]:
    return {"sku": "A", "name": "Mug", "quantity": 1, "unit_price": "12.90", **overrides}


TIMESTAMP_FIELDS = [
    pytest.param(model, detail, field, id=field)
    for model, detail, field in [
        (CartAbandoned, cart, "abandoned_at"),
        (OrderPlaced, order, "placed_at"),
        (CustomerLapsed, lapse, "last_order_at"),
    ]
]


@pytest.mark.parametrize(("model", "detail", "field"), TIMESTAMP_FIELDS)
@pytest.mark.parametrize(
    "moment",
    [
        "2000-01-01T00:00:00Z",
        "2099-12-31T23:59:59Z",
        "2000-01-01T01:00:00+01:00",
        "2099-12-31T23:59:59.999999Z",
    ],
)
def test_timestamps_from_2000_to_the_end_of_2099_are_accepted(
    model: type[Any], detail: Callable[..., dict[str, Any]], field: str, moment: str
) -> None:
    parsed = model.model_validate(detail(**{field: moment}))
    assert getattr(parsed, field) == datetime.fromisoformat(moment)


@pytest.mark.parametrize(("model", "detail", "field"), TIMESTAMP_FIELDS)
@pytest.mark.parametrize(
    "moment",
    [
        "1999-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
        "2000-01-01T00:30:00+01:00",  # 23:30 UTC on the last day of 1999: the bound is in UTC
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ],
)
def test_timestamps_outside_2000_to_2099_are_rejected_naming_the_field(
    model: type[Any], detail: Callable[..., dict[str, Any]], field: str, moment: str
) -> None:
    # Given an event whose only fault is a timestamp outside the years an event can be about
    # When it is validated
    # Then exactly that field fails, with a stable error type
    assert errors_of(model, detail(**{field: moment})) == {(field, "timestamp_out_of_range")}


NOW = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
A_DAY = validation_context(NOW, timedelta(days=1))


@pytest.mark.parametrize(("model", "detail", "field"), TIMESTAMP_FIELDS)
@pytest.mark.parametrize(
    "moment", ["2026-11-24T14:30:01Z", "2026-11-25T00:00:00+02:00", "2099-12-31T23:59:59Z"]
)
def test_a_time_more_than_the_skew_ahead_of_the_clock_is_refused_naming_the_field(
    model: type[Any], detail: Callable[..., dict[str, Any]], field: str, moment: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(detail(**{field: moment}), context=A_DAY)
    assert [(e["loc"], e["type"]) for e in raised.value.errors()] == [((field,), "timestamp_in_future")]
    # The message names the skew, never the value
    assert "86400 seconds ahead of the clock" in str(raised.value.errors()[0]["msg"])


@pytest.mark.parametrize(("model", "detail", "field"), TIMESTAMP_FIELDS)
@pytest.mark.parametrize("moment", ["2026-11-24T14:30:00Z", "2026-11-23T15:30:00Z", "2001-01-01T00:00:00Z"])
def test_a_time_up_to_the_skew_ahead_of_the_clock_is_accepted(
    model: type[Any], detail: Callable[..., dict[str, Any]], field: str, moment: str
) -> None:
    parsed = model.model_validate(detail(**{field: moment}), context=A_DAY)
    assert getattr(parsed, field) == datetime.fromisoformat(moment)


def test_without_the_clock_only_the_years_are_checked() -> None:
    # A sample file or a contract test validates without the batch processor's clock
    assert CartAbandoned.model_validate(cart(abandoned_at="2099-12-31T23:59:59Z")).cart_id == "cart1"


@pytest.mark.parametrize(
    "amount", ["0", "0.0001", "12", "12.5", "12.50", "12.1234", "999999999.9999", "1000000000"]
)
def test_money_up_to_a_billion_with_up_to_four_decimals_is_accepted(amount: str) -> None:
    parsed_cart = CartAbandoned.model_validate(cart(items=[item(unit_price=amount)]))
    assert parsed_cart.items[0].unit_price == Decimal(amount)
    assert OrderPlaced.model_validate(order(total=amount)).total == Decimal(amount)


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("1000000000.0001", "less_than_equal"),
        ("1000000001", "less_than_equal"),
        ("1E+28", "less_than_equal"),
        ("12.12345", "decimal_max_places"),
        ("0.00001", "decimal_max_places"),
        ("Infinity", "finite_number"),
    ],
)
def test_money_above_a_billion_or_with_more_than_four_decimals_is_rejected(amount: str, error: str) -> None:
    assert errors_of(CartAbandoned, cart(items=[item(unit_price=amount)])) == {("items.0.unit_price", error)}
    assert errors_of(OrderPlaced, order(total=amount)) == {("total", error)}


@pytest.mark.parametrize(
    "amount",
    [
        "1000000000",
        "1000000000.0000",
        "999999999.9999",
        "0.0001",
        "1E+9",
        "0E-50",
        "12.000000",  # decimal_places ignores trailing zeros: they are dropped, not stored
        "1000000000." + "0" * 40,
    ],
)
def test_every_amount_that_validates_as_money_fits_a_dynamodb_number(amount: str) -> None:
    # Given an extreme amount that validates as Money
    value = TypeAdapter(Money).validate_python(amount)
    # Then it keeps its value and has at most the 38 significant digits a DynamoDB number holds
    assert value == Decimal(amount)
    assert len(value.as_tuple().digits) <= 38
    assert TypeSerializer().serialize(value) == {"N": str(value)}


@pytest.mark.parametrize(
    ("quantity", "accepted"), [(1, True), (10_000, True), (10_001, False), (1_000_000, False)]
)
def test_quantity_is_at_most_ten_thousand(quantity: int, accepted: bool) -> None:
    detail = cart(items=[item(quantity=quantity)])
    if accepted:
        assert CartAbandoned.model_validate(detail).items[0].quantity == quantity
    else:
        assert errors_of(CartAbandoned, detail) == {("items.0.quantity", "less_than_equal")}


@pytest.mark.parametrize(("days", "accepted"), [(0, True), (36_600, True), (36_601, False)])
def test_days_since_last_order_is_at_most_a_century(days: int, accepted: bool) -> None:
    detail = lapse(days_since_last_order=days)
    if accepted:
        assert CustomerLapsed.model_validate(detail).days_since_last_order == days
    else:
        assert errors_of(CustomerLapsed, detail) == {("days_since_last_order", "less_than_equal")}


@pytest.mark.parametrize("field", ["customer_id", "cart_id"])
def test_an_id_is_bounded_in_utf8_bytes_not_characters(field: str) -> None:
    # Given an id of 256 characters, each four bytes in UTF-8: 1,024 bytes, DynamoDB's whole key limit
    four_byte_id = "😀" * 256

    # Then it is refused naming the field, so it is dead-lettered instead of failing every write
    assert errors_of(CartAbandoned, cart(**{field: four_byte_id})) == {(field, "id_too_long")}
    # while an id of 256 one-byte characters (the most any id may hold) is accepted
    assert getattr(CartAbandoned.model_validate(cart(**{field: "x" * 256})), field) == "x" * 256
    # and 64 four-byte characters too (256 bytes)
    assert getattr(CartAbandoned.model_validate(cart(**{field: "😀" * 64})), field) == "😀" * 64


@pytest.mark.parametrize("bad_id", ["cart_91#2", "#", "a\x00b", "line\nbreak", "tab\there"])
def test_an_id_may_not_hold_a_hash_sign_or_a_control_character(bad_id: str) -> None:
    # A hash sign separates the parts of a delivery's key (step 2 of cart X is "X#2"), so a cart id
    # "X#2" would be taken for step 2 of cart X's series and its reminder never sent; control
    # characters break logs and message tags.
    assert errors_of(CartAbandoned, cart(cart_id=bad_id)) == {("cart_id", "id_characters")}
    assert errors_of(OrderPlaced, order(order_id=bad_id)) == {("order_id", "id_characters")}


@pytest.mark.parametrize(
    "store_id", ["cus_vip_ada", "gid://shopify/Customer/7319", "ada@example.com", "Bestellung 2024-17", "Zoë"]
)
def test_ids_as_stores_write_them_are_accepted(store_id: str) -> None:
    assert CartAbandoned.model_validate(cart(customer_id=store_id, cart_id=store_id)).cart_id == store_id


def test_a_cart_id_ending_like_a_step_cannot_reach_another_carts_delivery() -> None:
    # Given step 2 of cart "cart_91"'s series: its delivery's key ends "cart_91#2"
    step_two = CartAbandoned.model_validate({**cart(cart_id="cart_91"), "step": 2})
    assert step_two.reminder_id == "cart_91#2"
    # Then no first reminder of any other cart can have that key: the only id that would is refused
    with pytest.raises(ValidationError):
        CartAbandoned.model_validate(cart(cart_id="cart_91#2"))

"""The JSON Schemas in events/schemas/ are the contract a store can check its events against: they are
what the models generate now, valid draft 2020-12, accept every valid sample and reject the invalid
samples a schema can tell are invalid, on the field the sample's expectation names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, validators
from pydantic import ValidationError

from local_stack.cli.event_schemas import (
    DRAFT_2020_12,
    SCHEMAS_DIR,
    STORE_EVENTS,
    StoreEvent,
    stale_files,
    write,
)
from local_stack.emulator.scenario import (
    SampleEvent,
    load_customer_events,
    load_follow_ups,
    load_sample_events,
)

SAMPLES = [*load_sample_events(), *load_follow_ups(), *load_customer_events()]
FILE_BY_DETAIL_TYPE = {event.detail_type: event.file_name for event in STORE_EVENTS}

# Invalid samples each schema rejects, for the reason in the comment.
REJECTED_BY_THE_SCHEMA = {
    "invalid/cart_abandoned_missing_cart_id.json",  # required
    "invalid/cart_abandoned_empty_items.json",  # minItems
    "invalid/cart_abandoned_quantity_too_large.json",  # maximum
    "invalid/order_placed_bad_currency.json",  # pattern ^[A-Z]{3}$
    "invalid/order_placed_total_not_a_number.json",  # the decimal string's pattern
    "invalid/order_placed_price_with_too_many_decimals.json",  # the same pattern: at most 4 places
    "invalid/customer_lapsed_timestamp_without_offset.json",  # format date-time
    "invalid/product_updated_missing_product_url.json",  # required
    "invalid/product_updated_in_stock_as_text.json",  # type boolean
    "invalid/product_updated_negative_price.json",  # the decimal string's pattern has no minus
    "invalid/product_updated_name_not_text.json",  # type string
    "customers/invalid_consent_as_text.json",  # type boolean
    "customers/invalid_email_null.json",  # email is never null
    "customers/invalid_missing_updated_at.json",  # required
    "customers/invalid_deleted_without_requested_at.json",  # required
}
# Invalid samples only Nudge's own code rejects: no schema keyword says these rules. Unknown ISO 4217
# codes (a well-formed "XYZ") and unknown countries are the same kind, with no sample of their own.
CHECKED_ONLY_BY_NUDGE = {
    "invalid/cart_abandoned_abandoned_at_year_1.json": "event times from 2000 up to 2100",
    "invalid/order_placed_placed_at_year_9999.json": "event times from 2000 up to 2100",
    "invalid/order_placed_total_too_large.json": "the upper bound of an amount sent as a string",
    "invalid/product_updated_prices_unknown_currency.json": "ISO 4217's list, for a price's currency",
    "customers/invalid_email.json": "an email address's syntax",
    "customers/invalid_locale.json": "a locale Babel knows",
    "customers/invalid_unknown_timezone.json": "an IANA time zone name",
    "customers/invalid_new_customer_without_email.json": "an email for a customer with no profile yet",
}


def schema_of(detail_type: str) -> dict[str, Any]:
    """The checked-in schema, as a store would read it."""
    schema: dict[str, Any] = json.loads((SCHEMAS_DIR / FILE_BY_DETAIL_TYPE[detail_type]).read_text())
    return schema


def rejected_fields(event: dict[str, Any], detail_type: str | None = None) -> set[str]:
    """The dotted paths (pydantic's ``loc`` spelling) of the fields the schema of ``detail_type``
    (by default the event's own) rejects."""
    validator = Draft202012Validator(
        schema_of(detail_type or event["detail-type"]), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    fields = set()
    for error in validator.iter_errors(event):
        where = [str(part) for part in error.absolute_path]
        if error.validator == "required":
            fields |= {
                ".".join([*where, name]) for name in error.validator_value if name not in error.instance
            }
        else:
            fields.add(".".join(where))
    return fields


def test_the_checked_in_schemas_are_what_the_models_generate() -> None:
    stale = stale_files()
    assert not stale, f"events/schemas/ is stale ({', '.join(stale)}): run `make schemas` and commit it"


def test_a_changed_missing_or_orphaned_schema_is_stale(tmp_path: Path) -> None:
    write(tmp_path)
    assert stale_files(tmp_path) == []
    (tmp_path / "order-placed.json").write_text("{}\n")
    (tmp_path / "customer-deleted.json").unlink()
    (tmp_path / "cart-left.json").write_text("{}\n")
    assert stale_files(tmp_path) == ["cart-left.json", "customer-deleted.json", "order-placed.json"]
    assert write(tmp_path) == ["cart-left.json", "customer-deleted.json", "order-placed.json"]
    assert stale_files(tmp_path) == []


@pytest.mark.parametrize("event", STORE_EVENTS, ids=lambda event: event.file_name)
def test_each_schema_is_valid_draft_2020_12_and_pins_its_detail_type(event: StoreEvent) -> None:
    schema = schema_of(event.detail_type)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT_2020_12
    assert validators.validator_for(schema) is Draft202012Validator
    assert schema["properties"]["detail-type"]["const"] == event.detail_type
    assert {"detail-type", "detail", "source", "time"} <= set(schema["required"])
    assert "account" not in schema["required"]  # moto's delivery leaves it out; the model lets it


def test_every_detail_type_has_a_schema_and_samples() -> None:
    assert {s.detail_type for s in SAMPLES} == set(FILE_BY_DETAIL_TYPE)
    assert sorted(path.name for path in SCHEMAS_DIR.glob("*.json")) == sorted(FILE_BY_DETAIL_TYPE.values())


def test_the_format_checker_checks_timestamps() -> None:
    # jsonschema checks "date-time" only where rfc3339-validator is installed; without it a timestamp
    # with no offset would pass every schema here unnoticed.
    checker = Draft202012Validator.FORMAT_CHECKER
    assert checker.conforms("2026-11-23T09:15:00Z", "date-time")
    assert not checker.conforms("2026-05-14 15:40:00", "date-time"), "install requirements-dev.txt"


@pytest.mark.parametrize("sample", [s for s in SAMPLES if not s.is_invalid], ids=lambda s: s.name)
def test_valid_sample_matches_its_schema(sample: SampleEvent) -> None:
    assert rejected_fields(sample.event) == set()


def test_every_invalid_sample_is_listed_once_and_every_detail_type_has_one_the_schema_rejects() -> None:
    invalid = {s.name: s for s in SAMPLES if s.is_invalid}
    assert REJECTED_BY_THE_SCHEMA.isdisjoint(CHECKED_ONLY_BY_NUDGE)
    assert set(invalid) == REJECTED_BY_THE_SCHEMA | set(CHECKED_ONLY_BY_NUDGE)
    assert {invalid[name].detail_type for name in REJECTED_BY_THE_SCHEMA} == set(FILE_BY_DETAIL_TYPE)


@pytest.mark.parametrize("name", sorted(REJECTED_BY_THE_SCHEMA))
def test_invalid_sample_is_rejected_by_its_schema_naming_the_field(name: str) -> None:
    (sample,) = [s for s in SAMPLES if s.name == name]
    assert sample.expectation["rejected"]["field"] in rejected_fields(sample.event)


@pytest.mark.parametrize("name", sorted(CHECKED_ONLY_BY_NUDGE))
def test_invalid_sample_only_nudge_rejects_passes_its_schema(name: str) -> None:
    """Keeps the list true: a schema that learns to reject one moves it to REJECTED_BY_THE_SCHEMA."""
    (sample,) = [s for s in SAMPLES if s.name == name]
    assert rejected_fields(sample.event) == set()


def first_valid(detail_type: str) -> SampleEvent:
    return next(s for s in SAMPLES if s.detail_type == detail_type and not s.is_invalid)


def test_an_event_of_another_detail_type_fails_on_its_detail_type() -> None:
    # Customer Deleted's detail is a subset of Customer Updated's: only the pinned detail-type tells.
    deleted = first_valid("Customer Deleted").event
    updated = {**deleted, "detail": {**deleted["detail"], "updated_at": deleted["detail"]["requested_at"]}}
    assert rejected_fields(updated, "Customer Updated") == {"detail-type"}


# What the generator adds to pydantic's schema (a decimal string's pattern, an http(s) URL's scheme,
# no null for the fields Customer Updated cannot clear), next to what the model decides.
VARIANTS = [
    ("Product Updated", "price", "12.50", True),
    ("Product Updated", "price", "12.5000000", True),
    ("Product Updated", "price", "1e3", True),
    ("Product Updated", "price", 12.5, True),
    ("Product Updated", "price", "12.12345", False),
    ("Product Updated", "price", "-1", False),
    ("Product Updated", "price", -1, False),
    ("Product Updated", "price", "twelve", False),
    ("Product Updated", "product_url", "http://shop.example/p/1", True),
    ("Product Updated", "product_url", "ftp://shop.example/p/1", False),
    ("Product Updated", "image_url", None, True),
    ("Product Updated", "prices", {"EUR": "6.20", "USD": 7.9}, True),
    ("Product Updated", "prices", {"usd": "7.90"}, False),
    ("Product Updated", "prices", {"GBP": "-1"}, False),
    ("Product Updated", "prices", None, False),
    ("Product Updated", "names", None, False),
    ("Product Updated", "names", {"de": "LED-Glühbirne", "pt-BR": "Lâmpada LED"}, True),
    ("Product Updated", "names", {"de": 42}, False),
    ("Product Updated", "names", {"German": "LED"}, False),
    ("Customer Updated", "first_name", None, True),
    ("Customer Updated", "email", None, False),
    ("Customer Updated", "marketing_consent", None, False),
]


@pytest.mark.parametrize(
    ("detail_type", "field", "value", "valid"), VARIANTS, ids=[f"{f}={v!r}" for _, f, v, _ in VARIANTS]
)
def test_the_schema_decides_as_the_model_does(detail_type: str, field: str, value: Any, valid: bool) -> None:
    sample = first_valid(detail_type).varied(f"{field}={value!r}", **{field: value})
    try:
        sample.event_model.model_validate(sample.event)
        model_accepts = True
    except ValidationError:
        model_accepts = False
    assert model_accepts is valid
    assert (rejected_fields(sample.event) == set()) is valid

"""The delivery record and the experiment row as the report reads them, and reading both tables.

The report depends only on the tables' data contract (plain attribute names), not on the layer: it
runs from a laptop against the deployed tables by name, or against the local stack's endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# The decisions and the skip reason the report counts (nudge.outcome.Decision; a test keeps them equal).
SENT = "sent"
SEND_UNCONFIRMED = "send_unconfirmed"
SKIPPED = "skipped"
HOLDOUT = "holdout"
"""A holdout record's reason and its variant_id, and the name of the holdout arm."""

UNKNOWN = "(unknown)"
"""A record's trigger, or a variant's id, when the record has none."""
NO_CURRENCY = "(no currency)"


@dataclass(frozen=True)
class Delivery:
    """One delivery record, reduced to what the report counts."""

    trigger: str
    decision: str
    reason: str | None
    experiment_id: str | None
    variant_id: str | None
    decided_at: datetime | None
    delivered: bool
    opened: bool
    clicked: bool
    converted: bool
    revenue: Decimal | None
    currency: str

    @property
    def is_holdout(self) -> bool:
        return self.decision == SKIPPED and self.reason == HOLDOUT


def delivery(item: Mapping[str, Any]) -> Delivery | None:
    """The delivery record an item holds; None for the table's other items (guards have no decision)."""
    decision = item.get("decision")
    if not isinstance(decision, str):
        return None
    return Delivery(
        trigger=_text(item.get("trigger")) or UNKNOWN,
        decision=decision,
        reason=_text(item.get("reason")),
        experiment_id=_text(item.get("experiment_id")),
        variant_id=_text(item.get("variant_id")),
        decided_at=parse_time(item.get("decided_at")),
        # An email that was opened or clicked was delivered, whether or not the delivery was reported.
        delivered=any(item.get(name) for name in ("delivered_at", "first_opened_at", "first_clicked_at")),
        opened=bool(item.get("first_opened_at")),
        clicked=bool(item.get("first_clicked_at")),
        converted=bool(item.get("converted_order_id")),
        revenue=_number(item.get("revenue")),
        currency=_text(item.get("currency")) or NO_CURRENCY,
    )


@dataclass(frozen=True)
class Variant:
    variant_id: str
    weight: Decimal | None


@dataclass(frozen=True)
class ExperimentRow:
    """An experiment's row as far as it can be read: problems name the fields that could not be."""

    experiment_id: str
    trigger: str | None
    status: str | None
    holdout_percent: Decimal | None
    variants: tuple[Variant, ...]
    problems: tuple[str, ...]


def experiment_row(item: Mapping[str, Any]) -> ExperimentRow | None:
    """The row's experiment; None when the row has no experiment_id (nothing to attach it to)."""
    experiment_id = _text(item.get("experiment_id"))
    if experiment_id is None:
        return None
    problems: list[str] = []

    def field(name: str, value: Any, valid: bool) -> Any:
        if not valid:
            problems.append(name)
            return None
        return value

    trigger = item.get("trigger")
    status = item.get("status")
    holdout = _number(item.get("holdout_percent", 0))
    trigger = field("trigger", trigger, isinstance(trigger, str) and bool(trigger))
    status = field("status", status, isinstance(status, str) and bool(status))
    holdout = field("holdout_percent", holdout, holdout is not None and 0 <= holdout <= 100)
    raw_variants = item.get("variants")
    variants: list[Variant] = []
    if not isinstance(raw_variants, list) or not raw_variants:
        problems.append("variants")
        raw_variants = []
    for index, raw in enumerate(raw_variants):
        raw = raw if isinstance(raw, Mapping) else {}
        variant_id = _text(raw.get("variant_id"))
        weight = _number(raw.get("weight"))
        if variant_id is None or variant_id == HOLDOUT:
            problems.append(f"variants[{index}].variant_id")
            continue
        if weight is None or weight <= 0:
            problems.append(f"variants[{index}].weight")
        variants.append(Variant(variant_id, weight))
    return ExperimentRow(experiment_id, trigger, status, holdout, tuple(variants), tuple(problems))


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 instant (a date alone is its midnight, a naive time is UTC); None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def read_tables(
    client: DynamoDBClient, deliveries_table: str, experiments_table: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every item of both tables as plain Python: numbers are Decimal (int when whole), sets are
    sorted lists. A paginated, eventually consistent Scan of each."""
    return list(_scan(client, deliveries_table)), list(_scan(client, experiments_table))


_deserializer = TypeDeserializer()


def _scan(client: DynamoDBClient, table: str) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page.get("Items", []):
            yield {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, set | frozenset):
        return sorted(_plain(member) for member in value)
    if isinstance(value, list):
        return [_plain(member) for member in value]
    if isinstance(value, dict):
        return {name: _plain(member) for name, member in value.items()}
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float | str):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None

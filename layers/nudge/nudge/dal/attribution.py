"""Reading a customer's delivery records for attribution, and recording an order's conversion once.

The conversion and the order's guard (``attribution#<order_id>`` in the same partition, naming the
email) are one transaction: a retry, a duplicate or a replay finds the guard and converts nothing
more, and two orders can never both convert one email (its ``converted_order_id`` is conditional).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from botocore.exceptions import ClientError

from nudge.adapters import clients
from nudge.dal.items import cancellation_codes, from_item, to_item
from nudge.delivery_facts import DeliveryFacts
from nudge.timeutil import to_stored

GUARD_PREFIX = "attribution#"
_FIELDS = (
    "delivery_key",
    "trigger",
    "business_id",
    "decision",
    "reason",
    "decided_at",
    "delivered_at",
    "click_times",
    "converted_order_id",
    "experiment_id",
    "variant_id",
)


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def customer_deliveries(table: str, customer_id: str) -> list[DeliveryFacts]:
    """The customer's delivery records (a strong read: a conversion written a moment ago counts)."""
    pages = (
        clients.dynamodb()
        .get_paginator("query")
        .paginate(
            TableName=table,
            KeyConditionExpression="customer_id = :customer",
            ExpressionAttributeValues=to_item({":customer": customer_id}),
            ProjectionExpression=", ".join(f"#f{index}" for index in range(len(_FIELDS))),
            ExpressionAttributeNames={f"#f{index}": name for index, name in enumerate(_FIELDS)},
            ConsistentRead=True,
        )
    )
    rows = (from_item(item) for page in pages for item in page.get("Items", []))
    # A row without a decision is an order's guard, not a delivery.
    return [_facts(row) for row in rows if "decision" in row and "decided_at" in row]


def _facts(row: dict[str, Any]) -> DeliveryFacts:
    return DeliveryFacts(
        delivery_key=str(row["delivery_key"]),
        trigger=str(row.get("trigger", "")),
        business_id=str(row.get("business_id", "")),
        decision=str(row["decision"]),
        reason=row.get("reason"),
        decided_at=datetime.fromisoformat(str(row["decided_at"])),
        delivered_at=_moment(row.get("delivered_at")),
        click_times=tuple(sorted(datetime.fromisoformat(t) for t in row.get("click_times", ()))),
        converted_order_id=row.get("converted_order_id"),
        experiment_id=row.get("experiment_id"),
        variant_id=row.get("variant_id"),
    )


@dataclass(frozen=True)
class Conversion:
    order_id: str
    converted_at: datetime
    revenue: Decimal
    currency: str


ConversionResult = Literal["converted", "already", "taken"]


def record_conversion(
    table: str, customer_id: str, email: DeliveryFacts, conversion: Conversion, retention: timedelta
) -> ConversionResult:
    """``converted``: this order now converts ``email``; ``already``: the order was attributed before
    (its guard exists); ``taken``: the email converted another order meanwhile (choose again)."""
    guard_key = f"{GUARD_PREFIX}{conversion.order_id}"
    actions: list[Any] = [
        {
            "Put": {
                "TableName": table,
                "Item": to_item(
                    {
                        "customer_id": customer_id,
                        "delivery_key": guard_key,
                        "attributed_to": email.delivery_key,
                        "expires_at": int((conversion.converted_at + retention).timestamp()),
                    }
                ),
                "ConditionExpression": "attribute_not_exists(delivery_key)",
            }
        },
        {
            "Update": {
                "TableName": table,
                "Key": to_item({"customer_id": customer_id, "delivery_key": email.delivery_key}),
                "UpdateExpression": (
                    "SET converted_order_id = :order, converted_at = :at, revenue = :revenue, "
                    "currency = :currency"
                ),
                "ConditionExpression": (
                    "attribute_exists(delivery_key) AND attribute_not_exists(converted_order_id)"
                ),
                "ExpressionAttributeValues": to_item(
                    {
                        ":order": conversion.order_id,
                        ":at": to_stored(conversion.converted_at),
                        ":revenue": conversion.revenue,
                        ":currency": conversion.currency,
                    }
                ),
            }
        },
    ]
    try:
        clients.dynamodb().transact_write_items(TransactItems=actions)
    except ClientError as error:
        codes = cancellation_codes(error)
        if codes is None:
            raise
        if codes[:1] == ["ConditionalCheckFailed"]:
            return "already"
        if codes[1:2] == ["ConditionalCheckFailed"]:
            return "taken"
        raise
    return "converted"

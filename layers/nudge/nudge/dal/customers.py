"""Customer profiles: lookups and the atomic updates triggers make to them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from botocore.exceptions import ClientError

from nudge import aws
from nudge.dal.items import from_item, to_item
from nudge.profiles import Customer
from nudge.timeutil import to_stored


class UnknownCustomerError(LookupError):
    """The event names a customer id that has no profile."""


def get_customer(table: str, customer_id: str) -> Customer | None:
    response = aws.dynamodb().get_item(
        TableName=table, Key=to_item({"customer_id": customer_id}), ConsistentRead=True
    )
    item = response.get("Item")
    return Customer.model_validate(from_item(item)) if item else None


def put_customer(table: str, customer: Customer) -> None:
    """Create or replace a profile (seeding, imports and tests; triggers only update)."""
    aws.dynamodb().put_item(TableName=table, Item=to_item(_to_record(customer)))


def _to_record(customer: Customer) -> dict[str, object]:
    record = customer.model_dump(mode="python")
    for name, value in record.items():
        if isinstance(value, datetime):
            record[name] = to_stored(value)
    return record


def record_order(table: str, customer_id: str, total: Decimal, placed_at: datetime) -> Customer:
    """Add one order to the profile in a single atomic update and return the updated profile.

    ``last_order_at`` only moves forward: an order delivered late still counts, but does not make the
    customer look less recent than they are.
    """
    values = to_item({":one": 1, ":total": total, ":placed_at": to_stored(placed_at)})
    key = to_item({"customer_id": customer_id})
    client = aws.dynamodb()
    try:
        response = client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="ADD order_count :one, total_spent :total SET last_order_at = :placed_at",
            ConditionExpression=(
                "attribute_exists(customer_id) "
                "AND (attribute_not_exists(last_order_at) OR last_order_at < :placed_at)"
            ),
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        if "Item" not in error.response:
            raise UnknownCustomerError(customer_id) from error
        # A newer order is already recorded: count this one without moving last_order_at back.
        del values[":placed_at"]
        response = client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="ADD order_count :one, total_spent :total",
            ConditionExpression="attribute_exists(customer_id)",
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    return Customer.model_validate(from_item(response["Attributes"]))


def mark_emailed(table: str, customer_id: str, sent_at: datetime) -> None:
    aws.dynamodb().update_item(
        TableName=table,
        Key=to_item({"customer_id": customer_id}),
        UpdateExpression="SET last_emailed_at = :sent_at",
        ConditionExpression="attribute_exists(customer_id)",
        ExpressionAttributeValues=to_item({":sent_at": to_stored(sent_at)}),
    )

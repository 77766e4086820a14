"""Customer profiles: reads, and the small atomic updates the send path and feedback make (the
newest cart, the segment, an unsubscribe, a suppression). The order and engagement histories are
written by ``nudge.dal.customer_history``; the store's own profile changes by
``nudge.dal.profile_changes``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple, cast

from botocore.exceptions import ClientError
from pydantic import ValidationError

from nudge.adapters import clients
from nudge.dal.items import from_item, is_condition_failure, to_item
from nudge.profiles import Customer, CustomerFacts
from nudge.timeutil import to_epoch_ms_text, to_epoch_seconds, to_stored


class UnknownCustomerError(LookupError):
    """The event names a customer id that has no profile."""


def get_customer(table: str, customer_id: str) -> Customer | None:
    response = clients.dynamodb().get_item(
        TableName=table, Key=to_item({"customer_id": customer_id}), ConsistentRead=True
    )
    item = response.get("Item")
    return Customer.model_validate(from_item(item)) if item else None


def put_customer(table: str, customer: Customer) -> None:
    """Create or replace a profile (seeding, imports and tests; triggers only update)."""
    clients.dynamodb().put_item(TableName=table, Item=to_item(stored_record(customer)))


# Kept as DynamoDB string sets (an event twice is one element), which cannot be empty.
_ENGAGEMENT_SETS = ("recent_open_dates", "recent_click_dates")


def stored_record(customer: Customer) -> dict[str, object]:
    """The profile's attributes as ``put_customer`` stores them (histories in their compact forms)."""
    record = {name: _stored(value) for name, value in customer.model_dump(mode="python").items()}
    for name in _ENGAGEMENT_SETS:
        moments = getattr(customer, name)
        record[name] = {to_epoch_ms_text(moment) for moment in moments} if moments else None
    record["recent_order_dates"] = [to_epoch_seconds(moment) for moment in customer.recent_order_dates]
    return record


def _stored(value: object) -> object:
    if isinstance(value, datetime):
        return to_stored(value)
    if isinstance(value, tuple | list):
        return [_stored(element) for element in value]
    return value


def item_before(error: ClientError) -> Customer | None:
    """The profile as it was when a conditional write failed (ReturnValuesOnConditionCheckFailure)."""
    item = cast(dict[str, Any], error.response).get("Item")
    return Customer.model_validate(from_item(item)) if item else None


def set_segment(table: str, seen: CustomerFacts, segment_id: str, at: datetime) -> bool:
    """Move the customer to ``segment_id``, unless their segment or orders changed since ``seen`` was
    read (a concurrent order re-evaluated them from fresher facts). Returns whether it was written.
    """
    values: dict[str, object] = {":segment": segment_id, ":at": to_stored(at), ":orders": seen.order_count}
    conditions = ["(order_count = :orders OR attribute_not_exists(order_count))"]
    if seen.segment_id is None:
        conditions.append("attribute_exists(customer_id) AND attribute_not_exists(segment_id)")
    else:
        conditions.append("segment_id = :expected")
        values[":expected"] = seen.segment_id
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key=to_item({"customer_id": seen.customer_id}),
            UpdateExpression="SET segment_id = :segment, segment_updated_at = :at",
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeValues=to_item(values),
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def record_unsubscribe(table: str, customer_id: str, at: datetime, source: str) -> datetime | None:
    """Mark the profile unsubscribed; the first unsubscribe's time and source are kept. Returns the
    time the profile is unsubscribed since (``at``, or an earlier unsubscribe's), or None when there
    is no such profile (the caller must not reveal that)."""
    kept = _set_once(table, customer_id, {"unsubscribed_at": to_stored(at), "unsubscribe_source": source})
    if kept is None:
        return None
    if "unsubscribed_at" not in kept:
        # DynamoDB returns a value that if_not_exists kept; moto leaves it out. Read it then: that
        # attribute only (the unsubscribe URL's role may read nothing else of a profile).
        item = (
            clients.dynamodb()
            .get_item(
                TableName=table,
                Key=to_item({"customer_id": customer_id}),
                ProjectionExpression="unsubscribed_at",
                ConsistentRead=True,
            )
            .get("Item")
        )
        kept = from_item(item) if item else {}
    stored = kept.get("unsubscribed_at")
    return datetime.fromisoformat(str(stored)) if stored is not None else at


def suppress(table: str, customer_id: str, reason: str, at: datetime) -> bool:
    """Suppress the profile for good; the first reason and time are kept. False if no such profile."""
    values: dict[str, object] = {"suppressed_reason": reason, "suppressed_at": to_stored(at)}
    return _set_once(table, customer_id, values) is not None


def _set_once(table: str, customer_id: str, values: dict[str, object]) -> dict[str, Any] | None:
    """Set each attribute unless it already has a value, on an existing profile only; the values
    the profile holds afterwards, or None when there is no such profile."""
    try:
        response = clients.dynamodb().update_item(
            TableName=table,
            Key=to_item({"customer_id": customer_id}),
            UpdateExpression="SET "
            + ", ".join(f"{name} = if_not_exists({name}, :{name})" for name in values),
            ConditionExpression="attribute_exists(customer_id)",
            ExpressionAttributeValues=to_item({f":{name}": value for name, value in values.items()}),
            ReturnValues="UPDATED_NEW",
        )
    except ClientError as error:
        if is_condition_failure(error):
            return None
        raise
    return from_item(response.get("Attributes", {}))


# Only what segmentation and selection read: no contact details leave the table during a run.
_FACT_NAMES = tuple(CustomerFacts.model_fields)


class FactsPage(NamedTuple):
    profiles: list[CustomerFacts]
    unreadable: list[str]
    """Ids of rows that do not validate: counted and logged by the caller, never fatal to the run."""
    last_evaluated_key: dict[str, Any] | None
    """Where the next page starts; None at the end of the shard."""


def scan_facts(
    table: str,
    *,
    shard: int,
    total_shards: int,
    start_key: dict[str, Any] | None,
    page_size: int,
) -> FactsPage:
    """One page of one shard: DynamoDB's parallel-scan ``Segment`` (the word "segment" is kept for
    marketing segments everywhere else).

    Eventually consistent: half the read cost of a strong read, and a profile changed during the run
    is re-evaluated by the change (an order) itself.
    """
    arguments: dict[str, Any] = {
        "TableName": table,
        "Segment": shard,
        "TotalSegments": total_shards,
        "Limit": page_size,
        # Said, not implied by the projection: IAM reads a Scan without Select as ALL_ATTRIBUTES, and
        # the worker may read only these attributes (its grant lists them).
        "Select": "SPECIFIC_ATTRIBUTES",
        "ProjectionExpression": ", ".join(f"#f{index}" for index in range(len(_FACT_NAMES))),
        "ExpressionAttributeNames": {f"#f{index}": name for index, name in enumerate(_FACT_NAMES)},
    }
    if start_key:
        arguments["ExclusiveStartKey"] = start_key
    response = clients.dynamodb().scan(**arguments)
    profiles: list[CustomerFacts] = []
    unreadable: list[str] = []
    for item in response.get("Items", []):
        row = from_item(item)
        try:
            profiles.append(CustomerFacts.model_validate(row))
        except ValidationError:
            unreadable.append(str(row.get("customer_id")))
    return FactsPage(profiles, unreadable, response.get("LastEvaluatedKey"))


def get_profile_item(table: str, customer_id: str) -> dict[str, Any] | None:
    """The stored profile as plain values, whatever it holds (strongly consistent)."""
    item = (
        clients.dynamodb()
        .get_item(TableName=table, Key=to_item({"customer_id": customer_id}), ConsistentRead=True)
        .get("Item")
    )
    return from_item(item) if item else None

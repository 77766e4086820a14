"""Engagement on the delivery record: delivered, opened and clicked, each event counted once.

An event is recognised by its own SES timestamp (milliseconds): the same event delivered twice, by
EventBridge, SQS or SES itself, carries the same one, and is found in the record's ``open_times`` or
``click_times`` set by the counting write's own condition, so there is no separate guard to lose.
First-time fields hold the earliest event whatever order events arrive in: each is written only
over a later value. Every write here can be repeated: a retry after a crash changes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from botocore.exceptions import ClientError

from nudge.adapters import clients
from nudge.dal.items import from_item, is_condition_failure, to_item
from nudge.message_tags import DeliveryRef
from nudge.outcome import Decision
from nudge.timeutil import to_stored, to_stored_ms

# Opens or clicks counted per email: beyond this it is a scanner or a forwarded email, and the
# record (and its event sets) must stay small.
MAX_EVENTS_PER_EMAIL = 100


@dataclass(frozen=True)
class Counted:
    """What an engagement write found: whether this event was new, and the record's dimensions."""

    new: bool
    trigger: str | None
    experiment_id: str | None
    variant_id: str | None

    @classmethod
    def of(cls, record: dict[str, Any], new: bool) -> Counted:
        def text(name: str) -> str | None:
            value = record.get(name)
            return str(value) if value is not None else None

        return cls(new, text("trigger"), text("experiment_id"), text("variant_id"))


@dataclass(frozen=True)
class _Kind:
    count: str
    times: str
    first: str


OPENS = _Kind(count="opens", times="open_times", first="first_opened_at")
CLICKS = _Kind(count="clicks", times="click_times", first="first_clicked_at")


def _key(ref: DeliveryRef) -> dict[str, Any]:
    return to_item({"customer_id": ref.customer_id, "delivery_key": ref.delivery_key})


def _old_item(error: ClientError) -> dict[str, Any] | None:
    item = cast(dict[str, Any], error.response).get("Item")
    return from_item(item) if item else None


def record_accepted(table: str, ref: DeliveryRef, message_id: str, at: datetime) -> int | None:
    """SES accepted an email of this delivery (its ``Send`` event): the earliest acceptance's time and
    message id stay (``ses_accepted_at``, ``accepted_message_id``, and ``message_id`` until the
    sending invocation records its own answer), and every accepted message id
    joins ``accepted_message_ids``, so two of them mean the customer got two emails. Returns how
    many distinct emails SES accepted for the delivery; None when there is no such record."""
    try:
        response = clients.dynamodb().update_item(
            TableName=table,
            Key=_key(ref),
            UpdateExpression=(
                "SET ses_accepted_at = if_not_exists(ses_accepted_at, :at), "
                "accepted_message_id = if_not_exists(accepted_message_id, :id), "
                "message_id = if_not_exists(message_id, :id) "
                "ADD accepted_message_ids :ids"
            ),
            ConditionExpression="attribute_exists(delivery_key)",
            ExpressionAttributeValues=to_item(
                {":at": to_stored(at), ":id": message_id, ":ids": {message_id}}
            ),
            ReturnValues="UPDATED_NEW",
        )
    except ClientError as error:
        if is_condition_failure(error):
            return None
        raise
    return len(from_item(response["Attributes"]).get("accepted_message_ids", ()))


def record_delivered(table: str, ref: DeliveryRef, at: datetime) -> Counted | None:
    """``delivered_at``, the earliest delivery seen. None when there is no such record."""
    try:
        response = clients.dynamodb().update_item(
            TableName=table,
            Key=_key(ref),
            UpdateExpression="SET delivered_at = :at",
            ConditionExpression=(
                "attribute_exists(delivery_key) "
                "AND (attribute_not_exists(delivered_at) OR delivered_at > :at)"
            ),
            ExpressionAttributeValues=to_item({":at": to_stored(at)}),
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise
        old = _old_item(error)
        return Counted.of(old, new=False) if old is not None else None
    return Counted.of(from_item(response["Attributes"]), new=True)


def record_open(table: str, ref: DeliveryRef, at: datetime) -> Counted | None:
    """Count one open; None when there is no such record."""
    return _count(table, ref, OPENS, at, first_extra={})


def record_click(table: str, ref: DeliveryRef, at: datetime, utm_content: str | None) -> Counted | None:
    """Count one click; the first click's ``utm_content`` (the block clicked) is kept with its time."""
    return _count(table, ref, CLICKS, at, first_extra={"utm_content": utm_content})


def _count(
    table: str, ref: DeliveryRef, kind: _Kind, at: datetime, first_extra: dict[str, str | None]
) -> Counted | None:
    stamp = to_stored_ms(at)
    try:
        response = clients.dynamodb().update_item(
            TableName=table,
            Key=_key(ref),
            UpdateExpression=(
                f"ADD {kind.count} :one, {kind.times} :stamps "
                f"SET {kind.first} = if_not_exists({kind.first}, :at)"
            ),
            ConditionExpression=(
                f"attribute_exists(delivery_key) AND NOT contains({kind.times}, :stamp) "
                f"AND (attribute_not_exists({kind.times}) OR size({kind.times}) < :cap)"
            ),
            ExpressionAttributeValues=to_item(
                {
                    ":one": 1,
                    ":stamps": {stamp},
                    ":stamp": stamp,
                    ":at": to_stored(at),
                    ":cap": MAX_EVENTS_PER_EMAIL,
                }
            ),
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise
        old = _old_item(error)
        if old is None:
            return None
        record, new = old, False  # counted before (a duplicate or a retry), or over the cap
    else:
        record, new = from_item(response["Attributes"]), True
    if stamp in record.get(kind.times, set()):
        # Set the first-time fields even on a retry: a crash may have come between the two writes.
        _keep_earliest(table, ref, kind.first, at, record, first_extra)
    return Counted.of(record, new)


def _keep_earliest(
    table: str,
    ref: DeliveryRef,
    first: str,
    at: datetime,
    record: dict[str, Any],
    extra: dict[str, str | None],
) -> None:
    """Make ``at`` the record's first-time value, with its ``extra`` fields, unless an earlier event
    holds it; skipped when the record already says exactly that."""
    stored_at = to_stored(at)
    current = record.get(first)
    if current is not None and (
        current < stored_at or (current == stored_at and all(record.get(n) == v for n, v in extra.items()))
    ):
        return
    sets = [f"{first} = :at", *(f"{name} = :{name}" for name, v in extra.items() if v is not None)]
    removes = [name for name, value in extra.items() if value is None]
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key=_key(ref),
            UpdateExpression=expression,
            ConditionExpression=(
                f"attribute_exists(delivery_key) AND (attribute_not_exists({first}) OR {first} >= :at)"
            ),
            ExpressionAttributeValues=to_item(
                {":at": stored_at, **{f":{name}": v for name, v in extra.items() if v is not None}}
            ),
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise


_EMAILS = frozenset({Decision.SENT.value, Decision.SENDING.value, Decision.SEND_UNCONFIRMED.value})
"""Decisions of a delivery whose email went out (or may have): not a skip, not a deferral."""


def sent_message_ids(table: str, ref: DeliveryRef) -> frozenset[str] | None:
    """The SES message ids the delivery's email went out as: the one its sender recorded and every one
    SES's Send events reported. Empty while the send is claimed and none is recorded yet. None when
    there is no such record, or it is of no email (a skip, a deferral)."""
    item = (
        clients.dynamodb()
        .get_item(
            TableName=table,
            Key=_key(ref),
            ConsistentRead=True,
            ProjectionExpression="decision, message_id, accepted_message_ids",
        )
        .get("Item")
    )
    if not item:
        return None
    record = from_item(item)
    if record.get("decision") not in _EMAILS:
        return None
    recorded = {record["message_id"]} if record.get("message_id") else set()
    return frozenset(str(value) for value in {*recorded, *record.get("accepted_message_ids", ())})


def find_by_message_id(table: str, customer_id: str, message_id: str) -> DeliveryRef | None:
    """The customer's delivery record of the SES message ``message_id``: for an email without the
    ``delivery`` tag (sent before it existed). One query of the customer's records, filtered."""
    pages = (
        clients.dynamodb()
        .get_paginator("query")
        .paginate(
            TableName=table,
            KeyConditionExpression="customer_id = :customer",
            FilterExpression="message_id = :message",
            ProjectionExpression="customer_id, delivery_key",
            ExpressionAttributeValues=to_item({":customer": customer_id, ":message": message_id}),
        )
    )
    for page in pages:
        for item in page.get("Items", []):
            row = from_item(item)
            return DeliveryRef(str(row["customer_id"]), str(row["delivery_key"]))
    return None

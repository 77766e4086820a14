"""The customer's send state item (``nudge.send_state``): in the Deliveries table, in the customer's
own partition under ``delivery_key`` ``send_state``.

There, erasure's sweep of the partition deletes it with the delivery records, and the privacy export
includes it. It has no decision, so the report and attribution pass over it as they pass over an
order's guard. Each write renews its ``expires_at`` (the delivery records' retention): one that a
send racing an erasure writes after the sweep does not outlive the records it would have joined.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from nudge.adapters import clients
from nudge.carts import CartNote
from nudge.dal.batch_items import MAX_GET_KEYS, batch_get
from nudge.dal.items import from_item, is_condition_failure, to_item
from nudge.send_state import SendState, read_state
from nudge.timeutil import to_stored

STATE_KEY = "send_state"
"""The item's ``delivery_key``: a delivery's key is ``<trigger>#<identity>``, never without a ``#``."""

MAX_BATCH_ATTEMPTS = 5
"""Calls for one batch of keys while DynamoDB leaves some unprocessed (throttling): what is still
unread then fails the scheduled run's page, which is read again from its checkpoint."""


def state_key(customer_id: str) -> dict[str, Any]:
    return to_item({"customer_id": customer_id, "delivery_key": STATE_KEY})


def writable_time(
    name: str, comparison: str, values: dict[str, Any], damaged: Mapping[str, Any] | None = None
) -> str:
    """The condition under which the time attribute ``name`` may be written: it is absent, it is
    damage (not a string, as Nudge stores times; or, in ``damaged``, still the value read as such),
    or ``comparison`` holds. Adds the values it names to ``values``."""
    # The type test before ``comparison``: DynamoDB finds a number "<" a string false, moto fails
    # the request on it.
    condition = f"attribute_not_exists({name}) OR NOT attribute_type({name}, :string) OR {comparison}"
    values[":string"] = "S"
    if damaged and name in damaged:
        condition += f" OR {name} = :damaged_{name}"
        values[f":damaged_{name}"] = damaged[name]
    return f"({condition})"


def get_send_state(table: str, customer_id: str) -> SendState:
    """The customer's send state, strongly consistent (a send decides from it)."""
    item = (
        clients.dynamodb()
        .get_item(TableName=table, Key=state_key(customer_id), ConsistentRead=True)
        .get("Item")
    )
    return read_state(from_item(item) if item else None)


def get_send_marks(table: str, customer_ids: Iterable[str], marks: Sequence[str]) -> dict[str, SendState]:
    """The ``marks`` of many customers' send states (eventually consistent, only those attributes),
    by customer id; a customer never emailed is not in it. Keys left unprocessed are asked for again
    (``nudge.dal.batch_items``)."""
    wanted = list(dict.fromkeys(customer_ids))
    names = ("customer_id", *marks)
    projection = {
        "ProjectionExpression": ", ".join(f"#a{index}" for index in range(len(names))),
        "ExpressionAttributeNames": {f"#a{index}": name for index, name in enumerate(names)},
    }
    found: dict[str, SendState] = {}
    for start in range(0, len(wanted), MAX_GET_KEYS):
        keys = [state_key(customer_id) for customer_id in wanted[start : start + MAX_GET_KEYS]]
        items = batch_get({table: {"Keys": keys, **projection}}, max_attempts=MAX_BATCH_ATTEMPTS)[table]
        for item in items:
            row = from_item(item)
            found[str(row["customer_id"])] = read_state(row)
    return found


def note_cart(table: str, customer_id: str, note: CartNote, expires_at: int) -> None:
    """Note the cart as the customer's newest unless a newer one is noted. Repeating it changes nothing."""
    values = {":cart": note.cart_id, ":at": to_stored(note.abandoned_at), ":expires": expires_at}
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key=state_key(customer_id),
            UpdateExpression="SET latest_cart_id = :cart, latest_cart_at = :at, expires_at = :expires",
            ConditionExpression=writable_time("latest_cart_at", "latest_cart_at < :at", values),
            ExpressionAttributeValues=to_item(values),
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise

"""The customer's send state item (``nudge.send_state``): in the Deliveries table, in the customer's
own partition under ``delivery_key`` ``send_state``.

There, erasure's sweep of the partition deletes it with the delivery records, and the privacy export
includes it. It has no decision, so the report and attribution pass over it as they pass over an
order's guard. Each write renews its ``expires_at`` (the delivery records' retention): one that a
send racing an erasure writes after the sweep does not outlive the records it would have joined.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from nudge.adapters import clients
from nudge.carts import CartNote
from nudge.dal.items import from_item, is_condition_failure, to_item
from nudge.send_state import SendState, read_state
from nudge.timeutil import to_stored

STATE_KEY = "send_state"
"""The item's ``delivery_key``: a delivery's key is ``<trigger>#<identity>``, never without a ``#``."""

MAX_KEYS = 100
"""BatchGetItem's limit on keys per call."""

MAX_BATCH_ATTEMPTS = 5
"""Calls for one batch of keys while DynamoDB leaves some unprocessed (throttling)."""


def state_key(customer_id: str) -> dict[str, Any]:
    return to_item({"customer_id": customer_id, "delivery_key": STATE_KEY})


def get_send_state(table: str, customer_id: str) -> SendState:
    """The customer's send state, strongly consistent (a send decides from it)."""
    item = (
        clients.dynamodb()
        .get_item(TableName=table, Key=state_key(customer_id), ConsistentRead=True)
        .get("Item")
    )
    return read_state(from_item(item) if item else None)


class SendStatesUnreadError(RuntimeError):
    """DynamoDB kept leaving some send states unprocessed: the page is read again later."""


def get_send_marks(table: str, customer_ids: Iterable[str], marks: Sequence[str]) -> dict[str, SendState]:
    """The ``marks`` of many customers' send states (eventually consistent, only those attributes),
    by customer id; a customer never emailed is not in it."""
    wanted = list(dict.fromkeys(customer_ids))
    found: dict[str, SendState] = {}
    names = ("customer_id", *marks)
    for start in range(0, len(wanted), MAX_KEYS):
        request: dict[str, Any] = {
            table: {
                "Keys": [state_key(customer_id) for customer_id in wanted[start : start + MAX_KEYS]],
                "ProjectionExpression": ", ".join(f"#a{index}" for index in range(len(names))),
                "ExpressionAttributeNames": {f"#a{index}": name for index, name in enumerate(names)},
            }
        }
        for attempt in range(MAX_BATCH_ATTEMPTS):
            if attempt:
                time.sleep(0.05 * 2**attempt)  # unprocessed keys are throttling: back off
            response = clients.dynamodb().batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                row = from_item(item)
                found[str(row["customer_id"])] = read_state(row)
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise SendStatesUnreadError(f"{table}: keys left unprocessed {MAX_BATCH_ATTEMPTS} times")
    return found


def note_cart(table: str, customer_id: str, note: CartNote, expires_at: int) -> None:
    """Note the cart as the customer's newest unless a newer one is noted. Repeating it changes nothing."""
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key=state_key(customer_id),
            UpdateExpression="SET latest_cart_id = :cart, latest_cart_at = :at, expires_at = :expires",
            ConditionExpression="attribute_not_exists(latest_cart_at) OR latest_cart_at < :at",
            ExpressionAttributeValues=to_item(
                {":cart": note.cart_id, ":at": to_stored(note.abandoned_at), ":expires": expires_at}
            ),
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise

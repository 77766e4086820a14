"""The send's one write to the customer profile: the frequency cap's slot, the send marks and the
trigger's note, as one conditional UpdateItem.

A profile has N slots (``cap_<i>_at``, ``cap_<i>_by``): at most N emails per rolling window. The
profile was just read (strongly consistent), so the write goes straight to a slot that is empty or
has aged out, and an email whose slots are all taken is capped without any write. Of two emails
racing for the last free slot exactly one wins: the loser's condition fails, DynamoDB returns the
profile as it stands, and the caller decides again from it. A retry whose email already holds a slot
(it died after this write) writes nothing: the slot, its time and the marks stay as first written.

The marks (``last_emailed_at``, ``first_emailed_at`` if unset, the trigger's own such as
``last_winback_at``) are written here, before SES is called, and not in a second write after it: the
profile says when the last email was claimed for sending. A send SES then refuses gives its slot back
(``release``) but keeps the marks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from botocore.exceptions import ClientError

from nudge.adapters import clients
from nudge.carts import CartNote
from nudge.dal.items import from_item, is_condition_failure, to_item
from nudge.profiles import Customer
from nudge.timeutil import to_stored


@dataclass(frozen=True)
class Cap:
    slots: int
    window: timedelta


@dataclass(frozen=True)
class Taken:
    """The email may go: it holds ``slot`` (None when it takes none: no cap, or exempt)."""

    slot: int | None


@dataclass(frozen=True)
class Capped:
    """Every slot was taken within the window by other emails."""


@dataclass(frozen=True)
class Changed:
    """The profile changed since it was read (a racing email took the slot, a newer cart was noted,
    it was deleted): decide again from ``customer`` as it stands (None: no such profile)."""

    customer: Customer | None


SlotResult = Taken | Capped | Changed


def take_send_slot(
    table: str,
    customer: Customer,
    claimant: str,
    *,
    at: datetime,
    cap: Cap | None,
    marks: Sequence[str],
    note: CartNote | None,
) -> SlotResult:
    """Take a slot for ``claimant`` (one email's identity) under ``cap``, set each attribute of
    ``marks`` to ``at`` and write ``note``, in one write, or none when there is nothing to write."""
    slot: int | None = None
    if cap is not None:
        chosen = _choose_slot(customer, claimant, at, cap)
        if chosen is None:
            return Capped()
        slot, already_mine = chosen
        if already_mine:
            return Taken(slot)
    sets, conditions = [], ["attribute_exists(customer_id)"]
    values: dict[str, Any] = {":at": to_stored(at)}
    if slot is not None and cap is not None:
        sets += [f"cap_{slot}_at = :at", f"cap_{slot}_by = :me"]
        conditions.append(
            f"(attribute_not_exists(cap_{slot}_at) OR cap_{slot}_at < :window_start OR cap_{slot}_by = :me)"
        )
        values |= {":me": claimant, ":window_start": to_stored(at - cap.window)}
    if marks:
        sets += [f"{name} = :at" for name in marks]
        sets.append("first_emailed_at = if_not_exists(first_emailed_at, :at)")
    if note is not None:
        sets += ["latest_cart_id = :cart", "latest_cart_at = :cart_at"]
        conditions.append("(attribute_not_exists(latest_cart_at) OR latest_cart_at <= :cart_at)")
        values |= {":cart": note.cart_id, ":cart_at": to_stored(note.abandoned_at)}
    if not sets:
        return Taken(slot)
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key=to_item({"customer_id": customer.customer_id}),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeValues=to_item(values),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise
        item = cast(dict[str, Any], error.response).get("Item")
        return Changed(Customer.model_validate(from_item(item)) if item else None)
    return Taken(slot)


def is_full(customer: Customer, claimant: str, at: datetime, cap: Cap) -> bool:
    """Whether the profile as read shows every slot taken within the window by other emails: the
    email is capped without a write (and without reading what a sent email would need)."""
    return _choose_slot(customer, claimant, at, cap) is None


def _choose_slot(customer: Customer, claimant: str, at: datetime, cap: Cap) -> tuple[int, bool] | None:
    """The slot this email already holds (and True), else the first free one (and False), else None."""
    window_start = at - cap.window
    free: int | None = None
    for index in range(cap.slots):
        held = customer.send_slots.get(index)
        if held is not None and held.taken_by == claimant and held.taken_at >= window_start:
            return index, True
        if free is None and (held is None or held.taken_at < window_start):
            free = index
    return None if free is None else (free, False)


def release(table: str, customer_id: str, claimant: str, slot: int) -> None:
    """Give back ``claimant``'s slot: its email was not sent, so it must not count."""
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key=to_item({"customer_id": customer_id}),
            UpdateExpression=f"REMOVE cap_{slot}_at, cap_{slot}_by",
            ConditionExpression=f"cap_{slot}_by = :me",
            ExpressionAttributeValues=to_item({":me": claimant}),
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise

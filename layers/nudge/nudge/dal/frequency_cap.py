"""The send's one write: the frequency cap's slot, the send marks and the trigger's note, as one
conditional UpdateItem of the customer's send state (``nudge.send_state``), never of the profile.

A customer has N slots (``cap_<i>_at``, ``cap_<i>_by``): at most N emails per rolling window. The
send state was just read with the profile (strongly consistent), so the write goes straight to a slot
that is empty or has aged out, and an email whose slots are all taken is capped without any write. Of
two emails racing for the last free slot exactly one wins: the loser's condition fails, DynamoDB
returns the send state as it stands, and the caller decides again from it. A retry whose email
already holds a slot (it died after this write) writes nothing: the slot, its time and the marks stay
as first written.

The marks (``last_emailed_at``, ``first_emailed_at`` if unset, the trigger's own such as
``last_winback_at``) are written here, before SES is called, and not in a second write after it: they
say when the last email was claimed for sending. A send SES then refuses gives its slot back
(``release``) but keeps the marks.

The item stays small whatever the profile holds (the slots, three marks, a cart id): about 250
bytes with the default cap of one slot, and about 60 bytes and the email's id more a slot; one
write unit as long as it is under 1 KB.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from botocore.exceptions import ClientError

from nudge.adapters import clients
from nudge.carts import CartNote
from nudge.dal.items import from_item, is_condition_failure, to_item
from nudge.dal.send_state import state_key, writable_time
from nudge.profiles import Customer
from nudge.send_state import read_state, with_send_state
from nudge.timeutil import to_stored


class Cap(NamedTuple):
    slots: int
    window: timedelta


class Taken(NamedTuple):
    """The email may go: it holds ``slot`` (None when it takes none: no cap, or exempt)."""

    slot: int | None


class Capped(NamedTuple):
    """Every slot was taken within the window by other emails."""


class Changed(NamedTuple):
    """The send state changed since it was read (a racing email took the slot, a newer cart was
    noted): decide again from ``customer``, the profile as read with the send state as it stands."""

    customer: Customer


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
    expires_at: int,
) -> SlotResult:
    """Take a slot for ``claimant`` (one email's identity) under ``cap``, set each attribute of
    ``marks`` to ``at`` and write ``note``, in one write of the send state in ``table`` (the
    Deliveries table), or none when there is nothing to write."""
    slot: int | None = None
    if cap is not None:
        chosen = _choose_slot(customer, claimant, at, cap)
        if chosen is None:
            return Capped()
        slot, already_mine = chosen
        if already_mine:
            return Taken(slot)
    sets, conditions = [], []
    values: dict[str, Any] = {":at": to_stored(at)}
    # An attribute that could not be read is replaced if it is still what was read (nudge.send_state).
    damaged = customer.send_state_damaged
    if slot is not None and cap is not None:
        sets += [f"cap_{slot}_at = :at", f"cap_{slot}_by = :me"]
        free = f"cap_{slot}_at < :window_start OR cap_{slot}_by = :me"
        conditions.append(writable_time(f"cap_{slot}_at", free, values, damaged))
        values |= {":me": claimant, ":window_start": to_stored(at - cap.window)}
    if marks:
        sets += [f"{name} = :at" for name in marks]
        # The first email may be on the profile (written before the send state, or imported).
        first = ":first" if "first_emailed_at" in damaged else "if_not_exists(first_emailed_at, :first)"
        sets.append(f"first_emailed_at = {first}")
        values[":first"] = to_stored(customer.first_emailed_at or at)
    if note is not None:
        sets += ["latest_cart_id = :cart", "latest_cart_at = :cart_at"]
        conditions.append(writable_time("latest_cart_at", "latest_cart_at <= :cart_at", values, damaged))
        values |= {":cart": note.cart_id, ":cart_at": to_stored(note.abandoned_at)}
    if not sets:
        return Taken(slot)
    sets.append("expires_at = :expires")
    values[":expires"] = expires_at
    arguments: dict[str, Any] = {}
    if conditions:
        arguments |= {
            "ConditionExpression": " AND ".join(conditions),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key=state_key(customer.customer_id),
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeValues=to_item(values),
            **arguments,
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise
        item = cast(dict[str, Any], error.response).get("Item")
        return Changed(with_send_state(customer, read_state(from_item(item) if item else None)))
    return Taken(slot)


def is_full(customer: Customer, claimant: str, at: datetime, cap: Cap) -> bool:
    """Whether the send state as read shows every slot taken within the window by other emails: the
    email is capped without a write (and without reading what a sent email would need)."""
    return _choose_slot(customer, claimant, at, cap) is None


def _choose_slot(customer: Customer, claimant: str, at: datetime, cap: Cap) -> tuple[int, bool] | None:
    """The slot this email already holds (and True), else the first free one (and False), else None."""
    window_start = at - cap.window
    free: int | None = None
    for index in range(cap.slots):
        held = customer.held_slots.get(index)
        if held is not None and held.taken_by == claimant and held.taken_at >= window_start:
            return index, True
        if free is None and (held is None or held.taken_at < window_start):
            free = index
    return None if free is None else (free, False)


def release(table: str, customer_id: str, claimant: str, slot: int) -> None:
    """Give back ``claimant``'s slot in the send state: its email was not sent, so it must not count."""
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key=state_key(customer_id),
            UpdateExpression=f"REMOVE cap_{slot}_at, cap_{slot}_by",
            ConditionExpression=f"cap_{slot}_by = :me",
            ExpressionAttributeValues=to_item({":me": claimant}),
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise

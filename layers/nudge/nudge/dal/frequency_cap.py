"""The frequency cap's send slots on the customer profile: at most N emails per rolling window.

A profile has N slots (``cap_<i>_at``, ``cap_<i>_by``). Sending an email first claims a slot that
is empty, has aged out of the window, or is already this email's own (a retry). Each claim is one
conditional write, so of two triggers racing for the last free slot exactly one wins; the other
finds every slot taken and is skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from nudge.adapters import clients
from nudge.dal.items import is_condition_failure, to_item
from nudge.timeutil import to_stored


def claim(
    table: str, customer_id: str, claimant: str, *, at: datetime, slots: int, window: timedelta
) -> bool:
    """Take a send slot for ``claimant`` (one email's identity). False when all ``slots`` were used
    within ``window`` before ``at`` by other emails, or the profile does not exist."""
    client = clients.dynamodb()
    values = to_item({":at": to_stored(at), ":window_start": to_stored(at - window), ":me": claimant})
    for slot in range(slots):
        taken_at, taken_by = f"cap_{slot}_at", f"cap_{slot}_by"
        try:
            client.update_item(
                TableName=table,
                Key=to_item({"customer_id": customer_id}),
                UpdateExpression=f"SET {taken_at} = :at, {taken_by} = :me",
                ConditionExpression=(
                    f"attribute_exists(customer_id) AND (attribute_not_exists({taken_at}) "
                    f"OR {taken_at} < :window_start OR {taken_by} = :me)"
                ),
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if is_condition_failure(error):
                continue
            raise
        return True
    return False


def release(table: str, customer_id: str, claimant: str, *, slots: int) -> None:
    """Give back ``claimant``'s slot: its email was not sent, so it must not count."""
    client = clients.dynamodb()
    for slot in range(slots):
        try:
            client.update_item(
                TableName=table,
                Key=to_item({"customer_id": customer_id}),
                UpdateExpression=f"REMOVE cap_{slot}_at, cap_{slot}_by",
                ConditionExpression=f"cap_{slot}_by = :me",
                ExpressionAttributeValues=to_item({":me": claimant}),
            )
        except ClientError as error:
            if is_condition_failure(error):
                continue
            raise
        return

"""The suppression list: what Nudge keeps about addresses and customers it no longer holds, as keyed
hashes only (HMAC with the stack's secret, ``nudge.customers.hashing``), never the address or id.

- ``address#<hash>``: an address that must not be emailed (``reason``: ``unsubscribed``,
  ``permanent_bounce``, ``complaint``; ``suppressed_at``). Written when a suppressed address leaves a
  profile (a changed email, an erasure), so suppression follows the address: a profile that takes
  the address later is suppressed too, until it brings consent given after ``suppressed_at``.
- ``erased#<hash>``: a customer id erased at ``requested_at``, so a ``Customer Updated`` older than
  the erasure that arrives late (a retry, a redrive) does not bring the customer back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from nudge.adapters import clients
from nudge.dal.items import from_item, is_condition_failure, to_item
from nudge.timeutil import to_stored, to_stored_precise

KEY = "key_hash"


@dataclass(frozen=True)
class SuppressedAddress:
    reason: str
    suppressed_at: datetime


def _get(table: str, key: str) -> dict[str, Any] | None:
    item = (
        clients.dynamodb().get_item(TableName=table, Key=to_item({KEY: key}), ConsistentRead=True).get("Item")
    )
    return from_item(item) if item else None


def address_key(address_hash: str) -> str:
    return f"address#{address_hash}"


def erased_key(customer_hash: str) -> str:
    return f"erased#{customer_hash}"


def suppressed_address(table: str, address_hash: str) -> SuppressedAddress | None:
    row = _get(table, address_key(address_hash))
    if row is None:
        return None
    return SuppressedAddress(str(row["reason"]), datetime.fromisoformat(str(row["suppressed_at"])))


def suppress_address(table: str, address_hash: str, entry: SuppressedAddress, recorded_at: datetime) -> None:
    """List the address; an entry already there stays unless this one is newer. Repeatable."""
    try:
        clients.dynamodb().put_item(
            TableName=table,
            Item=to_item(
                {
                    KEY: address_key(address_hash),
                    "reason": entry.reason,
                    "suppressed_at": to_stored(entry.suppressed_at),
                    "recorded_at": to_stored(recorded_at),
                }
            ),
            ConditionExpression="attribute_not_exists(key_hash) OR suppressed_at < :at",
            ExpressionAttributeValues=to_item({":at": to_stored(entry.suppressed_at)}),
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise


def erasure_requested_at(table: str, customer_hash: str) -> datetime | None:
    row = _get(table, erased_key(customer_hash))
    return datetime.fromisoformat(str(row["requested_at"])) if row else None


def record_erasure(table: str, customer_hash: str, requested_at: datetime, recorded_at: datetime) -> None:
    """Remember the erasure (the newest request's time). Repeatable."""
    try:
        clients.dynamodb().put_item(
            TableName=table,
            Item=to_item(
                {
                    KEY: erased_key(customer_hash),
                    "requested_at": to_stored_precise(requested_at),
                    "recorded_at": to_stored(recorded_at),
                }
            ),
            ConditionExpression="attribute_not_exists(key_hash) OR requested_at < :at",
            ExpressionAttributeValues=to_item({":at": to_stored_precise(requested_at)}),
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise


def complete_erasure(table: str, customer_hash: str, completed_at: datetime) -> bool:
    """Note that the erasure is done; True only the first time (what counts it once)."""
    try:
        clients.dynamodb().update_item(
            TableName=table,
            Key=to_item({KEY: erased_key(customer_hash)}),
            UpdateExpression="SET erased_at = :at",
            ConditionExpression="attribute_exists(key_hash) AND attribute_not_exists(erased_at)",
            ExpressionAttributeValues=to_item({":at": to_stored(completed_at)}),
        )
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def rows(table: str, keys: list[str]) -> list[dict[str, Any]]:
    """The rows of these keys that exist (an export's view)."""
    return [row for row in (_get(table, key) for key in keys) if row is not None]

"""The subject-access export: everything Nudge stores about one customer, as plain JSON values.

Read through the layer's DAL, the very functions the handlers and the erasure use: the profile, every
delivery record (decisions, subject lines, engagement, attribution guards), every consent statement,
and the suppression list's rows that can be found for the customer.

The suppression list holds keyed hashes only, so a row is found only from what it was hashed from:
the customer id (``erased#``) and the profile's current address (``address#``). The row of an address
the profile no longer holds (changed, or erased with the profile) cannot be found, and the export's
notes say what was looked up.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary

from nudge.customers.hashing import address_hash, customer_hash
from nudge.dal import consent_history, partitions, suppression_list
from nudge.dal.customers import get_profile_item
from nudge.timeutil import to_stored, utc_now

HASH_KEY_LOGICAL_ID = "AddressHashKey"
"""The template's logical id of the secret that keys the suppression list's hashes."""

NOT_COVERED = (
    "Not read by this export: cart reminders and deferred emails waiting in EventBridge Scheduler "
    "(each holds its event, with the customer id, until it fires), events waiting in the queues and "
    "dead-letter queues, the functions' logs (customer ids), and the tables' point-in-time backups."
)


@dataclass(frozen=True)
class ExportTables:
    """The physical names of the tables that hold a customer's data."""

    customers: str
    deliveries: str
    consent_history: str
    suppression_list: str


def export_customer(tables: ExportTables, customer_id: str, hash_key: bytes | None) -> dict[str, Any]:
    """Everything stored about ``customer_id``, JSON-ready (Decimals as strings, sets as sorted lists,
    every row's keys sorted). ``hash_key`` is the suppression list's key (``AddressHashKey``); None
    when it could not be read, and then the suppression list is not looked up."""
    profile = get_profile_item(tables.customers, customer_id)
    deliveries = partitions.rows(tables.deliveries, "customer_id", customer_id)
    statements = consent_history.history(tables.consent_history, customer_id)
    notes = _profile_notes(profile)
    suppressed = _suppression_rows(tables.suppression_list, customer_id, profile, hash_key, notes)
    notes.append(NOT_COVERED)
    return {
        "customer_id": customer_id,
        "exported_at": to_stored(utc_now()),
        "profile": plain(profile) if profile is not None else None,
        "deliveries": [plain(row) for row in deliveries],
        "consent_history": [plain(row) for row in statements],
        "suppression_list": [plain(row) for row in suppressed],
        "notes": notes,
    }


def _profile_notes(profile: dict[str, Any] | None) -> list[str]:
    if profile is None:
        return ["No profile: the customer id is unknown to Nudge, or the customer was erased."]
    if profile.get("erasure_requested_at"):
        return [
            f"An erasure was requested at {profile['erasure_requested_at']} and has not finished: the "
            "handlers treat the customer as unknown, and the retry of the erasure deletes what is shown."
        ]
    return []


def _suppression_rows(
    table: str,
    customer_id: str,
    profile: dict[str, Any] | None,
    hash_key: bytes | None,
    notes: list[str],
) -> list[dict[str, Any]]:
    if hash_key is None:
        notes.append(
            f"The suppression list was not looked up: its rows are found only by a keyed hash, and the "
            f"key (the secret {HASH_KEY_LOGICAL_ID}) could not be read."
        )
        return []
    keys = [suppression_list.erased_key(customer_hash(hash_key, customer_id))]
    address = profile.get("email") if profile is not None else None
    if isinstance(address, str):
        keys.append(suppression_list.address_key(address_hash(hash_key, address)))
        notes.append(
            "Suppression list looked up by keyed hash: the erased# row of this customer id and the "
            "address# row of the profile's current address. A row of an address the profile held before "
            "cannot be found: Nudge does not keep old addresses."
        )
    else:
        notes.append(
            "Suppression list looked up by keyed hash: the erased# row of this customer id only. With no "
            "address on a profile there is nothing to hash, so an address# row (an erased customer's "
            "suppressed or unsubscribed address, kept so it is not emailed again) cannot be found."
        )
    return suppression_list.rows(table, keys)


def plain(value: Any) -> Any:
    """A value read from DynamoDB as JSON can hold it, the same every time: mappings with sorted keys,
    sets as sorted lists (sorted before conversion, so numbers keep numeric order), Decimals as
    strings (as stored: no float rounding), binary as base64."""
    if isinstance(value, Mapping):
        return {str(name): plain(value[name]) for name in sorted(value)}
    if isinstance(value, set | frozenset):
        return [plain(element) for element in sorted(value, key=_sort_key)]
    if isinstance(value, list | tuple):
        return [plain(element) for element in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Binary | bytes):
        return base64.b64encode(_bytes(value)).decode("ascii")
    return value


def _sort_key(element: Any) -> Any:
    # boto3's Binary has no order of its own; its bytes do.
    return _bytes(element) if isinstance(element, Binary) else element


def _bytes(value: Binary | bytes) -> bytes:
    # boto3's Binary holds its bytes in ``value``, which its type stubs leave out.
    return value.value if isinstance(value, Binary) else value  # type: ignore[attr-defined]

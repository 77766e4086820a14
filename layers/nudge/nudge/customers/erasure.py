"""``Customer Deleted``: forget the customer (the right to erasure), exactly once whatever fails.

In this order, so that a crash or a throttled call after any step is finished by the retry:

1. the erasure is remembered as a keyed hash of the id (``erased#``), so a ``Customer Updated``
   older than the request that arrives late does not bring the customer back;
2. the profile is marked (``erasure_requested_at``): from then on it reads as an unknown customer,
   and no email goes out;
3. an unsubscribed or suppressed address is kept as a keyed hash on the suppression list;
4. every delivery record (decisions, subjects, engagement, attribution guards), the send state
   (cap slots, send marks, cart notes) and every consent statement is deleted;
5. the profile (with its order history and engagement) is deleted, last, because it
   holds the address step 3 needs;
6. delivery records are swept once more: a send that read the profile before the mark may have
   recorded its result since step 4;
7. the erasure is noted as done (``erased_at``), once: what counts ``CustomerErased``.

Aggregates without personal data stay: co-purchase counts and best-sellers, counted-order guards
(order ids only), metrics. One-time schedules of cart reminders or quiet-hours deferrals still come
back, and are skipped as ``unknown_customer``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from nudge.customers.events import CustomerDeleted
from nudge.customers.hashing import address_hash, customer_hash, hash_key
from nudge.customers.settings import CustomerSettings
from nudge.dal import consent_history, partitions, profile_changes, suppression_list
from nudge.dal.suppression_list import SuppressedAddress
from nudge.observability import metrics
from nudge.timeutil import to_stored_precise


@dataclass(frozen=True)
class Erasure:
    completed_now: bool
    """True once per erased customer id: this delivery finished the erasure (a retry after a crash
    before the end finishes it too; a duplicate after it finds it done)."""
    profile_deleted: bool
    """False when there was no profile (never known, or erased before: a retry or a duplicate)."""
    deliveries_deleted: int
    consent_statements_deleted: int
    address_kept_hashed: bool


def erase(detail: CustomerDeleted, settings: CustomerSettings, now: datetime) -> Erasure:
    key = hash_key(settings.address_hash_key_secret)
    erased = customer_hash(key, detail.customer_id)
    suppression_list.record_erasure(settings.suppression_list_table, erased, detail.requested_at, now)
    marked = profile_changes.mark_erasure(
        settings.customers_table, detail.customer_id, to_stored_precise(detail.requested_at)
    )
    kept = marked is not None and _keep_suppressed_address(marked, key, settings, now)
    deliveries = _delete_deliveries(settings, detail.customer_id)
    statements = consent_history.erase(settings.consent_history_table, detail.customer_id)
    deleted = marked is not None and profile_changes.delete_profile(
        settings.customers_table, detail.customer_id
    )
    deliveries += _delete_deliveries(settings, detail.customer_id)
    first = suppression_list.complete_erasure(settings.suppression_list_table, erased, now)
    metrics.add_metric(name="CustomerErased" if first else "ErasureRepeated", unit=MetricUnit.Count, value=1)
    return Erasure(first, deleted, deliveries, statements, kept)


def _delete_deliveries(settings: CustomerSettings, customer_id: str) -> int:
    return partitions.delete_rows(settings.deliveries_table, "customer_id", "delivery_key", customer_id)


def _keep_suppressed_address(
    profile: dict[str, Any], key: bytes, settings: CustomerSettings, now: datetime
) -> bool:
    """An address that must not be emailed again stays on the list, as a keyed hash only."""
    address = profile.get("email")
    if not isinstance(address, str):
        return False
    if profile.get("suppressed_reason"):
        at = profile.get("suppressed_at")
        # Imported without ``suppressed_at``: as of now, so only consent given from now on lifts it.
        entry = SuppressedAddress(
            str(profile["suppressed_reason"]), datetime.fromisoformat(str(at)) if at else now
        )
    elif profile.get("unsubscribed_at"):
        entry = SuppressedAddress("unsubscribed", datetime.fromisoformat(str(profile["unsubscribed_at"])))
    else:
        return False
    suppression_list.suppress_address(settings.suppression_list_table, address_hash(key, address), entry, now)
    return True

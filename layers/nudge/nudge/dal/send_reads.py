"""The send path's first read: the profile and its send state (``nudge.send_state``), and in the
same BatchGetItem the cached rows the send will want whose minute has passed.

A warm function in a quiet store (batches more than a minute apart) finds its segment and
recommendation rows expired on every email; read one by one they would cost a call each. Here the
rows this container has read before and will read again ride along with the profile: the segment
rows (the customer's is almost always among them), the recommendation model rows the event alone
names (a cart's products and the best-sellers of its currency), and the catalog rows the last email
of the same cart read. Only rows already read are read again this way: a cold batch's threads
share one read of each row (``nudge.ttl_cache``) instead of each reading it with its profile. What
comes back fills the caches as their own reads would; the later reads then find them fresh. A row
that is not among them (a new segment, a win-back's seeds, a product the ranking now picks) is read
as before.

The profile and the send state are read strongly consistent, the rows eventually consistent, as on
their own. When DynamoDB leaves the profile or the send state unprocessed (throttling), it is read
with GetItem; rows it leaves unprocessed are simply not cached.

A send reads the profile without its histories (``SEND_PATH_OMITS``): only counting an order and
re-segmenting read them, and on an engaged regular they are most of the profile (a year of weekly
orders, fifty opens and clicks: 3.5 KB), whose parsing was about a tenth of the email's CPU.
DynamoDB bills the read by the whole item all the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, NamedTuple

from nudge.adapters import clients
from nudge.dal.batch_items import MAX_GET_KEYS
from nudge.dal.customers import get_customer
from nudge.dal.items import from_item, to_item
from nudge.dal.recommendation_reads import (
    expired_product_skus,
    expired_row_keys,
    remember_products,
    remember_rows,
)
from nudge.dal.segments import expired_segment_ids, remember_segments
from nudge.dal.send_state import get_send_state, state_key
from nudge.profiles import Customer
from nudge.send_state import read_state, with_send_state


class RowsToRefresh(NamedTuple):
    segments_table: str
    model_table: str | None = None
    model_keys: Sequence[str] = ()
    """The model rows the event names (``nudge.recommendations.co_purchase.model_keys_for``)."""
    products_table: str | None = None
    product_skus: Sequence[str] = ()
    """The catalog rows the last email with the same seeds read."""


SEND_PATH_OMITS = frozenset(
    {"counted_order_ids", "recent_order_dates", "recent_open_dates", "recent_click_dates"}
)
"""The profile's histories, which a send never reads (they read as empty)."""

_DERIVED = frozenset(name for name, field in Customer.model_fields.items() if field.exclude)
"""Model fields that are no stored attribute of their own (the slots and damage read into the model)."""


@cache
def send_path_projection(cap_slots: int) -> dict[str, Any]:
    """A send's read of the profile: every attribute of it but its histories, and the frequency cap's
    first ``cap_slots`` slots an earlier version stored on it."""
    names = [name for name in Customer.model_fields if name not in SEND_PATH_OMITS | _DERIVED]
    names += [f"cap_{slot}_{part}" for slot in range(cap_slots) for part in ("at", "by")]
    # A placeholder only for a one-word name (``email``, ``timezone``...), which may be one of
    # DynamoDB's reserved words; none of those has an underscore. A short request serialises faster.
    placeholders = {f"#p{index}": name for index, name in enumerate(names) if "_" not in name}
    written = {name: placeholder for placeholder, name in placeholders.items()}
    return {
        "ProjectionExpression": ", ".join(written.get(name, name) for name in names),
        "ExpressionAttributeNames": placeholders,
    }


def read_profile(
    customers_table: str,
    deliveries_table: str,
    customer_id: str,
    refresh: RowsToRefresh,
    *,
    cap_slots: int | None = None,
) -> Customer | None:
    """The profile with its send state (None: no such customer), with the expired rows of
    ``refresh`` read alongside; as a send reads it (``send_path_projection``) given the cap's
    ``cap_slots``, else whole."""
    segment_ids = expired_segment_ids(refresh.segments_table)
    room = MAX_GET_KEYS - 2 - len(segment_ids)
    model_keys = (
        expired_row_keys(refresh.model_table, refresh.model_keys)[:room] if refresh.model_table else []
    )
    room -= len(model_keys)
    skus = (
        expired_product_skus(refresh.products_table, refresh.product_skus)[:room]
        if refresh.products_table
        else []
    )
    request: dict[str, Any] = {
        customers_table: {
            "Keys": [to_item({"customer_id": customer_id})],
            "ConsistentRead": True,
            **(send_path_projection(cap_slots) if cap_slots is not None else {}),
        },
        deliveries_table: {"Keys": [state_key(customer_id)], "ConsistentRead": True},
    }
    if segment_ids:
        request[refresh.segments_table] = {"Keys": [to_item({"segment_id": s}) for s in segment_ids]}
    if refresh.model_table and model_keys:
        request[refresh.model_table] = {"Keys": [to_item({"model_key": key}) for key in model_keys]}
    if refresh.products_table and skus:
        request[refresh.products_table] = {"Keys": [to_item({"sku": sku}) for sku in skus]}
    response = clients.dynamodb().batch_get_item(RequestItems=request)
    found = response.get("Responses", {})
    if refresh.segments_table in found:
        remember_segments(refresh.segments_table, [from_item(item) for item in found[refresh.segments_table]])
    if refresh.model_table and model_keys:
        remember_rows(refresh.model_table, model_keys, response)
    if refresh.products_table and skus:
        remember_products(refresh.products_table, skus, response)
    unprocessed = response.get("UnprocessedKeys") or {}
    if customers_table in unprocessed:
        customer = get_customer(customers_table, customer_id)
    else:
        profiles = found.get(customers_table, [])
        customer = Customer.model_validate(from_item(profiles[0])) if profiles else None
    if customer is None:
        return None
    if deliveries_table in unprocessed:
        return with_send_state(customer, get_send_state(deliveries_table, customer_id))
    states = found.get(deliveries_table, [])
    return with_send_state(customer, read_state(from_item(states[0]) if states else None))

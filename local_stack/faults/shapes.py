"""What the fuzz runs share, free of hypothesis so that unit tests can use it without loading the
fuzzers: which function each trigger's store event goes to and which field is its identity, a fresh
copy of a sample customer, the delivery record an event leads to, and hostile shapes of an event
that no generator makes by chance."""

from __future__ import annotations

import json
from typing import Any

from local_stack.emulator.stack import LocalStack
from nudge.dal.customers import get_customer, put_customer
from nudge.dal.deliveries import get_delivery
from nudge.events import TriggerDetail
from nudge.profiles import Customer
from nudge.triggers import TRIGGERS

FUNCTION = {
    "Cart Abandoned": "CartAbandonedFunction",
    "Order Placed": "OrderPlacedFunction",
    "Customer Lapsed": "CustomerLapsedFunction",
}
"""The function each trigger's store event goes to, by its detail-type."""
IDENTITY_FIELD = {"Cart Abandoned": "cart_id", "Order Placed": "order_id", "Customer Lapsed": None}
"""The detail field that makes each trigger's event a new one (a cart, an order), if any."""

DEEP_NESTING_LEVELS = 990
"""Deeper than Python's ``json`` reads within its default recursion limit of 1,000 frames, once a
handler's own frames are on the stack; EventBridge and SQS carry it."""


def deeply_nested(event: dict[str, Any], levels: int = DEEP_NESTING_LEVELS) -> str:
    """``event`` as JSON text with ``levels`` of nested lists in an extra detail field
    (``detail.nested``), written without ``json.dumps``, which cannot write it either."""
    text = json.dumps({**event, "detail": {**event["detail"], "nested": None}})
    return text.replace('"nested": null', '"nested": ' + "[" * levels + "]" * levels, 1)


def delivery_of(table: str, event: dict[str, Any]) -> Any:
    """The delivery record a trigger's store event leads to, or None (none yet, or it does not parse)."""
    trigger = next(t for t in TRIGGERS if t.detail_type == event["detail-type"])
    try:
        detail: TriggerDetail = trigger.parse(event)
        return get_delivery(table, detail.customer_id, trigger.name, trigger.business_id(detail))
    except Exception:
        return None


def clone_customer(stack: LocalStack, customer_id: str, suffix: str) -> Customer:
    """A fresh copy of a sample customer, ``{customer_id}_{suffix}``, with an email of its own."""
    table = stack.names["CustomersTable"]
    original = get_customer(table, customer_id)
    assert original is not None, "the fuzz runs on the sample data"
    copy_id = f"{original.customer_id}_{suffix}"
    customer = original.model_copy(update={"customer_id": copy_id, "email": f"{copy_id}@example.com"})
    put_customer(table, customer)
    return customer

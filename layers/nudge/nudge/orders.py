"""Order Placed's write to the profile, made before its email is decided.

The order is counted on the profile (once per order id, in the same conditional write), the
customer's send state read beside it (the thank-you's rules and a segment rule on emails read its
marks), and the segment re-evaluated as of the order, so the thank-you already speaks to who the
customer now is.
Both can be repeated safely: a retry after any crash finds the order already counted, and
re-evaluation writes a segment only if it changed.
"""

from __future__ import annotations

from nudge.dal.customer_history import record_order
from nudge.dal.customers import UnknownCustomerError
from nudge.dal.send_state import get_send_state
from nudge.events import OrderPlaced
from nudge.profiles import Customer
from nudge.resegmentation import load_definitions, reevaluate
from nudge.send_state import with_send_state
from nudge.settings import Settings


def count_order(order: OrderPlaced, settings: Settings) -> Customer | None:
    """The profile with the order counted and its segment re-evaluated; None for an unknown customer."""
    try:
        customer = record_order(
            settings.customers_table,
            order.customer_id,
            order.order_id,
            order.total,
            order.placed_at,
            skus=order.skus,
            currency=order.currency,
        )
    except UnknownCustomerError:
        return None
    customer = with_send_state(customer, get_send_state(settings.deliveries_table, order.customer_id))
    definitions = load_definitions(settings.segments_table)
    return reevaluate(settings.customers_table, customer, definitions, as_of=order.placed_at)

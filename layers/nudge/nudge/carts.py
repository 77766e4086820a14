"""Cart Abandoned's write to the profile, made before its email is decided.

The first reminder of a cart notes it as the customer's newest cart (unless a newer one is already
noted), so a newer cart ends an older cart's series as ``superseded``. Later steps only read the
profile. Both can be repeated safely.
"""

from __future__ import annotations

from nudge.dal.customers import get_customer, record_cart
from nudge.events import CartAbandoned
from nudge.profiles import Customer
from nudge.settings import Settings


def note_cart(cart: CartAbandoned, settings: Settings) -> Customer | None:
    if cart.step > 1:
        return get_customer(settings.customers_table, cart.customer_id)
    return record_cart(settings.customers_table, cart.customer_id, cart.cart_id, cart.abandoned_at)

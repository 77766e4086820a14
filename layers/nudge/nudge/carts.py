"""Cart Abandoned's note on the customer's send state (``nudge.send_state``): the newest cart.

The first reminder of a cart notes it as the customer's newest cart (unless a newer one is already
noted), so a newer cart ends an older cart's series as ``superseded``. Later steps note nothing. The
note rides on the send's one write (nudge.dal.frequency_cap), or is written on its own when
the email is skipped or deferred; repeating it changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from nudge.events import CartAbandoned


class CartNote(NamedTuple):
    cart_id: str
    abandoned_at: datetime


def cart_note(cart: CartAbandoned) -> CartNote | None:
    return CartNote(cart.cart_id, cart.abandoned_at) if cart.step <= 1 else None

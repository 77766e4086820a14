"""Which email an order belongs to. Pure: the customer's delivery records in, one of them (or none) out.

In order, the first that applies:

1. A cart reminder of the cart the order names (``cart_id``): the latest step sent before the order.
2. The email the customer last clicked within the click window before the order.
3. The email last delivered within the delivery window before the order.
4. The holdout record (an experiment's control group, sent nothing) of the cart the order names, or
   else the latest one decided within the click window before the order: so a holdout converts as a
   recipient would, and lift is measured against no email at all. The wider window makes the
   holdout's rate, and so the reported lift, conservative.

An email converts one order: one that already converted another is not a candidate. Events after
the order (a click on the thank-you email) never count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from nudge.delivery_facts import DeliveryFacts


@dataclass(frozen=True)
class Windows:
    click: timedelta
    delivery: timedelta


def attributed_email(
    deliveries: Iterable[DeliveryFacts],
    *,
    order_id: str,
    cart_id: str | None,
    placed_at: datetime,
    windows: Windows,
) -> DeliveryFacts | None:
    candidates = [
        d
        for d in deliveries
        if d.converted_order_id in (None, order_id) and d.decided_at <= placed_at and (d.sent or d.held_out)
    ]
    sent = [d for d in candidates if d.sent]
    held_out = [d for d in candidates if d.held_out]
    if cart_id is not None and (cart := _latest(d for d in sent if d.is_cart(cart_id))) is not None:
        return cart
    clicked = _last_by(sent, lambda d: _last_before(d.click_times, placed_at, windows.click))
    if clicked is not None:
        return clicked
    delivered = _last_by(
        sent, lambda d: _last_before((d.delivered_at,) if d.delivered_at else (), placed_at, windows.delivery)
    )
    if delivered is not None:
        return delivered
    if cart_id is not None and (cart := _latest(d for d in held_out if d.is_cart(cart_id))) is not None:
        return cart
    return _last_by(held_out, lambda d: _last_before((d.decided_at,), placed_at, windows.click))


def _latest(deliveries: Iterable[DeliveryFacts]) -> DeliveryFacts | None:
    return max(deliveries, key=lambda d: (d.decided_at, d.delivery_key), default=None)


def _last_before(moments: Sequence[datetime], placed_at: datetime, window: timedelta) -> datetime | None:
    within = [moment for moment in moments if placed_at - window <= moment <= placed_at]
    return max(within, default=None)


def _last_by(
    deliveries: Iterable[DeliveryFacts], moment_of: Callable[[DeliveryFacts], datetime | None]
) -> DeliveryFacts | None:
    """The delivery whose moment is latest (ties by key, so the choice never depends on read order)."""
    timed = [(moment, d) for d in deliveries if (moment := moment_of(d)) is not None]
    if not timed:
        return None
    return max(timed, key=lambda pair: (pair[0], pair[1].delivery_key))[1]

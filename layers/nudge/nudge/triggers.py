"""The three triggers: what each parses, writes to the profile, its exit rule, its template data and
its identity.

Everything that differs between triggers lives here as data; the pipeline has no branch per trigger.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Generic, NamedTuple, TypeVar, cast

from nudge.carts import CartNote, cart_note
from nudge.envelopes import EventBridgeModel, SqsRecordModel
from nudge.events import (
    CartAbandoned,
    CartAbandonedEvent,
    CartAbandonedRecord,
    CustomerLapsed,
    CustomerLapsedEvent,
    CustomerLapsedRecord,
    OrderPlaced,
    OrderPlacedEvent,
    OrderPlacedRecord,
    TriggerDetail,
)
from nudge.orders import count_order
from nudge.outcome import SkipReason
from nudge.profiles import Customer
from nudge.settings import Settings

DetailT = TypeVar("DetailT", bound=TriggerDetail)


class Series(NamedTuple, Generic[DetailT]):
    """A trigger whose event is followed by more steps (the cart reminders): step k goes out
    ``hours(settings)[k-1]`` hours after ``started_at``, through a one-time schedule (nudge.series)."""

    step: Callable[[DetailT], int]
    with_step: Callable[[DetailT, int], DetailT]
    started_at: Callable[[DetailT], datetime]
    hours: Callable[[Settings], tuple[int, ...]]


class Trigger(NamedTuple, Generic[DetailT]):
    name: str
    """Template family folder, metric dimension and SES tag, e.g. ``cart_abandoned``."""
    detail_type: str
    event_model: type[EventBridgeModel]
    record_model: type[SqsRecordModel]
    business_id: Callable[[DetailT], str]
    """What makes two events the same: the delivery record's key, which guards the send."""
    profile_update: Callable[[DetailT, Settings], Customer | None] | None
    """The event's own write to the profile before the decision (idempotent, as every step is retried),
    returning the profile as written, or None for an unknown customer. None: the profile is only read."""
    exit_reason: Callable[[DetailT, Customer], SkipReason | None]
    template_data: Callable[[DetailT, Customer], dict[str, Any]]
    currency: Callable[[DetailT, Customer], str | None]
    """The email's currency (prices, recommendations); None: the store's (``StoreCurrency``)."""
    seed_skus: Callable[[DetailT, Customer], tuple[str, ...]]
    """What the recommendations start from (the cart, the order, past purchases)."""
    shown_skus: Callable[[DetailT], tuple[str, ...]] = lambda _: ()
    """SKUs the email already shows: never recommended."""
    event_seeds: Callable[[DetailT], tuple[tuple[str, ...], str]] | None = None
    """The seeds and currency the event alone gives (a cart's, an order's): their recommendation
    rows are read with the profile. None: they come from the profile."""
    cart_note_of: Callable[[DetailT], CartNote | None] = lambda _: None
    """What the event notes on the customer's send state whatever is decided (the newest cart):
    written with the send's one write, or on its own when the email is skipped or deferred."""
    send_marks: tuple[str, ...] = ()
    """Send-state marks set to the send time besides ``last_emailed_at``, e.g. ``last_winback_at``."""
    series: Series[DetailT] | None = None

    def campaign(self, detail: DetailT) -> str:
        """``utm_campaign`` of the email's links: the trigger, with the step of a series."""
        if self.series is None:
            return self.name
        return f"{self.name}-{self.series.step(detail)}"

    def parse(self, event: Mapping[str, Any]) -> DetailT:
        """The validated detail of one of this trigger's EventBridge events (or ValidationError)."""
        return cast(DetailT, self.event_model.model_validate(event).detail)


def _ordered_since(customer: Customer, moment: datetime) -> SkipReason | None:
    if customer.last_order_at is not None and customer.last_order_at > moment:
        return SkipReason.ORDERED_SINCE
    return None


def _cart_exit(cart: CartAbandoned, customer: Customer) -> SkipReason | None:
    """Bought since (the order that names the cart, or any later one), or abandoned a newer cart."""
    ordered = _ordered_since(customer, cart.abandoned_at)
    if ordered is not None:
        return ordered
    newer = customer.latest_cart_at is not None and customer.latest_cart_at > cart.abandoned_at
    if newer and customer.latest_cart_id != cart.cart_id:
        return SkipReason.SUPERSEDED
    return None


CART_ABANDONED: Trigger[CartAbandoned] = Trigger(
    name="cart_abandoned",
    detail_type="Cart Abandoned",
    event_model=CartAbandonedEvent,
    record_model=CartAbandonedRecord,
    business_id=lambda cart: cart.reminder_id,
    profile_update=None,
    exit_reason=_cart_exit,
    template_data=lambda cart, _: {"cart": cart},
    currency=lambda cart, _: cart.currency,
    seed_skus=lambda cart, _: cart.skus,
    shown_skus=lambda cart: cart.skus,
    event_seeds=lambda cart: (cart.skus, cart.currency),
    cart_note_of=cart_note,
    series=Series(
        step=lambda cart: cart.step,
        with_step=lambda cart, step: cart.model_copy(update={"step": step}),
        started_at=lambda cart: cart.abandoned_at,
        hours=lambda settings: settings.cart_reminder_hours,
    ),
)

ORDER_PLACED: Trigger[OrderPlaced] = Trigger(
    name="order_placed",
    detail_type="Order Placed",
    event_model=OrderPlacedEvent,
    record_model=OrderPlacedRecord,
    business_id=lambda order: order.order_id,
    profile_update=count_order,
    exit_reason=lambda _order, _customer: None,
    template_data=lambda order, customer: {"order": order, "first_order": customer.order_count == 1},
    currency=lambda order, _: order.currency,
    seed_skus=lambda order, _: order.skus,
    shown_skus=lambda order: order.skus,
)

CUSTOMER_LAPSED: Trigger[CustomerLapsed] = Trigger(
    name="customer_lapsed",
    detail_type="Customer Lapsed",
    event_model=CustomerLapsedEvent,
    record_model=CustomerLapsedRecord,
    business_id=lambda lapse: lapse.identity,
    profile_update=None,
    exit_reason=lambda lapse, customer: _ordered_since(customer, lapse.last_order_at),
    template_data=lambda lapse, _: {"lapse": lapse},
    currency=lambda _, customer: customer.last_order_currency,
    seed_skus=lambda _, customer: customer.recent_skus,
    send_marks=("last_winback_at",),
)

TRIGGERS: tuple[Trigger[Any], ...] = (CART_ABANDONED, ORDER_PLACED, CUSTOMER_LAPSED)
TRIGGER_NAMES = frozenset(trigger.name for trigger in TRIGGERS)

"""Event contracts: the ``detail`` of each EventBridge event a store sends, and its SQS envelope.

Unknown extra fields are allowed so stores can send more than we read; a missing or malformed
required field fails validation with an error that names it. Money is ``Decimal`` end to end.

Values are bounded, not just typed: money is 0 to 1,000,000,000 with at most 4 decimal places,
quantities 1 to 10,000, timestamps from 2000 up to (not including) 2100 and not more than the clock
skew ahead of the clock (``nudge.event_times``), at most 100 items: an event that could never be
stored (DynamoDB numbers hold 38 digits) or sent fails validation, not every retry.
"""

import re
from decimal import Decimal
from functools import cache
from typing import Annotated, Literal

from babel.numbers import list_currencies
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, Json
from pydantic_core import PydanticCustomError

from nudge.envelopes import EventBridgeModel, SqsRecordModel
from nudge.event_times import EventTime
from nudge.timeutil import to_stored


@cache
def _iso_4217_codes() -> frozenset[str]:
    return frozenset(list_currencies())


def _known_currency(code: str) -> str:
    if code not in _iso_4217_codes():
        raise ValueError("not an ISO 4217 currency code")
    return code


CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$"), AfterValidator(_known_currency)]
MAX_ID_BYTES = 256
"""An id's bound in UTF-8 bytes: a delivery's key holds a trigger, an id and a step well within
DynamoDB's 1,024-byte key limit, and a customer id and that key within the message tags."""
_ID_FORBIDDEN = re.compile(r"[#\x00-\x1f\x7f]")


def _id_bounds(value: str) -> str:
    # "#" separates the parts of a delivery's key (step 2 of cart X is "X#2"): an id holding one could
    # be taken for another's. Control characters break logs and headers.
    if _ID_FORBIDDEN.search(value):
        raise PydanticCustomError("id_characters", "may not hold '#' or control characters")
    if len(value.encode()) > MAX_ID_BYTES:
        raise PydanticCustomError("id_too_long", "at most 256 bytes in UTF-8")
    return value


Identifier = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_ID_BYTES,
        # JSON Schema counts characters, not bytes: the byte bound is in the description.
        json_schema_extra={"pattern": r"^[^#\x00-\x1f\x7f]+$", "description": "at most 256 bytes in UTF-8"},
    ),
    AfterValidator(_id_bounds),
]
"""A store's id (customer, cart, order, product, run): 1 to 256 UTF-8 bytes, no "#", no control
characters."""

# Why the bounds: an event that validates but can never be stored or sent is poison. It would fail
# every retry, so it is refused up front with the field named, and goes to the dead-letter queue.
MAX_MONEY = Decimal(1_000_000_000)
MONEY_DECIMAL_PLACES = 4
MAX_QUANTITY = 10_000
MAX_DAYS_SINCE_LAST_ORDER = 36_600


def _without_excess_zeros(amount: Decimal) -> Decimal:
    """``decimal_places`` ignores trailing zeros ("12.000000" passes), so drop those past the last
    allowed place: the value is unchanged and stays within DynamoDB's 38 significant digits."""
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MONEY_DECIMAL_PLACES:
        return amount.quantize(Decimal(1).scaleb(-MONEY_DECIMAL_PLACES))
    return amount


Money = Annotated[
    Decimal,
    Field(ge=0, le=MAX_MONEY, decimal_places=MONEY_DECIMAL_PLACES, allow_inf_nan=False),
    AfterValidator(_without_excess_zeros),
]


class _Detail(BaseModel):
    # Built on first use, not at import: each trigger's function validates only its own events, so
    # the others' validators (two thirds of this module's import) are never built there.
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)


class LineItem(_Detail):
    sku: Identifier
    name: Annotated[str, Field(min_length=1, max_length=500)]
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY, strict=True)]
    unit_price: Money
    image_url: HttpUrl | None = None
    product_url: HttpUrl | None = None

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


Items = Annotated[list[LineItem], Field(min_length=1, max_length=100)]


def distinct_skus(items: list[LineItem]) -> tuple[str, ...]:
    """The items' SKUs in the order they were added, each once."""
    return tuple(dict.fromkeys(item.sku for item in items))


class TriggerDetail(_Detail):
    """What every trigger event says: whom it is about."""

    customer_id: Identifier


MAX_REMINDER_STEPS = 10


class CartAbandoned(TriggerDetail):
    cart_id: Identifier
    abandoned_at: EventTime
    currency: CurrencyCode
    cart_url: HttpUrl
    items: Items
    step: Annotated[int, Field(ge=1, le=MAX_REMINDER_STEPS, strict=True)] = 1
    """The reminder's place in the cart's series (``CartReminderHours``). A store sends step 1 (it may
    leave the field out); Nudge's own one-time schedules bring the cart back as step 2, 3, ..."""

    @property
    def reminder_id(self) -> str:
        """The business identity of this step: the cart id for the first reminder (as before the
        series existed, so earlier delivery records still guard it), ``<cart_id>#<step>`` after."""
        return self.cart_id if self.step == 1 else f"{self.cart_id}#{self.step}"

    @property
    def skus(self) -> tuple[str, ...]:
        return distinct_skus(self.items)

    @property
    def subtotal(self) -> Decimal:
        return sum((item.line_total for item in self.items), Decimal(0))


class OrderPlaced(TriggerDetail):
    order_id: Identifier
    placed_at: EventTime
    currency: CurrencyCode
    total: Money
    items: Items
    cart_id: Identifier | None = None

    @property
    def skus(self) -> tuple[str, ...]:
        return distinct_skus(self.items)


class CustomerLapsed(TriggerDetail):
    last_order_at: EventTime
    days_since_last_order: Annotated[int, Field(ge=0, le=MAX_DAYS_SINCE_LAST_ORDER, strict=True)]
    run_id: Identifier | None = None
    """Set by the scheduled re-engagement run (its date); absent on events a store sends."""

    @property
    def identity(self) -> str:
        """One win-back per lapse (a new order starts a new lapse with a new last_order_at), and per
        scheduled run: a rerun of the same day's run is the same event, the next run a new one."""
        lapse = f"{self.customer_id}@{to_stored(self.last_order_at)}"
        return f"{lapse}#{self.run_id}" if self.run_id else lapse


class _StoreEvent(EventBridgeModel):
    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    # EventBridge always sets the account, but moto's delivery to SQS omits it; nothing here reads it.
    account: str | None = None  # type: ignore[assignment]


# EventBridge envelopes: the detail-type is pinned so an event routed to the wrong queue fails loudly.
class CartAbandonedEvent(_StoreEvent):
    detail_type: Literal["Cart Abandoned"] = Field(alias="detail-type")
    detail: CartAbandoned


class OrderPlacedEvent(_StoreEvent):
    detail_type: Literal["Order Placed"] = Field(alias="detail-type")
    detail: OrderPlaced


class CustomerLapsedEvent(_StoreEvent):
    detail_type: Literal["Customer Lapsed"] = Field(alias="detail-type")
    detail: CustomerLapsed


# SQS records whose body is the EventBridge event the rule delivered.
class CartAbandonedRecord(SqsRecordModel):
    model_config = ConfigDict(defer_build=True)

    body: Json[CartAbandonedEvent]


class OrderPlacedRecord(SqsRecordModel):
    model_config = ConfigDict(defer_build=True)

    body: Json[OrderPlacedEvent]


class CustomerLapsedRecord(SqsRecordModel):
    model_config = ConfigDict(defer_build=True)

    body: Json[CustomerLapsedEvent]
